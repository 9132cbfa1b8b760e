//! Plays a fleet: N devices, each authorizing once, then reporting the usage of S consecutive
//! 3-minute slots, one report per slot, in compressed time (the slots are the S closed slots
//! before now, sent as fast as the server answers, never waited for). Requests run C at a time
//! in two timed phases, all authorizations, then all reports slot after slot, so that each
//! phase measures one route. Every answer is opened and verified as the browser module does:
//! the server's signature, the device, the echoed nonce, and the report ID in the receipt.
//! A failed request is sent again (fresh nonce, same report ID) until it is acknowledged or
//! its attempts run out. It does not decide whether the figures are good enough.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use licet_protocol::envelope::Route;
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::license::Module;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{Authorization, AuthorizeRequest, Receipt, Renewal, ReportsRequest, ReportsResponse, SlotUsage, UsageReport};
use rand_core::{OsRng, RngCore, TryRngCore};
use serde::Serialize;

use crate::client::{Exchange, Failure};
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
    /// Requests answered with 200 (and, when verifying, a verified answer).
    pub requests: u64,
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

/// What one worker saw.
#[derive(Default)]
struct Tally {
    round_trips_us: Vec<u64>,
    /// When each answered request completed, from the start of the phase.
    done_at_us: Vec<u64>,
    retries: u64,
    states: BTreeMap<String, u64>,
    refused_renewals: BTreeMap<String, u64>,
    recorded: Totals,
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
    }

    fn granted(&mut self, authorization: &Authorization) {
        *self.states.entry(authorization.state.as_str().to_owned()).or_default() += 1;
    }

    fn answered(&mut self, exchange: &Exchange, start: Instant) {
        self.round_trips_us.push(exchange.round_trip.as_micros() as u64);
        self.done_at_us.push(start.elapsed().as_micros() as u64);
    }

    fn phase(&mut self, elapsed: Duration) -> Phase {
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
        let seconds = elapsed.as_secs_f64();
        Phase {
            requests,
            seconds,
            per_second: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: sorted.last().map_or(0.0, |&us| us as f64 / 1000.0),
            first_tenth_per_second,
            last_tenth_per_second,
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

/// Runs `attempt` until it succeeds, a failure is fatal, or the attempts run out; waits a little
/// longer after each failure so that a struggling server is not hammered.
async fn with_retries<T, Fut>(
    route: Route,
    max_attempts: u32,
    tally: &mut Tally,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, FleetError>
where
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Retry(last)) if attempts >= max_attempts => {
                return Err(FleetError::GaveUp { route: route.path(), attempts, last })
            }
            Err(Failure::Retry(_)) => {
                tally.retries += 1;
                tokio::time::sleep(Duration::from_millis(10 << attempts.min(7))).await;
            }
        }
    }
}

fn bad_answer(route: Route, reason: &str) -> Failure {
    Failure::Fatal(FleetError::BadAnswer { route: route.path(), reason: reason.to_owned() })
}

/// Checks a signed authorization: the server's signature, the device, the nonce.
fn verified_authorization(target: &Target, route: Route, signed: &Signed, device: DeviceId, nonce: Nonce) -> Result<Authorization, Failure> {
    let authorization: Authorization = target.verify_signed(route, signed)?;
    if authorization.device_id != device || authorization.nonce != nonce {
        return Err(bad_answer(route, "the authorization names another device or nonce"));
    }
    Ok(authorization)
}

/// Authorizes one device; returns the round trip and the handshake code the server resolved.
async fn authorize(target: &Target, device: DeviceId, index: usize) -> Result<(Exchange, Option<Authorization>), Failure> {
    let route = Route::Authorize;
    let nonce = Nonce(random16());
    let request = AuthorizeRequest {
        device_id: device,
        organization_id: target.organization_id().map(str::to_owned),
        handshake_code: target.handshake_code().map(str::to_owned),
        session_password: None,
        product: String::new(),
        sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
        domain: target.domain().to_owned(),
        device_name: Some(format!("licet-fleet device {index}")),
        nonce,
        client_time: now_ms(),
    };
    let exchange = target.post(route, &request).await?;
    if !target.verifies() {
        return Ok((exchange, None));
    }
    let signed: Signed = target.open(route, &exchange)?;
    let authorization = verified_authorization(target, route, &signed, device, nonce)?;
    Ok((exchange, Some(authorization)))
}

/// Sends one report; returns the exchange and the verified renewal, if any.
async fn report(
    target: &Target,
    device: DeviceId,
    handshake_code: &str,
    report: &UsageReport,
) -> Result<(Exchange, Option<Result<Authorization, String>>), Failure> {
    let route = Route::Reports;
    let nonce = Nonce(random16());
    let request = ReportsRequest {
        device_id: device,
        handshake_code: handshake_code.to_owned(),
        domain: target.domain().to_owned(),
        reports: vec![report.clone()],
        nonce,
        client_time: now_ms(),
    };
    let exchange = target.post(route, &request).await?;
    if !target.verifies() {
        return Ok((exchange, None));
    }
    let answer: ReportsResponse = target.open(route, &exchange)?;
    let receipt: Receipt = target.verify_signed(route, &answer.receipt)?;
    if receipt.device_id != device || receipt.nonce != nonce {
        return Err(bad_answer(route, "the receipt names another device or nonce"));
    }
    if !receipt.accepted.contains(&report.report_id) {
        // Not acknowledged: the device keeps the report and sends it again.
        return Err(Failure::Retry("the receipt does not name the report".to_owned()));
    }
    let renewal = match answer.renewal {
        Renewal::Renewed(signed) => Ok(verified_authorization(target, route, &signed, device, nonce)?),
        Renewal::Refused(code) => Err(code),
    };
    Ok((exchange, Some(renewal)))
}

