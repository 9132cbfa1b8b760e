//! The PostgreSQL backend of `Storage`, for several server instances on one database: its
//! schema brought up to date by the migrations in `migrations/postgres` at every open. Where the
//! SQLite store relies on SQLite's single writer, this one takes transaction-scoped advisory
//! locks on what a transaction claims or charges (a license's seats and quota, a project's slot,
//! a device's trial), always in one order so that two transactions never wait on each other in
//! a cycle. It decides no license rule: like the SQLite store it applies the shared decisions.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use licet_protocol::ids::{DeviceId, Nonce};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::rows::keys::{SERVER_KEYS, TRIAL_DAYS, TRIAL_HANDSHAKE_CODE, TRIAL_OPEN, VENDOR_PUBLIC_KEY};
use super::rows::{
    self, device, license_record, project, to_db, usage_columns, usage_key, usage_total, StoredRow, DEVICES_QUERY,
    PROJECT_COLUMNS,
};
use super::{
    with_rows, AdminToken, Admission, AdmissionFacts, Admitted, Alert, Attempt, Charging, Delivery, Device,
    DeviceContact, Imported, LicenseRecord, NewAlert, Project, Recorded, ReportBatch, Settings, Storage, StorageError,
    Swept, Take, TrialSetting, UsageBucket, UsageRow, UsageTotal,
};

/// How many connections one server instance keeps to the database.
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL store behind one `postgres://` URL.
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// True for the URLs this backend takes (`postgres://` or `postgresql://`).
    pub fn accepts(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Connects to the database at `url` and applies the migrations it lacks.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // An instance whose database is away or swamped answers 500 after this, not never.
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStorage { pool })
    }

    /// The values of these settings keys, in their order; `None` for a key not set.
    async fn setting_values<const N: usize>(&self, keys: [&str; N]) -> Result<[Option<String>; N], StorageError> {
        let found: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings WHERE key = ANY($1)")
            .bind(keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows::by_key(keys, found))
    }
}

