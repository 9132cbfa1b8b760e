//! The checks both protocol routes share, in the order they run: which project a request names
//! (or the public trial), whether its session password matches, which license items are assigned,
//! whether they bind the page's domain and its `Origin` agrees; and, once the license rules
//! (`licensing`) and the store have decided, the signed authorization. Each refusal is one named code.

use axum::http::HeaderValue;
use licet_protocol::domain;
use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::keys::SigningKey;
use licet_protocol::sign::Signed;
use licet_protocol::wire::Authorization;

use super::ApiError;
use crate::http::Config;
use crate::licensing;
use crate::licensing::admission::{Admitted, Refusal};
use crate::licensing::rules::{Grant, InForce, LicenseItem};
use crate::password;
use crate::storage::{Project, Storage, TrialSetting};

/// How often a device should send its reports, in milliseconds: one closed slot at a time.
pub const REPORT_INTERVAL_MS: u64 = licet_protocol::SLOT_MS;

/// Resolves the project a request names: the organization's default project when only the
/// organization is given; the handshake code's project when it is given (`ORGANIZATION_MISMATCH`
/// when it belongs to another organization than the one given too); the public trial's project
/// when neither is given (`TRIAL_UNAVAILABLE` when the server offers none).
pub async fn resolve_project(
    storage: &dyn Storage,
    trial: Option<&TrialSetting>,
    organization_id: Option<&str>,
    handshake_code: Option<&str>,
) -> Result<Project, ApiError> {
    let project = match (organization_id, handshake_code) {
        (Some(org), None) => storage.default_project(org).await?,
        (org, Some(code)) => match storage.project(code).await? {
            Some(project) if org.is_some_and(|org| project.organization_id != org) => {
                return Err(ApiError::OrganizationMismatch)
            }
            found => found,
        },
        (None, None) => {
            let trial = trial.filter(|t| t.open).ok_or(ApiError::TrialUnavailable)?;
            storage.project(&trial.handshake_code).await?
        }
    };
    project.ok_or(ApiError::UnknownProject)
}

/// Refuses a missing or wrong session password when the project has one.
pub async fn check_session_password(project: &Project, given: Option<&str>) -> Result<(), ApiError> {
    let Some(hash) = project.session_password_hash.clone() else { return Ok(()) };
    let Some(given) = given.map(str::to_owned) else { return Err(ApiError::WrongSessionPassword) };
    // argon2 is deliberately slow: keep it off the threads that serve other requests.
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| {
            ApiError::internal(format!("the session password hash of {} cannot be read: {e}", project.handshake_code))
        })?;
    if matches {
        Ok(())
    } else {
        Err(ApiError::WrongSessionPassword)
    }
}

/// Every license item assigned to `handshake_code`, in assignment order, each verified against
/// the vendor key (once per stored text): the database is not where license content is trusted.
pub async fn license_items(config: &Config, handshake_code: &str) -> Result<Vec<LicenseItem>, ApiError> {
    let records = config.storage.project_licenses(handshake_code).await?;
    records
        .iter()
        .map(|record| {
            let (signed, file) = config
                .verify_license(record)
                .map_err(|e| ApiError::internal(format!("stored license {}: {e}", record.id)))?;
            Ok(LicenseItem { file, signed })
        })
        .collect()
}

/// The host of an `Origin` header (`scheme://host[:port]`), an IPv6 host in brackets as
/// `location.hostname` gives it; `None` for `null` (opaque origins) and anything else.
pub(crate) fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let host_end = if rest.starts_with('[') { rest.find(']')? + 1 } else { rest.find(':').unwrap_or(rest.len()) };
    let (host, port) = rest.split_at(host_end);
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (!scheme.is_empty() && !host.is_empty() && port_ok && !host.contains(['/', '@'])).then_some(host)
}

/// Refuses a reported domain that none of `items` allows: the bound domains are the union of
/// the items', and so is permission for development hosts (`domain::licenses_allow_host`).
pub fn check_domain<'a>(items: impl IntoIterator<Item = &'a LicenseItem>, domain: &str) -> Result<(), ApiError> {
    domain::licenses_allow_host(items.into_iter().map(|i| &i.file), domain).map_err(ApiError::DomainNotAllowed)
}

/// Refuses a browser request whose `Origin` header is opaque (`null`) or names another host
/// than the reported domain, when the items bind domains. A request without the header (a tool,
/// not a page) is judged by the reported domain alone.
pub fn check_origin<'a>(
    mut items: impl Iterator<Item = &'a LicenseItem>,
    domain: &str,
    origin: Option<&HeaderValue>,
) -> Result<(), ApiError> {
    let Some(origin) = origin else { return Ok(()) };
    if items.any(|i| i.file.domains.is_empty()) {
        return Ok(());
    }
    match origin.to_str().ok().and_then(origin_host) {
        Some(host) if host.eq_ignore_ascii_case(domain) => Ok(()),
        _ => Err(ApiError::OriginMismatch),
    }
}

/// The refusal a decided admission carries, if any.
pub fn refusal(admitted: &Admitted) -> Option<ApiError> {
    admitted.refusal().map(|refusal| match refusal {
        Refusal::TrialUsed => ApiError::TrialUsed,
        Refusal::TrialClosed => ApiError::TrialUnavailable,
        Refusal::SeatsTaken => ApiError::DeviceLimitReached,
        Refusal::SlotFull => ApiError::ConcurrentLimitReached,
    })
}

/// Who an authorization is for and when it is signed.
pub struct Grantee<'a> {
    pub device_id: DeviceId,
    pub handshake_code: &'a str,
    pub now: u64,
    pub nonce: Nonce,
}

/// The signed authorization for one admitted device: every item in force, the modules the
/// grant allows, and the `licensing::terms` of its state and periods.
pub fn authorization(
    key: &SigningKey,
    grantee: &Grantee,
    in_force: &InForce,
    grant: &Grant,
    admitted: &Admitted,
) -> Signed {
    let terms = licensing::terms(in_force, grant, admitted, grantee.now);
    Signed::sign(
        key,
        &Authorization {
            device_id: grantee.device_id,
            handshake_code: grantee.handshake_code.to_owned(),
            licenses: in_force.items.iter().map(|i| i.signed.clone()).collect(),
            modules: grant.modules.clone(),
            offline_until: terms.offline_until,
            active_until: terms.active_until,
            report_interval_ms: REPORT_INTERVAL_MS,
            server_time: grantee.now,
            state: terms.state,
            nonce: grantee.nonce,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn an_origin_gives_its_host_without_scheme_and_port() {
        for (origin, host) in [
            ("https://app.example.com", "app.example.com"),
            ("http://localhost:8080", "localhost"),
            ("https://[::1]:8443", "[::1]"),
            ("http://[2001:db8::1]", "[2001:db8::1]"),
            ("chrome-extension://abcdefgh", "abcdefgh"),
        ] {
            assert_eq!(origin_host(origin), Some(host), "{origin}");
        }
        for origin in [
            "null",
            "",
            "app.example.com",
            "https://",
            "https://:443",
            "https://a.com:",
            "https://a.com:x",
            "https://a.com/path",
            "://a.com",
            "https://[::1",
            "https://u@a.com",
        ] {
            assert_eq!(origin_host(origin), None, "{origin}");
        }
    }
}