/// Runs `worker` on `concurrency` tasks that share one job counter; merges what they saw.
async fn phase<W, Fut>(concurrency: usize, worker: W) -> Result<(Tally, Duration), FleetError>
where
    W: Fn(Arc<AtomicUsize>, Instant) -> Fut,
    Fut: Future<Output = Result<Tally, FleetError>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency.max(1)).map(|_| tokio::spawn(worker(next.clone(), start))).collect();
    let mut tally = Tally::default();
    let mut first_error = None;
    for task in tasks {
        match task.await? {
            Ok(seen) => tally.merge(seen),
            Err(error) => {
                // Stop handing out jobs; the other workers finish the one they hold.
                next.store(usize::MAX / 2, Ordering::SeqCst);
                first_error.get_or_insert(error);
            }
        }
    }
    let elapsed = start.elapsed();
    match first_error {
        Some(error) => Err(error),
        None => Ok((tally, elapsed)),
    }
}

/// Plays the fleet of `plan` against `target`.
pub async fn run(target: &Target, plan: &Plan) -> Result<Outcome, FleetError> {
    let devices: Arc<Vec<DeviceId>> = Arc::new((0..plan.devices).map(|_| DeviceId::from_random(random16())).collect());
    // The handshake code each device's authorization named; the key's, against the baseline.
    let fallback_code = target.handshake_code().unwrap_or_default().to_owned();
    let codes: Arc<Vec<std::sync::OnceLock<String>>> = Arc::new((0..plan.devices).map(|_| std::sync::OnceLock::new()).collect());

    let (mut authorize_tally, authorize_time) = phase(plan.concurrency, |next, start| {
        let (target, devices, codes, max_attempts) = (target.clone(), devices.clone(), codes.clone(), plan.max_attempts);
        let fallback_code = fallback_code.clone();
        async move {
            let mut tally = Tally::default();
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(&device) = devices.get(index) else { return Ok(tally) };
                let (exchange, authorization) =
                    with_retries(Route::Authorize, max_attempts, &mut tally, || authorize(&target, device, index)).await?;
                tally.answered(&exchange, start);
                let code = match authorization {
                    Some(authorization) => {
                        tally.granted(&authorization);
                        authorization.handshake_code
                    }
                    None => fallback_code.clone(),
                };
                // Each index is taken by one worker once: the cell is empty.
                let _ = codes[index].set(code);
            }
        }
    })
    .await?;

    // The S closed slots before the current one, oldest first.
    let first_slot = licet_protocol::slot_of(now_ms()).saturating_sub(plan.slots);
    let jobs = plan.devices.saturating_mul(plan.slots as usize);
    let (mut reports_tally, reports_time) = phase(plan.concurrency, |next, start| {
        let (target, devices, codes, max_attempts) = (target.clone(), devices.clone(), codes.clone(), plan.max_attempts);
        async move {
            let mut tally = Tally::default();
            loop {
                let job = next.fetch_add(1, Ordering::SeqCst);
                if job >= jobs {
                    return Ok(tally);
                }
                // Slot after slot: every device reports a slot before any reports the next.
                let (slot, index) = (first_slot + (job / devices.len()) as u64, job % devices.len());
                let device = devices[index];
                let code = codes[index].get().map_or("", String::as_str);
                let sent = UsageReport { report_id: ReportId(random16()), slots: vec![usage(slot)] };
                let (exchange, renewal) =
                    with_retries(Route::Reports, max_attempts, &mut tally, || report(&target, device, code, &sent)).await?;
                tally.answered(&exchange, start);
                for slot in &sent.slots {
                    tally.recorded.add_slot(slot);
                }
                match renewal {
                    Some(Ok(authorization)) => tally.granted(&authorization),
                    Some(Err(code)) => *tally.refused_renewals.entry(code).or_default() += 1,
                    None => {}
                }
            }
        }
    })
    .await?;

    let mut states = std::mem::take(&mut authorize_tally.states);
    for (state, n) in std::mem::take(&mut reports_tally.states) {
        *states.entry(state).or_default() += n;
    }
    Ok(Outcome {
        authorize: authorize_tally.phase(authorize_time),
        reports: reports_tally.phase(reports_time),
        retries: authorize_tally.retries + reports_tally.retries,
        states,
        refused_renewals: reports_tally.refused_renewals,
        recorded: reports_tally.recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_reports_nearest_rank_percentiles_and_the_rate_of_its_first_and_last_tenth() {
        // 100 requests: round trips of 1..=100 ms; the first 90 done within 0.9 s, the last 10 within 2 s more.
        let mut tally = Tally {
            round_trips_us: (1..=100).rev().map(|ms| ms * 1000).collect(),
            done_at_us: (1..=90).map(|i| i * 10_000).chain((1..=10).map(|i| 900_000 + i * 200_000)).collect(),
            ..Tally::default()
        };
        let phase = tally.phase(Duration::from_secs(4));
        assert_eq!((phase.requests, phase.per_second), (100, 25.0));
        assert_eq!((phase.p50_ms, phase.p99_ms, phase.max_ms), (50.0, 99.0, 100.0));
        // 10 requests in the first 0.1 s; the last 10 between 0.9 s and 2.9 s.
        assert_eq!((phase.first_tenth_per_second, phase.last_tenth_per_second), (100.0, 5.0));
    }
}
