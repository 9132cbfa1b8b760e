//! The one storage interface of the server: what the HTTP handlers and the CLI read and write,
//! as typed records. It holds no SQL: each backend (`sqlite` for one server, `postgres` for
//! several) keeps its dialect and migrations to itself. Every method that changes more than one
//! row does it in one transaction. It decides no licensing rule (`licensing` does): a contact's
//! claims (a seat, a place in a slot, a trial) are taken inside its transaction, because only
//! that transaction can know they fit without a race, and each backend only reads the facts
//! `licensing::admission` decides on and writes what it took.

mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::license::Module;
use licet_protocol::wire::UsageReport;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

// The claims a contact takes are licensing decisions; the store takes them atomically, so its
// interface speaks of them.
pub use crate::licensing::admission::{
    Admission, AdmissionFacts, Admitted, Capacity, Refusal, SeatClaim, SeatPool, Take, TrialClaim, TrialOutcome,
    WindowClaim,
};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The request's nonce was stored before: the request is a replay. Nothing was changed.
    #[error("this request was already received once")]
    ReplayedNonce,
    #[error("handshake code {0} already exists: choose another one with --handshake-code")]
    HandshakeCodeTaken(String),
    #[error("no project has the handshake code {0}: create it with `licet-server project create`")]
    UnknownProject(String),
    #[error("no license has the id {0}: import it with `licet-server license import`")]
    UnknownLicense(String),
    #[error("an admin token named {0} already exists: choose another --name, or revoke that one first")]
    AdminTokenNameTaken(String),
    #[error("no admin token is named {0}: `licet-server admin token list` shows their names")]
    UnknownAdminToken(String),
    /// A number over the signed 64-bit range of the store; handlers refuse such input first.
    #[error("{0} is too large to store: nothing was stored")]
    OutOfRange(u64),
    /// A stored value this build cannot read back (edited by hand, or written by a newer build).
    #[error("the store holds a value this server cannot read ({0}): restore the data directory from a backup")]
    Corrupt(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite failed on the path of requests, which calls it directly (`sqlite::direct`).
    #[error("the database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The transaction this request shared with others failed as a whole (its commit, say):
    /// nothing of the request was stored, whatever its own statements did.
    #[error("the database failed, and nothing of this request was stored: {0}")]
    Shared(String),
    /// The charging of a batch's reports panicked; nothing of the request was stored.
    #[error("charging the reports to licenses failed: nothing of the request was stored, and it may be sent again")]
    ChargeFailed,
    #[error("the database schema could not be brought up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The server-wide settings written once by `licet-server init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The vendor's Ed25519 public key, base64url: only licenses it signed are imported.
    pub vendor_public_key: String,
    /// The server's secret keys, as `ServerKeys::to_text` writes them.
    pub server_keys: String,
}

/// An imported license: its text exactly as verified, plus the decoded fields that queries use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    pub id: String,
    /// `license::to_text` of the vendor-signed file.
    pub text: String,
    pub organization_id: String,
    pub product: String,
    /// `LicenseType::as_str`, e.g. `per-page`.
    pub license_type: String,
    pub expires_at: u64,
}

/// What importing a license did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    New,
    /// The identical license was already there; nothing changed.
    AlreadyPresent,
    /// Another license with the same id is there; nothing changed.
    IdTaken,
}

/// A project: one handshake code of an organization, and the licenses assigned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub handshake_code: String,
    pub organization_id: String,
    /// The first project created for an organization serves requests that name only the org.
    pub is_default: bool,
    /// An argon2 PHC string; `None` when the project has no session password.
    pub session_password_hash: Option<String>,
    pub created_at: u64,
}

/// What a device told the server about itself when it was last authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceContact {
    pub device_id: DeviceId,
    pub handshake_code: String,
    pub domain: String,
    pub name: Option<String>,
    pub product: String,
    pub sdk_version: String,
}

/// A device authorized for a project, with when it was first and last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub contact: DeviceContact,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Until when its seat of a per-device license of its project is held (a past time for a
    /// lapsed seat that housekeeping has not released yet); `None` when it holds none.
    pub seat_held_until: Option<u64>,
}

/// An alert about to be stored: `key` names what crossed what, so that an alert with a key
/// stored before is not stored, or delivered, again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub key: String,
    /// `usage`, `expiry` or `authorization-failures`.
    pub kind: &'static str,
    /// The license or project it is about.
    pub subject: String,
    /// One line for people.
    pub message: String,
    pub fired_at: u64,
}

/// A stored alert and where it stands with each webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: u64,
    pub kind: String,
    pub subject: String,
    pub message: String,
    pub fired_at: u64,
    pub deliveries: Vec<Delivery>,
}

/// The delivery of one alert to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub url: String,
    pub attempts: u64,
    /// When it is tried next (or, while a server attempts it, until when that server holds it).
    pub next_attempt_at: u64,
    pub delivered_at: Option<u64>,
    pub last_error: Option<String>,
    /// True when the retries ran out.
    pub gave_up: bool,
}

