//! Reading stored rows back into the storage records, for every backend: the column names and
//! types are the same in each backend's schema (text, 64-bit integers, booleans), so one mapper
//! serves both. It writes nothing and holds no SQL of either dialect.

use licet_protocol::ids::DeviceId;
use licet_protocol::license::Module;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{
    AdminToken, Device, DeviceContact, LicenseRecord, Project, StorageError, UsageBucket, UsageItem, UsageTotal,
};

/// A row of a backend whose columns decode into the types the records use.
pub(super) trait StoredRow {
    fn text(&self, column: &str) -> Result<String, StorageError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StorageError>;
    fn flag(&self, column: &str) -> Result<bool, StorageError>;
    /// A signed 64-bit integer, the one integer of both backends.
    fn integer(&self, column: &str) -> Result<i64, StorageError>;
    /// `integer`, or `None` for NULL.
    fn optional_integer(&self, column: &str) -> Result<Option<i64>, StorageError>;

    /// A stored time, slot or count: a signed integer in the store, never negative.
    fn unsigned(&self, column: &str) -> Result<u64, StorageError> {
        from_db(column, self.integer(column)?)
    }

    /// `unsigned`, or `None` for NULL.
    fn optional_unsigned(&self, column: &str) -> Result<Option<u64>, StorageError> {
        self.optional_integer(column)?.map(|v| from_db(column, v)).transpose()
    }
}

impl<R: Row> StoredRow for R
where
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database>,
{
    fn text(&self, column: &str) -> Result<String, StorageError> {
        Ok(self.try_get(column)?)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StorageError> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> Result<bool, StorageError> {
        Ok(self.try_get(column)?)
    }

    fn integer(&self, column: &str) -> Result<i64, StorageError> {
        Ok(self.try_get(column)?)
    }

    fn optional_integer(&self, column: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.try_get(column)?)
    }
}

/// A stored time, slot or count of `column` back as the unsigned value it was written from.
fn from_db(column: &str, value: i64) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::Corrupt(format!("negative {column}")))
}

/// Every u64 the server stores (times, slots, counts) fits in a signed 64-bit integer, the
/// integer of both backends; a value that does not is refused rather than wrapped.
pub(super) fn to_db(value: u64) -> Result<i64, StorageError> {
    i64::try_from(value).map_err(|_| StorageError::OutOfRange(value))
}

pub(super) fn license_record<R: StoredRow>(row: &R) -> Result<LicenseRecord, StorageError> {
    Ok(LicenseRecord {
        id: row.text("id")?,
        text: row.text("text")?,
        organization_id: row.text("organization_id")?,
        product: row.text("product")?,
        license_type: row.text("license_type")?,
        expires_at: row.unsigned("expires_at")?,
    })
}

/// The devices with their seats, in the columns `device` reads, in the order `devices` lists
/// them; the same SQL in both backends. A device's seat is its latest `held_until` on a license
/// of its project: a past time until housekeeping releases it, then none.
pub(super) const DEVICES_QUERY: &str = "SELECT d.*, (SELECT MAX(s.held_until) FROM seats s
     JOIN project_licenses pl ON pl.license_id = s.license_id
     WHERE s.device_id = d.device_id AND pl.handshake_code = d.handshake_code) AS seat_held_until
     FROM devices d ORDER BY d.first_seen, d.device_id, d.handshake_code";

pub(super) fn alert<R: StoredRow>(row: &R) -> Result<super::Alert, StorageError> {
    Ok(super::Alert {
        id: row.unsigned("id")?,
        kind: row.text("kind")?,
        subject: row.text("subject")?,
        message: row.text("message")?,
        fired_at: row.unsigned("fired_at")?,
        deliveries: Vec::new(),
    })
}

/// A delivery row and the alert it belongs to.
pub(super) fn delivery<R: StoredRow>(row: &R) -> Result<(u64, super::Delivery), StorageError> {
    Ok((
        row.unsigned("alert_id")?,
        super::Delivery {
            url: row.text("url")?,
            attempts: row.unsigned("attempts")?,
            next_attempt_at: row.unsigned("next_attempt_at")?,
            delivered_at: row.optional_unsigned("delivered_at")?,
            last_error: row.optional_text("last_error")?,
            gave_up: row.flag("gave_up")?,
        },
    ))
}

