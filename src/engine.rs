//! The engine drives the core over the ports: it reads the clock, draws randomness, stores and
//! sends. It holds the one verified authorization of this page and the state `status()` shows.
//! It runs unchanged against the browser adapters and against the in-memory twins. Counts wait
//! in memory only until the next `persist`, which the page calls about every second, when it is
//! hidden, and before every flush; `count_pages` persists before it returns.

use std::cell::RefCell;

use licet_protocol::envelope::Route;
use licet_protocol::ids::{DeviceId, ReportId};
use licet_protocol::license::Module;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{self, Authorization, SealedRequest, SealedResponse, UsageReport};
use licet_protocol::ErrorCode;
use rand_core::{OsRng, RngCore, TryRngCore, UnwrapErr};

use crate::core::clock::{Agreement, Reading, TimeGuard};
use crate::core::error::LicetError;
use crate::core::failover::{self, Failover};
use crate::core::ledger::{self, OutboxReport, Tally, UsageItem};
use crate::core::session::{self, AuthorizeParams, Pending, Renewal, Target};
use crate::core::status::{self, Status};
use crate::ports::{Clock, Store, Transport};

/// The platform CSPRNG.
pub(crate) fn rng() -> UnwrapErr<OsRng> {
    OsRng.unwrap_err()
}

/// 16 bytes from the platform CSPRNG.
pub(crate) fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rng().fill_bytes(&mut bytes);
    bytes
}

/// This origin's device ID: the stored one, or a new random UUID v4 stored now.
pub async fn device_id(store: &impl Store) -> Result<DeviceId, LicetError> {
    store.device_id(DeviceId::from_random(random16())).await
}

/// The most reports one request carries, so a long offline period never makes a request too
/// large for the server (each is well under 100 bytes).
const REPORTS_PER_REQUEST: usize = 256;

/// The authorization this page works under, verified, and the signed form it is cached in:
/// kept together so that they cannot part.
struct Held {
    signed: Signed,
    authorization: Authorization,
}

#[derive(Default)]
struct State {
    held: Option<Held>,
    last_error: Option<ErrorCode>,
    /// `CLOCK_SET_BACK` or `CLOCK_SKEW` when the device clock was last found wanting.
    clock_warning: Option<ErrorCode>,
    /// Why the server last refused to renew the held authorization with a receipt, and the
    /// receipt's server time: the device works on until `offline_until`, with this code in
    /// `status()`, until a later authorization (one of this tab's, or a newer one another tab
    /// cached).
    refusal: Option<(ErrorCode, u64)>,
    online: bool,
    /// Reports the server receipted to this page's sends, flushes and scheduled ones.
    acknowledged: usize,
    /// Counts not yet written to the store.
    tally: Tally,
    time: TimeGuard,
    /// The trusted time last written to the cache.
    saved_time_ms: u64,
    /// Which license server to ask first.
    failover: Failover,
}

impl State {
    fn authorization(&self) -> Option<&Authorization> {
        self.held.as_ref().map(|held| &held.authorization)
    }
}

/// How far trusted time may run ahead of the cached copy before `persist` writes it again: a
/// clock set back after a reload can then gain at most this much grace.
const TIME_SAVE_STEP_MS: u64 = 60 * 1000;

/// What the store keeps between page loads: the signed authorization, as the server sent it,
/// and what the device knows about time.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cached {
    authorization: Signed,
    time: TimeGuard,
}

/// What one `flush` did, or (from `reports`) where this page's reports stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Reports the server signed a receipt for, now deleted here: by this flush, or (from
    /// `reports`) by every send of this page.
    pub acknowledged: usize,
    /// Reports still waiting in the outbox.
    pub waiting: usize,
}

pub struct Engine<S, T, C> {
    store: S,
    transport: T,
    clock: C,
    target: Target,
    device_id: DeviceId,
    domain: String,
    state: RefCell<State>,
}

