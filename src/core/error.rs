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

/// Checks a number from JS: a whole number from 0 to `max`, else `INVALID_ARGUMENT`.
pub fn whole_number(n: f64, max: u64) -> Result<u64, LicetError> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= max as f64 {
        Ok(n as u64)
    } else {
        Err(ErrorCode::InvalidArgument.into())
    }
}
