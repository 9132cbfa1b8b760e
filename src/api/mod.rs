//! The JS surface of Licet, and the only module with `#[wasm_bindgen]`: `LicenseManager` with
//! camelCase static methods, typed through `typescript_type` externs, rejecting with `Error`s
//! that carry a stable `code`. It holds the page's one license session and the status
//! listeners; it contains no logic beyond converting values, calling the engine and calling
//! the listeners that `core::status::StatusWatch` picks.

mod errors;
mod interop;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::core::dedup::Deduplicator;
use crate::core::ledger::UsageItem;
use crate::core::schedule::Schedule;
use crate::platform::lifecycle::HideListener;
use crate::platform::lock::{self, LockHandle};
use crate::ports::Clock;

use licet_protocol::ErrorCode;
use rand_core::RngCore;
use wasm_bindgen::prelude::*;

use crate::core::error::LicetError;
use crate::core::status::{Status, StatusWatch};
use crate::core::{ledger, session::Target};
use crate::engine::{self, Engine};
use crate::platform::browser::{self, BrowserClock};
use crate::platform::fetch::FetchTransport;
use crate::platform::idb_store::IdbStore;
use crate::platform::timer::Ticker;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** A module that a per-page license counts. */
export type PageModule = "core" | "webcam" | "pdfr" | "ocr";

/** A project on a license server: the object form of `initLicense`'s first argument. */
export interface LicenseProject {
  /** The organization ID. Alone, it selects the organization's default handshake code. */
  organizationID?: string;
  /** The handshake code. With an organization ID, it must belong to that organization. */
  handshakeCode?: string;
  /**
   * A license key (`LICET1.`...) used only for its server URLs and public keys: the project is
   * this object's. Default: the key the SDK was built with (`LICET_LICENSE_SERVER`); without
   * either, `initLicense` rejects with `INVALID_LICENSE_KEY`.
   */
  licenseServer?: string;
}

/**
 * What `initLicense` takes: a license key (`LICET1.`...) as the license server prints it, or a
 * project. Naming neither an organization ID nor a handshake code asks the license server for
 * its 7-day public trial, which it grants only to a device it has never seen. Empty strings
 * count as absent.
 */
export type LicenseKey = string | LicenseProject;

/** Options of `LicenseManager.initLicense`. */
export interface InitOptions {
  /** The session password set on the handshake code, if the admin set one. */
  sessionPassword?: string;
  /** A name for this device that the admin sees next to its device ID. */
  deviceFriendlyName?: string;
  /** The product name of the SDK, reported to the license server. */
  product?: string;
}

/** The license as this device sees it. */
export interface LicenseStatus {
  /** "expired": offline past `offlineUntil`; counting is refused until the server is reached. */
  state: "uninitialized" | "valid" | "trial" | "tolerance" | "expired";
  /**
   * What the app should know of, or null when all is well; the first that holds of:
   * `GRACE_EXPIRED`; a renewal the server refused (e.g. `QUOTA_EXHAUSTED`: the reports were
   * counted and the device works on until `offlineUntil`, until a later renewal or
   * `initLicense` succeeds); `CLOCK_SET_BACK` or `CLOCK_SKEW`; the last call's failure.
   */
  code: LicetErrorCode | null;
  /** Until when (Unix ms) the device may work without reaching the server. */
  offlineUntil: number | null;
  activeUntil: number | null;
  handshakeCode: string | null;
  modules: PageModule[];
  /** Whether the last contact with the license server succeeded. */
  online: boolean;
  /** Whether this tab or worker is the one of its origin that sends the reports. */
  reporter: boolean;
}

/**
 * Called with the new status when its `state`, `code`, `modules` or `online` change; see
 * `LicenseManager.onStatusChange`.
 */
export type StatusListener = (status: LicenseStatus) => void;

/** One decoded barcode of a frame, as the SDK's reader returns it. */
export interface BarcodeResult {
  /** The symbology, e.g. "QR_CODE": 1 to 64 printable ASCII characters. */
  format: string;
  /** The barcode's text. It stays in this page's memory and is never stored or sent. */
  text: string;
}

/** Options of `LicenseManager.createScanSession`. */
export interface ScanSessionOptions {
  /**
   * How long (ms) a barcode that left the view is still a duplicate: it counts again only once
   * it has not been seen for this long. Whole number from 0 to 180000; default 3000.
   */
  duplicateForgetTime?: number;
}

