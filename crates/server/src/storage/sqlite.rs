//! The SQLite backend of `Storage`: one file `<data>/licet.db` in WAL mode with foreign keys on,
//! its schema brought up to date by the migrations in `migrations/sqlite` at every open. It
//! decides no license rule: it stores what the handlers decided and takes claims by the shared
//! decisions of `storage`, each change in one transaction.
//!
//! SQLite lets one connection write at a time, and a connection that finds the lock taken
//! sleeps in its busy handler rather than queueing. So the writes of requests (authorizations
//! and reports) all go to one writer thread (`writer`), which commits all those waiting in one
//! transaction and answers none before that commit is durable: one fsync for many requests.
//! The reads of requests (a few rows by key) run on the requests' own threads (`direct`). Both
//! call SQLite directly; the rest (migrations, the CLI's and housekeeping's changes, listings)
//! goes through sqlx, off the request threads. WAL readers never wait for the writer.

mod direct;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use licet_protocol::ids::{DeviceId, Nonce};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::rows::keys::{SERVER_KEYS, TRIAL_DAYS, TRIAL_HANDSHAKE_CODE, TRIAL_OPEN, VENDOR_PUBLIC_KEY};
use super::rows::{
    self, device, license_record, project, to_db, usage_total, StoredRow, DEVICES_QUERY, PROJECT_COLUMNS,
};
use super::{
    AdminToken, Admission, Admitted, Alert, Attempt, Charging, Delivery, Device, DeviceContact, Imported,
    LicenseRecord, NewAlert, Project, Recorded, ReportBatch, Settings, Storage, StorageError, Swept, TrialSetting,
    UsageBucket, UsageTotal,
};
use direct::Readers;
use writer::Writer;

const FILE_NAME: &str = "licet.db";

/// How many connections serve listings (the CLI's, the alerts'): requests read through
/// `direct` instead.
const LISTING_CONNECTIONS: u32 = 2;

/// `?, ?, ?` for an `IN (...)` list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// How long a connection of this store waits for SQLite's write lock that another process (a CLI
/// command, another `serve`) holds, rather than failing at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store of one data directory.
pub struct SqliteStorage {
    /// Listings only.
    read: SqlitePool,
    /// The connection of this process's writes that are not requests' (housekeeping's, the
    /// alerts', the admin API's, a CLI command's own): they queue for it in turn, and pause the
    /// writer thread while they run.
    write: SqlitePool,
    /// The reads of requests.
    readers: Readers,
    /// The writes of requests.
    writer: Writer,
}

