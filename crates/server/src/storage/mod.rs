//! The one storage interface of the server: what the HTTP handlers and the CLI read and write,
//! as typed records. It holds no SQL: each backend (`sqlite` for one server, `postgres` for
//! several) keeps its dialect and migrations to itself. Every method that changes more than one
//! row does it in one transaction. The handlers decide the licensing rules; the one decision
//! made here is whether a claim on a limited pool (a seat, a place in a slot, a trial) fits,
//! because only the transaction that takes it can know that without a race. Those decisions,
//! and the admission sequence that chains them (`Admission::decide`), are the pure functions
//! below: each backend only reads the facts they need and writes what they took.

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

/// One per-device license item as a pool of seats. (The `seats` table's comment in migration
/// 0002 says a lapsed row is overwritten by the next device; in fact each device keeps its own
/// row per item, which holds no seat once past `held_until`. Applied migrations are never
/// edited, so the correction lives here.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPool {
    pub license_id: String,
    pub seats: u64,
    /// Until when (inclusive) a seat taken or refreshed now is held: min(now + the active
    /// period, the end of the item).
    pub held_until: u64,
}

/// A device's claim on a seat of the per-device items of its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatClaim {
    /// The pools in the order seats are taken from them; never empty.
    pub pools: Vec<SeatPool>,
    /// How many devices beyond the pools' seats may hold one, as tolerance.
    pub tolerance: u64,
}

/// A device's claim on a place among the devices in contact with its project in one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowClaim {
    pub slot: u64,
    pub limit: u64,
    /// How many devices beyond `limit` may be in contact, as tolerance.
    pub tolerance: u64,
}

/// A device's claim on the public trial: its running trial, or a new one until `ends_at` if it
/// never had one and `open` allows new ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialClaim {
    pub ends_at: u64,
    pub open: bool,
}

/// What a contact must take, beyond being recorded, for the device to be authorized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    pub seat: Option<SeatClaim>,
    pub window: Option<WindowClaim>,
    pub trial: Option<TrialClaim>,
}

/// How a claim on a limited pool was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Within,
    /// Granted beyond the limit, inside the tolerance.
    Tolerance,
    /// Refused: the limit and the tolerance are taken.
    Full,
}

/// How a trial claim was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialOutcome {
    /// The device's trial, new or running, lasts until `ends_at`.
    Granted { ends_at: u64 },
    /// The device had its trial and it ran out, or the server knows it from another project.
    Used,
    /// The device never had a trial, and no new ones start.
    Closed,
}

/// How each claim of an `Admission` was decided (`None` where nothing was claimed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admitted {
    pub seat: Option<Capacity>,
    pub window: Option<Capacity>,
    pub trial: Option<TrialOutcome>,
}

/// Which claim of an `Admission` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `TrialOutcome::Used`.
    TrialUsed,
    /// `TrialOutcome::Closed`.
    TrialClosed,
    /// The seats and their tolerance are taken.
    SeatsTaken,
    /// The slot's places and their tolerance are taken.
    SlotFull,
}

impl Admitted {
    /// The first refused claim, in the order they are taken (trial, seat, slot); `None` when the
    /// device is admitted. A refusal at authorization stores nothing.
    pub fn refusal(&self) -> Option<Refusal> {
        match (self.trial, self.seat, self.window) {
            (Some(TrialOutcome::Used), _, _) => Some(Refusal::TrialUsed),
            (Some(TrialOutcome::Closed), _, _) => Some(Refusal::TrialClosed),
            (_, Some(Capacity::Full), _) => Some(Refusal::SeatsTaken),
            (_, _, Some(Capacity::Full)) => Some(Refusal::SlotFull),
            _ => None,
        }
    }
}

impl TrialClaim {
    /// The outcome that the device's stored trial end (`None`: it never had a trial) decides at
    /// `now`, both as stored (signed integers); `None` when a new trial may start, which only
    /// whether the server has seen the device settles (`new_trial`).
    pub fn decide(&self, ends_at: Option<i64>, now: i64) -> Option<TrialOutcome> {
        match ends_at {
            Some(ends_at) if ends_at >= now => Some(TrialOutcome::Granted { ends_at: ends_at as u64 }),
            Some(_) => Some(TrialOutcome::Used),
            None if !self.open => Some(TrialOutcome::Closed),
            None => None,
        }
    }