/** What `flush` did. */
export interface FlushResult {
  /** Reports the server signed a receipt for; they are deleted from this browser. */
  acknowledged: number;
  /** Reports still waiting for a receipt; they are sent again later. */
  waiting: number;
}

/** Where the reports stand (`LicenseManager.reports`). */
export interface ReportCounts {
  /** Reports this page's sends had receipted since it loaded (flushes and scheduled sends). */
  acknowledged: number;
  /** Reports of this origin waiting in IndexedDB for the server's receipt, whichever tab sends them. */
  waiting: number;
}

/** Every code a Licet error can carry (docs/errors.md). */
export type LicetErrorCode =
  | "MALFORMED_REQUEST" | "DECRYPTION_FAILED" | "UNSUPPORTED_VERSION" | "PAYLOAD_TOO_LARGE" | "RATE_LIMITED"
  | "REPLAYED_NONCE" | "UNKNOWN_PROJECT" | "ORGANIZATION_MISMATCH" | "WRONG_SESSION_PASSWORD" | "NO_LICENSE"
  | "LICENSE_EXPIRED" | "QUOTA_EXHAUSTED" | "DEVICE_LIMIT_REACHED" | "CONCURRENT_LIMIT_REACHED"
  | "TRIAL_UNAVAILABLE" | "TRIAL_USED" | "UNKNOWN_DEVICE" | "DOMAIN_MISMATCH" | "INTERNAL" | "INVALID_ARGUMENT" | "NOT_INITIALIZED"
  | "INVALID_LICENSE_KEY" | "NETWORK_ERROR" | "STORAGE_ERROR" | "BAD_KEY" | "BAD_SIGNATURE"
  | "NONCE_MISMATCH" | "BAD_RESPONSE" | "GRACE_EXPIRED" | "CLOCK_SET_BACK" | "CLOCK_SKEW";

/** The errors Licet throws and rejects with. */
export interface LicetError extends Error {
  code: LicetErrorCode;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "PageModule")]
    pub type PageModule;
    // A number, taken as a JsValue so that a string such as "3" is refused, not coerced.
    #[wasm_bindgen(typescript_type = "number")]
    pub type Count;
    #[wasm_bindgen(typescript_type = "LicenseKey")]
    pub type LicenseKeyOrProject;
    #[wasm_bindgen(typescript_type = "InitOptions | undefined")]
    pub type InitOptions;
    #[wasm_bindgen(typescript_type = "LicenseStatus")]
    pub type LicenseStatus;
    #[wasm_bindgen(typescript_type = "StatusListener")]
    pub type StatusListener;
    #[wasm_bindgen(typescript_type = "Promise<LicenseStatus>")]
    pub type LicenseStatusPromise;
    #[wasm_bindgen(typescript_type = "Promise<FlushResult>")]
    pub type FlushResultPromise;
    #[wasm_bindgen(typescript_type = "Promise<ReportCounts>")]
    pub type ReportCountsPromise;
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type VoidPromise;
    #[wasm_bindgen(typescript_type = "ScanSessionOptions | undefined")]
    pub type ScanSessionOptions;
    #[wasm_bindgen(typescript_type = "BarcodeResult[]")]
    pub type BarcodeResults;
    #[wasm_bindgen(typescript_type = "number | undefined")]
    pub type Timestamp;
}

type BrowserEngine = Engine<IdbStore, FetchTransport, BrowserClock>;

/// How often counts still in memory are written to IndexedDB.
const PERSIST_EVERY_MS: u32 = 1_000;
/// How often a tab looks for a fresher authorization that the reporting tab cached.
const ADOPT_EVERY_MS: u32 = 60_000;
/// The Web Lock that makes one context per origin the reporter.
const REPORTER_LOCK: &str = "licet-reporter";

/// The page's license session: its engine, and the timers, listeners and lock that live as
/// long as it.
struct Session {
    engine: Rc<BrowserEngine>,
    /// Whether this context holds the reporter lock.
    reporter: Rc<std::cell::Cell<bool>>,
    _reporter: LockHandle,
    _persist: Ticker,
    _adopt: Ticker,
    _hide: HideListener,
}

