//! The SQLite backend of `Storage`: one file `<data>/licet.db` in WAL mode with foreign keys on,
//! its schema brought up to date by the migrations in `migrations/sqlite` at every open. It
//! decides no license rule: it stores what the handlers decided and takes claims by the shared
//! decisions of `storage`, each change in one transaction.
//!
//! SQLite lets one connection write at a time, and a connection that finds the lock taken
//! sleeps in its busy handler rather than queueing. So the server writes through one
//! connection only, and reads through a pool of others (WAL readers never wait for the writer).
//! Authorizations and reports, the writes of every request, go to a writer task that commits
//! all those waiting in one transaction and answers none before that commit is durable: one
//! fsync for many requests (group commit). Those that claim nothing share each statement (one
//! insert of all their nonces, one of all their reports...); those that claim a seat, a place or
//! a trial run one by one, each in a savepoint of its own.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::wire::UsageReport;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Acquire, Connection, QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::rows::keys::{SERVER_KEYS, TRIAL_DAYS, TRIAL_HANDSHAKE_CODE, TRIAL_OPEN, VENDOR_PUBLIC_KEY};
use super::rows::{self, device, license_record, project, to_db, usage_columns, usage_key, usage_total, StoredRow, DEVICES_QUERY, PROJECT_COLUMNS};
use super::{
    with_rows, Admission, Admitted, Charging, Recorded, Device, DeviceContact, Imported, LicenseRecord, Project, ReportBatch, Settings,
    Storage, StorageError, Swept, Alert, Attempt, Delivery, NewAlert, TrialOutcome, TrialSetting, UsageRow, UsageTotal,
};

const FILE_NAME: &str = "licet.db";

/// How many connections serve reads. Readers of a WAL database wait neither for each other
/// nor for the writer.
const READ_CONNECTIONS: u32 = 4;

/// The most requests one transaction of the writer task holds: enough for every request in
/// flight on a busy server to share one fsync, few enough that the first waits little for the
/// last.
const MAX_GROUP: usize = 64;

/// The SQLite store of one data directory.
pub struct SqliteStorage {
    /// Reads only.
    read: SqlitePool,
    /// The one connection that writes, shared by the writer task and the other writes: they
    /// queue for it in turn, and none meets SQLite's lock taken by another of this process.
    write: SqlitePool,
    /// The jobs of the writer task.
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteStorage {
    /// The database file inside a data directory.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Opens the store in `data_dir` (creating the file when `create` is set), applies the
    /// migrations it lacks and starts the writer task (so it must run inside a tokio runtime).
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
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Queued behind a whole group of writes, a CLI command may wait a while.
            .acquire_timeout(Duration::from_secs(60))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(options).await?;
        let (jobs, queued) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(write.clone(), queued));
        Ok(SqliteStorage { read, write, jobs })
    }

    /// Hands `job` to the writer task and waits for its answer, which comes once the
    /// transaction that holds it is committed (or failed).
    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StorageError> {
        // The task ends only when this store is dropped, or it panicked.
        let gone = || StorageError::Database(sqlx::Error::WorkerCrashed);
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Writes a consistent copy of the whole store in `data_dir` to `out`, a file that must not
    /// exist: one read snapshot, so writers go on meanwhile and the copy holds whole
    /// transactions only. It opens the store read-only and applies no migration: a newer CLI
    /// never changes the schema under an older server.
    pub async fn backup(data_dir: &Path, out: &str) -> Result<(), StorageError> {
        let options = SqliteConnectOptions::new().filename(Self::path(data_dir)).read_only(true).busy_timeout(Duration::from_secs(10));
        let mut connection = sqlx::ConnectOptions::connect(&options).await?;
        let copied = sqlx::query("VACUUM INTO ?").bind(out).execute(&mut connection).await;
        sqlx::Connection::close(connection).await?;
        copied?;
        Ok(())
    }

    /// The values of these settings keys, in their order; `None` for a key not set.
    async fn setting_values<const N: usize>(&self, keys: [&str; N]) -> Result<[Option<String>; N], StorageError> {
        let sql = format!("SELECT key, value FROM settings WHERE key IN ({})", placeholders(N));
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(key);
        }
        let mut values = [const { None }; N];
        for row in query.fetch_all(&self.read).await? {
            let key: String = row.try_get("key")?;
            if let Some(at) = keys.iter().position(|k| *k == key) {
                values[at] = Some(row.try_get("value")?);
            }
        }
        Ok(values)
    }
}

