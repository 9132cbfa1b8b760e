//! Licet, the browser module: keeps a private per-origin device ID, obtains and caches a signed
//! authorization from the license server, counts usage into a local ledger and posts it sealed,
//! deleting it only on the server's signed receipt. It never reads barcode or document contents.
//!
//! Layout: `core` is pure logic that is handed `now`; `ports` are the traits it talks through;
//! `engine` drives the core over the ports; `platform` holds the browser adapters (and the
//! in-memory twins for native tests); `api` is the only place with `#[wasm_bindgen]`.

pub mod core;
pub mod engine;
pub mod platform;
pub mod ports;

#[cfg(test)]
mod tests;

// Property tests: native only, as proptest is not built for the browser.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests;

#[cfg(target_arch = "wasm32")]
mod api;

pub use licet_protocol as protocol;

/// The trusted vendor public key (base64url Ed25519), fixed at build time from the
/// `LICET_VENDOR_PUBLIC_KEY` environment variable. Without it the build trusts the committed
/// demo key under `demo/`, which must never ship: `npm run build` says which one it used.
pub const VENDOR_PUBLIC_KEY: &str = match option_env!("LICET_VENDOR_PUBLIC_KEY") {
    Some(key) => key,
    None => include_str!("../demo/vendor-public-key.txt"),
};

/// The license key whose server URLs and public keys `initLicense({ organizationID,
/// handshakeCode })` uses when it is given no `licenseServer`: the `LICET_LICENSE_SERVER`
/// environment variable at build time, if it was set. Its own project, if any, is not used.
pub const LICENSE_SERVER: Option<&str> = option_env!("LICET_LICENSE_SERVER");

// Core tests run natively under `cargo test` and in the browser under wasm-bindgen-test.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
