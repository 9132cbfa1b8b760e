//! Plays a fleet: N devices, each authorizing once, then reporting the usage of S consecutive
//! 3-minute slots, one report per slot, in compressed time (the slots are the S closed slots
//! before now, sent as fast as the server answers, never waited for). It runs two phases, all
//! authorizations, then all reports slot after slot, so that each phase measures one route.
//!
//! The devices' cryptography runs in their browsers, not on the server's machine, so a phase's
//! clock holds only HTTP exchanges: every request of the phase is encoded and sealed before the
//! clock starts, posted C at a time while it runs, and every answer is opened and verified after
//! it stops, as the browser module does (the server's signature, the device, the echoed nonce,
//! the report IDs in the receipt). The reports are sealed after the authorizations are verified,
//! since they name the handshake code each authorization resolved. The load generator's CPU
//! time within the clock is measured, so that what it took of the machine can be stated.
//!
//! A post that gets no answer, a 5xx or a 429 is sealed again at once, with a fresh nonce and the
//! same report IDs, and posted again within the clock; a report whose receipt does not name it
//! goes again the same way in another timed round of its phase. Any other failure, a failed
//! verification included, fails the run. It does not decide whether the figures are good enough.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use licet_protocol::envelope::Route;
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::license::Module;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    Authorization, AuthorizeRequest, Receipt, Renewal, ReportsRequest, ReportsResponse, SlotUsage, UsageReport,
};
use rand_core::{OsRng, RngCore, TryRngCore};
use serde::Serialize;

use crate::client::{Failure, Sealed};
use crate::totals::Totals;
use crate::{FleetError, Target};

/// The size and shape of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub devices: usize,
    /// Slots each device reports, one report each.
    pub slots: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Attempts per request before the run gives up.
    pub max_attempts: u32,
}

/// The figures of one phase.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    /// Requests answered with 200 within the clock; each answer is verified after it stops
    /// (unless the target is the bare baseline).
    pub requests: u64,
    /// The time on the clock: from the first post to the last answer, over the phase's rounds.
    pub seconds: f64,
    pub per_second: f64,
    /// Round trips of the answered requests, nearest rank, in milliseconds.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The rate over the first and the last tenth of the phase's requests: a server whose
    /// cost grows with what it stores slows down within one run.
    pub first_tenth_per_second: f64,
    pub last_tenth_per_second: f64,
    /// The load generator's own CPU time (user and system, all its threads) while the clock
    /// ran: what it took of the machine the server was measured on.
    pub fleet_cpu_seconds: f64,
    /// Wall time outside the clock: encoding and sealing the requests before it, opening and
    /// verifying the answers after it.
    pub prepare_seconds: f64,
    pub verify_seconds: f64,
}

/// What a run did and what its devices recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub authorize: Phase,
    pub reports: Phase,
    /// Attempts that failed in a way a retry may cure, and were retried.
    pub retries: u64,
    /// Authorization states granted (authorizations and renewals), e.g. `valid`.
    pub states: BTreeMap<String, u64>,
    /// Renewals the server refused while acknowledging the reports, by code.
    pub refused_renewals: BTreeMap<String, u64>,
    /// What the devices recorded and the server acknowledged.
    pub recorded: Totals,
}

