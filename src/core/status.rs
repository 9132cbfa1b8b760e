//! What `status()` reports: the license state of this device from its last verified
//! authorization, the time, and the last error. It decides nothing; it describes.

use licet_protocol::license::Module;
use licet_protocol::wire::Authorization;
use licet_protocol::ErrorCode;

/// A snapshot of the license as this device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `"uninitialized"`, or the authorization's state: `"valid"`, `"trial"`, `"tolerance"`.
    pub state: &'static str,
    /// The code of the last failure, if the last call failed.
    pub code: Option<ErrorCode>,
    pub offline_until: Option<u64>,
    pub active_until: Option<u64>,
    pub handshake_code: Option<String>,
    pub modules: Vec<Module>,
    /// Whether the last contact with the server succeeded.
    pub online: bool,
}

pub fn status(authorization: Option<&Authorization>, last_error: Option<ErrorCode>, online: bool) -> Status {
    match authorization {
        None => Status { state: "uninitialized", code: last_error, offline_until: None, active_until: None, handshake_code: None, modules: vec![], online },
        Some(a) => Status {
            state: a.state.as_str(),
            code: last_error,
            offline_until: Some(a.offline_until),
            active_until: Some(a.active_until),
            handshake_code: Some(a.handshake_code.clone()),
            modules: a.modules.clone(),
            online,
        },
    }
}
