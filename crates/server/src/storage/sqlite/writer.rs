//! The writer thread of the SQLite backend: it owns the connection that writes what requests
//! change (authorizations and report batches), runs every request waiting in one transaction
//! and answers none of them before that transaction is committed: one fsync for many requests
//! (group commit). Each request runs in a savepoint of its own, rolled back alone when it fails
//! (or, for an authorization, when its claim is refused: a report batch is stored whatever its
//! claim), so its neighbours never see it. It decides no license rule: it
//! stores what the handlers decided and takes claims by the shared decisions of `storage`.
//!
//! The other writes of this process (housekeeping's, the alerts', the admin API's) pause it while
//! they run, in their turn in its queue: without that, a write that finds the lock taken sleeps
//! in SQLite's busy handler, and under load it may never meet the lock free. Another process (a
//! CLI command) has no such turn: it waits in the busy handler, up to `BUSY_TIMEOUT`.
//!
//! A thread of its own, calling SQLite directly: every statement is a function call, not a
//! message to another thread, so a request costs the writer tens of microseconds, not hundreds.

use std::sync::{mpsc as sync_mpsc, Arc, Mutex, PoisonError};
use std::thread;

use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::wire::UsageReport;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::direct::usage_of;
use super::placeholders;
use crate::storage::rows::{to_db, usage_columns, usage_key};
use crate::storage::{
    with_rows, Admission, AdmissionFacts, Admitted, Charging, DeviceContact, Recorded, ReportBatch, StorageError, Take,
    UsageRow, UsageTotal,
};

/// The most requests one transaction holds: enough for every request in flight on a busy
/// server to share one fsync, few enough that the first waits little for the last.
const MAX_GROUP: usize = 64;

/// Where the writer sends the answer to a job.
type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

/// A write for the writer, with everything it needs and where to answer.
enum Job {
    Authorization { device: DeviceContact, nonce: Nonce, now: u64, admission: Admission, reply: Reply<Admitted> },
    Reports { batch: ReportBatch, charging: Arc<dyn Charging>, admission: Admission, reply: Reply<Recorded> },
}

/// What the writer's queue holds: jobs, and pauses for the process's other writes.
// Nearly everything queued is a `Job` (a pause comes only with a housekeeping, alert or admin
// write): boxing it would cost a heap allocation per request and save no memory in the queue.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Job(Job),
    Pause(Pause),
}

/// A pause of the writer between two transactions: it says so on `paused`, then waits until
/// the other end of `resume` is dropped.
struct Pause {
    paused: oneshot::Sender<()>,
    resume: sync_mpsc::Receiver<()>,
}

impl Pause {
    fn hold(self) {
        // Whoever asked may have stopped waiting: then the resume end is gone too.
        if self.paused.send(()).is_ok() {
            // Nothing is ever sent: the writer resumes when the `Paused` guard is dropped.
            let _ = self.resume.recv();
        }
    }
}

/// Held while a write outside the writer runs; dropping it resumes the writer.
#[must_use = "the writer resumes as soon as this is dropped"]
pub(super) struct Paused {
    _resume: sync_mpsc::Sender<()>,
}

/// A job that ran in the writer's transaction, and its result, answered once that commits.
enum Done {
    Authorization(Reply<Admitted>, Result<Admitted, StorageError>),
    Reports(Reply<Recorded>, Result<Recorded, StorageError>),
}

/// The handle of the writer thread: where jobs go, and how to stop it.
pub(super) struct Writer {
    /// `None` once closed: the thread ends when its queue has no sender left.
    jobs: Mutex<Option<mpsc::UnboundedSender<Queued>>>,
    /// Closed by the thread as it ends, its connection closed.
    ended: Mutex<Option<oneshot::Receiver<()>>>,
}

/// The writer gave no answer: the store is closed, or the job's group failed on a bug.
fn gone() -> StorageError {
    StorageError::Shared("the store's writer gave no answer: the store is closing, or a bug failed this write".into())
}

