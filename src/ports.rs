//! The small traits the engine talks through: durable storage, the network and the clock.
//! Each has a browser adapter in `platform` and an in-memory twin for native tests. Entropy is
//! not a port: `getrandom` is the platform CSPRNG on the host and in the browser alike.

use licet_protocol::ids::{DeviceId, ReportId};
use licet_protocol::wire::{ErrorBody, SealedRequest, SealedResponse};

use crate::core::error::LicetError;

/// One report waiting for the server's receipt, with the project it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub report_id: ReportId,
    /// `core::ledger::OutboxReport`, postcard-encoded.
    pub bytes: Vec<u8>,
}

/// Durable per-origin storage. Each method is one atomic transaction, because every tab of an
/// origin shares it: no method may leave a half-done change visible to another tab.
// `async fn` in a public trait cannot promise its futures are `Send`: none need be, as the
// module runs on the browser's one thread and the native twins are driven on one thread too.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The stored device ID; stores `fresh` first when there is none.
    async fn device_id(&self, fresh: DeviceId) -> Result<DeviceId, LicetError>;
    /// The cached signed authorization, as saved.
    async fn load_authorization(&self) -> Result<Option<Vec<u8>>, LicetError>;
    async fn save_authorization(&self, bytes: &[u8]) -> Result<(), LicetError>;
    /// Appends a batch of usage records (`core::ledger::UsageRecord`, encoded) to the pending
    /// ledger: all of them or, on error, none.
    async fn append_usage(&self, records: &[Vec<u8>]) -> Result<(), LicetError>;
    /// Hands every pending usage record to `seal`, which returns reports for the outbox and the
    /// records to keep pending; writes both and deletes the rest, all in one transaction: usage
    /// is either pending or in the outbox, never both, never neither.
    async fn seal_pending(
        &self,
        seal: impl FnOnce(Vec<Vec<u8>>) -> (Vec<OutboxEntry>, Vec<Vec<u8>>),
    ) -> Result<(), LicetError>;
    /// Every report waiting for a receipt.
    async fn outbox(&self) -> Result<Vec<OutboxEntry>, LicetError>;
    /// How many reports wait for a receipt, without reading them.
    async fn outbox_len(&self) -> Result<usize, LicetError>;
    /// Deletes reports the server has signed a receipt for.
    async fn remove_reports(&self, ids: &[ReportId]) -> Result<(), LicetError>;
}

/// What a license server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Sealed(SealedResponse),
    Refused(ErrorBody),
}

/// The network: one POST of a sealed request to a server URL (`https://host/v1/...`).
// `async fn` in a public trait cannot promise its futures are `Send`: none need be, as the
// module runs on the browser's one thread and the native twins are driven on one thread too.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// `Err(NETWORK_ERROR)` when no answer came; an answer of any status is `Ok`.
    async fn post(&self, url: &str, body: &SealedRequest) -> Result<Reply, LicetError>;
}

/// Wall-clock time in Unix milliseconds. Only the engine reads it; the core is handed `now`.
pub trait Clock {
    fn now_ms(&self) -> u64;
}
