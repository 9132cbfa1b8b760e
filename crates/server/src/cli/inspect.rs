//! `licet-server usage | devices | decode`: read-only views for people and scripts. `usage` and
//! `devices` read the store; `decode` turns a license file or license key into readable JSON
//! and touches no store. None of them changes anything.

use std::path::Path;

use clap::Args;
use licet_protocol::keys;
use licet_protocol::license::{self, LicenseFile};
use licet_protocol::license_key::{self, LicenseKey};
use licet_protocol::{b64, wire};
use serde_json::{json, Value};

use super::{read_text, rfc3339, with_config, DataArgs, Outcome};
use crate::admin;
use crate::error::ServerError;
use crate::views;

pub async fn usage(args: &DataArgs) -> Result<Outcome, ServerError> {
    let usage = with_config(args, async |config| admin::usage(config.storage.as_ref()).await).await?;
    let mut lines = Vec::with_capacity(usage.len());
    let mut licenses = Vec::with_capacity(usage.len());
    for entry in &usage {
        let (pages, scans) =
            views::counts(entry.pages.iter().copied(), entry.scans.iter().map(|(name, n)| (name.as_str(), *n)));
        let mut counted: Vec<String> =
            entry.pages.iter().map(|(module, n)| format!("{n} {} pages", module.as_str())).collect();
        counted.extend(entry.scans.iter().map(|(name, n)| format!("{n} {name} scans")));
        let counted = if counted.is_empty() { "nothing counted yet".to_owned() } else { counted.join(", ") };
        lines.push(format!(
            "{} ({}, {}): {counted}",
            entry.license.id, entry.license.license_type, entry.license.organization_id
        ));
        licenses.push(json!({ "license": entry.license.id, "pages": pages, "scans": scans }));
    }
    Ok(Outcome {
        text: if lines.is_empty() { "no license imported yet".to_owned() } else { lines.join("\n") },
        json: json!({ "licenses": licenses }),
    })
}

pub async fn devices(args: &DataArgs) -> Result<Outcome, ServerError> {
    let devices = with_config(args, async |config| Ok(config.storage.devices().await?)).await?;
    let lines: Vec<String> = devices
        .iter()
        .map(|d| {
            let c = &d.contact;
            let name = c.name.as_deref().unwrap_or("-");
            let id = c.device_id.to_hyphenated();
            let seat = d
                .seat_held_until
                .map_or_else(|| "no seat".to_owned(), |until| format!("seat until {}", rfc3339(until)));
            format!("{id}  {}  {}  {name}  last seen {}  {seat}", c.handshake_code, c.domain, rfc3339(d.last_seen))
        })
        .collect();
    let json: Vec<Value> = devices.iter().map(views::device).collect();
    Ok(Outcome {
        text: if lines.is_empty() { "no device authorized yet".to_owned() } else { lines.join("\n") },
        json: json!({ "devices": json }),
    })
}

#[derive(Args)]
pub struct DecodeArgs {
    /// A license file or license key, or its text.
    #[arg(value_name = "FILE-OR-TEXT")]
    input: String,
    /// Also check a license file's signature against this vendor public key.
    // One base64url key in 64 starts with `-`: it is still the value, not an option.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    vendor_public_key: Option<String>,
}

pub fn decode(args: &DecodeArgs) -> Result<Outcome, ServerError> {
    let path = Path::new(&args.input);
    let (text, what) = if path.is_file() {
        (read_text(path)?, path.display().to_string())
    } else {
        (args.input.clone(), "the text".to_owned())
    };
    let text = text.trim();
    let json = if text.starts_with(license_key::PREFIX) {
        let key = LicenseKey::decode(text).map_err(ServerError::BadLicenseKey)?;
        json!({ "kind": "licenseKey", "licenseKey": key })
    } else if text.starts_with(license::TEXT_PREFIX) {
        let signed = license::from_text(text).map_err(|e| ServerError::NotALicense(what.clone(), e))?;
        let file: LicenseFile = wire::decode(&signed.payload).map_err(|e| ServerError::NotALicense(what, e))?;
        let mut view = json!({ "kind": "license", "license": views::license_file(&file), "signature": b64::encode(&signed.signature) });
        if let Some(vendor) = &args.vendor_public_key {
            let vendor = keys::verifying_key_from_text(vendor)
                .map_err(|e| ServerError::BadVendorPublicKey(vendor.clone(), e))?;
            view["signatureVerifies"] = json!(license::verify(&signed, &vendor).is_ok());
        }
        view
    } else {
        return Err(ServerError::UndecodableText);
    };
    let pretty = serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string());
    Ok(Outcome { text: pretty, json })
}