/// How an attempt to deliver an alert to a webhook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        at: u64,
    },
    /// Failed; tried again at `retry_at`, or never again when `None`.
    Failed {
        error: String,
        retry_at: Option<u64>,
    },
}

/// What one housekeeping sweep released.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Seats whose time had passed.
    pub seats: u64,
    /// Records of devices in contact in slots before the previous one.
    pub slot_contacts: u64,
}

/// What one usage row counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageItem {
    Pages(Module),
    /// Unique scans of one symbology (its name, never barcode text).
    Scans(String),
}

/// One count of one slot of one report, attributed to a license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub report_id: ReportId,
    pub license_id: String,
    pub slot: u64,
    pub item: UsageItem,
    pub count: u64,
}

/// Everything one `POST /v1/reports` stores, in one transaction: the reports as the device sent
/// them; those whose IDs are new are charged to licenses by a `Charging` inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBatch {
    pub device_id: DeviceId,
    pub handshake_code: String,
    pub nonce: Nonce,
    pub received_at: u64,
    pub reports: Vec<UsageReport>,
}

/// Which license each count of new reports is charged to: a licensing decision (the handlers'),
/// made by the store inside the transaction that stores the reports, from the usage it reads
/// there, so that concurrent batches and reports already held are never charged twice.
pub trait Charging: Send + Sync {
    /// The licenses whose usage `charge` needs (none when no license has a quota).
    fn license_ids(&self) -> Vec<String>;

    /// The usage rows of `reports` (all new), given the usage already charged to `license_ids`.
    fn charge(&self, usage: &[UsageTotal], reports: &[&UsageReport]) -> Vec<UsageRow>;
}

/// What storing a report batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub admitted: Admitted,
    /// The usage of the charging's `license_ids` with the batch counted.
    pub usage: Vec<UsageTotal>,
}

/// `charging.charge`, with a panic of the licensing rules turned into `ChargeFailed`: it fails
/// the one request, never the task or thread that every write of the store goes through.
fn charge(
    charging: &dyn Charging,
    usage: &[UsageTotal],
    fresh: &[&UsageReport],
) -> Result<Vec<UsageRow>, StorageError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| charging.charge(usage, fresh)))
        .map_err(|_| StorageError::ChargeFailed)
}

/// `usage` with `rows` of its licenses added: the totals after a batch, without reading them.
pub fn with_rows(mut usage: Vec<UsageTotal>, rows: &[UsageRow], license_ids: &[String]) -> Vec<UsageTotal> {
    for row in rows.iter().filter(|row| license_ids.contains(&row.license_id)) {
        match usage.iter_mut().find(|t| t.license_id == row.license_id && t.item == row.item) {
            Some(total) => total.count += row.count,
            None => {
                usage.push(UsageTotal { license_id: row.license_id.clone(), item: row.item.clone(), count: row.count })
            }
        }
    }
    usage
}

/// The total of one usage item for one license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    pub license_id: String,
    pub item: UsageItem,
    pub count: u64,
}

/// An admin API token as stored and listed: its name and age, never the token (which is not
/// stored) nor its hash (which the store keeps to itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub name: String,
    pub created_at: u64,
}

/// The usage of one license and item in one bucket of consecutive slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBucket {
    /// The first slot of the bucket (a multiple of the bucket's length in slots).
    pub first_slot: u64,
    pub license_id: String,
    pub item: UsageItem,
    pub count: u64,
}

/// The public trial this server offers to requests that name no project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialSetting {
    /// The project whose licenses serve trial devices.
    pub handshake_code: String,
    /// How long a device's trial lasts from its first request.
    pub days: u32,
    /// Whether new trials start; when not, the trials already running go on to their end.
    pub open: bool,
}

/// The server's store. Implementations are shared by every request (`Send + Sync`).
#[async_trait]
pub trait Storage: Send + Sync {
    /// Stores `settings` unless settings are already stored, and returns what is stored then:
    /// so running `init` twice keeps the first keys.
    async fn initialize(&self, settings: &Settings) -> Result<Settings, StorageError>;

    /// The stored settings; `None` before `initialize`.
    async fn settings(&self) -> Result<Option<Settings>, StorageError>;

    /// Adds a verified license unless its id is already taken.
    async fn import_license(&self, license: &LicenseRecord, now: u64) -> Result<Imported, StorageError>;

    /// Every imported license, by id.
    async fn licenses(&self) -> Result<Vec<LicenseRecord>, StorageError>;

    /// The imported license with this id.
    async fn license(&self, id: &str) -> Result<Option<LicenseRecord>, StorageError>;

    /// Creates a project; it is its organization's default when it is the organization's first.
    async fn create_project(
        &self,
        handshake_code: &str,
        organization_id: &str,
        session_password_hash: Option<&str>,
        now: u64,
    ) -> Result<Project, StorageError>;

    /// The project with this handshake code.
    async fn project(&self, handshake_code: &str) -> Result<Option<Project>, StorageError>;