/// `?, ?, ?` for an `IN (...)` list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Stores a request's nonce as the first write of its transaction (so SQLite takes the write
/// lock before anything is read). A nonce seen before is a replay.
async fn insert_nonce(tx: &mut Transaction<'_, Sqlite>, nonce: &Nonce, now: u64) -> Result<(), StorageError> {
    let inserted = sqlx::query("INSERT INTO nonces (nonce, received_at) VALUES (?, ?)")
        .bind(nonce.to_hyphenated())
        .bind(to_db(now)?)
        .execute(&mut **tx)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StorageError::ReplayedNonce),
        Err(e) => Err(e.into()),
    }
}

/// Takes what `admission` claims for `device`, inside the transaction of its contact (which
/// holds SQLite's write lock from its nonce on, so no other claim interleaves).
async fn admit(
    tx: &mut Transaction<'_, Sqlite>,
    device: &DeviceId,
    handshake_code: &str,
    now: u64,
    admission: &Admission,
) -> Result<Admitted, StorageError> {
    let device = device.to_hyphenated();
    let mut admitted = Admitted::default();
    if let Some(claim) = &admission.trial {
        let ends_at: Option<i64> =
            sqlx::query_scalar("SELECT ends_at FROM trials WHERE device_id = ?").bind(&device).fetch_optional(&mut **tx).await?;
        let outcome = match ends_at {
            Some(ends_at) if ends_at >= to_db(now)? => TrialOutcome::Granted { ends_at: ends_at as u64 },
            Some(_) => TrialOutcome::Used,
            None if !claim.open => TrialOutcome::Closed,
            None => {
                let seen: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM devices WHERE device_id = ?)")
                    .bind(&device)
                    .fetch_one(&mut **tx)
                    .await?;
                if seen {
                    TrialOutcome::Used
                } else {
                    sqlx::query("INSERT INTO trials (device_id, started_at, ends_at) VALUES (?, ?, ?)")
                        .bind(&device)
                        .bind(to_db(now)?)
                        .bind(to_db(claim.ends_at)?)
                        .execute(&mut **tx)
                        .await?;
                    TrialOutcome::Granted { ends_at: claim.ends_at }
                }
            }
        };
        admitted.trial = Some(outcome);
        // A refused claim ends the admission: nothing more is taken for a refused device.
        if admitted.refusal().is_some() {
            return Ok(admitted);
        }
    }
    if let Some(claim) = &admission.seat {
        let sql = format!(
            "SELECT license_id, device_id FROM seats WHERE held_until >= ? AND license_id IN ({})",
            placeholders(claim.pools.len())
        );
        let mut query = sqlx::query(&sql).bind(to_db(now)?);
        for pool in &claim.pools {
            query = query.bind(&pool.license_id);
        }
        let live = query
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("license_id")?, row.try_get("device_id")?)))
            .collect::<Result<Vec<(String, String)>, StorageError>>()?;
        let (pool, capacity) = claim.decide(&device, &live);
        if let Some(pool) = pool {
            sqlx::query(
                "INSERT INTO seats (license_id, device_id, held_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (license_id, device_id) DO UPDATE SET held_until = MAX(seats.held_until, excluded.held_until)",
            )
            .bind(&pool.license_id)
            .bind(&device)
            .bind(to_db(pool.held_until)?)
            .execute(&mut **tx)
            .await?;
        }
        admitted.seat = Some(capacity);
        if admitted.refusal().is_some() {
            return Ok(admitted);
        }
    }
    if let Some(claim) = &admission.window {
        let slot = to_db(claim.slot)?;
        // Records of slots before the previous one are of no use to any decision; housekeeping
        // deletes them (here they would make two instances delete rows in different orders).
        let row = sqlx::query(
            "SELECT COUNT(*) AS in_contact, COALESCE(SUM(device_id = ?), 0) AS present
             FROM slot_contacts WHERE handshake_code = ? AND slot = ?",
        )
        .bind(&device)
        .bind(handshake_code)
        .bind(slot)
        .fetch_one(&mut **tx)
        .await?;
        let (write, capacity) = claim.decide(row.unsigned("in_contact")?, row.unsigned("present")? > 0);
        if write {
            sqlx::query("INSERT INTO slot_contacts (handshake_code, slot, device_id) VALUES (?, ?, ?)")
                .bind(handshake_code)
                .bind(slot)
                .bind(&device)
                .execute(&mut **tx)
                .await?;
        }
        admitted.window = Some(capacity);
    }
    Ok(admitted)
}

