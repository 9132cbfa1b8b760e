//! The JSON forms of the store's records that both the CLI's `--json` output and the admin API
//! (`admin_api`) answer, so that a script sees one shape whichever it reads: camelCase keys,
//! times in Unix milliseconds (RFC 3339 text only inside a license file's view, as `decode`
//! shows it). It reads nothing and decides nothing; a webhook shows only as its label.

use licet_protocol::license::{ActivePeriod, LicenseFile, LicenseType, Module};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::alerts::webhook_label;
use crate::storage::{Alert, Device, TrialSetting};

/// Unix milliseconds as RFC 3339 (UTC); the number itself when out of the calendar's range.
pub fn rfc3339(ms: u64) -> String {
    i128::from(ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// The content of a license file, as `decode` shows it.
pub fn license_file(file: &LicenseFile) -> Value {
    json!({
        "id": file.id,
        "organizationId": file.organization_id,
        "product": file.product,
        "type": file.license_type.as_str(),
        "modules": file.modules.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "quota": file.quota,
        "devices": file.devices,
        "active": file.active.map(|a| a.as_str()),
        "domains": file.domains,
        "allowDevHosts": file.allow_dev_hosts,
        "issuedAt": rfc3339(file.issued_at),
        "expiresAt": rfc3339(file.expires_at),
        "offlineGraceMs": file.offline_grace_ms,
        "offlinePeriod": offline_period(file),
        "tolerance": {
            "quotaPermille": file.tolerance.quota_permille,
            "devicesPermille": file.tolerance.devices_permille,
            "expiryMs": file.tolerance.expiry_ms,
        },
    })
}

/// Which period a device of `file` gets offline from each contact: `seat` when it works until
/// its seat ends (per device, with a grace at least as long as the seat's period), else `fixed`
/// (`offline_grace_ms`, which for a per-device file with a shorter grace ends before the seat).
fn offline_period(file: &LicenseFile) -> &'static str {
    let seat = file.active.map(ActivePeriod::length_ms);
    match (file.license_type, seat) {
        (LicenseType::PerDevice, Some(seat)) if file.offline_grace_ms >= seat => "seat",
        _ => "fixed",
    }
}

/// Pages per module and scans per symbology as two JSON objects keyed by module and symbology.
pub fn counts<'a>(
    pages: impl IntoIterator<Item = (Module, u64)>,
    scans: impl IntoIterator<Item = (&'a str, u64)>,
) -> (Value, Value) {
    let pages: Map<String, Value> =
        pages.into_iter().map(|(module, n)| (module.as_str().to_owned(), json!(n))).collect();
    let scans: Map<String, Value> = scans.into_iter().map(|(name, n)| (name.to_owned(), json!(n))).collect();
    (Value::Object(pages), Value::Object(scans))
}

/// A device with its last contact and its seat.
pub fn device(device: &Device) -> Value {
    let c = &device.contact;
    json!({
        "deviceId": c.device_id.to_hyphenated(), "handshakeCode": c.handshake_code, "domain": c.domain,
        "name": c.name, "product": c.product, "sdkVersion": c.sdk_version, "firstSeen": device.first_seen, "lastSeen": device.last_seen,
        "seatHeldUntil": device.seat_held_until,
    })
}

/// An alert with where each of its deliveries stands.
pub fn alert(alert: &Alert) -> Value {
    let deliveries: Vec<Value> = alert
        .deliveries
        .iter()
        .map(|d| {
            json!({
                "webhook": webhook_label(&d.url), "attempts": d.attempts, "deliveredAt": d.delivered_at,
                "nextAttemptAt": d.next_attempt_at, "gaveUp": d.gave_up, "lastError": d.last_error,
            })
        })
        .collect();
    json!({
        "id": alert.id, "kind": alert.kind, "subject": alert.subject, "message": alert.message,
        "firedAt": alert.fired_at, "deliveries": deliveries,
    })
}

/// The public trial setting.
pub fn trial(setting: &TrialSetting) -> Value {
    json!({ "handshakeCode": setting.handshake_code, "days": setting.days, "open": setting.open })
}
