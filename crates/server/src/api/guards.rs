//! The licensing decisions both protocol routes share: which project a request names, whether
//! its session password matches, which assigned licenses are valid now, what the signed
//! authorization grants, and which license each counted item is charged to. Each refusal is one
//! named code. Seats, quotas, domain binding and tolerance are not enforced here yet.

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

impl Licensed {
    /// The license that anything without a better match is charged to.
    fn first(&self) -> &ValidLicense {
        &self.0[0]
    }

    /// The signed authorization for one device: every valid license file, the union of their
    /// modules, the shortest offline grace and the latest expiry.
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
                offline_until: now.saturating_add(grace),
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