/// The reporter's loop: sends closed slots at once (start-up), then after each slot closes,
/// with jitter, and after failures with backoff. It ends when its session's engine is gone.
async fn report_loop(engine: Weak<BrowserEngine>) {
    let mut schedule = Schedule::default();
    while let Some(current) = engine.upgrade() {
        let sent = current.report().await.is_ok();
        announce();
        let grace_ends_at = current.grace_ends_at();
        drop(current);
        let now = BrowserClock.now_ms();
        let mut next = schedule.next(now, sent, engine::rng().next_u64());
        if let (true, Some(ends)) = (sent, grace_ends_at) {
            next = crate::core::schedule::before_grace_ends(next, now, ends);
        }
        let wait = next.saturating_sub(now);
        gloo_timers::future::TimeoutFuture::new(wait.min(u32::MAX as u64) as u32).await;
    }
}

/// Starts `work` on the engine, if the session still has it. A failed flush or write keeps its
/// counts and shows in `status().code`, so the outcome itself is not needed here.
fn spawn_on<F: std::future::Future<Output = ()> + 'static>(
    engine: &Weak<BrowserEngine>,
    work: impl FnOnce(Rc<BrowserEngine>) -> F,
) {
    if let Some(engine) = engine.upgrade() {
        wasm_bindgen_futures::spawn_local(work(engine));
    }
}

async fn persist_quietly(engine: Rc<BrowserEngine>) {
    let _ = engine.persist().await;
}

async fn adopt_quietly(engine: Rc<BrowserEngine>) {
    let _ = engine.adopt_cached().await;
    announce();
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    /// The listeners of `onStatusChange`. They outlive sessions, so that one subscribed before
    /// `initLicense` hears of it, and a new session is compared with the status of the last.
    static WATCH: RefCell<StatusWatch<js_sys::Function>> = const { RefCell::new(StatusWatch::new(Status::UNINITIALIZED)) };
}

/// The status of the page's session (or of none), and whether it is the reporter.
fn current_status() -> (Status, bool) {
    SESSION.with_borrow(|session| match session {
        Some(session) => (session.engine.status(), session.reporter.get()),
        None => (Status::UNINITIALIZED, false),
    })
}

/// Tells the status listeners of the current status, if it is a change.
fn announce() {
    let (status, reporter) = current_status();
    tell(&status, reporter);
}

fn tell(status: &Status, reporter: bool) {
    for id in WATCH.with_borrow_mut(|watch| watch.changed(status)) {
        // Looked up one at a time, with nothing borrowed during the call: a listener may
        // subscribe or unsubscribe, itself or another, while it is being called.
        let Some(listener) = WATCH.with_borrow(|watch| watch.listener(id).cloned()) else { continue };
        // A listener that throws must not break licensing, nor keep the others from hearing.
        let _ = listener.call1(&JsValue::UNDEFINED, &interop::status::<JsValue>(status, reporter));
    }
}

fn engine() -> Result<Rc<BrowserEngine>, LicetError> {
    SESSION
        .with_borrow(|session| session.as_ref().map(|s| s.engine.clone()))
        .ok_or_else(|| ErrorCode::NotInitialized.into())
}