impl<S: Store, T: Transport, C: Clock> Engine<S, T, C> {
    /// Authorizes this device with the license server. When the server cannot be reached, a
    /// cached authorization for the same project that is still inside its offline grace keeps
    /// the page working; offline, a cached one that was altered is refused with its own code
    /// (`BAD_SIGNATURE`, `DOMAIN_MISMATCH`) and one past its grace with `GRACE_EXPIRED`. So does
    /// a refusal that says the license ran out (`ErrorCode::is_lapse`). Any other refusal by
    /// the server is final and returned.
    pub async fn start(
        store: S,
        transport: T,
        clock: C,
        target: Target,
        params: AuthorizeParams,
    ) -> Result<Self, LicetError> {
        let device_id = device_id(&store).await?;
        let engine = Engine {
            store,
            transport,
            clock,
            target,
            device_id,
            domain: params.domain.clone(),
            state: RefCell::default(),
        };
        // `authorize` records its failure as the last error.
        let Err(error) = engine.authorize(&params).await else { return Ok(engine) };
        let lapsed = error.code.is_lapse();
        if !lapsed && !error.code.is_unreachable() {
            return Err(error);
        }
        // Only now is the cache read: online, the server's fresh answer and time replace it.
        let Some((held, time)) = engine.cached_authorization().await?? else { return Err(error) };
        let mut state = engine.state.borrow_mut();
        state.held = Some(held);
        // Time knowledge survives reloads, so a reload does not reset the clock guard.
        state.time = time;
        state.saved_time_ms = time.latest_ms;
        if lapsed {
            state.online = true;
            state.refusal = Some((error.code, time.latest_ms));
        }
        drop(state);
        // Offline, the cached authorization counts only within its grace.
        engine.check_grace()?;
        Ok(engine)
    }

    /// The time to decide with: the device clock corrected by the server's last signed time,
    /// never earlier than the latest trusted time. A clock set back is noted for `status()`.
    fn now(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        let (now, reading) = state.time.read(self.clock.now_ms());
        if reading == Reading::SetBack {
            state.clock_warning = Some(ErrorCode::ClockSetBack);
        }
        now
    }

    /// When (in device time) the authorization's offline grace ends, for the report schedule.
    pub fn grace_ends_at(&self) -> Option<u64> {
        let trusted = self.now();
        let device = self.clock.now_ms();
        let offline_until = self.state.borrow().authorization()?.offline_until;
        Some(device.saturating_add(offline_until.saturating_sub(trusted)))
    }

    /// `GRACE_EXPIRED` once the trusted time is past the authorization's `offline_until`.
    fn check_grace(&self) -> Result<(), LicetError> {
        self.check_grace_at(self.now())
    }

    /// `check_grace` at a trusted time `now` already read.
    fn check_grace_at(&self, now: u64) -> Result<(), LicetError> {
        match self.state.borrow().authorization() {
            Some(authorization) if now > authorization.offline_until => Err(ErrorCode::GraceExpired.into()),
            _ => Ok(()),
        }
    }

    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    pub fn status(&self) -> Status {
        let expired = self.check_grace().err().map(|e| e.code);
        let state = self.state.borrow();
        // The end of the grace first, then a refused renewal (this device stops at its
        // `offline_until`), then a clock found wanting, then the last call's failure.
        let code = expired.or(state.refusal.map(|(code, _)| code)).or(state.clock_warning).or(state.last_error);
        let mut status = status::status(state.authorization(), code, state.online);
        if expired.is_some() {
            status.state = "expired";
        }
        status
    }

    /// The cached authorization of this project, with the time knowledge saved beside it:
    /// `Ok(None)` when there is none, `Err` with the reason when one is there but does not
    /// verify for this device and host (one altered byte is enough).
    async fn cached_authorization(&self) -> Result<Result<Option<(Held, TimeGuard)>, LicetError>, LicetError> {
        let Some(bytes) = self.store.load_authorization().await? else { return Ok(Ok(None)) };
        let Ok(cached) = wire::decode::<Cached>(&bytes) else { return Ok(Err(ErrorCode::BadSignature.into())) };
        Ok(self.verify_cached(cached))
    }