/// Takes the advisory locks of `keys` for the rest of the transaction, in the order of their
/// hashes (the same order in every transaction, so no two can deadlock on them). Two keys that
/// hash alike share a lock, which only serializes a little more.
async fn lock(tx: &mut Transaction<'_, Postgres>, keys: Vec<String>) -> Result<(), StorageError> {
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock(h) FROM
         (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS ordered",
    )
    .bind(keys)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a transaction of `admission` (and of charging `license_ids`) must hold: each license
/// whose seats or quota it reads to decide, the project's slot, the device's trial.
fn lock_keys(device: &DeviceId, handshake_code: &str, admission: &Admission, license_ids: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = license_ids.iter().map(|id| format!("license:{id}")).collect();
    if let Some(claim) = &admission.seat {
        keys.extend(claim.pools.iter().map(|pool| format!("license:{}", pool.license_id)));
    }
    if admission.window.is_some() {
        keys.push(format!("slots:{handshake_code}"));
    }
    if admission.trial.is_some() {
        keys.push(format!("trial:{}", device.to_hyphenated()));
    }
    keys
}

/// Stores a request's nonce; a nonce seen before is a replay.
async fn insert_nonce(tx: &mut Transaction<'_, Postgres>, nonce: &Nonce, now: u64) -> Result<(), StorageError> {
    let inserted =
        sqlx::query("INSERT INTO nonces (nonce, received_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
            .bind(nonce.to_hyphenated())
            .bind(to_db(now)?)
            .execute(&mut **tx)
            .await?;
    if inserted.rows_affected() == 0 {
        return Err(StorageError::ReplayedNonce);
    }
    Ok(())
}

/// Takes what `admission` claims for `device`, inside the transaction of its contact, which
/// holds the locks of `lock_keys` for it: reads the facts its claims need, lets
/// `Admission::decide` settle them, and writes what it took.
async fn admit(
    tx: &mut Transaction<'_, Postgres>,
    device: &DeviceId,
    handshake_code: &str,
    now: u64,
    admission: &Admission,
) -> Result<Admitted, StorageError> {
    let device = device.to_hyphenated();
    let now_db = to_db(now)?;
    let mut facts = AdmissionFacts::default();
    if admission.trial.is_some() {
        facts.trial_ends_at = sqlx::query_scalar("SELECT ends_at FROM trials WHERE device_id = $1")
            .bind(&device)
            .fetch_optional(&mut **tx)
            .await?;
    }
    // Whether the server has seen the device matters only to a trial the stored one does not settle.
    if admission.trial.as_ref().is_some_and(|claim| claim.decide(facts.trial_ends_at, now_db).is_none()) {
        facts.seen = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM devices WHERE device_id = $1)")
            .bind(&device)
            .fetch_one(&mut **tx)
            .await?;
    }
    if let Some(claim) = &admission.seat {
        let license_ids: Vec<String> = claim.pools.iter().map(|pool| pool.license_id.clone()).collect();
        facts.live_seats =
            sqlx::query_as("SELECT license_id, device_id FROM seats WHERE held_until >= $1 AND license_id = ANY($2)")
                .bind(now_db)
                .bind(license_ids)
                .fetch_all(&mut **tx)
                .await?;
    }
    if let Some(claim) = &admission.window {
        // Records of slots before the previous one are of no use to any decision; housekeeping
        // deletes them (here they would make two instances delete rows in different orders).
        let row = sqlx::query(
            "SELECT COUNT(*) AS in_contact, COUNT(*) FILTER (WHERE device_id = $1) AS present
             FROM slot_contacts WHERE handshake_code = $2 AND slot = $3",
        )
        .bind(&device)
        .bind(handshake_code)
        .bind(to_db(claim.slot)?)
        .fetch_one(&mut **tx)
        .await?;
        (facts.in_slot, facts.in_slot_present) = (row.unsigned("in_contact")?, row.unsigned("present")? > 0);
    }
    let (admitted, takes) = admission.decide(&device, now_db, &facts);
    for take in takes {
        match take {
            Take::Trial { ends_at } => {
                sqlx::query("INSERT INTO trials (device_id, started_at, ends_at) VALUES ($1, $2, $3)")
                    .bind(&device)
                    .bind(now_db)
                    .bind(to_db(ends_at)?)
                    .execute(&mut **tx)
                    .await?;
            }
            Take::Seat { license_id, held_until } => {
                sqlx::query(
                    "INSERT INTO seats (license_id, device_id, held_until) VALUES ($1, $2, $3)
                     ON CONFLICT (license_id, device_id) DO UPDATE SET held_until = GREATEST(seats.held_until, excluded.held_until)",
                )
                .bind(license_id)
                .bind(&device)
                .bind(to_db(held_until)?)
                .execute(&mut **tx)
                .await?;
            }
            Take::SlotPlace { slot } => {
                sqlx::query("INSERT INTO slot_contacts (handshake_code, slot, device_id) VALUES ($1, $2, $3)")
                    .bind(handshake_code)
                    .bind(to_db(slot)?)
                    .bind(&device)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(admitted)
}

/// The usage totals of these licenses per item, on the pool or inside a transaction: a few rows
/// of `usage_totals`, whatever the number of usage rows stored.
async fn usage_of<'c>(
    executor: impl sqlx::Executor<'c, Database = Postgres>,
    license_ids: &[String],
) -> Result<Vec<UsageTotal>, StorageError> {
    if license_ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query(
        "SELECT license_id, kind, name, count FROM usage_totals WHERE license_id = ANY($1)
         ORDER BY license_id COLLATE \"C\", kind, name COLLATE \"C\"",
    )
    .bind(license_ids)
    .fetch_all(executor)
    .await?
    .iter()
    .map(usage_total)
    .collect()
}

/// Stores usage rows and adds them to the running totals, in two statements whatever their
/// number, inside the transaction that charged them (which holds the advisory locks of their
/// licenses, so no other charge reads those totals in between). The totals' upsert sums the
/// rows of one item first (one statement may not update a row twice), and takes the rows in
/// one order: the totals of licenses without a quota are charged under no advisory lock, and
/// two transactions locking the same rows in different orders could deadlock.
async fn insert_usage(tx: &mut Transaction<'_, Postgres>, rows: &[UsageRow]) -> Result<(), StorageError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut report_ids = Vec::with_capacity(rows.len());
    let mut license_ids = Vec::with_capacity(rows.len());
    let mut slots = Vec::with_capacity(rows.len());
    let mut modules = Vec::with_capacity(rows.len());
    let mut symbologies = Vec::with_capacity(rows.len());
    let mut counts = Vec::with_capacity(rows.len());
    for row in rows {
        let (module, symbology) = usage_columns(&row.item);
        report_ids.push(row.report_id.to_hyphenated());
        license_ids.push(row.license_id.as_str());
        slots.push(to_db(row.slot)?);
        modules.push(module);
        symbologies.push(symbology);
        counts.push(to_db(row.count)?);
    }
    sqlx::query(
        "INSERT INTO usage (report_id, license_id, slot, module, symbology, count)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])",
    )
    .bind(&report_ids)
    .bind(&license_ids)
    .bind(&slots)
    .bind(&modules)
    .bind(&symbologies)
    .bind(&counts)
    .execute(&mut **tx)
    .await?;
    let (kinds, names): (Vec<&str>, Vec<&str>) = rows.iter().map(|row| usage_key(&row.item)).unzip();
    sqlx::query(
        "INSERT INTO usage_totals (license_id, kind, name, count)
         SELECT license_id, kind, name, SUM(count)::BIGINT
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r (license_id, kind, name, count)
         GROUP BY license_id, kind, name ORDER BY license_id, kind, name
         ON CONFLICT (license_id, kind, name) DO UPDATE SET count = usage_totals.count + excluded.count",
    )
    .bind(&license_ids)
    .bind(&kinds)
    .bind(&names)
    .bind(&counts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn initialize(&self, settings: &Settings) -> Result<Settings, StorageError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2), ($3, $4) ON CONFLICT (key) DO NOTHING")
            .bind(VENDOR_PUBLIC_KEY)
            .bind(&settings.vendor_public_key)
            .bind(SERVER_KEYS)
            .bind(&settings.server_keys)
            .execute(&self.pool)
            .await?;
        self.settings().await?.ok_or_else(|| StorageError::Corrupt("settings vanished while they were written".into()))
    }

    async fn settings(&self) -> Result<Option<Settings>, StorageError> {
        rows::settings(self.setting_values([VENDOR_PUBLIC_KEY, SERVER_KEYS]).await?)
    }

    async fn import_license(&self, license: &LicenseRecord, now: u64) -> Result<Imported, StorageError> {
        let inserted = sqlx::query(
            "INSERT INTO licenses (id, text, organization_id, product, license_type, expires_at, imported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&license.id)
        .bind(&license.text)
        .bind(&license.organization_id)
        .bind(&license.product)
        .bind(&license.license_type)
        .bind(to_db(license.expires_at)?)
        .bind(to_db(now)?)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Imported::New);
        }
        let stored: String = sqlx::query_scalar("SELECT text FROM licenses WHERE id = $1")
            .bind(&license.id)
            .fetch_one(&self.pool)
            .await?;
        Ok(if stored == license.text { Imported::AlreadyPresent } else { Imported::IdTaken })
    }

    async fn licenses(&self) -> Result<Vec<LicenseRecord>, StorageError> {
        let rows = sqlx::query("SELECT * FROM licenses ORDER BY id COLLATE \"C\"").fetch_all(&self.pool).await?;
        rows.iter().map(license_record).collect()
    }

    async fn license(&self, id: &str) -> Result<Option<LicenseRecord>, StorageError> {
        let row = sqlx::query("SELECT * FROM licenses WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(license_record).transpose()
    }

    async fn create_project(
        &self,
        handshake_code: &str,
        organization_id: &str,
        session_password_hash: Option<&str>,
        now: u64,
    ) -> Result<Project, StorageError> {
        let created = sqlx::query(&format!(
            "INSERT INTO projects ({PROJECT_COLUMNS})
             VALUES ($1, $2, NOT EXISTS (SELECT 1 FROM projects WHERE organization_id = $2), $3, $4)
             RETURNING {PROJECT_COLUMNS}"
        ))
        .bind(handshake_code)
        .bind(organization_id)
        .bind(session_password_hash)
        .bind(to_db(now)?)
        .fetch_one(&self.pool)
        .await;
        match created {
            Ok(row) => project(&row),
            // The other unique index (one default per organization) can only fail when two
            // projects of a new organization are created at the same instant.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && e.constraint() == Some("projects_pkey") => {
                Err(StorageError::HandshakeCodeTaken(handshake_code.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn project(&self, handshake_code: &str) -> Result<Option<Project>, StorageError> {
        let row = sqlx::query(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE handshake_code = $1"))
            .bind(handshake_code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project).transpose()
    }

    async fn default_project(&self, organization_id: &str) -> Result<Option<Project>, StorageError> {
        let row =
            sqlx::query(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = $1 AND is_default"))
                .bind(organization_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(project).transpose()
    }

    async fn assign_license(&self, handshake_code: &str, license_id: &str, now: u64) -> Result<(), StorageError> {
        let inserted = sqlx::query(
            "INSERT INTO project_licenses (handshake_code, license_id, assigned_at) VALUES ($1, $2, $3)
             ON CONFLICT (handshake_code, license_id) DO NOTHING",
        )
        .bind(handshake_code)
        .bind(license_id)
        .bind(to_db(now)?)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            // Name the missing side rather than pass on the database's constraint name.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(if e.constraint() == Some("project_licenses_license_id_fkey") {
                    StorageError::UnknownLicense(license_id.to_owned())
                } else {
                    StorageError::UnknownProject(handshake_code.to_owned())
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn project_licenses(&self, handshake_code: &str) -> Result<Vec<LicenseRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT l.* FROM project_licenses pl JOIN licenses l ON l.id = pl.license_id
             WHERE pl.handshake_code = $1 ORDER BY pl.assigned_at, pl.position",
        )
        .bind(handshake_code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(license_record).collect()
    }

    async fn device_known(&self, device_id: &DeviceId, handshake_code: &str) -> Result<bool, StorageError> {
        let known =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM devices WHERE device_id = $1 AND handshake_code = $2)")
                .bind(device_id.to_hyphenated())
                .bind(handshake_code)
                .fetch_one(&self.pool)
                .await?;
        Ok(known)
    }

    async fn record_authorization(
        &self,
        device: &DeviceContact,
        nonce: &Nonce,
        now: u64,
        admission: &Admission,
    ) -> Result<Admitted, StorageError> {
        let mut tx = self.pool.begin().await?;
        insert_nonce(&mut tx, nonce, now).await?;
        lock(&mut tx, lock_keys(&device.device_id, &device.handshake_code, admission, &[])).await?;
        // Before the device is stored: a trial asks whether the server has seen it.
        let admitted = admit(&mut tx, &device.device_id, &device.handshake_code, now, admission).await?;
        if admitted.refusal().is_some() {
            // Dropping the transaction rolls it back: a refused request stores nothing.
            return Ok(admitted);
        }
        sqlx::query(
            "INSERT INTO devices (device_id, handshake_code, domain, name, product, sdk_version, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (device_id, handshake_code) DO UPDATE SET
                 domain = excluded.domain,
                 name = COALESCE(excluded.name, devices.name),
                 product = excluded.product,
                 sdk_version = excluded.sdk_version,
                 last_seen = GREATEST(devices.last_seen, excluded.last_seen)",
        )
        .bind(device.device_id.to_hyphenated())
        .bind(&device.handshake_code)
        .bind(&device.domain)
        .bind(&device.name)
        .bind(&device.product)
        .bind(&device.sdk_version)
        .bind(to_db(now)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(admitted)
    }

    async fn record_reports(
        &self,
        batch: ReportBatch,
        charging: Arc<dyn Charging>,
        admission: Admission,
    ) -> Result<Recorded, StorageError> {
        let device_id = batch.device_id.to_hyphenated();
        let now = to_db(batch.received_at)?;
        let license_ids = charging.license_ids();
        let mut tx = self.pool.begin().await?;
        insert_nonce(&mut tx, &batch.nonce, batch.received_at).await?;
        lock(&mut tx, lock_keys(&batch.device_id, &batch.handshake_code, &admission, &license_ids)).await?;
        sqlx::query(
            "UPDATE devices SET last_seen = GREATEST(last_seen, $1) WHERE device_id = $2 AND handshake_code = $3",
        )
        .bind(now)
        .bind(&device_id)
        .bind(&batch.handshake_code)
        .execute(&mut *tx)
        .await?;
        // One statement for the batch; a report ID seen before (by this instance or another)
        // was counted then: it is acknowledged and counted nothing again.
        let ids: Vec<String> = batch.reports.iter().map(|r| r.report_id.to_hyphenated()).collect();
        // Inserted in the order of their IDs, so that two batches sharing reports (a retry at
        // another instance) wait on each other's rows in one order, never in a cycle.
        let inserted: Vec<String> = sqlx::query_scalar(
            "INSERT INTO reports (report_id, device_id, handshake_code, received_at)
             SELECT id, $2, $3, $4 FROM unnest($1::text[]) AS id ORDER BY id
             ON CONFLICT (report_id) DO NOTHING RETURNING report_id",
        )
        .bind(&ids)
        .bind(&device_id)
        .bind(&batch.handshake_code)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        // Each inserted ID is one new report: a second copy of it in the batch is not new.
        let mut inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
        let new: Vec<_> =
            batch.reports.iter().zip(&ids).filter(|(_, id)| inserted.remove(*id)).map(|(r, _)| r).collect();
        // Read under the licenses' locks: no other batch charges them in between.
        let usage = usage_of(&mut *tx, &license_ids).await?;
        let rows = super::charge(charging.as_ref(), &usage, &new)?;
        insert_usage(&mut tx, &rows).await?;
        let admitted = admit(&mut tx, &batch.device_id, &batch.handshake_code, batch.received_at, &admission).await?;
        tx.commit().await?;
        Ok(Recorded { admitted, usage: with_rows(usage, &rows, &license_ids) })
    }

    async fn license_usage(&self, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
        usage_of(&self.pool, license_ids).await
    }

    async fn seats_held(&self, license_ids: &[String], now: u64) -> Result<Vec<(String, u64)>, StorageError> {
        let rows = sqlx::query(
            "SELECT license_id, COUNT(*) AS held FROM seats WHERE held_until >= $1 AND license_id = ANY($2)
             GROUP BY license_id ORDER BY license_id COLLATE \"C\"",
        )
        .bind(to_db(now)?)
        .bind(license_ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((row.text("license_id")?, row.unsigned("held")?))).collect()
    }

    async fn trial_setting(&self) -> Result<Option<TrialSetting>, StorageError> {
        rows::trial_setting(self.setting_values([TRIAL_HANDSHAKE_CODE, TRIAL_DAYS, TRIAL_OPEN]).await?)
    }

    async fn set_trial_setting(&self, setting: &TrialSetting) -> Result<(), StorageError> {
        // One statement: the project must exist (projects are never deleted), and the three
        // values change together.
        let written = sqlx::query(
            "INSERT INTO settings (key, value)
             SELECT k, v FROM (VALUES ($1, $2), ($3, $4), ($5, $6)) AS t (k, v)
             WHERE EXISTS (SELECT 1 FROM projects WHERE handshake_code = $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(TRIAL_HANDSHAKE_CODE)
        .bind(&setting.handshake_code)
        .bind(TRIAL_DAYS)
        .bind(setting.days.to_string())
        .bind(TRIAL_OPEN)
        .bind(if setting.open { "1" } else { "0" })
        .execute(&self.pool)
        .await?;
        if written.rows_affected() == 0 {
            return Err(StorageError::UnknownProject(setting.handshake_code.clone()));
        }
        Ok(())
    }

    async fn sweep(&self, now: u64) -> Result<Swept, StorageError> {
        let mut tx = self.pool.begin().await?;
        let seats = sqlx::query("DELETE FROM seats WHERE held_until < $1").bind(to_db(now)?).execute(&mut *tx).await?;
        let slot = to_db(licet_protocol::slot_of(now))?;
        let contacts =
            sqlx::query("DELETE FROM slot_contacts WHERE slot < $1").bind(slot - 1).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Swept { seats: seats.rows_affected(), slot_contacts: contacts.rows_affected() })
    }

    async fn fire_alert(&self, alert: &NewAlert, webhooks: &[String]) -> Result<Option<Alert>, StorageError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO alerts (key, kind, subject, message, fired_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO NOTHING RETURNING *",
        )
        .bind(&alert.key)
        .bind(alert.kind)
        .bind(&alert.subject)
        .bind(&alert.message)
        .bind(to_db(alert.fired_at)?)
        .fetch_optional(&mut *tx)
        .await?;
        // Fired before, by this server or another: nothing more to do.
        let Some(row) = row else { return Ok(None) };
        let mut stored = rows::alert(&row)?;
        for url in webhooks {
            sqlx::query("INSERT INTO alert_deliveries (alert_id, url, next_attempt_at) VALUES ($1, $2, $3)")
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
        let alerts = sqlx::query("SELECT * FROM alerts ORDER BY fired_at, id").fetch_all(&self.pool).await?;
        let deliveries = sqlx::query("SELECT * FROM alert_deliveries ORDER BY alert_id, url COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows::with_deliveries(
            alerts.iter().map(rows::alert).collect::<Result<_, _>>()?,
            deliveries.iter().map(rows::delivery).collect::<Result<_, _>>()?,
        ))
    }

    async fn take_due_deliveries(&self, now: u64, held_until: u64, limit: u32) -> Result<Vec<Alert>, StorageError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE alert_deliveries d SET next_attempt_at = $1
             FROM (SELECT alert_id, url FROM alert_deliveries
                   WHERE delivered_at IS NULL AND NOT gave_up AND next_attempt_at <= $2
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) AS due
             WHERE d.alert_id = due.alert_id AND d.url = due.url RETURNING d.*",
        )
        .bind(to_db(held_until)?)
        .bind(to_db(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let deliveries: Vec<(u64, Delivery)> = claimed.iter().map(rows::delivery).collect::<Result<_, _>>()?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = deliveries.iter().map(|(id, _)| to_db(*id)).collect::<Result<_, _>>()?;
        let rows = sqlx::query("SELECT * FROM alerts WHERE id = ANY($1) ORDER BY fired_at, id")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let alerts: Vec<Alert> = rows.iter().map(rows::alert).collect::<Result<_, _>>()?;
        Ok(rows::one_alert_per_delivery(alerts, deliveries))
    }

    async fn finish_delivery(&self, alert_id: u64, url: &str, attempt: &Attempt) -> Result<(), StorageError> {
        let (delivered_at, error, retry_at, gave_up) = rows::attempt_columns(attempt)?;
        sqlx::query(
            "UPDATE alert_deliveries SET attempts = attempts + 1, delivered_at = $1, last_error = $2,
                 next_attempt_at = COALESCE($3, next_attempt_at), gave_up = $4
             WHERE alert_id = $5 AND url = $6 AND delivered_at IS NULL",
        )
        .bind(delivered_at)
        .bind(error)
        .bind(retry_at)
        .bind(gave_up)
        .bind(to_db(alert_id)?)
        .bind(url)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn devices(&self) -> Result<Vec<Device>, StorageError> {
        let rows = sqlx::query(DEVICES_QUERY).fetch_all(&self.pool).await?;
        rows.iter().map(device).collect()
    }

    async fn usage(&self) -> Result<Vec<UsageTotal>, StorageError> {
        let rows = sqlx::query(
            "SELECT license_id, kind, name, count FROM usage_totals
             ORDER BY license_id COLLATE \"C\", kind, name COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(usage_total).collect()
    }

    async fn usage_series(
        &self,
        bucket_slots: u64,
        from_slot: u64,
        to_slot: u64,
    ) -> Result<Vec<UsageBucket>, StorageError> {
        let rows = sqlx::query(&rows::usage_series_query(|n| format!("${n}"), " COLLATE \"C\""))
            .bind(to_db(bucket_slots.max(1))?)
            .bind(to_db(from_slot)?)
            .bind(to_db(to_slot)?)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::usage_bucket).collect()
    }

    async fn projects(&self) -> Result<Vec<Project>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY organization_id COLLATE \"C\", created_at, handshake_code COLLATE \"C\""
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(project).collect()
    }

    async fn create_admin_token(&self, name: &str, token_hash: &str, now: u64) -> Result<AdminToken, StorageError> {
        let created = sqlx::query(
            "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING name, created_at",
        )
        .bind(name)
        .bind(token_hash)
        .bind(to_db(now)?)
        .fetch_one(&self.pool)
        .await;
        match created {
            Ok(row) => rows::admin_token(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && e.constraint() == Some("admin_tokens_pkey") => {
                Err(StorageError::AdminTokenNameTaken(name.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>, StorageError> {
        let row = sqlx::query("SELECT name, created_at FROM admin_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::admin_token).transpose()
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminToken>, StorageError> {
        let rows = sqlx::query("SELECT name, created_at FROM admin_tokens ORDER BY created_at, name COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::admin_token).collect()
    }

    async fn revoke_admin_token(&self, name: &str) -> Result<(), StorageError> {
        let deleted = sqlx::query("DELETE FROM admin_tokens WHERE name = $1").bind(name).execute(&self.pool).await?;
        if deleted.rows_affected() == 0 {
            return Err(StorageError::UnknownAdminToken(name.to_owned()));
        }
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
