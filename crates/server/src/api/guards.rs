//! The licensing decisions both protocol routes share: which project a request names, whether
//! its session password matches, which assigned licenses are valid now, whether they bind the
//! page's domain and its `Origin` agrees, what the signed authorization grants, and which license
//! each counted item is charged to. Each refusal is one named code. Seats, quotas and tolerance
//! are not enforced here yet.

use axum::http::HeaderValue;
use licet_protocol::domain;
use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::keys::SigningKey;
use licet_protocol::license::{self, LicenseFile, LicenseType, Module};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{Authorization, LicenseState, UsageReport};

use super::ApiError;
use crate::http::Config;
use crate::password;
use crate::storage::{NewReport, Project, Storage, UsageItem, UsageRow};

/// How often a device should send its reports, in milliseconds: one closed slot at a time.
pub const REPORT_INTERVAL_MS: u64 = licet_protocol::SLOT_MS;

/// Resolves the project a request names: the organization's default project when only the
/// organization is given, the handshake code's project when it is given (and belongs to the
/// organization, when that is given too).
pub async fn resolve_project(
    storage: &dyn Storage,
    organization_id: Option<&str>,
    handshake_code: Option<&str>,
) -> Result<Project, ApiError> {
    let project = match (organization_id, handshake_code) {
        (Some(org), None) => storage.default_project(org).await?,
        (org, Some(code)) => storage.project(code).await?.filter(|p| org.is_none_or(|org| p.organization_id == org)),
        // The public trial for a request that names no project comes with the licensing rules.
        (None, None) => None,
    };
    project.ok_or(ApiError::UnknownProject)
}

/// Refuses a missing or wrong session password when the project has one.
pub async fn check_session_password(project: &Project, given: Option<&str>) -> Result<(), ApiError> {
    let Some(hash) = project.session_password_hash.clone() else { return Ok(()) };
    let Some(given) = given.map(str::to_owned) else { return Err(ApiError::WrongSessionPassword) };
    // argon2 is deliberately slow: keep it off the threads that serve other requests.
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&given, &hash)).await.map_err(ApiError::internal)?.map_err(|e| {
            ApiError::internal(format!("the session password hash of {} cannot be read: {e}", project.handshake_code))
        })?;
    if matches {
        Ok(())
    } else {
        Err(ApiError::WrongSessionPassword)
    }
}

/// A license assigned to the project and valid now, decoded from its verified file.
pub struct ValidLicense {
    pub file: LicenseFile,
    /// The vendor-signed file exactly as imported: what devices verify.
    pub signed: Signed,
}

/// The valid licenses of one project, in assignment order. Never empty: `licensed` refuses
/// a project without one.
pub struct Licensed(Vec<ValidLicense>);

/// The licenses of `handshake_code` that are valid at `now`: `NO_LICENSE` when none is
/// assigned, `LICENSE_EXPIRED` when every one has expired.
pub async fn licensed(config: &Config, handshake_code: &str, now: u64) -> Result<Licensed, ApiError> {
    let records = config.storage.project_licenses(handshake_code).await?;
    if records.is_empty() {
        return Err(ApiError::NoLicense);
    }
    let mut valid = Vec::with_capacity(records.len());
    for record in records {
        // Checked again on the way out: the database is not where license content is trusted.
        let signed = license::from_text(&record.text)
            .map_err(|e| ApiError::internal(format!("stored license {} cannot be parsed: {e}", record.id)))?;
        let file = license::verify(&signed, &config.vendor_public)
            .map_err(|e| ApiError::internal(format!("stored license {} does not verify: {e}", record.id)))?;
        if file.expires_at >= now {
            valid.push(ValidLicense { file, signed });
        }
    }
    if valid.is_empty() {
        return Err(ApiError::LicenseExpired);
    }
    Ok(Licensed(valid))
}

/// The host of an `Origin` header (`scheme://host[:port]`), an IPv6 host in brackets as
/// `location.hostname` gives it; `None` for `null` (opaque origins) and anything else.
fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    let host_end = if rest.starts_with('[') { rest.find(']')? + 1 } else { rest.find(':').unwrap_or(rest.len()) };
    let (host, port) = rest.split_at(host_end);
    let port_ok =
        port.is_empty() || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (!scheme.is_empty() && !host.is_empty() && port_ok && !host.contains(['/', '@'])).then_some(host)
}