/// What a phase, or one worker of it, saw and spent.
#[derive(Default)]
struct Tally {
    round_trips_us: Vec<u64>,
    /// When each answered request completed, on the phase's clock.
    done_at_us: Vec<u64>,
    retries: u64,
    states: BTreeMap<String, u64>,
    refused_renewals: BTreeMap<String, u64>,
    recorded: Totals,
    /// The time on the clock, and the load generator's CPU time within it.
    timed: Duration,
    cpu: Duration,
    /// Wall time sealing before the clock, and opening and verifying after it.
    prepare: Duration,
    verify: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.round_trips_us.extend(other.round_trips_us);
        self.done_at_us.extend(other.done_at_us);
        self.retries += other.retries;
        for (state, n) in other.states {
            *self.states.entry(state).or_default() += n;
        }
        for (code, n) in other.refused_renewals {
            *self.refused_renewals.entry(code).or_default() += n;
        }
        self.recorded.merge(&other.recorded);
        self.timed += other.timed;
        self.cpu += other.cpu;
        self.prepare += other.prepare;
        self.verify += other.verify;
    }

    fn granted(&mut self, authorization: &Authorization) {
        *self.states.entry(authorization.state.as_str().to_owned()).or_default() += 1;
    }

    fn phase(&mut self) -> Phase {
        let done = &mut self.done_at_us;
        done.sort_unstable();
        let tenth = done.len() / 10;
        let rate = |from: u64, to: u64| if to > from { tenth as f64 * 1e6 / (to - from) as f64 } else { 0.0 };
        let (first_tenth_per_second, last_tenth_per_second) = match tenth {
            0 => (0.0, 0.0),
            _ => (rate(0, done[tenth - 1]), rate(done[done.len() - tenth - 1], done[done.len() - 1])),
        };
        let sorted = &mut self.round_trips_us;
        sorted.sort_unstable();
        // Nearest rank: the smallest sample with at least p% of the samples at or below it.
        let rank = |p: f64| {
            let at = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted.get(at.saturating_sub(1)).map_or(0.0, |&us| us as f64 / 1000.0)
        };
        let requests = sorted.len() as u64;
        let seconds = self.timed.as_secs_f64();
        Phase {
            requests,
            seconds,
            per_second: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: sorted.last().map_or(0.0, |&us| us as f64 / 1000.0),
            first_tenth_per_second,
            last_tenth_per_second,
            fleet_cpu_seconds: self.cpu.as_secs_f64(),
            prepare_seconds: self.prepare.as_secs_f64(),
            verify_seconds: self.verify.as_secs_f64(),
        }
    }
}

fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    OsRng.unwrap_err().fill_bytes(&mut bytes);
    bytes
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The CPU time this process has used so far, user and system, over all its threads.
fn cpu_time() -> Duration {
    // SAFETY: `rusage` is plain integers, so all zeroes is a valid value, and getrusage writes
    // at most one `rusage` through the pointer it is given. It fails only for a bad `who` or
    // pointer, neither of which this call can pass; the value would then stay zero.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Some usage of one slot: at least one core page, so every report is stored and charged.
fn usage(slot: u64) -> SlotUsage {
    let r = OsRng.unwrap_err().next_u64();
    let part = |shift: u32, modulo: u64| (r >> shift) % modulo;
    let pages = [(Module::Core, 1 + part(0, 4)), (Module::Ocr, part(8, 3)), (Module::Webcam, part(16, 2))];
    let scans = [("QR_CODE", part(24, 6)), ("EAN_13", part(32, 3))];
    SlotUsage {
        slot,
        pages: pages.into_iter().filter(|(_, n)| *n > 0).collect(),
        scans: scans.into_iter().filter(|(_, n)| *n > 0).map(|(name, n)| (name.to_owned(), n)).collect(),
    }
}

/// A request a device sends, for one route. Another attempt sends the same content with a
/// fresh nonce: the server refuses a nonce it has seen, and a receipt must echo this attempt's.
trait Message: Serialize + Send + 'static {
    const ROUTE: Route;
    fn fresh_nonce(&mut self);
}

impl Message for AuthorizeRequest {
    const ROUTE: Route = Route::Authorize;
    fn fresh_nonce(&mut self) {
        self.nonce = Nonce(random16());
        self.client_time = now_ms();
    }
}

impl Message for ReportsRequest {
    const ROUTE: Route = Route::Reports;
    fn fresh_nonce(&mut self) {
        self.nonce = Nonce(random16());
        self.client_time = now_ms();
    }
}

/// One request of a phase, sealed before the phase's clock starts: the message (what its
/// answer must name), and the sealed body with the key that opens that answer.
struct Job<M> {
    /// Its place among the phase's requests; for an authorization, the device's.
    index: usize,
    message: M,
    sealed: Sealed,
    /// Attempts made so far, over all rounds.
    attempts: u32,
}

impl<M: Message> Job<M> {
    fn seal(target: &Target, index: usize, message: M) -> Result<Job<M>, FleetError> {
        let sealed = target.seal(M::ROUTE, &message)?;
        Ok(Job { index, message, sealed, attempts: 0 })
    }

