//! The error of the browser module: a stable code from the shared list and, when the server
//! sent one, its message. The JS layer turns it into an `Error` with a `code` property.

use licet_protocol::{ErrorCode, ProtocolError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicetError {
    pub code: ErrorCode,
    /// The server's message for a refused request; `None` uses the code's own message.
    pub detail: Option<String>,
}

impl LicetError {
    pub fn message(&self) -> &str {
        self.detail.as_deref().unwrap_or(self.code.message())
    }
}

impl From<ErrorCode> for LicetError {
    fn from(code: ErrorCode) -> Self {
        LicetError { code, detail: None }
    }
}

impl From<ProtocolError> for LicetError {
    fn from(error: ProtocolError) -> Self {
        // A response that does not decode is the server's fault, not a malformed request of ours.
        let code = match error {
            ProtocolError::Malformed => ErrorCode::BadResponse,
            other => other.code(),
        };
        code.into()
    }
}