    /// The outcome for a device that never had a trial, while new ones start: a device the
    /// server knows (from any project) had its chance.
    pub fn new_trial(&self, seen: bool) -> TrialOutcome {
        if seen {
            TrialOutcome::Used
        } else {
            TrialOutcome::Granted { ends_at: self.ends_at }
        }
    }
}

impl SeatClaim {
    /// Decides the claim of `device` given the seats held now (license id, device id): the seat
    /// it holds (refreshed), else a free seat of the first pool with one, else a seat of the last
    /// pool inside the tolerance. Returns the pool whose seat to write, `None` when `Full`.
    pub fn decide<'a>(&'a self, device: &str, live: &[(String, String)]) -> (Option<&'a SeatPool>, Capacity) {
        let seats: u64 = self.pools.iter().map(|p| p.seats).sum();
        let held = |pool: &SeatPool| live.iter().filter(|(license, _)| *license == pool.license_id).count() as u64;
        let total: u64 = self.pools.iter().map(held).sum();
        let over = |total: u64| if total > seats { Capacity::Tolerance } else { Capacity::Within };
        let mine = live
            .iter()
            .find(|(license, holder)| holder == device && self.pools.iter().any(|p| p.license_id == *license));
        if let Some((license, _)) = mine {
            return (self.pools.iter().find(|p| p.license_id == *license), over(total));
        }
        if let Some(pool) = self.pools.iter().find(|p| held(p) < p.seats) {
            return (Some(pool), over(total + 1));
        }
        if total < seats + self.tolerance {
            return (self.pools.last(), Capacity::Tolerance);
        }
        (None, Capacity::Full)
    }
}

impl WindowClaim {
    /// Decides the claim of a device given how many devices are in contact in the slot and
    /// whether it is one of them; `true` in the result when its contact must be written.
    pub fn decide(&self, in_contact: u64, present: bool) -> (bool, Capacity) {
        let over = |count: u64| if count > self.limit { Capacity::Tolerance } else { Capacity::Within };
        if present {
            (false, over(in_contact))
        } else if in_contact < self.limit + self.tolerance {
            (true, over(in_contact + 1))
        } else {
            (false, Capacity::Full)
        }
    }
}

/// What the store holds that an `Admission` is decided on, read by the backend inside the
/// transaction that then takes what the decision says. Only the facts of the claims the
/// admission makes are read; the others stay at their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionFacts {
    /// The end of the device's public trial, as stored (`None`: it never had one).
    pub trial_ends_at: Option<i64>,
    /// Whether the server has seen the device before, from any project.
    pub seen: bool,
    /// The seats held now of the seat claim's pools: (license id, device id).
    pub live_seats: Vec<(String, String)>,
    /// How many devices are in contact with the project in the window claim's slot.
    pub in_slot: u64,
    /// Whether the device is one of them.
    pub in_slot_present: bool,
}

/// A row an admitted claim writes, in the order `Admission::decide` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// The device's new public trial, from now until `ends_at`.
    Trial { ends_at: u64 },
    /// A seat of `license_id` taken or refreshed, held until `held_until` (never shortened).
    Seat { license_id: String, held_until: u64 },
    /// The device's place among those in contact with its project in `slot`.
    SlotPlace { slot: u64 },
}