/// The usage totals of these licenses per item, on a pool or inside a transaction: a few rows
/// of `usage_totals`, whatever the number of usage rows stored.
async fn usage_of<'c>(executor: impl sqlx::Executor<'c, Database = Sqlite>, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
    if license_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT license_id, kind, name, count FROM usage_totals WHERE license_id IN ({}) ORDER BY license_id, kind, name",
        placeholders(license_ids.len())
    );
    let mut query = sqlx::query(&sql);
    for license_id in license_ids {
        query = query.bind(license_id);
    }
    query.fetch_all(executor).await?.iter().map(usage_total).collect()
}

/// The most usage rows one statement inserts: 6 parameters a row, well under SQLite's limit of
/// 32,766 parameters a statement.
const ROWS_PER_INSERT: usize = 1000;

/// Stores usage rows and adds them to the running totals, inside the transaction that charged
/// them (which holds the write lock, so no other charge reads the totals in between). A few
/// statements for the whole batch rather than two a row: each statement is a round trip to
/// the connection's thread, on the path every write of the server waits on.
async fn insert_usage(tx: &mut Transaction<'_, Sqlite>, rows: &[UsageRow]) -> Result<(), StorageError> {
    let mut values = Vec::with_capacity(rows.len());
    let mut totals: Vec<(&str, &str, &str, i64)> = Vec::new();
    for row in rows {
        let count = to_db(row.count)?;
        values.push((row.report_id.to_hyphenated(), row.license_id.as_str(), to_db(row.slot)?, usage_columns(&row.item), count));
        let (kind, name) = usage_key(&row.item);
        match totals.iter_mut().find(|t| (t.0, t.1, t.2) == (row.license_id.as_str(), kind, name)) {
            // Counts are at most u32::MAX each (the handlers refuse more), so no sum overflows.
            Some(total) => total.3 += count,
            None => totals.push((row.license_id.as_str(), kind, name, count)),
        }
    }
    for chunk in values.chunks(ROWS_PER_INSERT) {
        QueryBuilder::<Sqlite>::new("INSERT INTO usage (report_id, license_id, slot, module, symbology, count) ")
            .push_values(chunk, |mut row, (report_id, license_id, slot, (module, symbology), count)| {
                row.push_bind(report_id).push_bind(license_id).push_bind(slot).push_bind(module).push_bind(symbology).push_bind(count);
            })
            .build()
            .execute(&mut **tx)
            .await?;
    }
    for chunk in totals.chunks(ROWS_PER_INSERT) {
        QueryBuilder::<Sqlite>::new("INSERT INTO usage_totals (license_id, kind, name, count) ")
            .push_values(chunk, |mut row, (license_id, kind, name, count)| {
                row.push_bind(license_id).push_bind(kind).push_bind(name).push_bind(count);
            })
            .push(" ON CONFLICT (license_id, kind, name) DO UPDATE SET count = usage_totals.count + excluded.count")
            .build()
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Stores these devices as in contact at these times, or updates what they said of themselves:
/// in one statement, applied in order (so a device listed twice ends as its last contact said).
async fn upsert_devices(tx: &mut Transaction<'_, Sqlite>, contacts: &[(&DeviceContact, i64)]) -> Result<(), StorageError> {
    QueryBuilder::<Sqlite>::new("INSERT INTO devices (device_id, handshake_code, domain, name, product, sdk_version, first_seen, last_seen) ")
        .push_values(contacts, |mut row, (device, time)| {
            row.push_bind(device.device_id.to_hyphenated())
                .push_bind(&device.handshake_code)
                .push_bind(&device.domain)
                .push_bind(&device.name)
                .push_bind(&device.product)
                .push_bind(&device.sdk_version)
                .push_bind(*time)
                .push_bind(*time);
        })
        .push(
            " ON CONFLICT (device_id, handshake_code) DO UPDATE SET
                 domain = excluded.domain,
                 name = COALESCE(excluded.name, devices.name),
                 product = excluded.product,
                 sdk_version = excluded.sdk_version,
                 last_seen = MAX(devices.last_seen, excluded.last_seen)",
        )
        .build()
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The writes of `Storage::record_authorization`, inside the writer's transaction.
async fn authorization(
    tx: &mut Transaction<'_, Sqlite>,
    device: &DeviceContact,
    nonce: &Nonce,
    now: u64,
    admission: &Admission,
) -> Result<Admitted, StorageError> {
        insert_nonce(tx, nonce, now).await?;
        // Before the device is stored: a trial asks whether the server has seen it.
        let admitted = admit(tx, &device.device_id, &device.handshake_code, now, admission).await?;
        if admitted.refusal().is_some() {
            // The writer rolls the request back to its savepoint: a refused request stores nothing.
            return Ok(admitted);
        }
        upsert_devices(tx, &[(device, to_db(now)?)]).await?;
    Ok(admitted)
}

/// A report job that claims something: its writes as `together` makes them for any group (so
/// a batch is written one way only), then its claims.
async fn claimed_reports(
    tx: &mut Transaction<'_, Sqlite>,
    job: &Job,
    batch: &ReportBatch,
    admission: &Admission,
) -> Result<(Admitted, Vec<UsageTotal>), StorageError> {
    // `together` answers each job it is given: one here.
    let usage = together(tx, std::slice::from_ref(job)).await?.into_iter().next().unwrap_or(Ok(Vec::new()))?;
    let admitted = admit(tx, &batch.device_id, &batch.handshake_code, batch.received_at, admission).await?;
    Ok((admitted, usage))
}

/// Runs the jobs of a group that claim nothing together: a few statements for all of them
/// rather than a few each, since every statement is a round trip to the connection's thread and
/// those round trips are most of the writer's time. Their nonces, devices, reports and usage
/// rows are each written by one statement, and their reports charged in turn, in memory, from
/// one read of the totals. Each job's result is the one it would have run alone after the jobs
/// before it: a nonce or report ID that an earlier job of the group holds counts as stored
/// before. A job fails alone only before anything of it is written (a replayed nonce, a time out
/// of range); any other failure, a panic of a charge included, breaks the transaction, and its
/// cause comes back with the jobs.
async fn run_together(tx: &mut Transaction<'_, Sqlite>, jobs: Vec<Job>) -> (Vec<Done>, Option<String>) {
    match together(tx, &jobs).await {
        Ok(results) => (
            jobs.into_iter().zip(results).map(|(job, result)| job.answered(result.map(|usage| (Admitted::default(), usage)))).collect(),
            None,
        ),
        Err(error) => {
            let cause = error.to_string();
            (jobs.into_iter().map(|job| job.failed(StorageError::Shared(cause.clone()))).collect(), Some(cause))
        }
    }
}

/// The writes of `run_together`: each job's result, or the failure that breaks the transaction.
async fn together(tx: &mut Transaction<'_, Sqlite>, jobs: &[Job]) -> Result<Vec<Result<Vec<UsageTotal>, StorageError>>, StorageError> {
    let mut results = Vec::with_capacity(jobs.len());
    // (job, nonce, time) of each job whose nonce no earlier job of the group holds.
    let mut nonces = Vec::with_capacity(jobs.len());
    let mut first = HashSet::with_capacity(jobs.len());
    for (at, job) in jobs.iter().enumerate() {
        let (nonce, received_at) = job.nonce();
        let nonce = nonce.to_hyphenated();
        results.push(match to_db(received_at) {
            Err(error) => Err(error),
            Ok(_) if !first.insert(nonce.clone()) => Err(StorageError::ReplayedNonce),
            Ok(time) => {
                nonces.push((at, nonce, time));
                Ok(Vec::new())
            }
        });
    }
    if nonces.is_empty() {
        return Ok(results);
    }
    // MAX_GROUP rows of at most 8 parameters: one statement each, far under SQLite's limit.
    let stored: HashSet<String> = QueryBuilder::<Sqlite>::new("INSERT INTO nonces (nonce, received_at) ")
        .push_values(&nonces, |mut row, (_, nonce, time)| {
            row.push_bind(nonce).push_bind(*time);
        })
        .push(" ON CONFLICT (nonce) DO NOTHING RETURNING nonce")
        .build_query_scalar()
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    // The jobs that go on, with their time.
    let mut live = Vec::with_capacity(nonces.len());
    for (at, nonce, time) in nonces {
        if stored.contains(&nonce) {
            live.push((&jobs[at], at, time));
        } else {
            results[at] = Err(StorageError::ReplayedNonce);
        }
    }

    let contacts: Vec<(&DeviceContact, i64)> = live
        .iter()
        .filter_map(|&(job, _, time)| match job {
            Job::Authorization { device, .. } => Some((device, time)),
            Job::Reports { .. } => None,
        })
        .collect();
    if !contacts.is_empty() {
        upsert_devices(tx, &contacts).await?;
    }

    let batches: Vec<(&ReportBatch, &dyn Charging, usize, i64)> = live
        .iter()
        .filter_map(|&(job, at, time)| match job {
            Job::Reports { batch, charging, .. } => Some((batch, charging.as_ref(), at, time)),
            Job::Authorization { .. } => None,
        })
        .collect();
    if batches.is_empty() {
        return Ok(results);
    }
    // One row per device: an UPDATE ... FROM whose source matches a row twice updates it from
    // either match, unspecified which.
    let mut seen: Vec<(String, &str, i64)> = Vec::new();
    for &(batch, _, _, time) in &batches {
        let device_id = batch.device_id.to_hyphenated();
        match seen.iter_mut().find(|(id, code, _)| *id == device_id && *code == batch.handshake_code) {
            Some(device) => device.2 = device.2.max(time),
            None => seen.push((device_id, &batch.handshake_code, time)),
        }
    }
    QueryBuilder::<Sqlite>::new("UPDATE devices SET last_seen = MAX(devices.last_seen, seen.column3) FROM (")
        .push_values(&seen, |mut row, (device_id, handshake_code, time)| {
            row.push_bind(device_id).push_bind(*handshake_code).push_bind(*time);
        })
        .push(") AS seen WHERE devices.device_id = seen.column1 AND devices.handshake_code = seen.column2")
        .build()
        .execute(&mut **tx)
        .await?;

    // (job, report, its ID, device, handshake code, time) of each report whose ID no earlier
    // job of the group, nor an earlier copy in its own, holds.
    let mut reports = Vec::new();
    let mut listed = HashSet::new();
    for &(batch, _, at, time) in &batches {
        let device_id = batch.device_id.to_hyphenated();
        for report in batch.reports.iter().filter(|report| listed.insert(report.report_id)) {
            reports.push((at, report, report.report_id.to_hyphenated(), device_id.clone(), batch.handshake_code.as_str(), time));
        }
    }
    // A report ID seen before was counted then: acknowledged, counted nothing again.
    let mut new = HashSet::with_capacity(reports.len());
    for chunk in reports.chunks(ROWS_PER_INSERT) {
        let inserted: Vec<String> = QueryBuilder::<Sqlite>::new("INSERT INTO reports (report_id, device_id, handshake_code, received_at) ")
            .push_values(chunk, |mut row, (_, _, report_id, device_id, handshake_code, time)| {
                row.push_bind(report_id).push_bind(device_id).push_bind(*handshake_code).push_bind(*time);
            })
            .push(" ON CONFLICT (report_id) DO NOTHING RETURNING report_id")
            .build_query_scalar()
            .fetch_all(&mut **tx)
            .await?;
        new.extend(inserted);
    }

    // The totals of every license a batch charges, kept in the order `usage_of` reads them, as
    // each charge adds its rows: the next charge sees them as it would read them from the table.
    let mut license_ids: Vec<String> = Vec::new();
    let charged: Vec<Vec<String>> = batches.iter().map(|(_, charging, _, _)| charging.license_ids()).collect();
    for id in charged.iter().flatten() {
        if !license_ids.contains(id) {
            license_ids.push(id.clone());
        }
    }
    let mut usage = usage_of(&mut **tx, &license_ids).await?;
    let mut rows = Vec::new();
    for (&(_, charging, at, _), own_ids) in batches.iter().zip(&charged) {
        let before: Vec<UsageTotal> = usage.iter().filter(|total| own_ids.contains(&total.license_id)).cloned().collect();
        let fresh: Vec<&UsageReport> =
            reports.iter().filter(|report| report.0 == at && new.contains(&report.2)).map(|report| report.1).collect();
        // A panic in the licensing rules must fail these requests, not the writer task that
        // every write of this server shares.
        let charge = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| charging.charge(&before, &fresh)))
            .map_err(|_| StorageError::ChargeFailed)?;
        usage = with_rows(usage, &charge, &license_ids);
        usage.sort_by(|a, b| (&a.license_id, usage_key(&a.item)).cmp(&(&b.license_id, usage_key(&b.item))));
        results[at] = Ok(with_rows(before, &charge, own_ids));
        rows.extend(charge);
    }
    insert_usage(tx, &rows).await?;
    Ok(results)
}

/// Where the writer task sends the answer to a job.
type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

/// A write for the writer task, with everything it needs and where to answer.
enum Job {
    Authorization { device: DeviceContact, nonce: Nonce, now: u64, admission: Admission, reply: Reply<Admitted> },
    Reports { batch: ReportBatch, charging: Arc<dyn Charging>, admission: Admission, reply: Reply<Recorded> },
}

/// A job that ran in the writer's transaction, and its result, answered once that commits.
enum Done {
    Authorization(Reply<Admitted>, Result<Admitted, StorageError>),
    Reports(Reply<Recorded>, Result<Recorded, StorageError>),
}

impl Job {
    /// Whether the job's admission claims something (a seat, a place in a slot, a trial).
    fn claims(&self) -> bool {
        match self {
            Job::Authorization { admission, .. } | Job::Reports { admission, .. } => *admission != Admission::default(),
        }
    }

    /// The request's nonce and when it was received.
    fn nonce(&self) -> (&Nonce, u64) {
        match self {
            Job::Authorization { nonce, now, .. } => (nonce, *now),
            Job::Reports { batch, .. } => (&batch.nonce, batch.received_at),
        }
    }

    /// Runs a job that claims something in the writer's transaction `tx`, in a savepoint of its
    /// own, rolled back when the job failed or was refused: a refused request stores nothing,
    /// and its neighbours in the transaction are not disturbed. The cause in the result when the
    /// transaction cannot be committed any more.
    async fn run(self, tx: &mut Transaction<'_, Sqlite>) -> (Done, Option<String>) {
        let mut savepoint = match Acquire::begin(&mut **tx).await {
            Ok(savepoint) => savepoint,
            Err(error) => {
                let cause = error.to_string();
                return (self.failed(error.into()), Some(cause));
            }
        };
        let done = self.work(&mut savepoint).await;
        let settled = if done.keeps() { savepoint.commit().await } else { savepoint.rollback().await };
        (done, settled.err().map(|e| e.to_string()))
    }

    /// The job's writes in `tx`, and where to answer their result.
    async fn work(self, tx: &mut Transaction<'_, Sqlite>) -> Done {
        let result = match &self {
            Job::Authorization { device, nonce, now, admission, .. } => {
                authorization(tx, device, nonce, *now, admission).await.map(|admitted| (admitted, Vec::new()))
            }
            Job::Reports { batch, admission, .. } => claimed_reports(tx, &self, batch, admission).await,
        };
        self.answered(result)
    }

    /// The job, not run, failed with `error`.
    fn failed(self, error: StorageError) -> Done {
        match self {
            Job::Authorization { reply, .. } => Done::Authorization(reply, Err(error)),
            Job::Reports { reply, .. } => Done::Reports(reply, Err(error)),
        }
    }

    /// The answer of a job from what its claims admitted and, for a report job, the usage after
    /// its charge (an authorization has none).
    fn answered(self, result: Result<(Admitted, Vec<UsageTotal>), StorageError>) -> Done {
        match self {
            Job::Authorization { reply, .. } => Done::Authorization(reply, result.map(|(admitted, _)| admitted)),
            Job::Reports { reply, .. } => Done::Reports(reply, result.map(|(admitted, usage)| Recorded { admitted, usage })),
        }
    }
}

impl Done {
    /// Whether what the job wrote is kept: it succeeded, and was not refused.
    fn keeps(&self) -> bool {
        match self {
            Done::Authorization(_, result) => result.as_ref().is_ok_and(|admitted| admitted.refusal().is_none()),
            Done::Reports(_, result) => result.is_ok(),
        }
    }

    /// Answers the job once its transaction is committed (or failed, with `fail`).
    fn answer(self) {
        // A requester that stopped waiting needs no answer: a failed send is no failure.
        match self {
            Done::Authorization(reply, result) => drop(reply.send(result)),
            Done::Reports(reply, result) => drop(reply.send(result)),
        }
    }

    /// Answers the job with the failure of its transaction: nothing of it was stored.
    fn fail(self, cause: &str) {
        let failed = || StorageError::Shared(cause.to_owned());
        match self {
            Done::Authorization(reply, _) => drop(reply.send(Err(failed()))),
            Done::Reports(reply, _) => drop(reply.send(Err(failed()))),
        }
    }
}

/// The writer task: takes every job waiting (up to `MAX_GROUP`), runs them in one transaction
/// on the write connection, commits it, and only then answers them. Ends when the store is
/// dropped.
async fn write_groups(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        commit_group(&pool, jobs.drain(..)).await;
    }
}

