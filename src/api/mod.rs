//! The JS surface of Licet, and the only module with `#[wasm_bindgen]`: `LicenseManager` with
//! camelCase static methods, typed through `typescript_type` externs, rejecting with `Error`s
//! that carry a stable `code`. It holds the page's one license session; it contains no logic
//! beyond converting values and calling the engine.

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
use wasm_bindgen::prelude::*;

use crate::core::error::LicetError;
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
  /** The code of the last failure, or null when the last call succeeded. */
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

/** Every code a Licet error can carry (docs/errors.md). */
export type LicetErrorCode =
  | "MALFORMED_REQUEST" | "DECRYPTION_FAILED" | "UNSUPPORTED_VERSION" | "PAYLOAD_TOO_LARGE"
  | "REPLAYED_NONCE" | "UNKNOWN_PROJECT" | "WRONG_SESSION_PASSWORD" | "NO_LICENSE"
  | "LICENSE_EXPIRED" | "UNKNOWN_DEVICE" | "DOMAIN_MISMATCH" | "INTERNAL" | "INVALID_ARGUMENT" | "NOT_INITIALIZED"
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
    #[wasm_bindgen(typescript_type = "InitOptions | undefined")]
    pub type InitOptions;
    #[wasm_bindgen(typescript_type = "LicenseStatus")]
    pub type LicenseStatus;
    #[wasm_bindgen(typescript_type = "Promise<LicenseStatus>")]
    pub type LicenseStatusPromise;
    #[wasm_bindgen(typescript_type = "Promise<FlushResult>")]
    pub type FlushResultPromise;
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
        let grace_ends_at = current.grace_ends_at();
        drop(current);
        let now = BrowserClock.now_ms();
        let random = u64::from_le_bytes(crate::engine::random16()[..8].try_into().unwrap_or_default());
        let mut next = schedule.next(now, sent, random);
        if let (true, Some(ends)) = (sent, grace_ends_at) {
            next = crate::core::schedule::before_grace_ends(next, now, ends);
        }
        let wait = next.saturating_sub(now);
        gloo_timers::future::TimeoutFuture::new(wait.min(u32::MAX as u64) as u32).await;
    }
}

/// Starts `work` on the engine, if the session still has it. A failed flush or write keeps its
/// counts and shows in `status().code`, so the outcome itself is not needed here.
fn spawn_on<F: std::future::Future<Output = ()> + 'static>(engine: &Weak<BrowserEngine>, work: impl FnOnce(Rc<BrowserEngine>) -> F) {
    if let Some(engine) = engine.upgrade() {
        wasm_bindgen_futures::spawn_local(work(engine));
    }
}

async fn persist_quietly(engine: Rc<BrowserEngine>) {
    let _ = engine.persist().await;
}

async fn adopt_quietly(engine: Rc<BrowserEngine>) {
    let _ = engine.adopt_cached().await;
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn engine() -> Result<Rc<BrowserEngine>, LicetError> {
    SESSION.with_borrow(|session| session.as_ref().map(|s| s.engine.clone())).ok_or_else(|| ErrorCode::NotInitialized.into())
}

fn promise<T: JsCast>(future: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> T {
    wasm_bindgen_futures::future_to_promise(future).unchecked_into()
}

/// Licensing for this page: one device ID per origin, one authorization, one usage ledger.
#[wasm_bindgen]
pub struct LicenseManager;

#[wasm_bindgen]
impl LicenseManager {
    /// Authorizes this device with the license server named in `licenseKey` and starts the
    /// report schedule. Offline, a cached authorization within its grace period is used.
    #[wasm_bindgen(js_name = initLicense)]
    pub fn init_license(license_key: JsValue, options: InitOptions) -> LicenseStatusPromise {
        promise(async move {
            let result = async {
                // A session being replaced first writes the counts it still holds in memory.
                let previous = SESSION.with_borrow_mut(Option::take);
                if let Some(previous) = previous {
                    previous.engine.persist().await?;
                }
                let params = interop::authorize_params(&options, browser::host_name())?;
                let target = Target::new(interop::license_key(&license_key)?, crate::VENDOR_PUBLIC_KEY)?;
                let engine = Rc::new(Engine::start(IdbStore::open().await?, FetchTransport, BrowserClock, target, params).await?);
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
                let session = Session { engine, reporter: reporting, _reporter: reporter, _persist: persisting, _adopt: adopting, _hide: hide };
                SESSION.with_borrow_mut(|current| *current = Some(session));
                Ok::<_, LicetError>(status)
            }
            .await;
            result.map_err(errors::to_js)
        })
    }

    /// This origin's device ID, a random UUID v4 created on first use and kept in IndexedDB.
    #[wasm_bindgen(js_name = getDeviceUUID)]
    pub fn get_device_uuid() -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async {
            let device_id = match engine() {
                Ok(engine) => engine.device_id(),
                Err(_) => engine::device_id(&IdbStore::open().await.map_err(errors::to_js)?).await.map_err(errors::to_js)?,
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
            engine.count_pages(module, count).await.map_err(errors::to_js)?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Seals pending usage into reports, sends them, and deletes them once the server's signed
    /// receipt names them.
    pub fn flush() -> FlushResultPromise {
        promise(async {
            let engine = engine().map_err(errors::to_js)?;
            let flushed = engine.flush().await.map_err(errors::to_js)?;
            Ok(interop::flushed::<JsValue>(flushed))
        })
    }

    /// The license state, the last error code and the offline deadline, without any I/O.
    pub fn status() -> LicenseStatus {
        SESSION.with_borrow(|session| match session {
            Some(session) => interop::status(&session.engine.status(), session.reporter.get()),
            None => interop::status(&crate::core::status::status(None, None, false), false),
        })
    }
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
        let scans: Vec<(String, u64)> = interop::with_barcode_results(&results, |pairs| {
            let scans = self.dedup.borrow_mut().record_frame(pairs.iter().copied(), at);
            scans.into_iter().map(|(format, n)| (format.to_owned(), n)).collect()
        })?;
        if scans.is_empty() {
            // The common case while a barcode stays in view: nothing to count.
            return Ok(0);
        }
        let added: u64 = scans.iter().map(|(_, n)| n).sum();
        engine.tally(scans.into_iter().map(|(format, n)| (UsageItem::Scans(format), n))).map_err(errors::to_js)?;
        Ok(added as u32)
    }
}