    /// The organization's default project.
    async fn default_project(&self, organization_id: &str) -> Result<Option<Project>, StorageError>;

    /// Assigns a license to a project; assigning it again changes nothing.
    async fn assign_license(&self, handshake_code: &str, license_id: &str, now: u64) -> Result<(), StorageError>;

    /// The licenses assigned to a project, in the order they were assigned.
    async fn project_licenses(&self, handshake_code: &str) -> Result<Vec<LicenseRecord>, StorageError>;

    /// True when this device was authorized for this project.
    async fn device_known(&self, device_id: &DeviceId, handshake_code: &str) -> Result<bool, StorageError>;

    /// Stores the request's nonce, upserts the device and takes what `admission` claims, in one
    /// transaction. `ReplayedNonce` when the nonce was stored before; when a claim is refused
    /// (`Admitted::refused`), nothing is stored either.
    async fn record_authorization(
        &self,
        device: &DeviceContact,
        nonce: &Nonce,
        now: u64,
        admission: &Admission,
    ) -> Result<Admitted, StorageError>;

    /// Stores the request's nonce, the reports whose IDs are new and the usage rows `charging`
    /// makes of them, the device's last contact and what `admission` claims, in one transaction.
    /// `ReplayedNonce` as above; a refused claim takes nothing, and the reports are stored all
    /// the same.
    /// It takes what it stores by value: a store may hand the work to a writer of its own.
    async fn record_reports(
        &self,
        batch: ReportBatch,
        charging: Arc<dyn Charging>,
        admission: Admission,
    ) -> Result<Recorded, StorageError>;

    /// Usage totals of these licenses per item; items never counted are absent.
    async fn license_usage(&self, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError>;

    /// How many devices hold a seat of each of these per-device licenses at `now`; a license
    /// whose seats are all free is absent.
    async fn seats_held(&self, license_ids: &[String], now: u64) -> Result<Vec<(String, u64)>, StorageError>;

    /// The public trial, when one is set up.
    async fn trial_setting(&self) -> Result<Option<TrialSetting>, StorageError>;

    /// Sets up the public trial, or changes it.
    async fn set_trial_setting(&self, setting: &TrialSetting) -> Result<(), StorageError>;

    /// Releases the seats held no longer at `now` and forgets the devices in contact in slots
    /// before the previous one: records no decision needs any more.
    async fn sweep(&self, now: u64) -> Result<Swept, StorageError>;

    /// Stores an alert with a delivery due now to each of `webhooks`, unless an alert with its
    /// key is stored: `None` then, and nothing changes.
    async fn fire_alert(&self, alert: &NewAlert, webhooks: &[String]) -> Result<Option<Alert>, StorageError>;

    /// Every alert, oldest first, with its deliveries.
    async fn alerts(&self) -> Result<Vec<Alert>, StorageError>;

    /// Takes up to `limit` deliveries due at `now` for this server to attempt: each is held
    /// (not due for any server) until `held_until`, when it is due again if no attempt ended.
    /// Each comes with its alert (whose `deliveries` list only it).
    async fn take_due_deliveries(&self, now: u64, held_until: u64, limit: u32) -> Result<Vec<Alert>, StorageError>;

    /// Records how an attempt to deliver alert `alert_id` to `url` ended, unless the delivery
    /// was made meanwhile (by a server that took it after this one's hold ran out).
    async fn finish_delivery(&self, alert_id: u64, url: &str, attempt: &Attempt) -> Result<(), StorageError>;

    /// Every device of every project.
    async fn devices(&self) -> Result<Vec<Device>, StorageError>;

    /// Usage totals per license and item; items never counted are absent.
    async fn usage(&self) -> Result<Vec<UsageTotal>, StorageError>;

    /// The usage stored for the slots from `from_slot` (inclusive) to `to_slot` (exclusive),
    /// summed per bucket of `bucket_slots` slots (1 or more), license and item, ordered by
    /// bucket, license and item; buckets without usage are absent.
    async fn usage_series(
        &self,
        bucket_slots: u64,
        from_slot: u64,
        to_slot: u64,
    ) -> Result<Vec<UsageBucket>, StorageError>;

    /// Every project, by organization and then age.
    async fn projects(&self) -> Result<Vec<Project>, StorageError>;

    /// Stores an admin token by the hash of its secret; `AdminTokenNameTaken` when the name is.
    async fn create_admin_token(&self, name: &str, token_hash: &str, now: u64) -> Result<AdminToken, StorageError>;

    /// The admin token whose secret hashes to `token_hash`, while it is not revoked.
    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>, StorageError>;

    /// Every admin token, oldest first.
    async fn admin_tokens(&self) -> Result<Vec<AdminToken>, StorageError>;

    /// Deletes the admin token `name`: it opens nothing from then on. `UnknownAdminToken` when
    /// no token has that name.
    async fn revoke_admin_token(&self, name: &str) -> Result<(), StorageError>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);
}
