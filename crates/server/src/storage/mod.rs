//! The one storage interface of the server: what the HTTP handlers and the CLI read and write,
//! as typed records. It decides nothing about licensing (the handlers do) and holds no SQL:
//! each backend (`sqlite` now, PostgreSQL later) keeps its dialect and migrations to itself.
//! Every method that changes more than one row does it in one transaction.

mod sqlite;

use async_trait::async_trait;
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::license::Module;

pub use sqlite::SqliteStorage;

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
    /// A number over the signed 64-bit range of the store; handlers refuse such input first.
    #[error("{0} is too large to store: nothing was stored")]
    OutOfRange(u64),
    /// A stored value this build cannot read back (edited by hand, or written by a newer build).
    #[error("the store holds a value this server cannot read ({0}): restore the data directory from a backup")]
    Corrupt(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
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
    pub license_id: String,
    pub slot: u64,
    pub item: UsageItem,
    pub count: u64,
}

/// A report ready to store: its rows are stored only if its ID is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub report_id: ReportId,
    pub rows: Vec<UsageRow>,
}

/// Everything one `POST /v1/reports` stores, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBatch {
    pub device_id: DeviceId,
    pub handshake_code: String,
    pub nonce: Nonce,
    pub received_at: u64,
    pub reports: Vec<NewReport>,
}

/// The total of one usage item for one license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    pub license_id: String,
    pub item: UsageItem,
    pub count: u64,
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

    /// Stores the request's nonce and upserts the device, in one transaction.
    /// `ReplayedNonce` when the nonce was stored before, and then nothing changes.
    async fn record_authorization(&self, device: &DeviceContact, nonce: &Nonce, now: u64) -> Result<(), StorageError>;

    /// Stores the request's nonce, the reports whose IDs are new and their usage rows, and the
    /// device's last contact, in one transaction. `ReplayedNonce` as above.
    async fn record_reports(&self, batch: &ReportBatch) -> Result<(), StorageError>;

    /// Every device of every project.
    async fn devices(&self) -> Result<Vec<Device>, StorageError>;

    /// Usage totals per license and item; items never counted are absent.
    async fn usage(&self) -> Result<Vec<UsageTotal>, StorageError>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);
}