    /// Readies another attempt after a failure a retry may cure (`last` says which): the same
    /// content with a fresh nonce, sealed anew; gives up once the attempts have run out.
    fn again(&mut self, target: &Target, last: String, max_attempts: u32, tally: &mut Tally) -> Result<(), FleetError> {
        if self.attempts >= max_attempts {
            return Err(FleetError::GaveUp { route: M::ROUTE.path(), attempts: self.attempts, last });
        }
        tally.retries += 1;
        self.message.fresh_nonce();
        self.sealed = target.seal(M::ROUTE, &self.message)?;
        Ok(())
    }
}

/// What the verification of one answer found.
#[derive(Debug, PartialEq)]
enum Verdict {
    Verified,
    /// The device keeps the request and sends it again, for this reason.
    Again(String),
}

/// Posts a job until it is answered with 200, a failure is fatal, or its attempts run out.
/// Another attempt is sealed at once, within the clock (retries are rare), and waits a little
/// longer after each failure so that a struggling server is not hammered.
async fn post<M: Message>(
    target: &Target,
    job: &mut Job<M>,
    max_attempts: u32,
    tally: &mut Tally,
) -> Result<Bytes, FleetError> {
    loop {
        job.attempts += 1;
        match target.post(M::ROUTE, job.sealed.body.clone()).await {
            Ok(answer) => {
                tally.round_trips_us.push(answer.round_trip.as_micros() as u64);
                return Ok(answer.body);
            }
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Retry(last)) => {
                job.again(target, last, max_attempts, tally)?;
                tokio::time::sleep(Duration::from_millis(10 << job.attempts.min(7))).await;
            }
        }
    }
}