    fn verify_cached(&self, cached: Cached) -> Result<Option<(Held, TimeGuard)>, LicetError> {
        let (authorization, licenses) =
            session::verify_authorization(&cached.authorization, &self.target, self.device_id, &self.domain)?;
        let serves = session::serves(&self.target, &authorization, &licenses);
        Ok(serves.then_some((Held { signed: cached.authorization, authorization }, cached.time)))
    }

    /// Writes this tab's authorization and clock guard to the cache. Every tab of the origin
    /// shares it, and only the reporting tab refreshes its authorization: so a save that is not
    /// of a fresh answer (`fresh`) first adopts a newer authorization another tab cached, and
    /// never writes an older one over it.
    async fn save_cache(&self, fresh: bool) -> Result<(), LicetError> {
        if !fresh {
            self.adopt_cached().await?;
        }
        let (bytes, latest) = {
            let state = self.state.borrow();
            let Some(held) = &state.held else { return Ok(()) };
            (wire::encode(&Cached { authorization: held.signed.clone(), time: state.time }), state.time.latest_ms)
        };
        self.store.save_authorization(&bytes).await?;
        self.state.borrow_mut().saved_time_ms = latest;
        Ok(())
    }

    /// Adopts the cached authorization when another tab saved one newer than this tab's (by
    /// the server's signed time), with that tab's knowledge of time. The page calls it now and
    /// then, so that tabs which do not report keep a fresh authorization too.
    pub async fn adopt_cached(&self) -> Result<(), LicetError> {
        let Some(bytes) = self.store.load_authorization().await? else { return Ok(()) };
        let Ok(cached) = wire::decode::<Cached>(&bytes) else { return Ok(()) };
        let ours = self.state.borrow().authorization().map_or(0, |a| a.server_time);
        // Verifying costs two signature checks, and most minutes nothing newer is there: look
        // at the (unverified) time first and verify only a copy that claims to be newer.
        let claimed = wire::decode::<Authorization>(&cached.authorization.payload).map_or(0, |a| a.server_time);
        if claimed <= ours {
            return Ok(());
        }
        // It verified, so its server time is the `claimed` one, newer than this tab's.
        let Ok(Some((held, time))) = self.verify_cached(cached) else { return Ok(()) };
        let mut state = self.state.borrow_mut();
        if state.authorization().is_none_or(|a| a.handshake_code == held.authorization.handshake_code) {
            // Granted after this tab's renewal was refused: the refusal no longer stands.
            if state.refusal.is_some_and(|(_, at)| held.authorization.server_time > at) {
                state.refusal = None;
            }
            state.held = Some(held);
            state.time.offset_ms = time.offset_ms;
            state.time.latest_ms = state.time.latest_ms.max(time.latest_ms);
        }
        Ok(())
    }

    /// Sends one request to the license key's servers in the order `core::failover` gives,
    /// until one answers: a refusal is an answer too and ends the search; no answer, a captive
    /// portal's page or a server's own failure (`ErrorCode::is_unreachable`) moves on to the
    /// next server. `seal` builds the request afresh for each server, with its own nonce: a
    /// server that stored a request and then failed to answer must not make the next server,
    /// on the same store, refuse the retry as a replay. What the request carries is the same on
    /// every server, so a report retried elsewhere is counted once, by its report ID.
    async fn post(
        &self,
        route: Route,
        seal: &mut dyn FnMut() -> Result<(SealedRequest, Pending), LicetError>,
    ) -> Result<(SealedResponse, Pending), LicetError> {
        // The device clock, as for the report schedule: the back-off decides no license.
        let order = self.state.borrow().failover.order(self.target.servers.len(), self.clock.now_ms());
        let mut outcome = Err(ErrorCode::NetworkError.into());
        let mut main_failed = false;
        for (server, url) in order.into_iter().filter_map(|server| Some((server, self.target.url(server, route)?))) {
            let (request, pending) = seal()?;
            outcome =
                self.transport.post(&url, &request).await.and_then(session::sealed_body).map(|body| (body, pending));
            match &outcome {
                Err(error) if error.code.is_unreachable() => main_failed |= server == failover::MAIN,
                _ => {
                    self.state.borrow_mut().failover.answered(server, main_failed, self.clock.now_ms());
                    break;
                }
            }
        }
        outcome
    }