/// The delivery of a new alert to `url`: due at once.
pub(super) fn new_delivery(url: &str, fired_at: u64) -> super::Delivery {
    super::Delivery {
        url: url.to_owned(),
        attempts: 0,
        next_attempt_at: fired_at,
        delivered_at: None,
        last_error: None,
        gave_up: false,
    }
}

/// The columns an ended attempt writes: delivered at, last error, retry at, given up.
pub(super) type AttemptColumns<'a> = (Option<i64>, Option<&'a str>, Option<i64>, bool);

/// The columns `attempt` writes.
pub(super) fn attempt_columns(attempt: &super::Attempt) -> Result<AttemptColumns<'_>, StorageError> {
    Ok(match attempt {
        super::Attempt::Delivered { at } => (Some(to_db(*at)?), None, None, false),
        super::Attempt::Failed { error, retry_at: Some(at) } => (None, Some(error.as_str()), Some(to_db(*at)?), false),
        super::Attempt::Failed { error, retry_at: None } => (None, Some(error.as_str()), None, true),
    })
}

/// One alert per taken delivery, each listing only that delivery, from the alerts' rows.
pub(super) fn one_alert_per_delivery(
    alerts: Vec<super::Alert>,
    deliveries: Vec<(u64, super::Delivery)>,
) -> Vec<super::Alert> {
    deliveries
        .into_iter()
        .filter_map(|(id, delivery)| {
            alerts.iter().find(|a| a.id == id).map(|a| super::Alert { deliveries: vec![delivery], ..a.clone() })
        })
        .collect()
}

/// Alerts with their deliveries attached, in the alerts' order.
pub(super) fn with_deliveries(
    mut alerts: Vec<super::Alert>,
    deliveries: Vec<(u64, super::Delivery)>,
) -> Vec<super::Alert> {
    for (alert_id, delivery) in deliveries {
        if let Some(alert) = alerts.iter_mut().find(|a| a.id == alert_id) {
            alert.deliveries.push(delivery);
        }
    }
    alerts
}

/// The columns `project` reads, in every backend's projects table.
pub(super) const PROJECT_COLUMNS: &str =
    "handshake_code, organization_id, is_default, session_password_hash, created_at";

pub(super) fn project<R: StoredRow>(row: &R) -> Result<Project, StorageError> {
    Ok(Project {
        handshake_code: row.text("handshake_code")?,
        organization_id: row.text("organization_id")?,
        is_default: row.flag("is_default")?,
        session_password_hash: row.optional_text("session_password_hash")?,
        created_at: row.unsigned("created_at")?,
    })
}

pub(super) fn device<R: StoredRow>(row: &R) -> Result<Device, StorageError> {
    let id = row.text("device_id")?;
    let device_id = DeviceId::parse(&id).ok_or_else(|| StorageError::Corrupt(format!("device id {id}")))?;
    Ok(Device {
        contact: DeviceContact {
            device_id,
            handshake_code: row.text("handshake_code")?,
            domain: row.text("domain")?,
            name: row.optional_text("name")?,
            product: row.text("product")?,
            sdk_version: row.text("sdk_version")?,
        },
        first_seen: row.unsigned("first_seen")?,
        last_seen: row.unsigned("last_seen")?,
        seat_held_until: row.optional_unsigned("seat_held_until")?,
    })
}

/// The `kind` of a usage total of pages (its `name` a module) and of scans (a symbology).
const PAGES: &str = "pages";
const SCANS: &str = "scans";

/// A row of `usage_totals`: `license_id, kind, name, count`.
pub(super) fn usage_total<R: StoredRow>(row: &R) -> Result<UsageTotal, StorageError> {
    let (kind, name) = (row.text("kind")?, row.text("name")?);
    let item = match kind.as_str() {
        PAGES => UsageItem::Pages(Module::parse(&name).ok_or_else(|| StorageError::Corrupt(format!("module {name}")))?),
        SCANS => UsageItem::Scans(name),
        _ => return Err(StorageError::Corrupt(format!("usage kind {kind}"))),
    };
    Ok(UsageTotal { license_id: row.text("license_id")?, item, count: row.unsigned("count")? })
}