/// Runs `jobs` in one transaction, those that claim nothing together and then each of the
/// others, and answers each: its own result once the commit succeeded, else the failure (a
/// job's own failure or refusal was rolled back to its savepoint already, or left nothing
/// behind).
async fn commit_group(pool: &SqlitePool, jobs: impl Iterator<Item = Job>) {
    let (mut plain, claiming): (Vec<Job>, Vec<Job>) = jobs.partition(|job| !job.claims());
    let mut claiming = claiming.into_iter();
    let mut done = Vec::with_capacity(MAX_GROUP);
    let committed = async {
        let mut connection = pool.acquire().await.map_err(|e| e.to_string())?;
        // IMMEDIATE: the write lock from the start, so no statement of the group can meet it
        // taken (by a CLI command of another process) halfway and fail.
        let mut tx = connection.begin_with("BEGIN IMMEDIATE").await.map_err(|e| e.to_string())?;
        if !plain.is_empty() {
            let (ran, broken) = run_together(&mut tx, std::mem::take(&mut plain)).await;
            done.extend(ran);
            if let Some(cause) = broken {
                return Err(cause);
            }
        }
        for job in claiming.by_ref() {
            let (ran, broken) = job.run(&mut tx).await;
            done.push(ran);
            if let Some(cause) = broken {
                return Err(cause);
            }
        }
        tx.commit().await.map_err(|e| e.to_string())
    }
    .await;
    match committed {
        Ok(()) => done.into_iter().for_each(Done::answer),
        Err(cause) => {
            tracing::error!(%cause, requests = done.len(), "a group of writes failed; none of it was stored");
            done.into_iter().for_each(|ran| ran.fail(&cause));
            plain.into_iter().chain(claiming).for_each(|job| job.failed(StorageError::Shared(cause.clone())).answer());
        }
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn initialize(&self, settings: &Settings) -> Result<Settings, StorageError> {
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
        rows::settings(self.setting_values([VENDOR_PUBLIC_KEY, SERVER_KEYS]).await?)
    }

    async fn import_license(&self, license: &LicenseRecord, now: u64) -> Result<Imported, StorageError> {
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
        let stored: String =
            sqlx::query_scalar("SELECT text FROM licenses WHERE id = ?").bind(&license.id).fetch_one(&self.read).await?;
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
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && e.message().contains("projects.handshake_code") => {
                Err(StorageError::HandshakeCodeTaken(handshake_code.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn project(&self, handshake_code: &str) -> Result<Option<Project>, StorageError> {
        let row = sqlx::query(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE handshake_code = ?"))
            .bind(handshake_code)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(project).transpose()
    }

    async fn default_project(&self, organization_id: &str) -> Result<Option<Project>, StorageError> {
        let row = sqlx::query(&format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = ? AND is_default = 1"))
            .bind(organization_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(project).transpose()
    }

    async fn assign_license(&self, handshake_code: &str, license_id: &str, now: u64) -> Result<(), StorageError> {
        let mut tx = self.write.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO project_licenses (handshake_code, license_id, assigned_at) VALUES (?, ?, ?)
             ON CONFLICT (handshake_code, license_id) DO NOTHING",
        )
        .bind(handshake_code)
        .bind(license_id)
        .bind(to_db(now)?)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // Name the missing side rather than pass on SQLite's "FOREIGN KEY constraint failed".
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                let project_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects WHERE handshake_code = ?)")
                    .bind(handshake_code)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(if project_exists {
                    StorageError::UnknownLicense(license_id.to_owned())
                } else {
                    StorageError::UnknownProject(handshake_code.to_owned())
                });
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn project_licenses(&self, handshake_code: &str) -> Result<Vec<LicenseRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT l.* FROM project_licenses pl JOIN licenses l ON l.id = pl.license_id
             WHERE pl.handshake_code = ? ORDER BY pl.assigned_at, pl.rowid",
        )
        .bind(handshake_code)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(license_record).collect()
    }

    async fn device_known(&self, device_id: &DeviceId, handshake_code: &str) -> Result<bool, StorageError> {
        let known = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM devices WHERE device_id = ? AND handshake_code = ?)")
            .bind(device_id.to_hyphenated())
            .bind(handshake_code)
            .fetch_one(&self.read)
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
        self.submit(|reply| Job::Authorization { device: device.clone(), nonce: *nonce, now, admission: admission.clone(), reply }).await
    }

    async fn record_reports(
        &self,
        batch: ReportBatch,
        charging: Arc<dyn Charging>,
        admission: Admission,
    ) -> Result<Recorded, StorageError> {
        self.submit(|reply| Job::Reports { batch, charging, admission, reply }).await
    }

    async fn license_usage(&self, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
        usage_of(&self.read, license_ids).await
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
        query.fetch_all(&self.read).await?.iter().map(|row| Ok((row.text("license_id")?, row.unsigned("held")?))).collect()
    }

    async fn trial_setting(&self) -> Result<Option<TrialSetting>, StorageError> {
        rows::trial_setting(self.setting_values([TRIAL_HANDSHAKE_CODE, TRIAL_DAYS, TRIAL_OPEN]).await?)
    }

    async fn set_trial_setting(&self, setting: &TrialSetting) -> Result<(), StorageError> {
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
        let mut tx = self.write.begin().await?;
        let seats = sqlx::query("DELETE FROM seats WHERE held_until < ?").bind(to_db(now)?).execute(&mut *tx).await?;
        let slot = to_db(licet_protocol::slot_of(now))?;
        let contacts = sqlx::query("DELETE FROM slot_contacts WHERE slot < ?").bind(slot - 1).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Swept { seats: seats.rows_affected(), slot_contacts: contacts.rows_affected() })
    }

    async fn fire_alert(&self, alert: &NewAlert, webhooks: &[String]) -> Result<Option<Alert>, StorageError> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "INSERT INTO alerts (key, kind, subject, message, fired_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (key) DO NOTHING RETURNING *",
        )
        .bind(&alert.key)
        .bind(&alert.kind)
        .bind(&alert.subject)
        .bind(&alert.message)
        .bind(to_db(alert.fired_at)?)
        .fetch_optional(&mut *tx)
        .await?;
        // Fired before, by this server or another: nothing more to do.
        let Some(row) = row else { return Ok(None) };
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
        let deliveries = sqlx::query("SELECT * FROM alert_deliveries ORDER BY alert_id, url").fetch_all(&self.read).await?;
        Ok(rows::with_deliveries(
            alerts.iter().map(rows::alert).collect::<Result<_, _>>()?,
            deliveries.iter().map(rows::delivery).collect::<Result<_, _>>()?,
        ))
    }

    async fn take_due_deliveries(&self, now: u64, held_until: u64, limit: u32) -> Result<Vec<Alert>, StorageError> {
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
        let rows = sqlx::query("SELECT license_id, kind, name, count FROM usage_totals ORDER BY license_id, kind, name")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(usage_total).collect()
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}
