//! The one error type of the fleet simulator: what stops a run or a check, each with the step
//! that failed and what to do about it. Failures a retry may cure never reach it as long as
//! retries are left (`play` retries them).

use std::path::PathBuf;

/// Why a fleet run or its check failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("the license key cannot be read ({0}): pass the LICET1... key `licet-server project create` printed")]
    LicenseKey(licet_protocol::ProtocolError),
    #[error("the license key names no server: pass --server URL")]
    NoServer,
    #[error("{0:?} is not an http:// URL with a host: give it like http://127.0.0.1:8710")]
    BadUrl(String),
    #[error("{0:?} cannot be an Origin header: give a plain host name with --domain")]
    BadDomain(String),
    #[error("a request did not encode as JSON: {0}")]
    Encode(serde_json::Error),
    #[error("{route} was refused with {status} {code}: {message} (check the license, its domains and the key)")]
    Refused { route: &'static str, status: u16, code: String, message: String },
    #[error("{route}: the answer does not verify ({reason}); is --server a licet-server with this key's server keys?")]
    BadAnswer { route: &'static str, reason: String },
    #[error("{route}: gave up after {attempts} attempts, the last one failed with: {last}")]
    GaveUp { route: &'static str, attempts: u32, last: String },
    #[error("could not run {bin}: {source} (build it with `cargo build -p licet-server` or pass --server-bin)")]
    ServerBin { bin: PathBuf, source: std::io::Error },
    #[error("`licet-server usage` failed: {0}")]
    Usage(String),
    #[error("the server's totals differ from what the devices recorded:\n{0}")]
    Mismatch(String),
    #[error("could not listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("the bare server stopped: {0}")]
    Serve(std::io::Error),
    #[error("a fleet task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}