/// The module and symbology columns of a usage row: exactly one is set.
pub(super) fn usage_columns(item: &UsageItem) -> (Option<&str>, Option<&str>) {
    match item {
        UsageItem::Pages(module) => (Some(module.as_str()), None),
        UsageItem::Scans(symbology) => (None, Some(symbology.as_str())),
    }
}

/// A row of `usage_series`: `bucket, license_id, module, symbology, count` (of `usage`'s columns).
pub(super) fn usage_bucket<R: StoredRow>(row: &R) -> Result<UsageBucket, StorageError> {
    let item = match (row.optional_text("module")?, row.optional_text("symbology")?) {
        (Some(module), None) => {
            UsageItem::Pages(Module::parse(&module).ok_or_else(|| StorageError::Corrupt(format!("module {module}")))?)
        }
        (None, Some(symbology)) => UsageItem::Scans(symbology),
        _ => return Err(StorageError::Corrupt("a usage row with both or neither of module and symbology".into())),
    };
    Ok(UsageBucket {
        first_slot: row.unsigned("bucket")?,
        license_id: row.text("license_id")?,
        item,
        count: row.unsigned("count")?,
    })
}

/// The usage series of both backends, in their placeholder style: `bucket` is the first slot
/// of each bucket of ?1 slots, for the slots from ?2 to before ?3; ordered by bucket, license and
/// item (the text columns in byte order, as SQLite compares them).
pub(super) fn usage_series_query(placeholder: fn(u8) -> String, collate: &str) -> String {
    let (length, from, to) = (placeholder(1), placeholder(2), placeholder(3));
    format!(
        "SELECT (slot / {length}) * {length} AS bucket, license_id, module, symbology, CAST(SUM(count) AS BIGINT) AS count FROM usage
         WHERE slot >= {from} AND slot < {to} GROUP BY 1, 2, 3, 4
         ORDER BY 1, license_id{collate}, COALESCE(module, ''){collate}, COALESCE(symbology, ''){collate}"
    )
}

pub(super) fn admin_token<R: StoredRow>(row: &R) -> Result<AdminToken, StorageError> {
    Ok(AdminToken { name: row.text("name")?, created_at: row.unsigned("created_at")? })
}

/// The `kind` and `name` of an item's row in `usage_totals`.
pub(super) fn usage_key(item: &UsageItem) -> (&'static str, &str) {
    match item {
        UsageItem::Pages(module) => (PAGES, module.as_str()),
        UsageItem::Scans(symbology) => (SCANS, symbology.as_str()),
    }
}

/// The values of the settings `keys` in their order, from the (key, value) rows found; `None`
/// for a key not set.
pub(super) fn by_key<const N: usize>(keys: [&str; N], found: Vec<(String, String)>) -> [Option<String>; N] {
    let mut values = [const { None }; N];
    for (key, value) in found {
        if let Some(at) = keys.iter().position(|k| *k == key) {
            values[at] = Some(value);
        }
    }
    values
}

/// The trial setting from its three stored values (all or none set).
pub(super) fn trial_setting(values: [Option<String>; 3]) -> Result<Option<super::TrialSetting>, StorageError> {
    match values {
        [Some(handshake_code), Some(days), Some(open)] => Ok(Some(super::TrialSetting {
            handshake_code,
            days: days.parse().map_err(|_| StorageError::Corrupt(format!("trial days {days}")))?,
            open: open == "1",
        })),
        [None, None, None] => Ok(None),
        _ => Err(StorageError::Corrupt("only part of the trial setting".into())),
    }
}

/// The server settings from their two stored values (both or neither set).
pub(super) fn settings(values: [Option<String>; 2]) -> Result<Option<super::Settings>, StorageError> {
    match values {
        [Some(vendor_public_key), Some(server_keys)] => Ok(Some(super::Settings { vendor_public_key, server_keys })),
        [None, None] => Ok(None),
        _ => Err(StorageError::Corrupt("only half of the server settings".into())),
    }
}

/// The settings keys both backends store.
pub(super) mod keys {
    pub const VENDOR_PUBLIC_KEY: &str = "vendor_public_key";
    pub const SERVER_KEYS: &str = "server_keys";
    pub const TRIAL_HANDSHAKE_CODE: &str = "trial_handshake_code";
    pub const TRIAL_DAYS: &str = "trial_days";
    pub const TRIAL_OPEN: &str = "trial_open";
}