/// One timed round: posts every job, `concurrency` at a time in the order given, and holds each
/// answer unopened. The clock runs from the first post to the last answer; the load generator's
/// CPU time is taken at both ends. Returns the jobs with their answers, in no set order.
async fn round<M: Message>(
    target: &Target,
    plan: &Plan,
    jobs: Vec<Job<M>>,
    tally: &mut Tally,
) -> Result<Vec<(Job<M>, Bytes)>, FleetError> {
    let queue = Arc::new(Mutex::new(jobs.into_iter()));
    // Completion times run on from the phase's earlier rounds.
    let offset = tally.timed;
    let cpu = cpu_time();
    let start = Instant::now();
    let workers: Vec<_> = (0..plan.concurrency.max(1))
        .map(|_| {
            let (target, queue, max_attempts) = (target.clone(), queue.clone(), plan.max_attempts);
            tokio::spawn(async move {
                let mut seen = Tally::default();
                let mut answered = Vec::new();
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some(mut job) = next else { return Ok((answered, seen)) };
                    match post(&target, &mut job, max_attempts, &mut seen).await {
                        Ok(body) => {
                            seen.done_at_us.push((offset + start.elapsed()).as_micros() as u64);
                            answered.push((job, body));
                        }
                        Err(error) => {
                            // Stop handing out jobs; the other workers finish the one they hold.
                            *queue.lock().unwrap_or_else(PoisonError::into_inner) = Vec::new().into_iter();
                            return Err(error);
                        }
                    }
                }
            })
        })
        .collect();
    let mut answered = Vec::new();
    let mut first_error = None;
    for worker in workers {
        match worker.await? {
            Ok((theirs, seen)) => {
                answered.extend(theirs);
                tally.merge(seen);
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    tally.timed += start.elapsed();
    tally.cpu += cpu_time().saturating_sub(cpu);
    match first_error {
        Some(error) => Err(error),
        None => Ok(answered),
    }
}

/// Plays one phase of sealed `jobs`: posts them in a timed round, then, with the clock
/// stopped, opens and verifies each answer with `check`, which also counts what a verified
/// answer grants and records. The jobs `check` wants sent again go in another timed round.
async fn phase<M: Message>(
    target: &Target,
    plan: &Plan,
    mut jobs: Vec<Job<M>>,
    tally: &mut Tally,
    mut check: impl FnMut(&Job<M>, &[u8], &mut Tally) -> Result<Verdict, FleetError>,
) -> Result<(), FleetError> {
    while !jobs.is_empty() {
        let answered = round(target, plan, jobs, tally).await?;
        let verifying = Instant::now();
        jobs = Vec::new();
        for (mut job, body) in answered {
            if let Verdict::Again(reason) = check(&job, &body, tally)? {
                job.again(target, reason, plan.max_attempts, tally)?;
                jobs.push(job);
            }
        }
        tally.verify += verifying.elapsed();
    }
    Ok(())
}

fn bad_answer(route: Route, reason: &str) -> FleetError {
    FleetError::BadAnswer { route: route.path(), reason: reason.to_owned() }
}

/// Checks a signed authorization: the server's signature, the device, the nonce.
fn verified_authorization(
    target: &Target,
    route: Route,
    signed: &Signed,
    device: DeviceId,
    nonce: Nonce,
) -> Result<Authorization, FleetError> {
    let authorization: Authorization = target.verify_signed(route, signed)?;
    if authorization.device_id != device || authorization.nonce != nonce {
        return Err(bad_answer(route, "the authorization names another device or nonce"));
    }
    Ok(authorization)
}

/// Opens and verifies the answer to an authorization; returns it.
fn check_authorization(
    target: &Target,
    job: &Job<AuthorizeRequest>,
    body: &[u8],
    tally: &mut Tally,
) -> Result<Authorization, FleetError> {
    let route = Route::Authorize;
    let signed: Signed = target.open(route, &job.sealed.key, body)?;
    let authorization = verified_authorization(target, route, &signed, job.message.device_id, job.message.nonce)?;
    tally.granted(&authorization);
    Ok(authorization)
}

/// Opens and verifies the answer to a report, when the target is verified: the receipt's
/// signature, device and nonce, that it names every report sent (else they go again), and the
/// renewal like an authorization. Records the usage of the reports acknowledged.
fn check_report(
    target: &Target,
    job: &Job<ReportsRequest>,
    body: &[u8],
    tally: &mut Tally,
) -> Result<Verdict, FleetError> {
    let route = Route::Reports;
    let request = &job.message;
    if target.verifies() {
        let answer: ReportsResponse = target.open(route, &job.sealed.key, body)?;
        let receipt: Receipt = target.verify_signed(route, &answer.receipt)?;
        if receipt.device_id != request.device_id || receipt.nonce != request.nonce {
            return Err(bad_answer(route, "the receipt names another device or nonce"));
        }
        if !request.reports.iter().all(|report| receipt.accepted.contains(&report.report_id)) {
            // Not acknowledged: the device keeps the report and sends it again.
            return Ok(Verdict::Again("the receipt does not name the report".to_owned()));
        }
        match answer.renewal {
            Renewal::Renewed(signed) => {
                tally.granted(&verified_authorization(target, route, &signed, request.device_id, request.nonce)?)
            }
            Renewal::Refused(code) => *tally.refused_renewals.entry(code).or_default() += 1,
        }
    }
    for slot in request.reports.iter().flat_map(|report| &report.slots) {
        tally.recorded.add_slot(slot);
    }
    Ok(Verdict::Verified)
}

/// Plays the fleet of `plan` against `target`.
pub async fn run(target: &Target, plan: &Plan) -> Result<Outcome, FleetError> {
    let devices: Vec<DeviceId> = (0..plan.devices).map(|_| DeviceId::from_random(random16())).collect();

    let mut authorize = Tally::default();
    let sealing = Instant::now();
    let jobs = devices
        .iter()
        .enumerate()
        .map(|(index, &device)| {
            let request = AuthorizeRequest {
                device_id: device,
                organization_id: target.organization_id().map(str::to_owned),
                handshake_code: target.handshake_code().map(str::to_owned),
                session_password: None,
                product: String::new(),
                sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
                domain: target.domain().to_owned(),
                device_name: Some(format!("licet-fleet device {index}")),
                nonce: Nonce(random16()),
                client_time: now_ms(),
            };
            Job::seal(target, index, request)
        })
        .collect::<Result<Vec<_>, _>>()?;
    authorize.prepare = sealing.elapsed();
    // The handshake code each device's authorization resolved; the key's, against the baseline.
    let mut codes = vec![target.handshake_code().unwrap_or_default().to_owned(); devices.len()];
    phase(target, plan, jobs, &mut authorize, |job, body, tally| {
        if target.verifies() {
            codes[job.index] = check_authorization(target, job, body, tally)?.handshake_code;
        }
        Ok(Verdict::Verified)
    })
    .await?;

    // Sealed only now: each report names the handshake code its device's authorization resolved.
    let mut reports = Tally::default();
    let sealing = Instant::now();
    // The S closed slots before the current one, oldest first.
    let first_slot = licet_protocol::slot_of(now_ms()).saturating_sub(plan.slots);
    let count = devices.len().saturating_mul(plan.slots as usize);
    let jobs = (0..count)
        .map(|job| {
            // Slot after slot: every device reports a slot before any reports the next.
            let (slot, index) = (first_slot + (job / devices.len()) as u64, job % devices.len());
            let request = ReportsRequest {
                device_id: devices[index],
                handshake_code: codes[index].clone(),
                domain: target.domain().to_owned(),
                reports: vec![UsageReport { report_id: ReportId(random16()), slots: vec![usage(slot)] }],
                nonce: Nonce(random16()),
                client_time: now_ms(),
            };
            Job::seal(target, job, request)
        })
        .collect::<Result<Vec<_>, _>>()?;
    reports.prepare = sealing.elapsed();
    phase(target, plan, jobs, &mut reports, |job, body, tally| check_report(target, job, body, tally)).await?;

    let mut states = std::mem::take(&mut authorize.states);
    for (state, n) in std::mem::take(&mut reports.states) {
        *states.entry(state).or_default() += n;
    }
    Ok(Outcome {
        authorize: authorize.phase(),
        reports: reports.phase(),
        retries: authorize.retries + reports.retries,
        states,
        refused_renewals: std::mem::take(&mut reports.refused_renewals),
        recorded: std::mem::take(&mut reports.recorded),
    })
}

#[cfg(test)]
mod tests {
    use licet_protocol::envelope;
    use licet_protocol::keys::ServerKeys;
    use licet_protocol::license_key::LicenseKey;
    use licet_protocol::wire::{self, SealedRequest};

    use super::*;
    use crate::TargetOptions;

    #[test]
    fn a_phase_reports_nearest_rank_percentiles_and_the_rate_of_its_first_and_last_tenth() {
        // 100 requests: round trips of 1..=100 ms; the first 90 done within 0.9 s, the last 10 within 2 s more.
        let mut tally = Tally {
            round_trips_us: (1..=100).rev().map(|ms| ms * 1000).collect(),
            done_at_us: (1..=90).map(|i| i * 10_000).chain((1..=10).map(|i| 900_000 + i * 200_000)).collect(),
            timed: Duration::from_secs(4),
            cpu: Duration::from_millis(1500),
            ..Tally::default()
        };
        let phase = tally.phase();
        assert_eq!((phase.requests, phase.per_second, phase.fleet_cpu_seconds), (100, 25.0, 1.5));
        assert_eq!((phase.p50_ms, phase.p99_ms, phase.max_ms), (50.0, 99.0, 100.0));
        // 10 requests in the first 0.1 s; the last 10 between 0.9 s and 2.9 s.
        assert_eq!((phase.first_tenth_per_second, phase.last_tenth_per_second), (100.0, 5.0));
    }

    /// A verifying target for a server whose secret keys the test holds; nothing listens.
    fn target() -> (Target, ServerKeys) {
        let keys = ServerKeys::generate(&mut OsRng.unwrap_err());
        let key = LicenseKey::new(vec!["http://127.0.0.1:9".into()], None, Some("fleet-test".into()), &keys.public())
            .encode();
        let options =
            TargetOptions { key, server: None, domain: "fleet.example.com".into(), verify: true, connections: 1 };
        (Target::new(&options).unwrap(), keys)
    }

    fn report_job(target: &Target) -> Job<ReportsRequest> {
        let request = ReportsRequest {
            device_id: DeviceId::from_random(random16()),
            handshake_code: "fleet-test".into(),
            domain: "fleet.example.com".into(),
            reports: vec![UsageReport { report_id: ReportId(random16()), slots: vec![usage(7)] }],
            nonce: Nonce(random16()),
            client_time: 0,
        };
        Job::seal(target, 0, request).unwrap()
    }

    /// What the server reads of a sealed job, and the key it answers with.
    fn server_opens(keys: &ServerKeys, job: &Job<ReportsRequest>) -> (ReportsRequest, envelope::ResponseKey) {
        let sealed: SealedRequest = serde_json::from_slice(&job.sealed.body).unwrap();
        let (plain, key) = envelope::open_request(&keys.hpke, Route::Reports, &sealed).unwrap();
        (wire::decode(&plain).unwrap(), key)
    }

    /// The server's answer to `job`: a receipt for `accepted` echoing `nonce`, renewal refused.
    fn answer(keys: &ServerKeys, job: &Job<ReportsRequest>, accepted: Vec<ReportId>, nonce: Nonce) -> Vec<u8> {
        let (request, key) = server_opens(keys, job);
        let receipt = Receipt { device_id: request.device_id, accepted, server_time: 0, nonce };
        let response = ReportsResponse {
            receipt: Signed::sign(&keys.signing, &receipt),
            renewal: Renewal::Refused("QUOTA_EXHAUSTED".into()),
        };
        serde_json::to_vec(&envelope::seal_response(&key, &wire::encode(&response))).unwrap()
    }

    #[test]
    fn a_report_is_recorded_only_once_its_answer_verifies_after_the_clock() {
        let (target, keys) = target();
        let job = report_job(&target);
        let (id, nonce) = (job.message.reports[0].report_id, job.message.nonce);
        // What was sealed before the clock is the message the answer is checked against.
        assert_eq!(server_opens(&keys, &job).0, job.message);

        let mut tally = Tally::default();
        assert_eq!(
            check_report(&target, &job, &answer(&keys, &job, vec![id], nonce), &mut tally).unwrap(),
            Verdict::Verified
        );
        let mut recorded = Totals::default();
        recorded.add_slot(&job.message.reports[0].slots[0]);
        assert_eq!(tally.recorded, recorded);
        assert_eq!(tally.refused_renewals, BTreeMap::from([("QUOTA_EXHAUSTED".to_owned(), 1)]));

        // A receipt that does not name the report: the device sends it again, nothing is recorded.
        let mut tally = Tally::default();
        let verdict =
            check_report(&target, &job, &answer(&keys, &job, vec![ReportId(random16())], nonce), &mut tally).unwrap();
        assert_eq!(verdict, Verdict::Again("the receipt does not name the report".into()));
        assert_eq!(tally.recorded, Totals::default());

        // A receipt for another nonce, or an answer sealed to another request, fails the run.
        let stale = check_report(&target, &job, &answer(&keys, &job, vec![id], Nonce(random16())), &mut tally);
        assert!(
            matches!(stale, Err(FleetError::BadAnswer { reason, .. }) if reason.contains("another device or nonce"))
        );
        let other = report_job(&target);
        let crossed = check_report(&target, &job, &answer(&keys, &other, vec![id], nonce), &mut tally);
        assert!(matches!(crossed, Err(FleetError::BadAnswer { .. })));
        assert_eq!(tally.recorded, Totals::default());
    }

    #[test]
    fn another_attempt_sends_the_same_reports_with_a_fresh_nonce_until_the_attempts_run_out() {
        let (target, keys) = target();
        let mut job = report_job(&target);
        let first = job.message.clone();
        job.attempts = 2;
        let mut tally = Tally::default();
        job.again(&target, "503".into(), 3, &mut tally).unwrap();
        assert_eq!(tally.retries, 1);
        assert_ne!(job.message.nonce, first.nonce);
        assert_eq!(job.message.reports, first.reports);
        // Sealed anew: the body carries the fresh nonce, and only the new key opens its answer.
        assert_eq!(server_opens(&keys, &job).0, job.message);
        let nonce = job.message.nonce;
        let body = answer(&keys, &job, vec![first.reports[0].report_id], nonce);
        assert_eq!(check_report(&target, &job, &body, &mut tally).unwrap(), Verdict::Verified);

        job.attempts = 3;
        let Err(FleetError::GaveUp { attempts: 3, last, .. }) = job.again(&target, "503".into(), 3, &mut tally) else {
            panic!("another attempt past the limit")
        };
        assert_eq!((last.as_str(), tally.retries), ("503", 1));
    }

    #[test]
    fn the_cpu_clock_counts_the_work_of_this_process() {
        let (before, started) = (cpu_time(), Instant::now());
        // Spin until 20 ms of CPU time show, which a clock that does not count never does.
        let mut spins = 0u64;
        while cpu_time().saturating_sub(before) < Duration::from_millis(20)
            && started.elapsed() < Duration::from_secs(10)
        {
            spins = std::hint::black_box(spins + 1);
        }
        assert!(cpu_time().saturating_sub(before) >= Duration::from_millis(20), "after {spins} spins");
    }
}