impl SqliteStorage {
    /// The database file inside a data directory.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Opens the store in `data_dir` (creating the file when `create` is set), applies the
    /// migrations it lacks and starts the writer thread.
    pub async fn open(data_dir: &Path, create: bool) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::new()
            .filename(Self::path(data_dir))
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a receipt lets a device delete its usage, so a committed report must
            // survive a power cut, not only a crash of the process.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // The CLI may write while the server runs: wait for the lock rather than fail.
            .busy_timeout(BUSY_TIMEOUT);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Behind the writes of the process queued before it, a write may wait a while.
            .acquire_timeout(Duration::from_secs(60))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new().max_connections(LISTING_CONNECTIONS).connect_with(options).await?;
        let path = Self::path(data_dir);
        let writer = Writer::start(direct::connect(&path, direct::Cache::Writer)?)?;
        Ok(SqliteStorage { read, write, readers: Readers::new(path), writer })
    }

    /// Writes a consistent copy of the whole store in `data_dir` to `out`, a file that must not
    /// exist: one read snapshot, so writers go on meanwhile and the copy holds whole
    /// transactions only. It opens the store read-only and applies no migration: a newer CLI
    /// never changes the schema under an older server.
    pub async fn backup(data_dir: &Path, out: &str) -> Result<(), StorageError> {
        let options = SqliteConnectOptions::new()
            .filename(Self::path(data_dir))
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let mut connection = sqlx::ConnectOptions::connect(&options).await?;
        let copied = sqlx::query("VACUUM INTO ?").bind(out).execute(&mut connection).await;
        sqlx::Connection::close(connection).await?;
        copied?;
        Ok(())
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn initialize(&self, settings: &Settings) -> Result<Settings, StorageError> {
        let _paused = self.writer.pause().await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?), (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(VENDOR_PUBLIC_KEY)
            .bind(&settings.vendor_public_key)
            .bind(SERVER_KEYS)
            .bind(&settings.server_keys)
            .execute(&self.write)
            .await?;
        self.settings().await?.ok_or_else(|| StorageError::Corrupt("settings vanished while they were written".into()))
    }

    async fn settings(&self) -> Result<Option<Settings>, StorageError> {
        rows::settings(self.readers.setting_values([VENDOR_PUBLIC_KEY, SERVER_KEYS])?)
    }

    async fn import_license(&self, license: &LicenseRecord, now: u64) -> Result<Imported, StorageError> {
        let paused = self.writer.pause().await?;
        let inserted = sqlx::query(
            "INSERT INTO licenses (id, text, organization_id, product, license_type, expires_at, imported_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&license.id)
        .bind(&license.text)
        .bind(&license.organization_id)
        .bind(&license.product)
        .bind(&license.license_type)
        .bind(to_db(license.expires_at)?)
        .bind(to_db(now)?)
        .execute(&self.write)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Imported::New);
        }
        // Only a read is left: the writer need not wait for it.
        drop(paused);
        let stored: String = sqlx::query_scalar("SELECT text FROM licenses WHERE id = ?")
            .bind(&license.id)
            .fetch_one(&self.read)
            .await?;
        Ok(if stored == license.text { Imported::AlreadyPresent } else { Imported::IdTaken })
    }

    async fn licenses(&self) -> Result<Vec<LicenseRecord>, StorageError> {
        let rows = sqlx::query("SELECT * FROM licenses ORDER BY id").fetch_all(&self.read).await?;
        rows.iter().map(license_record).collect()
    }

    async fn license(&self, id: &str) -> Result<Option<LicenseRecord>, StorageError> {
        let row = sqlx::query("SELECT * FROM licenses WHERE id = ?").bind(id).fetch_optional(&self.read).await?;
        row.as_ref().map(license_record).transpose()
    }

    async fn create_project(
        &self,
        handshake_code: &str,
        organization_id: &str,
        session_password_hash: Option<&str>,
        now: u64,
    ) -> Result<Project, StorageError> {
        let _paused = self.writer.pause().await?;
        let created = sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS})
             VALUES (?1, ?2, NOT EXISTS (SELECT 1 FROM projects WHERE organization_id = ?2), ?3, ?4)
             RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(handshake_code)
        .bind(organization_id)
        .bind(session_password_hash)
        .bind(to_db(now)?)
        .fetch_one(&self.write)
        .await;
        match created {
            Ok(row) => project(&row),
            // The other unique index (one default per organization) can only fail when two
            // projects of a new organization are created at the same instant; the handshake
            // code is what SQLite names in its message for ours.
            Err(sqlx::Error::Database(e))
                if e.is_unique_violation() && e.message().contains("projects.handshake_code") =>
            {
                Err(StorageError::HandshakeCodeTaken(handshake_code.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn project(&self, handshake_code: &str) -> Result<Option<Project>, StorageError> {
        self.readers.project(handshake_code)
    }

    async fn default_project(&self, organization_id: &str) -> Result<Option<Project>, StorageError> {
        self.readers.default_project(organization_id)
    }

    async fn assign_license(&self, handshake_code: &str, license_id: &str, now: u64) -> Result<(), StorageError> {
        let paused = self.writer.pause().await?;
        // One statement: atomic alone, and no transaction is left for a drop to end.
        let inserted = sqlx::query(
            "INSERT INTO project_licenses (handshake_code, license_id, assigned_at) VALUES (?, ?, ?)
             ON CONFLICT (handshake_code, license_id) DO NOTHING",
        )
        .bind(handshake_code)
        .bind(license_id)
        .bind(to_db(now)?)
        .execute(&self.write)
        .await;
        // Only a read may be left: the writer need not wait for it.
        drop(paused);
        match inserted {
            Ok(_) => Ok(()),
            // Name the missing side rather than pass on SQLite's "FOREIGN KEY constraint failed".
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                let project_exists = self.readers.project(handshake_code)?.is_some();
                Err(if project_exists {
                    StorageError::UnknownLicense(license_id.to_owned())
                } else {
                    StorageError::UnknownProject(handshake_code.to_owned())
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn project_licenses(&self, handshake_code: &str) -> Result<Vec<LicenseRecord>, StorageError> {
        self.readers.project_licenses(handshake_code)
    }

    async fn device_known(&self, device_id: &DeviceId, handshake_code: &str) -> Result<bool, StorageError> {
        self.readers.device_known(device_id, handshake_code)
    }

    async fn record_authorization(
        &self,
        device: &DeviceContact,
        nonce: &Nonce,
        now: u64,
        admission: &Admission,
    ) -> Result<Admitted, StorageError> {
        self.writer.authorization(device, nonce, now, admission).await
    }

    async fn record_reports(
        &self,
        batch: ReportBatch,
        charging: Arc<dyn Charging>,
        admission: Admission,
    ) -> Result<Recorded, StorageError> {
        self.writer.reports(batch, charging, admission).await
    }

    async fn license_usage(&self, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
        self.readers.usage_of(license_ids)
    }

    async fn seats_held(&self, license_ids: &[String], now: u64) -> Result<Vec<(String, u64)>, StorageError> {
        if license_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT license_id, COUNT(*) AS held FROM seats WHERE held_until >= ? AND license_id IN ({}) GROUP BY license_id ORDER BY license_id",
            placeholders(license_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(to_db(now)?);
        for id in license_ids {
            query = query.bind(id);
        }
        query
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|row| Ok((row.text("license_id")?, row.unsigned("held")?)))
            .collect()
    }

    async fn trial_setting(&self) -> Result<Option<TrialSetting>, StorageError> {
        rows::trial_setting(self.readers.setting_values([TRIAL_HANDSHAKE_CODE, TRIAL_DAYS, TRIAL_OPEN])?)
    }

    async fn set_trial_setting(&self, setting: &TrialSetting) -> Result<(), StorageError> {
        let _paused = self.writer.pause().await?;
        // One statement, so it takes the write lock at once however busy the server is: the
        // project must exist (projects are never deleted), and the three values change together.
        let written = sqlx::query(
            "INSERT INTO settings (key, value)
             SELECT column1, column2 FROM (VALUES (?1, ?2), (?3, ?4), (?5, ?6))
             WHERE EXISTS (SELECT 1 FROM projects WHERE handshake_code = ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(TRIAL_HANDSHAKE_CODE)
        .bind(&setting.handshake_code)
        .bind(TRIAL_DAYS)
        .bind(setting.days.to_string())
        .bind(TRIAL_OPEN)
        .bind(if setting.open { "1" } else { "0" })
        .execute(&self.write)
        .await?;
        if written.rows_affected() == 0 {
            return Err(StorageError::UnknownProject(setting.handshake_code.clone()));
        }
        Ok(())
    }

    async fn sweep(&self, now: u64) -> Result<Swept, StorageError> {
        let _paused = self.writer.pause().await?;
        let mut tx = self.write.begin().await?;
        let seats = sqlx::query("DELETE FROM seats WHERE held_until < ?").bind(to_db(now)?).execute(&mut *tx).await?;
        let slot = to_db(licet_protocol::slot_of(now))?;
        let contacts = sqlx::query("DELETE FROM slot_contacts WHERE slot < ?").bind(slot - 1).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Swept { seats: seats.rows_affected(), slot_contacts: contacts.rows_affected() })
    }

    async fn fire_alert(&self, alert: &NewAlert, webhooks: &[String]) -> Result<Option<Alert>, StorageError> {
        let _paused = self.writer.pause().await?;
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "INSERT INTO alerts (key, kind, subject, message, fired_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO NOTHING RETURNING *",
        )
        .bind(&alert.key)
        .bind(alert.kind)
        .bind(&alert.subject)
        .bind(&alert.message)
        .bind(to_db(alert.fired_at)?)
        .fetch_optional(&mut *tx)
        .await?;
        // Fired before, by this server or another: nothing more to do. Ended here, not by a drop:
        // sqlx would only queue the rollback, and the writer resumes at once.
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut stored = rows::alert(&row)?;
        for url in webhooks {
            sqlx::query("INSERT INTO alert_deliveries (alert_id, url, next_attempt_at) VALUES (?1, ?2, ?3)")
                .bind(to_db(stored.id)?)
                .bind(url)
                .bind(to_db(alert.fired_at)?)
                .execute(&mut *tx)
                .await?;
            stored.deliveries.push(rows::new_delivery(url, alert.fired_at));
        }
        tx.commit().await?;
        Ok(Some(stored))
    }

    async fn alerts(&self) -> Result<Vec<Alert>, StorageError> {
        let alerts = sqlx::query("SELECT * FROM alerts ORDER BY fired_at, id").fetch_all(&self.read).await?;
        let deliveries =
            sqlx::query("SELECT * FROM alert_deliveries ORDER BY alert_id, url").fetch_all(&self.read).await?;
        Ok(rows::with_deliveries(
            alerts.iter().map(rows::alert).collect::<Result<_, _>>()?,
            deliveries.iter().map(rows::delivery).collect::<Result<_, _>>()?,
        ))
    }

    async fn take_due_deliveries(&self, now: u64, held_until: u64, limit: u32) -> Result<Vec<Alert>, StorageError> {
        let _paused = self.writer.pause().await?;
        let mut tx = self.write.begin().await?;
        let claimed = sqlx::query(
            "UPDATE alert_deliveries SET next_attempt_at = ?1 WHERE rowid IN
             (SELECT rowid FROM alert_deliveries WHERE delivered_at IS NULL AND gave_up = 0 AND next_attempt_at <= ?2
              ORDER BY next_attempt_at LIMIT ?3)
             RETURNING *",
        )
        .bind(to_db(held_until)?)
        .bind(to_db(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let deliveries: Vec<(u64, Delivery)> = claimed.iter().map(rows::delivery).collect::<Result<_, _>>()?;
        if deliveries.is_empty() {
            // Ended here, not by a drop (see fire_alert).
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = deliveries.iter().map(|(id, _)| to_db(*id)).collect::<Result<_, _>>()?;
        let sql = format!("SELECT * FROM alerts WHERE id IN ({}) ORDER BY fired_at, id", placeholders(ids.len()));
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let alerts: Vec<Alert> = rows.iter().map(rows::alert).collect::<Result<_, _>>()?;
        Ok(rows::one_alert_per_delivery(alerts, deliveries))
    }

    async fn finish_delivery(&self, alert_id: u64, url: &str, attempt: &Attempt) -> Result<(), StorageError> {
        let _paused = self.writer.pause().await?;
        let (delivered_at, error, retry_at, gave_up) = rows::attempt_columns(attempt)?;
        sqlx::query(
            "UPDATE alert_deliveries SET attempts = attempts + 1, delivered_at = ?1, last_error = ?2,
                 next_attempt_at = COALESCE(?3, next_attempt_at), gave_up = ?4
             WHERE alert_id = ?5 AND url = ?6 AND delivered_at IS NULL",
        )
        .bind(delivered_at)
        .bind(error)
        .bind(retry_at)
        .bind(gave_up)
        .bind(to_db(alert_id)?)
        .bind(url)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn devices(&self) -> Result<Vec<Device>, StorageError> {
        let rows = sqlx::query(DEVICES_QUERY).fetch_all(&self.read).await?;
        rows.iter().map(device).collect()
    }

    async fn usage(&self) -> Result<Vec<UsageTotal>, StorageError> {
        let rows =
            sqlx::query("SELECT license_id, kind, name, count FROM usage_totals ORDER BY license_id, kind, name")
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(usage_total).collect()
    }

    async fn usage_series(
        &self,
        bucket_slots: u64,
        from_slot: u64,
        to_slot: u64,
    ) -> Result<Vec<UsageBucket>, StorageError> {
        let rows = sqlx::query(&rows::usage_series_query(|n| format!("?{n}"), ""))
            .bind(to_db(bucket_slots.max(1))?)
            .bind(to_db(from_slot)?)
            .bind(to_db(to_slot)?)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(rows::usage_bucket).collect()
    }

    async fn projects(&self) -> Result<Vec<Project>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY organization_id, created_at, handshake_code"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(project).collect()
    }

    async fn create_admin_token(&self, name: &str, token_hash: &str, now: u64) -> Result<AdminToken, StorageError> {
        let _paused = self.writer.pause().await?;
        let created = sqlx::query(
            "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES (?, ?, ?) RETURNING name, created_at",
        )
        .bind(name)
        .bind(token_hash)
        .bind(to_db(now)?)
        .fetch_one(&self.write)
        .await;
        match created {
            Ok(row) => rows::admin_token(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && e.message().contains("admin_tokens.name") => {
                Err(StorageError::AdminTokenNameTaken(name.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>, StorageError> {
        let row = sqlx::query("SELECT name, created_at FROM admin_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::admin_token).transpose()
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminToken>, StorageError> {
        let rows = sqlx::query("SELECT name, created_at FROM admin_tokens ORDER BY created_at, name")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(rows::admin_token).collect()
    }

    async fn revoke_admin_token(&self, name: &str) -> Result<(), StorageError> {
        let _paused = self.writer.pause().await?;
        let deleted = sqlx::query("DELETE FROM admin_tokens WHERE name = ?").bind(name).execute(&self.write).await?;
        if deleted.rows_affected() == 0 {
            return Err(StorageError::UnknownAdminToken(name.to_owned()));
        }
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close();
        self.write.close().await;
        self.read.close().await;
    }
}
