//! `licet-server license issue | import | list`. `issue` is the vendor's side: it builds a
//! license file from the options, refusing combinations that sell nothing coherent, and signs
//! it with the vendor key. `import` is the server's side: it stores only files whose vendor
//! signature verifies against the key the data directory trusts.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use licet_protocol::license::{
    self, ActivePeriod, LicenseFile, LicenseType, Module, Tolerance, DAY_MS, OFFLINE_GRACE_RANGE_MS,
};

use super::{now, parse_rfc3339, read_text, rfc3339, with_config, DataArgs, Outcome};
use crate::admin;
use crate::error::ServerError;
use crate::random;
use crate::storage::Imported;

#[derive(Subcommand)]
pub enum LicenseCommand {
    /// Build and sign a license file with the vendor key (the vendor's side).
    Issue(IssueArgs),
    /// Verify a license file's vendor signature and store it.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// The license file written by `licet-server license issue`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the imported licenses.
    List(DataArgs),
}

#[derive(Args)]
pub struct IssueArgs {
    /// The vendor key file (from `licet-server vendor keygen`).
    #[arg(long, value_name = "FILE")]
    vendor_key: PathBuf,
    /// The organization the license is sold to.
    #[arg(long, value_name = "ORG")]
    org: String,
    /// per-scan, per-page, per-device, concurrent or per-domain.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    license_type: LicenseType,
    #[arg(long, value_name = "NAME", default_value = "sdk")]
    product: String,
    /// Unique scans (per-scan) or pages per module (per-page).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    quota: Option<u64>,
    /// Comma-separated modules: core, webcam, pdfr, ocr.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_module, default_value = "core")]
    modules: Vec<Module>,
    /// How many devices (per-device, concurrent).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    devices: Option<u32>,
    /// How long a per-device seat lasts after each contact: yearly, quarterly, monthly or daily (default yearly).
    #[arg(long, value_name = "PERIOD", value_parser = parse_active)]
    active: Option<ActivePeriod>,
    /// A domain the license is bound to, e.g. app.example.com or *.example.com (the domain and
    /// every subdomain); international names are converted to punycode. Repeat for more.
    #[arg(long = "domain", value_name = "PATTERN")]
    domains: Vec<String>,
    /// Also allow localhost, *.localhost and loopback addresses (development machines).
    #[arg(long)]
    allow_dev_hosts: bool,
    /// Valid for N days from now (default 365).
    #[arg(long, value_name = "N", conflicts_with = "expires", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    days: Option<u64>,
    /// Valid until this RFC 3339 time, e.g. 2030-01-31T00:00:00Z.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    expires: Option<u64>,
    /// How long a device keeps working offline: 3m, 12h, 7d (3m to 365d). Default by type:
    /// per-device, as long as the device's seat lasts (its --active period); concurrent, 6m;
    /// the others, 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    offline_grace: Option<u64>,
    /// The license ID (default: L- and 12 random hex digits).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Where to write the license file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn parse_type(text: &str) -> Result<LicenseType, String> {
    LicenseType::parse(text)
        .ok_or_else(|| "expected per-scan, per-page, per-device, concurrent or per-domain".to_owned())
}

fn parse_module(text: &str) -> Result<Module, String> {
    Module::parse(text).ok_or_else(|| "expected core, webcam, pdfr or ocr".to_owned())
}

fn parse_active(text: &str) -> Result<ActivePeriod, String> {
    ActivePeriod::parse(text).ok_or_else(|| "expected yearly, quarterly, monthly or daily".to_owned())
}

/// Parses a number and a unit s, m, h or d (`600s`, `3m`, `12h`, `7d`) into milliseconds within
/// the offline grace range.
fn parse_duration(text: &str) -> Result<u64, String> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 60 * 60 * 1000,
        "d" => DAY_MS,
        _ => return Err("expected a number and a unit: s, m, h or d (e.g. 7d)".to_owned()),
    };
    let (min, max) = OFFLINE_GRACE_RANGE_MS;
    match digits.parse::<u64>().ok().and_then(|n| n.checked_mul(unit_ms)) {
        Some(ms) if (min..=max).contains(&ms) => Ok(ms),
        _ => Err("the offline grace must be from 3m to 365d".to_owned()),
    }
}