    fn record<V>(&self, result: Result<V, LicetError>) -> Result<V, LicetError> {
        let mut state = self.state.borrow_mut();
        match &result {
            Ok(_) => {
                state.last_error = None;
                state.online = true;
            }
            Err(error) => {
                state.last_error = Some(error.code);
                state.online &= error.code != ErrorCode::NetworkError;
            }
        }
        result
    }

    /// Takes a verified authorization: its signed server time sets the clock guard, it ends
    /// any refusal to renew, and both are cached for offline starts.
    async fn accept(&self, signed: Signed, authorization: Authorization) -> Result<(), LicetError> {
        {
            let mut state = self.state.borrow_mut();
            let agreement = state.time.server_time(authorization.server_time, self.clock.now_ms());
            state.clock_warning = (agreement == Agreement::Skewed).then_some(ErrorCode::ClockSkew);
            state.refusal = None;
            state.held = Some(Held { signed, authorization });
        }
        self.save_cache(true).await
    }

    async fn authorize(&self, params: &AuthorizeParams) -> Result<(), LicetError> {
        let result = async {
            let mut seal =
                || session::authorize_request(&self.target, self.device_id, params, self.clock.now_ms(), &mut rng());
            let (response, pending) = self.post(Route::Authorize, &mut seal).await?;
            let (signed, authorization) = session::accept_authorization(&pending, &response, &self.target)?;
            self.accept(signed, authorization).await
        }
        .await;
        self.record(result)
    }

    /// Adds counts to the in-memory tally, in the current 3-minute slot. Synchronous, so that
    /// counting never waits on storage.
    pub fn tally(&self, items: impl IntoIterator<Item = (UsageItem, u64)>) -> Result<(), LicetError> {
        let now = self.now();
        self.check_grace_at(now)?;
        let slot = ledger::slot_of(now);
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let handshake_code = &state.held.as_ref().ok_or(ErrorCode::NotInitialized)?.authorization.handshake_code;
        for (item, count) in items {
            if count > 0 {
                state.tally.add(handshake_code, slot, item, count);
            }
        }
        Ok(())
    }