impl Admission {
    /// The whole admission sequence, once for every backend: the trial, then the seat, then the
    /// place in the slot, each decided on `facts` (read at `now`, stored form), and the first
    /// refusal ends it: a refused device takes nothing after the refused claim. Returns how
    /// each claim was decided and what the backend must write for it.
    pub fn decide(&self, device: &str, now: i64, facts: &AdmissionFacts) -> (Admitted, Vec<Take>) {
        let mut admitted = Admitted::default();
        let mut takes = Vec::new();
        if let Some(claim) = &self.trial {
            let outcome = claim.decide(facts.trial_ends_at, now).unwrap_or_else(|| {
                if !facts.seen {
                    takes.push(Take::Trial { ends_at: claim.ends_at });
                }
                claim.new_trial(facts.seen)
            });
            admitted.trial = Some(outcome);
            if admitted.refusal().is_some() {
                return (admitted, takes);
            }
        }
        if let Some(claim) = &self.seat {
            let (pool, capacity) = claim.decide(device, &facts.live_seats);
            if let Some(pool) = pool {
                takes.push(Take::Seat { license_id: pool.license_id.clone(), held_until: pool.held_until });
            }
            admitted.seat = Some(capacity);
            if admitted.refusal().is_some() {
                return (admitted, takes);
            }
        }
        if let Some(claim) = &self.window {
            let (write, capacity) = claim.decide(facts.in_slot, facts.in_slot_present);
            if write {
                takes.push(Take::SlotPlace { slot: claim.slot });
            }
            admitted.window = Some(capacity);
        }
        (admitted, takes)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const DEVICE: &str = "device-a";

    fn pool(license_id: &str, seats: u64) -> SeatPool {
        SeatPool { license_id: license_id.into(), seats, held_until: 2_000_000 }
    }

    fn seats(pools: Vec<SeatPool>, tolerance: u64) -> Option<SeatClaim> {
        Some(SeatClaim { pools, tolerance })
    }

    fn window(limit: u64, tolerance: u64) -> Option<WindowClaim> {
        Some(WindowClaim { slot: 7, limit, tolerance })
    }

    fn trial(open: bool) -> Option<TrialClaim> {
        Some(TrialClaim { ends_at: 1_500_000, open })
    }

    /// `n` seats of `license` held by other devices.
    fn held(license: &str, n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (license.to_owned(), format!("other-{i}"))).collect()
    }

    fn seat(license_id: &str) -> Take {
        Take::Seat { license_id: license_id.into(), held_until: 2_000_000 }
    }

