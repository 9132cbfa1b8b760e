//! Licet wire protocol v1: the types that cross the network, the HPKE request envelope, the
//! domain-separated Ed25519 signatures, the license key and license file formats, and the
//! domain patterns licenses bind.
//!
//! It does no I/O, reads no clock and holds no JSON serializer unless the `json` feature is on
//! (the server and CLI turn it on; the browser module reads JSON with the platform's own), so
//! it compiles unchanged for the host and for wasm32. The Public Suffix List comes only with the
//! `psl` feature, which the browser module never turns on.

pub mod b64;
pub mod codes;
pub mod domain;
pub mod envelope;
mod error;
pub mod ids;
pub mod keys;
pub mod license;
pub mod license_key;
pub mod sign;
pub mod wire;

pub use codes::ErrorCode;
pub use error::ProtocolError;

/// Length of one usage slot: usage is counted in absolute 3-minute slots since the Unix epoch.
pub const SLOT_MS: u64 = 3 * 60 * 1000;

/// The slot that a time `ms` (Unix ms) falls in.
pub fn slot_of(ms: u64) -> u64 {
    ms / SLOT_MS
}