impl Writer {
    /// Starts the writer thread on `connection`.
    pub(super) fn start(connection: Connection) -> Result<Writer, StorageError> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (end, ended) = oneshot::channel::<()>();
        thread::Builder::new()
            .name("licet-sqlite-writer".into())
            .spawn(move || {
                write_groups(connection, queue);
                drop(end);
            })
            .map_err(|e| StorageError::Shared(format!("the store's writer could not start: {e}")))?;
        Ok(Writer { jobs: Mutex::new(Some(jobs)), ended: Mutex::new(Some(ended)) })
    }

    /// Puts `queued` in the writer's queue.
    fn queue(&self, queued: Queued) -> Result<(), StorageError> {
        match self.jobs.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(jobs) => jobs.send(queued).map_err(|_| gone()),
            None => Err(gone()),
        }
    }

    /// Hands `job` to the writer and waits for its answer, which comes once the transaction
    /// that holds it is committed (or failed).
    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.queue(Queued::Job(job(reply)))?;
        answer.await.map_err(|_| gone())?
    }

    /// Waits for the writer to finish the jobs queued before, and holds it until the guard is
    /// dropped: a write of this process outside the writer then finds SQLite's lock free.
    pub(super) async fn pause(&self) -> Result<Paused, StorageError> {
        let (paused, wait) = oneshot::channel();
        let (guard, resume) = sync_mpsc::channel();
        self.queue(Queued::Pause(Pause { paused, resume }))?;
        wait.await.map_err(|_| gone())?;
        Ok(Paused { _resume: guard })
    }

    pub(super) async fn authorization(
        &self,
        device: &DeviceContact,
        nonce: &Nonce,
        now: u64,
        admission: &Admission,
    ) -> Result<Admitted, StorageError> {
        self.submit(|reply| Job::Authorization {
            device: device.clone(),
            nonce: *nonce,
            now,
            admission: admission.clone(),
            reply,
        })
        .await
    }

    pub(super) async fn reports(
        &self,
        batch: ReportBatch,
        charging: Arc<dyn Charging>,
        admission: Admission,
    ) -> Result<Recorded, StorageError> {
        self.submit(|reply| Job::Reports { batch, charging, admission, reply }).await
    }

    /// Lets the jobs already queued finish, then ends the thread and waits until its connection
    /// is closed. Jobs submitted afterwards fail.
    pub(super) async fn close(&self) {
        drop(self.jobs.lock().unwrap_or_else(PoisonError::into_inner).take());
        let ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(ended) = ended {
            // An error only says the thread ended; that is what is waited for.
            let _ = ended.await;
        }
    }
}

/// The writer thread: takes every job waiting (up to `MAX_GROUP`, up to a pause), runs them in
/// one transaction, commits it, and only then answers them; then holds a pause that stopped
/// the group. Ends when no sender is left.
fn write_groups(mut connection: Connection, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        let mut pause = None;
        while let Some(queued) = next.take() {
            match queued {
                Queued::Job(job) => jobs.push(job),
                Queued::Pause(held) => {
                    pause = Some(held);
                    break;
                }
            }
            if jobs.len() < MAX_GROUP {
                next = queue.try_recv().ok();
            }
        }
        if !jobs.is_empty() {
            // A panic (a bug) fails the group it hit: its transaction is rolled back as it
            // unwinds, its requesters are answered with an error as their jobs are dropped, and
            // the thread goes on with the next group rather than stop every write for good.
            let group = std::panic::AssertUnwindSafe(|| commit_group(&mut connection, jobs.drain(..)));
            if std::panic::catch_unwind(group).is_err() {
                tracing::error!("a group of writes panicked; none of it was stored");
                jobs.clear();
            }
        }
        if let Some(pause) = pause {
            pause.hold();
        }
    }
}

/// Runs `jobs` in one transaction, each in a savepoint, and answers each: its own result once
/// the commit succeeded, else the failure of the transaction (nothing of it was stored).
fn commit_group(connection: &mut Connection, jobs: impl Iterator<Item = Job>) {
    let mut jobs = jobs.peekable();
    let mut done = Vec::with_capacity(MAX_GROUP);
    let committed = (|| {
        // IMMEDIATE: the write lock from the start, so no statement of the group can meet it
        // taken (by a CLI command of another process) halfway and fail.
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
        for job in jobs.by_ref() {
            let (ran, broken) = job.run(&tx);
            done.push(ran);
            if let Some(cause) = broken {
                return Err(cause);
            }
        }
        tx.commit().map_err(|e| e.to_string())
    })();
    match committed {
        Ok(()) => done.into_iter().for_each(Done::answer),
        Err(cause) => {
            tracing::error!(%cause, requests = done.len(), "a group of writes failed; none of it was stored");
            done.into_iter().for_each(|ran| ran.fail(&cause));
            jobs.for_each(|job| job.failed(StorageError::Shared(cause.clone())).answer());
        }
    }
}