impl Licensed {
    /// The license that anything without a better match is charged to.
    fn first(&self) -> &ValidLicense {
        &self.0[0]
    }

    /// True when some valid license binds no domain: the project then serves every host.
    fn unbound(&self) -> bool {
        self.0.iter().any(|l| l.file.domains.is_empty())
    }

    /// Refuses a reported domain that no valid license allows: the bound domains are the union
    /// of the licenses', and so is permission for development hosts (`domain::licenses_allow_host`).
    pub fn check_domain(&self, domain: &str) -> Result<(), ApiError> {
        domain::licenses_allow_host(self.0.iter().map(|l| &l.file), domain).map_err(ApiError::DomainNotAllowed)
    }

    /// Refuses a browser request whose `Origin` header is opaque (`null`) or names another host
    /// than the reported domain, when the project binds domains. A request without the header
    /// (a tool, not a page) is judged by the reported domain alone.
    pub fn check_origin(&self, domain: &str, origin: Option<&HeaderValue>) -> Result<(), ApiError> {
        let Some(origin) = origin else { return Ok(()) };
        if self.unbound() {
            return Ok(());
        }
        match origin.to_str().ok().and_then(origin_host) {
            Some(host) if host.eq_ignore_ascii_case(domain) => Ok(()),
            _ => Err(ApiError::OriginMismatch),
        }
    }

    /// The signed authorization for one device: every valid license file, the union of their
    /// modules, the latest expiry, and an offline grace that is the shortest of the licenses'
    /// and never reaches past that expiry (DESIGN.md: min(now + grace, expiry)).
    pub fn authorization(&self, key: &SigningKey, device_id: DeviceId, handshake_code: &str, now: u64, nonce: Nonce) -> Signed {
        let mut modules: Vec<Module> = self.0.iter().flat_map(|l| l.file.modules.iter().copied()).collect();
        modules.sort();
        modules.dedup();
        let grace = self.0.iter().map(|l| l.file.offline_grace_ms).min().unwrap_or(license::DEFAULT_OFFLINE_GRACE_MS);
        let active_until = self.0.iter().map(|l| l.file.expires_at).max().unwrap_or(now);
        Signed::sign(
            key,
            &Authorization {
                device_id,
                handshake_code: handshake_code.to_owned(),
                licenses: self.0.iter().map(|l| l.signed.clone()).collect(),
                modules,
                offline_until: now.saturating_add(grace).min(active_until),
                active_until,
                report_interval_ms: REPORT_INTERVAL_MS,
                server_time: now,
                state: LicenseState::Valid,
                nonce,
            },
        )
    }

    /// Charges every count of `reports` to a license: pages to the first license selling their
    /// module, scans to the first per-scan license, anything else to the first license.
    pub fn attribute(&self, reports: &[UsageReport]) -> Vec<NewReport> {
        let for_module =
            |module: Module| self.0.iter().find(|l| l.file.modules.contains(&module)).unwrap_or(self.first()).file.id.clone();
        let for_scans =
            self.0.iter().find(|l| l.file.license_type == LicenseType::PerScan).unwrap_or(self.first()).file.id.clone();
        reports
            .iter()
            .map(|report| NewReport {
                report_id: report.report_id,
                rows: report
                    .slots
                    .iter()
                    .flat_map(|slot| {
                        let pages =
                            slot.pages.iter().map(|&(module, count)| (for_module(module), UsageItem::Pages(module), count));
                        let scans =
                            slot.scans.iter().map(|(name, count)| (for_scans.clone(), UsageItem::Scans(name.clone()), *count));
                        pages.chain(scans).filter(|(_, _, count)| *count > 0).map(|(license_id, item, count)| UsageRow {
                            license_id,
                            slot: slot.slot,
                            item,
                            count,
                        })
                    })
                    .collect(),
            })
            .collect()
    }
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
