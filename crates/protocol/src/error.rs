//! The one error type of the protocol crate: what went wrong decoding, opening or verifying.
//! It carries no cause text, so it costs the browser module no formatting code.

use crate::codes::ErrorCode;

/// Why a protocol operation refused its input. Never a panic: every byte from outside ends here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// Bytes that do not decode as the expected type (postcard, base64, lengths).
    Malformed,
    /// A public or secret key that is not a valid key for its algorithm.
    BadKey,
    /// An AEAD open failed: the ciphertext, its encapsulated key or the key was altered.
    DecryptFailed,
    /// A signature that does not verify for this payload kind and key.
    BadSignature,
    /// A response that does not echo the nonce of its request.
    NonceMismatch,
    /// A version prefix this build does not know.
    UnsupportedVersion,
}

impl ProtocolError {
    /// The stable code of this error in the shared list.
    pub fn code(self) -> ErrorCode {
        match self {
            ProtocolError::Malformed => ErrorCode::MalformedRequest,
            ProtocolError::BadKey => ErrorCode::BadKey,
            ProtocolError::DecryptFailed => ErrorCode::DecryptionFailed,
            ProtocolError::BadSignature => ErrorCode::BadSignature,
            ProtocolError::NonceMismatch => ErrorCode::NonceMismatch,
            ProtocolError::UnsupportedVersion => ErrorCode::UnsupportedVersion,
        }
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code().message())
    }
}

impl std::error::Error for ProtocolError {}
