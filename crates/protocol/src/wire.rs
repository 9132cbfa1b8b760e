//! The messages of protocol v1. Inner messages are postcard; the outer request and response
//! are small JSON objects of base64url fields (`SealedRequest`, `SealedResponse`, `ErrorBody`).
//! Times are Unix milliseconds. Nothing here carries barcode text or anything that names a user.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, Nonce, ReportId};
use crate::license::Module;
use crate::sign::{Signed, SignedKind, SignedPayload};
use crate::ProtocolError;

/// The JSON body of every request: an HPKE encapsulated key and ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRequest {
    #[serde(with = "crate::b64::serde")]
    pub enc: Vec<u8>,
    #[serde(with = "crate::b64::serde")]
    pub ct: Vec<u8>,
}

/// The JSON body of every successful response: the response ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedResponse {
    #[serde(with = "crate::b64::serde")]
    pub ct: Vec<u8>,
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `POST /v1/authorize`, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub device_id: DeviceId,
    pub organization_id: Option<String>,
    pub handshake_code: Option<String>,
    pub session_password: Option<String>,
    pub product: String,
    pub sdk_version: String,
    /// The page's host, as the browser sees it (a validation field).
    pub domain: String,
    pub device_name: Option<String>,
    pub nonce: Nonce,
    pub client_time: u64,
}

/// How the license stands for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseState {
    Valid,
    Trial,
    /// Over quota or past expiry, inside the tolerance: works, with a warning.
    Tolerance,
}

impl LicenseState {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseState::Valid => "valid",
            LicenseState::Trial => "trial",
            LicenseState::Tolerance => "tolerance",
        }
    }
}

/// What the server grants one device; signed by the server, cached by the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub device_id: DeviceId,
    /// The handshake code the request resolved to; reports name it.
    pub handshake_code: String,
    /// The vendor-signed license files that serve this handshake code.
    pub licenses: Vec<Signed>,
    pub modules: Vec<Module>,
    pub offline_until: u64,
    pub active_until: u64,
    pub report_interval_ms: u64,
    pub server_time: u64,
    pub state: LicenseState,
    pub nonce: Nonce,
}

impl SignedPayload for Authorization {
    const KIND: SignedKind = SignedKind::Authorization;
}

/// Usage counted in one absolute 3-minute slot (`slot = unix_ms / SLOT_MS`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SlotUsage {
    pub slot: u64,
    pub pages: Vec<(Module, u64)>,
    /// Unique successful scans per symbology name; never barcode text.
    pub scans: Vec<(String, u64)>,
}

/// One sealed report: counted once by the server, however often it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub report_id: ReportId,
    pub slots: Vec<SlotUsage>,
}

/// `POST /v1/reports`, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportsRequest {
    pub device_id: DeviceId,
    pub handshake_code: String,
    pub domain: String,
    pub reports: Vec<UsageReport>,
    pub nonce: Nonce,
    pub client_time: u64,
}

/// The server's signed word that it holds these reports; only this lets a device delete them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub device_id: DeviceId,
    pub accepted: Vec<ReportId>,
    pub server_time: u64,
    pub nonce: Nonce,
}

impl SignedPayload for Receipt {
    const KIND: SignedKind = SignedKind::Receipt;
}

/// What the answer to a report says about the device's authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Renewal {
    /// A refreshed authorization.
    Renewed(Signed),
    /// The reports are counted, but no new authorization is granted, for the reason this error
    /// code names (e.g. `QUOTA_EXHAUSTED`): the device keeps the one it holds until its
    /// `offline_until`, and is refused at its next authorization.
    Refused(String),
}

/// The sealed answer to `POST /v1/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportsResponse {
    pub receipt: Signed,
    pub renewal: Renewal,
}

/// The longest symbology name a report may carry.
pub const MAX_SYMBOLOGY_LEN: usize = 64;

/// Whether `name` may be sent as a symbology: 1 to 64 printable ASCII characters. The browser
/// refuses other names when it records them, so the server never has to refuse a report for one.
pub fn is_valid_symbology(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_SYMBOLOGY_LEN && name.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Encodes a message with postcard. Encoding these types cannot fail (no maps, no unsized
/// sequences); were it ever to, the empty result fails every decode and signature check, and
/// no panic machinery is pulled into the browser module for a case that does not happen.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes a postcard message, refusing trailing bytes.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ProtocolError> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(ProtocolError::Malformed),
    }
}