    /// One row of the table below: its name, what is claimed, what the store holds, how each
    /// claim is decided, the first refusal, and what is written.
    type Row = (&'static str, Admission, AdmissionFacts, Admitted, Option<Refusal>, Vec<Take>);

    /// Every row of the admission sequence: what is claimed, what the store holds, how each
    /// claim is decided, the first refusal, and what is written (nothing after a refusal).
    #[test]
    fn the_admission_sequence_row_by_row() {
        use Capacity::{Full, Tolerance, Within};
        let granted = Some(TrialOutcome::Granted { ends_at: 1_500_000 });
        let rows: Vec<Row> = vec![
            (
                "nothing claimed: admitted, nothing taken",
                Admission::default(),
                AdmissionFacts::default(),
                Admitted::default(),
                None,
                vec![],
            ),
            (
                "a new device starts its trial",
                Admission { trial: trial(true), ..Default::default() },
                AdmissionFacts::default(),
                Admitted { trial: granted, ..Default::default() },
                None,
                vec![Take::Trial { ends_at: 1_500_000 }],
            ),
            (
                "a running trial goes on, nothing written",
                Admission { trial: trial(false), ..Default::default() },
                AdmissionFacts { trial_ends_at: Some(NOW + 5), seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Granted { ends_at: (NOW + 5) as u64 }), ..Default::default() },
                None,
                vec![],
            ),
            (
                "a trial that ended is used, and nothing after it is taken",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 5)], 0), window: window(5, 0) },
                AdmissionFacts { trial_ends_at: Some(NOW - 1), seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Used), ..Default::default() },
                Some(Refusal::TrialUsed),
                vec![],
            ),
            (
                "a device the server has seen gets no new trial",
                Admission { trial: trial(true), ..Default::default() },
                AdmissionFacts { seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Used), ..Default::default() },
                Some(Refusal::TrialUsed),
                vec![],
            ),
            (
                "no new trials while closed",
                Admission { trial: trial(false), ..Default::default() },
                AdmissionFacts::default(),
                Admitted { trial: Some(TrialOutcome::Closed), ..Default::default() },
                Some(Refusal::TrialClosed),
                vec![],
            ),
            (
                "a free seat of the first pool with one",
                Admission { seat: seats(vec![pool("L1", 1), pool("L2", 2)], 0), ..Default::default() },
                AdmissionFacts { live_seats: held("L1", 1), ..Default::default() },
                Admitted { seat: Some(Within), ..Default::default() },
                None,
                vec![seat("L2")],
            ),
            (
                "the device's own seat is refreshed, even past the limit",
                Admission { seat: seats(vec![pool("L1", 1)], 0), ..Default::default() },
                AdmissionFacts {
                    live_seats: [held("L1", 1), vec![("L1".into(), DEVICE.into())]].concat(),
                    ..Default::default()
                },
                Admitted { seat: Some(Tolerance), ..Default::default() },
                None,
                vec![seat("L1")],
            ),
            (
                "every seat taken: one more within the tolerance, from the last pool",
                Admission { seat: seats(vec![pool("L1", 1), pool("L2", 1)], 1), ..Default::default() },
                AdmissionFacts { live_seats: [held("L1", 1), held("L2", 1)].concat(), ..Default::default() },
                Admitted { seat: Some(Tolerance), ..Default::default() },
                None,
                vec![seat("L2")],
            ),
            (
                "seats and tolerance taken: refused, and no place in the slot is taken",
                Admission { seat: seats(vec![pool("L1", 2)], 1), window: window(5, 0), ..Default::default() },
                AdmissionFacts { live_seats: held("L1", 3), ..Default::default() },
                Admitted { seat: Some(Full), ..Default::default() },
                Some(Refusal::SeatsTaken),
                vec![],
            ),
            (
                "a place in the slot within the limit",
                Admission { window: window(2, 0), ..Default::default() },
                AdmissionFacts { in_slot: 1, ..Default::default() },
                Admitted { window: Some(Within), ..Default::default() },
                None,
                vec![Take::SlotPlace { slot: 7 }],
            ),
            (
                "a place in the slot within the tolerance",
                Admission { window: window(2, 1), ..Default::default() },
                AdmissionFacts { in_slot: 2, ..Default::default() },
                Admitted { window: Some(Tolerance), ..Default::default() },
                None,
                vec![Take::SlotPlace { slot: 7 }],
            ),
            (
                "already in the slot: nothing written, even when it is over the limit",
                Admission { window: window(2, 0), ..Default::default() },
                AdmissionFacts { in_slot: 3, in_slot_present: true, ..Default::default() },
                Admitted { window: Some(Tolerance), ..Default::default() },
                None,
                vec![],
            ),
            (
                "the slot and its tolerance full: refused",
                Admission { window: window(2, 1), ..Default::default() },
                AdmissionFacts { in_slot: 3, ..Default::default() },
                Admitted { window: Some(Full), ..Default::default() },
                Some(Refusal::SlotFull),
                vec![],
            ),
            (
                "all three taken in order: trial, seat, slot",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 1)], 0), window: window(1, 0) },
                AdmissionFacts::default(),
                Admitted { trial: granted, seat: Some(Within), window: Some(Within) },
                None,
                vec![Take::Trial { ends_at: 1_500_000 }, seat("L1"), Take::SlotPlace { slot: 7 }],
            ),
            (
                "a new trial is written before a seat refusal (the caller discards a refused authorization whole)",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 0)], 0), window: window(1, 0) },
                AdmissionFacts::default(),
                Admitted { trial: granted, seat: Some(Full), window: None },
                Some(Refusal::SeatsTaken),
                vec![Take::Trial { ends_at: 1_500_000 }],
            ),
        ];
        for (name, admission, facts, admitted, refusal, takes) in rows {
            let decided = admission.decide(DEVICE, NOW, &facts);
            assert_eq!(decided, (admitted, takes), "{name}");
            assert_eq!(decided.0.refusal(), refusal, "{name}");
        }
    }
}