fn promise<T: JsCast>(future: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> T {
    wasm_bindgen_futures::future_to_promise(future).unchecked_into()
}

/// Licensing for this page: one device ID per origin, one authorization, one usage ledger.
#[wasm_bindgen]
pub struct LicenseManager;

#[wasm_bindgen]
impl LicenseManager {
    /// Authorizes this device with the license server named in `licenseKey` (a license key,
    /// or a project on the server of `licenseServer` or of the build) and starts the report
    /// schedule. Offline, a cached authorization within its grace period is used.
    #[wasm_bindgen(js_name = initLicense)]
    pub fn init_license(license_key: LicenseKeyOrProject, options: InitOptions) -> LicenseStatusPromise {
        promise(async move {
            let result = async {
                // A session being replaced first writes the counts it still holds in memory. It is
                // taken out meanwhile, so that nothing counts into it unwritten, and put back if
                // the write fails, with those counts (unless another session took its place).
                if let Some(previous) = SESSION.with_borrow_mut(Option::take) {
                    if let Err(error) = previous.engine.persist().await {
                        SESSION.with_borrow_mut(|current| {
                            current.get_or_insert(previous);
                        });
                        return Err(error);
                    }
                }
                let params = interop::authorize_params(&options, browser::host_name())?;
                let target = Target::new(interop::license_key(&license_key)?, crate::VENDOR_PUBLIC_KEY)?;
                let engine = Rc::new(
                    Engine::start(IdbStore::open().await?, FetchTransport, BrowserClock, target, params).await?,
                );
                let weak = Rc::downgrade(&engine);
                let reporting = Rc::new(std::cell::Cell::new(false));
                let granted = reporting.clone();
                let reporter = lock::hold(REPORTER_LOCK, move || {
                    granted.set(true);
                    wasm_bindgen_futures::spawn_local(report_loop(weak));
                });
                let weak = Rc::downgrade(&engine);
                let persisting = Ticker::start(PERSIST_EVERY_MS, move || spawn_on(&weak, persist_quietly));
                let weak = Rc::downgrade(&engine);
                let adopting = Ticker::start(ADOPT_EVERY_MS, move || spawn_on(&weak, adopt_quietly));
                let weak = Rc::downgrade(&engine);
                let hide = HideListener::listen(move || spawn_on(&weak, persist_quietly));
                let status = interop::status::<JsValue>(&engine.status(), reporting.get());
                let session = Session {
                    engine,
                    reporter: reporting,
                    _reporter: reporter,
                    _persist: persisting,
                    _adopt: adopting,
                    _hide: hide,
                };
                SESSION.with_borrow_mut(|current| *current = Some(session));
                Ok::<_, LicetError>(status)
            }
            .await;
            announce();
            result.map_err(errors::to_js)
        })
    }

    /// This origin's device ID, a random UUID v4 created on first use and kept in IndexedDB.
    #[wasm_bindgen(js_name = getDeviceUUID)]
    pub fn get_device_uuid() -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async {
            let device_id = match engine() {
                Ok(engine) => engine.device_id(),
                Err(_) => {
                    engine::device_id(&IdbStore::open().await.map_err(errors::to_js)?).await.map_err(errors::to_js)?
                }
            };
            Ok(JsValue::from_str(&device_id.to_hyphenated()))
        })
    }

    /// Counts `n` pages of `module`. Throws `INVALID_ARGUMENT` at once for a wrong module or a
    /// count that is not a whole number from 0 to 100000; the promise settles once the count is
    /// stored in IndexedDB.
    #[wasm_bindgen(js_name = countPages)]
    pub fn count_pages(module: PageModule, n: Count) -> Result<VoidPromise, JsValue> {
        let module = ledger::module(&interop::string_argument(&module)?).map_err(errors::to_js)?;
        let count = ledger::page_count(interop::number_argument(&n)?).map_err(errors::to_js)?;
        let engine = engine().map_err(errors::to_js)?;
        Ok(promise(async move {
            engine.count_pages(module, count).await.map_err(count_failure)?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Seals pending usage into reports, sends them, and deletes them once the server's signed
    /// receipt names them.
    pub fn flush() -> FlushResultPromise {
        promise(async {
            let engine = engine().map_err(errors::to_js)?;
            let flushed = engine.flush().await;
            announce();
            Ok(interop::flushed::<JsValue>(flushed.map_err(errors::to_js)?))
        })
    }

    /// How many reports wait in this origin's outbox for a receipt, and how many this page's
    /// sends had receipted since it loaded: for an app that shows its usage reaching the
    /// server. Reads IndexedDB; sends nothing.
    pub fn reports() -> ReportCountsPromise {
        promise(async {
            let engine = engine().map_err(errors::to_js)?;
            Ok(interop::flushed::<JsValue>(engine.reports().await.map_err(errors::to_js)?))
        })
    }

    /// The license state, the last error code and the offline deadline, without any I/O.
    pub fn status() -> LicenseStatus {
        let (status, reporter) = current_status();
        interop::status(&status, reporter)
    }

    /// Calls `listener` with the new status whenever its `state`, `code`, `modules` or
    /// `online` change: checked after `initLicense`, after each report the reporter sends,
    /// after `flush`, after taking up a newer authorization that another tab received, and
    /// after a count is refused (`GRACE_EXPIRED`). Not called at once: `status()` is the
    /// current one. A listener that throws is ignored. The listener hears until the returned
    /// subscription's `free()` (or `[Symbol.dispose]`, with `using`) is called, or the
    /// subscription is garbage collected: keep it as long as the listener should hear. Throws
    /// `TypeError` (code `INVALID_ARGUMENT`) when `listener` is not a function.
    #[wasm_bindgen(js_name = onStatusChange)]
    pub fn on_status_change(listener: StatusListener) -> Result<StatusSubscription, JsValue> {
        let listener = interop::function(&listener, "listener must be a function")?;
        Ok(StatusSubscription { id: WATCH.with_borrow_mut(|watch| watch.subscribe(listener)) })
    }
}

/// A listener of `LicenseManager.onStatusChange`, subscribed for as long as this handle lives:
/// `free()` (or `[Symbol.dispose]`) unsubscribes it, and so does garbage collection.
#[wasm_bindgen]
#[must_use = "the listener is unsubscribed as soon as its subscription is dropped"]
pub struct StatusSubscription {
    id: u32,
}

impl Drop for StatusSubscription {
    fn drop(&mut self) {
        WATCH.with_borrow_mut(|watch| watch.unsubscribe(self.id));
    }
}

/// A count's failure as a JS error, after telling the status listeners: a count refused at
/// the end of the grace is how a page that only counts learns that the status is "expired".
fn count_failure(error: LicetError) -> JsValue {
    announce();
    errors::to_js(error)
}

/// Counts unique successful scans of a stream of decoded frames: a barcode counts again only
/// once it has been out of view for `duplicateForgetTime`. Barcode texts stay in this object.
#[wasm_bindgen]
pub struct ScanSession {
    dedup: RefCell<Deduplicator>,
}

#[wasm_bindgen]
impl LicenseManager {
    /// A new scan session. Throws `RangeError` (code `INVALID_ARGUMENT`) for a
    /// `duplicateForgetTime` that is not a whole number from 0 to 180000.
    #[wasm_bindgen(js_name = createScanSession)]
    pub fn create_scan_session(options: ScanSessionOptions) -> Result<ScanSession, JsValue> {
        let forget_ms = interop::forget_time(&options)?;
        Ok(ScanSession { dedup: RefCell::new(Deduplicator::new(forget_ms)) })
    }
}

#[wasm_bindgen]
impl ScanSession {
    #[wasm_bindgen(getter = duplicateForgetTime)]
    pub fn duplicate_forget_time(&self) -> f64 {
        self.dedup.borrow().forget_ms() as f64
    }

    #[wasm_bindgen(setter = duplicateForgetTime)]
    pub fn set_duplicate_forget_time(&self, value: JsValue) -> Result<(), JsValue> {
        let forget_ms = interop::forget_time_value(&value)?;
        self.dedup.borrow_mut().set_forget_ms(forget_ms);
        Ok(())
    }

    /// Records one decoded frame and returns how many new scans it added. `timestampMs` is the
    /// frame's time in ms (default: now); a time earlier than one already seen counts as that
    /// one. Never waits on storage: counts reach IndexedDB within about a second.
    #[wasm_bindgen(js_name = recordFrame)]
    pub fn record_frame(&self, results: BarcodeResults, timestamp_ms: Timestamp) -> Result<u32, JsValue> {
        let at = interop::timestamp(&timestamp_ms)?;
        let engine = engine().map_err(errors::to_js)?;
        let at = at.unwrap_or_else(|| BrowserClock.now_ms());
        let added = interop::with_barcode_results(&results, |pairs| {
            let scans = self.dedup.borrow_mut().record_frame(pairs.iter().copied(), at);
            if scans.is_empty() {
                // The common case while a barcode stays in view: nothing to count.
                return Ok(0);
            }
            let added: u64 = scans.iter().map(|(_, n)| n).sum();
            engine.tally(scans.into_iter().map(|(format, n)| (UsageItem::Scans(format.to_owned()), n)))?;
            Ok(added)
        })?;
        Ok(added.map_err(count_failure)? as u32)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use licet_protocol::ErrorCode;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::{tell, LicenseManager};
    use crate::core::status::Status;
    use crate::platform::browser::property;

    #[test]
    fn status_listeners_hear_changes_until_freed_and_one_that_throws_breaks_nothing() {
        let heard = Rc::new(RefCell::new(Vec::new()));
        let log = heard.clone();
        let recorder = Closure::<dyn Fn(JsValue)>::new(move |status: JsValue| {
            let field = |name| property(&status, name);
            log.borrow_mut().push((field("state").as_string(), field("code").as_string(), field("reporter").as_bool()));
        });
        let thrower = js_sys::Function::new_no_args("throw new Error('a listener failed')");
        let throwing = LicenseManager::on_status_change(thrower.unchecked_into()).unwrap();
        let recording = LicenseManager::on_status_change(recorder.as_ref().clone().unchecked_into()).unwrap();

        let tolerance = Status { state: "tolerance", online: true, ..Status::UNINITIALIZED };
        tell(&tolerance, true);
        tell(&tolerance, true);
        let refused = Status { code: Some(ErrorCode::QuotaExhausted), ..tolerance.clone() };
        tell(&refused, true);
        assert_eq!(
            *heard.borrow(),
            [
                (Some("tolerance".into()), None, Some(true)),
                (Some("tolerance".into()), Some("QUOTA_EXHAUSTED".into()), Some(true))
            ],
            "each change once, past the listener that threw"
        );

        drop(recording); // what `free()` does
        tell(&tolerance, true);
        assert_eq!(heard.borrow().len(), 2, "a freed subscription hears nothing");
        drop(throwing);

        let not_a_function = LicenseManager::on_status_change(JsValue::from_f64(3.0).unchecked_into()).err().unwrap();
        assert!(not_a_function.is_instance_of::<js_sys::TypeError>());
        assert_eq!(property(&not_a_function, "code").as_string().as_deref(), Some("INVALID_ARGUMENT"));
    }

    /// `{ organizationID, handshakeCode, licenseServer }` as a JS object.
    fn project(fields: &[(&str, JsValue)]) -> JsValue {
        let object = js_sys::Object::new();
        for (name, value) in fields {
            crate::platform::browser::set_property(&object, name, value.clone());
        }
        object.into()
    }

    #[test]
    fn init_license_takes_a_license_key_or_a_project_on_a_license_server() {
        let json = r#"{"servers":["https://licenses.test"],"organizationId":"key-org","handshakeCode":"key-code","signingKey":"s","hpkeKey":"h"}"#;
        let server = JsValue::from_str(&licet_protocol::license_key::LicenseKey::wrap(json));
        let key = super::interop::license_key(&server).unwrap();
        assert_eq!(
            (key.organization_id.as_deref(), key.handshake_code.as_deref()),
            (Some("key-org"), Some("key-code"))
        );

        let key = super::interop::license_key(&project(&[
            ("organizationID", "acme".into()),
            ("licenseServer", server.clone()),
        ]))
        .unwrap();
        assert_eq!((key.organization_id.as_deref(), key.handshake_code), (Some("acme"), None));
        assert_eq!(
            (key.servers, key.signing_key, key.hpke_key),
            (vec!["https://licenses.test".to_owned()], "s".into(), "h".into())
        );
        let key = super::interop::license_key(&project(&[
            ("handshakeCode", "web".into()),
            ("licenseServer", server.clone()),
        ]))
        .unwrap();
        assert_eq!((key.organization_id, key.handshake_code.as_deref()), (None, Some("web")));

        let wrong_type =
            super::interop::license_key(&project(&[("organizationID", 7.into()), ("licenseServer", server)]));
        assert_eq!(wrong_type.unwrap_err().code, ErrorCode::InvalidArgument);
        let bad_server = super::interop::license_key(&project(&[("licenseServer", "LICET1.e30".into())]));
        assert_eq!(bad_server.unwrap_err().code, ErrorCode::InvalidLicenseKey);
        if crate::LICENSE_SERVER.is_none() {
            let no_server =
                super::interop::license_key(&project(&[("handshakeCode", "web".into()), ("licenseServer", "".into())]));
            assert!(no_server.unwrap_err().message().contains("LICET_LICENSE_SERVER"));
        }
        for neither in [JsValue::UNDEFINED, JsValue::NULL, JsValue::from_f64(1.0)] {
            assert_eq!(super::interop::license_key(&neither).unwrap_err().code, ErrorCode::InvalidLicenseKey);
        }
    }
}
