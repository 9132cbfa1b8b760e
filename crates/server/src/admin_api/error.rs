//! `AdminError`: why the admin API refused a request, as a stable code of its own list (the admin
//! API's codes are not the devices' protocol codes: the browser module never sees them), its
//! HTTP status and the error JSON of the protocol routes (`{ "code", "message" }`). A failure of
//! the server's own answers `INTERNAL` with the protocol's generic message; its cause goes to
//! the request log (`Refused`), never to the body.

use axum::extract::rejection::{JsonRejection, QueryRejection, StringRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use licet_protocol::wire::ErrorBody;
use licet_protocol::ErrorCode;

use crate::api::Refused;
use crate::error::ServerError;
use crate::storage::StorageError;

/// Why an admin request was refused. Each message is one lowercase line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("this route needs an admin token: send Authorization: Bearer TOKEN, with a token from `licet-server admin token create`")]
    TokenRequired,
    #[error("the admin token is not valid or was revoked: create one with `licet-server admin token create`")]
    TokenInvalid,
    /// A body, query or value the route cannot take.
    #[error("{0}")]
    Invalid(String),
    #[error("the request body is larger than the admin api takes (64 KiB)")]
    PayloadTooLarge,
    #[error("{0}")]
    NotALicense(String),
    #[error("{0}")]
    LicenseSignature(String),
    /// A license that binds a pattern this server refuses (not a pattern, or over a public suffix).
    #[error("{0}")]
    LicenseDomain(String),
    #[error("{0}")]
    UnknownProject(String),
    #[error("{0}")]
    UnknownLicense(String),
    #[error("{0}")]
    HandshakeCodeTaken(String),
    #[error("{0}")]
    LicenseIdTaken(String),
    /// The server's own failure; the cause goes to the log only.
    #[error("internal: {0}")]
    Internal(String),
}

impl AdminError {
    /// The stable code answered; docs/errors.md lists them all.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::TokenRequired => "ADMIN_TOKEN_REQUIRED",
            AdminError::TokenInvalid => "ADMIN_TOKEN_INVALID",
            AdminError::Invalid(_) => "INVALID_REQUEST",
            AdminError::PayloadTooLarge => ErrorCode::PayloadTooLarge.as_str(),
            AdminError::NotALicense(_) => "NOT_A_LICENSE",
            AdminError::LicenseSignature(_) => "LICENSE_SIGNATURE_INVALID",
            AdminError::LicenseDomain(_) => "LICENSE_DOMAIN_REFUSED",
            AdminError::UnknownProject(_) => ErrorCode::UnknownProject.as_str(),
            AdminError::UnknownLicense(_) => "UNKNOWN_LICENSE",
            AdminError::HandshakeCodeTaken(_) => "HANDSHAKE_CODE_TAKEN",
            AdminError::LicenseIdTaken(_) => "LICENSE_ID_TAKEN",
            AdminError::Internal(_) => ErrorCode::Internal.as_str(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::TokenRequired | AdminError::TokenInvalid => StatusCode::UNAUTHORIZED,
            AdminError::Invalid(_)
            | AdminError::NotALicense(_)
            | AdminError::LicenseSignature(_)
            | AdminError::LicenseDomain(_) => StatusCode::BAD_REQUEST,
            AdminError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::UnknownProject(_) | AdminError::UnknownLicense(_) => StatusCode::NOT_FOUND,
            AdminError::HandshakeCodeTaken(_) | AdminError::LicenseIdTaken(_) => StatusCode::CONFLICT,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Wraps a failure of the server's own with its cause for the log.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AdminError::Internal(cause.to_string())
    }
}

/// The CLI's errors of the shared `admin` functions, as the admin API answers them: the
/// caller's mistakes with their own message, anything else as the server's own failure.
impl From<ServerError> for AdminError {
    fn from(error: ServerError) -> Self {
        let message = error.to_string();
        match error {
            ServerError::Invalid(_) | ServerError::InvalidDomain(..) | ServerError::DevHostDomain(_) => {
                AdminError::Invalid(message)
            }
            ServerError::NotALicense(..) => AdminError::NotALicense(message),
            ServerError::LicenseSignature => AdminError::LicenseSignature(message),
            ServerError::BadLicenseDomain(..) | ServerError::PublicSuffixDomain { .. } => {
                AdminError::LicenseDomain(message)
            }
            ServerError::LicenseIdTaken(_) => AdminError::LicenseIdTaken(message),
            ServerError::Storage(e) => e.into(),
            _ => AdminError::Internal(message),
        }
    }
}

impl From<StorageError> for AdminError {
    fn from(error: StorageError) -> Self {
        let message = error.to_string();
        match error {
            StorageError::UnknownProject(_) => AdminError::UnknownProject(message),
            StorageError::UnknownLicense(_) => AdminError::UnknownLicense(message),
            StorageError::HandshakeCodeTaken(_) => AdminError::HandshakeCodeTaken(message),
            _ => AdminError::Internal(message),
        }
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AdminError::PayloadTooLarge,
            _ => AdminError::Invalid(format!("the body is not the JSON this route takes: {}", rejection.body_text())),
        }
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        AdminError::Invalid(format!("the query is not one this route takes: {}", rejection.body_text()))
    }
}

impl From<StringRejection> for AdminError {
    fn from(rejection: StringRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AdminError::PayloadTooLarge,
            _ => AdminError::Invalid(format!("the body is not text: {}", rejection.body_text())),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = match &self {
            AdminError::Internal(_) => ErrorCode::Internal.message().to_owned(),
            other => other.to_string(),
        };
        let mut response = (self.status(), Json(ErrorBody { code: code.to_owned(), message })).into_response();
        if matches!(self, AdminError::TokenRequired | AdminError::TokenInvalid) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Refused { code, reason: self.to_string() });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::AdminError;

    #[test]
    fn every_admin_code_is_listed_and_documented() {
        let doc = include_str!("../../../../docs/errors.md");
        let errors = [
            AdminError::TokenRequired,
            AdminError::TokenInvalid,
            AdminError::Invalid(String::new()),
            AdminError::PayloadTooLarge,
            AdminError::NotALicense(String::new()),
            AdminError::LicenseSignature(String::new()),
            AdminError::LicenseDomain(String::new()),
            AdminError::UnknownProject(String::new()),
            AdminError::UnknownLicense(String::new()),
            AdminError::HandshakeCodeTaken(String::new()),
            AdminError::LicenseIdTaken(String::new()),
            AdminError::Internal(String::new()),
        ];
        let admin_section =
            doc.split("## Answered by the admin API").nth(1).expect("docs/errors.md has an admin API section");
        for error in &errors {
            let row = format!("| `{}` | {} |", error.code(), error.status().as_u16());
            assert!(admin_section.contains(&row), "docs/errors.md lacks {row}");
        }
    }
}