impl Job {
    /// Runs the job in the transaction `tx`, in a savepoint of its own, rolled back when the job
    /// failed or an authorization was refused: a refused authorization stores nothing (a report
    /// batch keeps its reports whatever its claim), and its neighbours in the
    /// transaction are not disturbed. The cause in the result when the transaction cannot be
    /// committed any more.
    fn run(self, tx: &Connection) -> (Done, Option<String>) {
        if let Err(error) = tx.execute_batch("SAVEPOINT job") {
            let cause = error.to_string();
            return (self.failed(error.into()), Some(cause));
        }
        let result = match &self {
            Job::Authorization { device, nonce, now, admission, .. } => {
                authorization(tx, device, nonce, *now, admission).map(|admitted| (admitted, Vec::new()))
            }
            Job::Reports { batch, charging, admission, .. } => reports(tx, batch, charging.as_ref(), admission),
        };
        let done = self.answered(result);
        let settled = tx.execute_batch(if done.keeps() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" });
        (done, settled.err().map(|e| e.to_string()))
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
            Job::Reports { reply, .. } => {
                Done::Reports(reply, result.map(|(admitted, usage)| Recorded { admitted, usage }))
            }
        }
    }
}

impl Done {
    /// Whether what the job wrote is kept: it succeeded, and, for an authorization, was not
    /// refused.
    fn keeps(&self) -> bool {
        match self {
            Done::Authorization(_, result) => result.as_ref().is_ok_and(|admitted| admitted.refusal().is_none()),
            Done::Reports(_, result) => result.is_ok(),
        }
    }