/// Checks that the options sell something coherent for the type, and builds the file.
fn license_file(args: IssueArgs, issued_at: u64) -> Result<LicenseFile, ServerError> {
    let invalid = |message: &str| Err(ServerError::Invalid(message.to_owned()));
    let kind = args.license_type;
    let counts_quota = kind.has_quota();
    let counts_devices = kind.limits_devices();
    if counts_quota && args.quota.is_none() {
        return invalid(&format!("a {} license needs --quota N", kind.as_str()));
    }
    if !counts_quota && args.quota.is_some() {
        return invalid("--quota applies only to per-scan and per-page licenses: remove it");
    }
    if counts_devices && args.devices.is_none() {
        return invalid(&format!("a {} license needs --devices N", kind.as_str()));
    }
    if !counts_devices && args.devices.is_some() {
        return invalid("--devices applies only to per-device and concurrent licenses: remove it");
    }
    if kind != LicenseType::PerDevice && args.active.is_some() {
        return invalid("--active applies only to per-device licenses: remove it");
    }
    if kind == LicenseType::PerDomain && args.domains.is_empty() {
        return invalid("a per-domain license needs at least one --domain PATTERN");
    }
    if let Some(id) = &args.id {
        admin::check_name("license id", id)?;
    }
    admin::check_name("organization id", &args.org)?;
    if args.product.is_empty() {
        return invalid("--product is empty: name the product the license is for");
    }
    let mut modules = args.modules;
    modules.sort();
    modules.dedup();
    let mut domains: Vec<String> = Vec::with_capacity(args.domains.len());
    for pattern in &args.domains {
        let pattern = admin::domain_pattern(pattern)?;
        // The same domain typed twice (or once in Unicode, once in punycode) is bound once.
        if !domains.contains(&pattern) {
            domains.push(pattern);
        }
    }
    let expires_at = match (args.expires, args.days) {
        (Some(at), _) => at,
        (None, days) => issued_at.saturating_add(days.unwrap_or(365).saturating_mul(DAY_MS)),
    };
    let active = (kind == LicenseType::PerDevice).then(|| args.active.unwrap_or(ActivePeriod::Yearly));
    Ok(LicenseFile {
        id: args.id.unwrap_or_else(|| format!("L-{}", random::hex(6))),
        organization_id: args.org,
        product: args.product,
        license_type: kind,
        modules,
        quota: args.quota,
        devices: args.devices,
        active,
        domains,
        allow_dev_hosts: args.allow_dev_hosts,
        issued_at,
        expires_at,
        offline_grace_ms: args.offline_grace.unwrap_or(kind.default_offline_grace_ms(active)),
        tolerance: Tolerance::default(),
    })
}

fn issue(args: IssueArgs) -> Result<Outcome, ServerError> {
    let vendor = super::vendor::load(&args.vendor_key)?;
    let out = args.out.clone();
    let now = now();
    let file = license_file(args, now)?;
    let text = license::to_text(&file.sign(&vendor.0));
    std::fs::write(&out, format!("{text}\n")).map_err(|source| ServerError::Io {
        action: "write",
        path: out.clone(),
        source,
    })?;
    let expired = if file.expires_at < now { " (already expired)" } else { "" };
    Ok(Outcome {
        text: format!(
            "issued {} license {} for {}, expires {}{expired}, written to {}",
            file.license_type.as_str(),
            file.id,
            file.organization_id,
            rfc3339(file.expires_at),
            out.display()
        ),
        json: serde_json::json!({ "id": file.id, "type": file.license_type.as_str(), "expiresAt": file.expires_at }),
    })
}

async fn import(data: DataArgs, path: PathBuf) -> Result<Outcome, ServerError> {
    let signed =
        license::from_text(&read_text(&path)?).map_err(|e| ServerError::NotALicense(path.display().to_string(), e))?;
    let (file, imported) = with_config(&data, async |config| {
        admin::import_license(config.storage.as_ref(), &config.vendor_public, &signed, now()).await
    })
    .await?;
    let new = imported == Imported::New;
    let text = if new {
        format!(
            "imported {} license {} for {}, expires {}",
            file.license_type.as_str(),
            file.id,
            file.organization_id,
            rfc3339(file.expires_at)
        )
    } else {
        format!("license {} was already imported: nothing changed", file.id)
    };
    Ok(Outcome {
        text,
        json: serde_json::json!({ "id": file.id, "type": file.license_type.as_str(), "expiresAt": file.expires_at, "imported": new }),
    })
}

async fn list(data: DataArgs) -> Result<Outcome, ServerError> {
    let licenses = with_config(&data, async |config| Ok(config.storage.licenses().await?)).await?;
    let lines: Vec<String> = licenses
        .iter()
        .map(|l| {
            format!(
                "{}  {}  {}  {}  expires {}",
                l.id,
                l.license_type,
                l.organization_id,
                l.product,
                rfc3339(l.expires_at)
            )
        })
        .collect();
    let json: Vec<_> = licenses
        .iter()
        .map(|l| {
            serde_json::json!({
                "id": l.id, "type": l.license_type, "organizationId": l.organization_id,
                "product": l.product, "expiresAt": l.expires_at,
            })
        })
        .collect();
    Ok(Outcome {
        text: if lines.is_empty() { "no license imported yet".to_owned() } else { lines.join("\n") },
        json: serde_json::json!({ "licenses": json }),
    })
}

pub async fn run(command: LicenseCommand) -> Result<Outcome, ServerError> {
    match command {
        LicenseCommand::Issue(args) => issue(args),
        LicenseCommand::Import { data, file } => import(data, file).await,
        LicenseCommand::List(data) => list(data).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_grace_takes_a_number_and_a_unit_within_the_range() {
        assert_eq!(parse_duration("3m"), Ok(180_000));
        assert!(parse_duration("90s").is_err(), "under 3 minutes");
        assert_eq!(parse_duration("180s"), Ok(180_000));
        assert_eq!(parse_duration("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_duration("365d"), Ok(365 * DAY_MS));
        for bad in ["366d", "7", "d", "7 d", "-7d", "7w", "", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