    /// The counts not yet written to the store, as the records `persist` would write: for the
    /// property test that accounts for every count (native only, as proptest is).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub(crate) fn unpersisted(&self) -> Vec<Vec<u8>> {
        self.state.borrow().tally.records()
    }

    /// Writes the tally to the store as one batch; on failure the counts stay in the tally.
    pub async fn persist(&self) -> Result<(), LicetError> {
        let tally = std::mem::take(&mut self.state.borrow_mut().tally);
        if tally.is_empty() {
            return Ok(());
        }
        let written = self.store.append_usage(&tally.records()).await;
        if written.is_err() {
            self.state.borrow_mut().tally.merge(tally);
            return written;
        }
        let stale = {
            let state = self.state.borrow();
            state.time.latest_ms >= state.saved_time_ms + TIME_SAVE_STEP_MS
        };
        if stale {
            // The counts are stored: a failure to save the clock guard must not make the caller
            // think they were not (and count them again); the next persist tries again.
            let _ = self.save_cache(false).await;
        }
        Ok(())
    }

    /// Counts `count` pages of `module` and returns once they are in the store.
    pub async fn count_pages(&self, module: Module, count: u64) -> Result<(), LicetError> {
        self.tally([(UsageItem::Pages(module), count)])?;
        self.persist().await
    }

    /// Where the reports stand: how many wait in this origin's outbox for a receipt (whichever
    /// page sends them), and how many this page's sends had receipted. Reads the store only.
    pub async fn reports(&self) -> Result<Flushed, LicetError> {
        let waiting = self.store.outbox_len().await?;
        Ok(Flushed { acknowledged: self.state.borrow().acknowledged, waiting })
    }

    /// Seals all usage, the open slot's too, into reports and sends the outbox: what the app
    /// asks for with `flush()`.
    pub async fn flush(&self) -> Result<Flushed, LicetError> {
        self.send(u64::MAX).await
    }

    /// Seals the usage of closed slots into reports and sends the outbox: the scheduled send,
    /// which leaves the open slot to fill so that a device sends one report per slot.
    /// When no report of this page's project went out and half of its offline grace has
    /// passed, it sends an empty report instead: an idle page in contact renews too, rather than
    /// run into `GRACE_EXPIRED` while online (renewals come with receipts).
    pub async fn report(&self) -> Result<Flushed, LicetError> {
        let flushed = self.send(ledger::slot_of(self.now())).await?;
        let now = self.now();
        let idle_code = match self.state.borrow().authorization() {
            Some(a)
                if flushed.acknowledged == 0
                    && now >= a.server_time + a.offline_until.saturating_sub(a.server_time) / 2 =>
            {
                Some(a.handshake_code.clone())
            }
            _ => None,
        };
        if let Some(handshake_code) = idle_code {
            let renewed = self.send_reports(&handshake_code, Vec::new()).await;
            self.record(renewed)?;
        }
        Ok(flushed)
    }

    /// Seals the pending usage of slots before `open_slot` into reports, sends every report in
    /// the outbox and deletes those the server's signed receipt names. A report stays in the
    /// outbox until then, so a failed or interrupted send loses nothing and a retried one is
    /// counted once by its report ID.
    async fn send(&self, open_slot: u64) -> Result<Flushed, LicetError> {
        self.persist().await?;
        self.store.seal_pending(|records| ledger::seal(records, open_slot, || ReportId(random16()))).await?;
        let outbox = self.store.outbox().await?;
        let mut by_project: Vec<(String, Vec<UsageReport>)> = Vec::new();
        for entry in &outbox {
            // An entry that does not decode cannot be sent; leaving it would block nothing else.
            if let Ok(sealed) = wire::decode::<OutboxReport>(&entry.bytes) {
                ledger::group(&mut by_project, sealed.handshake_code).push(sealed.report);
            }
        }
        let mut acknowledged = 0;
        let mut result = Ok(());
        for (handshake_code, reports) in by_project {
            let mut reports = reports.into_iter();
            loop {
                let batch: Vec<UsageReport> = reports.by_ref().take(REPORTS_PER_REQUEST).collect();
                if batch.is_empty() {
                    break;
                }
                match self.send_reports(&handshake_code, batch).await {
                    Ok(count) => acknowledged += count,
                    // One project's failure must not keep the others' reports from being sent.
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                }
            }
        }
        let result = result.map(|()| Flushed { acknowledged, waiting: outbox.len().saturating_sub(acknowledged) });
        self.record(result)
    }

    async fn send_reports(&self, handshake_code: &str, reports: Vec<UsageReport>) -> Result<usize, LicetError> {
        let sent: Vec<ReportId> = reports.iter().map(|r| r.report_id).collect();
        let mut message = session::reports_message(self.device_id, handshake_code, &self.domain, reports);
        let mut seal = || session::reports_request(&self.target, &mut message, self.clock.now_ms(), &mut rng());
        let (response, pending) = self.post(Route::Reports, &mut seal).await?;
        let (accepted, renewal) = session::accept_receipt(&pending, &response, &self.target)?;
        // Only IDs this request sent may be deleted, each once, whatever else a receipt names.
        let deletable: Vec<ReportId> = sent.into_iter().filter(|id| accepted.contains(id)).collect();
        self.store.remove_reports(&deletable).await?;
        self.state.borrow_mut().acknowledged += deletable.len();
        // Reports left over from another project refresh nothing: this page stays on its own.
        let current = self.state.borrow().authorization().is_some_and(|a| a.handshake_code == handshake_code);
        if current {
            match renewal {
                Renewal::Renewed(signed, authorization) => self.accept(signed, authorization).await?,
                // The reports are counted; the authorization held stays in force until its end.
                Renewal::Refused(code, at) => self.state.borrow_mut().refusal = Some((code, at)),
            }
        }
        Ok(deletable.len())
    }
}