    /// Answers the job once its transaction is committed.
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

/// Stores a request's nonce as the first write of its job. A nonce seen before, by an earlier
/// job of the same transaction too, is a replay.
fn insert_nonce(tx: &Connection, nonce: &Nonce, now: u64) -> Result<(), StorageError> {
    let mut statement =
        tx.prepare_cached("INSERT INTO nonces (nonce, received_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING")?;
    match statement.execute(params![nonce.to_hyphenated(), to_db(now)?])? {
        0 => Err(StorageError::ReplayedNonce),
        _ => Ok(()),
    }
}

/// The writes of `Storage::record_authorization`.
fn authorization(
    tx: &Connection,
    device: &DeviceContact,
    nonce: &Nonce,
    now: u64,
    admission: &Admission,
) -> Result<Admitted, StorageError> {
    insert_nonce(tx, nonce, now)?;
    // Before the device is stored: a trial asks whether the server has seen it.
    let admitted = admit(tx, &device.device_id, &device.handshake_code, now, admission)?;
    if admitted.refusal().is_some() {
        // Rolled back to the job's savepoint: a refused request stores nothing.
        return Ok(admitted);
    }
    tx.prepare_cached(
        "INSERT INTO devices (device_id, handshake_code, domain, name, product, sdk_version, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (device_id, handshake_code) DO UPDATE SET
             domain = excluded.domain,
             name = COALESCE(excluded.name, devices.name),
             product = excluded.product,
             sdk_version = excluded.sdk_version,
             last_seen = MAX(devices.last_seen, excluded.last_seen)",
    )?
    .execute(params![
        device.device_id.to_hyphenated(),
        device.handshake_code,
        device.domain,
        device.name,
        device.product,
        device.sdk_version,
        to_db(now)?
    ])?;
    Ok(admitted)
}

/// The writes of `Storage::record_reports`: the batch's reports not stored before, charged
/// from the running totals, then its claims. The usage in the result has the batch counted.
fn reports(
    tx: &Connection,
    batch: &ReportBatch,
    charging: &dyn Charging,
    admission: &Admission,
) -> Result<(Admitted, Vec<UsageTotal>), StorageError> {
    let time = to_db(batch.received_at)?;
    insert_nonce(tx, &batch.nonce, batch.received_at)?;
    let device_id = batch.device_id.to_hyphenated();
    tx.prepare_cached(
        "UPDATE devices SET last_seen = MAX(last_seen, ?1) WHERE device_id = ?2 AND handshake_code = ?3",
    )?
    .execute(params![time, device_id, batch.handshake_code])?;
    // A report ID seen before (or listed twice here) was counted then: acknowledged, and
    // counted nothing again.
    let mut fresh: Vec<&UsageReport> = Vec::with_capacity(batch.reports.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO reports (report_id, device_id, handshake_code, received_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (report_id) DO NOTHING",
        )?;
        for report in &batch.reports {
            if insert.execute(params![report.report_id.to_hyphenated(), device_id, batch.handshake_code, time])? == 1 {
                fresh.push(report);
            }
        }
    }
    let license_ids = charging.license_ids();
    let before = usage_of(tx, &license_ids)?;
    let rows = crate::storage::charge(charging, &before, &fresh)?;
    insert_usage(tx, &rows)?;
    let admitted = admit(tx, &batch.device_id, &batch.handshake_code, batch.received_at, admission)?;
    Ok((admitted, with_rows(before, &rows, &license_ids)))
}

/// Stores usage rows and adds them to the running totals, inside the transaction that charged
/// them (which holds the write lock, so no other charge reads the totals in between).
fn insert_usage(tx: &Connection, rows: &[UsageRow]) -> Result<(), StorageError> {
    let mut usage = tx.prepare_cached(
        "INSERT INTO usage (report_id, license_id, slot, module, symbology, count) VALUES (?, ?, ?, ?, ?, ?)",
    )?;
    let mut total = tx.prepare_cached(
        "INSERT INTO usage_totals (license_id, kind, name, count) VALUES (?, ?, ?, ?)
         ON CONFLICT (license_id, kind, name) DO UPDATE SET count = usage_totals.count + excluded.count",
    )?;
    for row in rows {
        // Counts are at most u32::MAX each (the handlers refuse more), so no total overflows.
        let count = to_db(row.count)?;
        let (module, symbology) = usage_columns(&row.item);
        usage.execute(params![
            row.report_id.to_hyphenated(),
            row.license_id,
            to_db(row.slot)?,
            module,
            symbology,
            count
        ])?;
        let (kind, name) = usage_key(&row.item);
        total.execute(params![row.license_id, kind, name, count])?;
    }
    Ok(())
}

/// Takes what `admission` claims for `device`, inside the transaction of its contact (which
/// holds SQLite's write lock, so no other claim interleaves): reads the facts its claims need,
/// lets `Admission::decide` settle them, and writes what it took.
fn admit(
    tx: &Connection,
    device: &DeviceId,
    handshake_code: &str,
    now: u64,
    admission: &Admission,
) -> Result<Admitted, StorageError> {
    let device = device.to_hyphenated();
    let now_db = to_db(now)?;
    let mut facts = AdmissionFacts::default();
    if admission.trial.is_some() {
        facts.trial_ends_at = tx
            .prepare_cached("SELECT ends_at FROM trials WHERE device_id = ?")?
            .query_row([&device], |row| row.get(0))
            .optional()?;
    }
    // Whether the server has seen the device matters only to a trial the stored one does not settle.
    if admission.trial.as_ref().is_some_and(|claim| claim.decide(facts.trial_ends_at, now_db).is_none()) {
        facts.seen = tx
            .prepare_cached("SELECT 1 FROM devices WHERE device_id = ?")?
            .query_row([&device], |_| Ok(()))
            .optional()?
            .is_some();
    }
    if let Some(claim) = &admission.seat {
        let sql = format!(
            "SELECT license_id, device_id FROM seats WHERE held_until >= ? AND license_id IN ({})",
            placeholders(claim.pools.len())
        );
        let mut select = tx.prepare_cached(&sql)?;
        let values = std::iter::once(rusqlite::types::Value::Integer(now_db))
            .chain(claim.pools.iter().map(|pool| rusqlite::types::Value::Text(pool.license_id.clone())));
        facts.live_seats = select
            .query_map(params_from_iter(values), |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
    }
    if let Some(claim) = &admission.window {
        // Records of slots before the previous one are of no use to any decision; housekeeping
        // deletes them (here they would make two instances delete rows in different orders).
        let (in_slot, present): (i64, i64) = tx
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(device_id = ?), 0) FROM slot_contacts WHERE handshake_code = ? AND slot = ?",
            )?
            .query_row(params![device, handshake_code, to_db(claim.slot)?], |row| Ok((row.get(0)?, row.get(1)?)))?;
        (facts.in_slot, facts.in_slot_present) = (in_slot.max(0) as u64, present > 0);
    }
    let (admitted, takes) = admission.decide(&device, now_db, &facts);
    for take in takes {
        match take {
            Take::Trial { ends_at } => {
                tx.prepare_cached("INSERT INTO trials (device_id, started_at, ends_at) VALUES (?, ?, ?)")?
                    .execute(params![device, now_db, to_db(ends_at)?])?;
            }
            Take::Seat { license_id, held_until } => {
                tx.prepare_cached(
                    "INSERT INTO seats (license_id, device_id, held_until) VALUES (?1, ?2, ?3)
                     ON CONFLICT (license_id, device_id) DO UPDATE SET held_until = MAX(seats.held_until, excluded.held_until)",
                )?
                .execute(params![license_id, device, to_db(held_until)?])?;
            }
            Take::SlotPlace { slot } => {
                tx.prepare_cached("INSERT INTO slot_contacts (handshake_code, slot, device_id) VALUES (?, ?, ?)")?
                    .execute(params![handshake_code, to_db(slot)?, device])?;
            }
        }
    }
    Ok(admitted)
}
