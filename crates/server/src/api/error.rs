//! `ApiError`: why the server refused a protocol request, as one code of the shared list
//! (`licet_protocol::ErrorCode`), its HTTP status and the JSON error body. Internal causes never
//! go in the body: a client learns the code; the response carries the cause to the request log
//! (`Refused`, read by `http::observe`), which writes it with the request's line.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use licet_protocol::domain::DomainRefusal;
use licet_protocol::wire::ErrorBody;
use licet_protocol::{ErrorCode, ProtocolError};

use crate::licensing::rules::Lapse;
use crate::storage::StorageError;

/// Why a request to `/v1/*` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body over the size limit")]
    PayloadTooLarge,
    /// The client address is over its rate limit; it may try again after `retry_after`.
    #[error("over the rate limit of its address")]
    RateLimited { retry_after: Duration },
    #[error("request is not a licet v1 request")]
    Malformed,
    #[error("the envelope could not be opened: {0:?}")]
    Protocol(ProtocolError),
    #[error("no project matches")]
    UnknownProject,
    #[error("the handshake code belongs to another organization")]
    OrganizationMismatch,
    #[error("wrong session password")]
    WrongSessionPassword,
    #[error("no license is assigned")]
    NoLicense,
    #[error("every assigned license is past its expiry tolerance")]
    LicenseExpired,
    #[error("every quota of the licenses in force is used up past its tolerance")]
    QuotaExhausted,
    #[error("every device seat is held, tolerance included")]
    DeviceLimitReached,
    #[error("the slot's concurrent devices are at the limit, tolerance included")]
    ConcurrentLimitReached,
    #[error("the server offers no public trial")]
    TrialUnavailable,
    #[error("the device had its trial or is known from a licensed project")]
    TrialUsed,
    #[error("the device was never authorized for this project")]
    UnknownDevice,
    #[error("replayed nonce")]
    ReplayedNonce,
    #[error("no valid license allows the reported domain: {0:?}")]
    DomainNotAllowed(DomainRefusal),
    #[error("the Origin header names another host than the reported domain")]
    OriginMismatch,
    /// The server's own failure; the cause goes to the log only.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code answered to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Malformed => ErrorCode::MalformedRequest,
            // Opening a request can only fail as malformed or undecryptable; should the protocol
            // crate ever name a client-side code here, it is still the request that is wrong.
            ApiError::Protocol(e) if e.code().http_status() != 0 => e.code(),
            ApiError::Protocol(_) => ErrorCode::MalformedRequest,
            ApiError::UnknownProject => ErrorCode::UnknownProject,
            ApiError::OrganizationMismatch => ErrorCode::OrganizationMismatch,
            ApiError::WrongSessionPassword => ErrorCode::WrongSessionPassword,
            ApiError::NoLicense => ErrorCode::NoLicense,
            ApiError::LicenseExpired => ErrorCode::LicenseExpired,
            ApiError::QuotaExhausted => ErrorCode::QuotaExhausted,
            ApiError::DeviceLimitReached => ErrorCode::DeviceLimitReached,
            ApiError::ConcurrentLimitReached => ErrorCode::ConcurrentLimitReached,
            ApiError::TrialUnavailable => ErrorCode::TrialUnavailable,
            ApiError::TrialUsed => ErrorCode::TrialUsed,
            ApiError::UnknownDevice => ErrorCode::UnknownDevice,
            ApiError::ReplayedNonce => ErrorCode::ReplayedNonce,
            ApiError::DomainNotAllowed(refusal) => refusal.code(),
            ApiError::OriginMismatch => ErrorCode::DomainMismatch,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Wraps a failure of the server's own (storage, hashing, a task) with its cause for the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }
}

impl From<Lapse> for ApiError {
    fn from(lapse: Lapse) -> Self {
        match lapse {
            Lapse::NoLicense => ApiError::NoLicense,
            Lapse::Expired => ApiError::LicenseExpired,
            Lapse::QuotaExhausted => ApiError::QuotaExhausted,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::ReplayedNonce => ApiError::ReplayedNonce,
            other => ApiError::internal(other),
        }
    }
}

/// What a refused request was answered, and why, as a response extension for the request log
/// and the metrics. The reason may hold an internal cause: it goes to the log, never to the body.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The code's wire form: one of the shared list, or of the admin API's (`admin_api`).
    pub code: &'static str,
    pub reason: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            (status, Json(ErrorBody { code: code.as_str().to_owned(), message: code.message().to_owned() }))
                .into_response();
        if let ApiError::RateLimited { retry_after } = &self {
            // Whole seconds, rounded up: a client that waits that long finds its allowance back.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response.extensions_mut().insert(Refused { code: code.as_str(), reason: self.to_string() });
        response
    }
}
