//! The JS surface of Licet, and the only module with `#[wasm_bindgen]`: `LicenseManager` with
//! camelCase static methods, typed through `typescript_type` externs, rejecting with `Error`s
//! that carry a stable `code`. It holds the page's one license session; it contains no logic
//! beyond converting values and calling the engine.

mod errors;
mod interop;

use std::cell::RefCell;
use std::rc::Rc;

use licet_protocol::ErrorCode;
use wasm_bindgen::prelude::*;

use crate::core::error::LicetError;
use crate::core::{ledger, session::Target};
use crate::engine::{self, Engine};
use crate::platform::browser::{self, BrowserClock};
use crate::platform::fetch::FetchTransport;
use crate::platform::idb_store::IdbStore;
use crate::platform::timer::ReportTimer;

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
  state: "uninitialized" | "valid" | "trial" | "tolerance";
  /** The code of the last failure, or null when the last call succeeded. */
  code: LicetErrorCode | null;
  /** Until when (Unix ms) the device may work without reaching the server. */
  offlineUntil: number | null;
  activeUntil: number | null;
  handshakeCode: string | null;
  modules: PageModule[];
  /** Whether the last contact with the license server succeeded. */
  online: boolean;
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
  | "LICENSE_EXPIRED" | "UNKNOWN_DEVICE" | "INTERNAL" | "INVALID_ARGUMENT" | "NOT_INITIALIZED"
  | "INVALID_LICENSE_KEY" | "NETWORK_ERROR" | "STORAGE_ERROR" | "BAD_KEY" | "BAD_SIGNATURE"
  | "NONCE_MISMATCH" | "BAD_RESPONSE";

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
}

type BrowserEngine = Engine<IdbStore, FetchTransport, BrowserClock>;

/// The page's license session: its engine and the report schedule that lives as long as it.
struct Session {
    engine: Rc<BrowserEngine>,
    _reports: ReportTimer,
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
                let params = interop::authorize_params(&options, browser::host_name())?;
                let target = Target::new(interop::license_key(&license_key)?, crate::VENDOR_PUBLIC_KEY)?;
                let engine = Rc::new(Engine::start(IdbStore::open().await?, FetchTransport, BrowserClock, target, params).await?);
                let period = engine.report_interval_ms().unwrap_or(licet_protocol::SLOT_MS).min(u32::MAX as u64) as u32;
                let scheduled = Rc::downgrade(&engine);
                let reports = ReportTimer::start(period, move || {
                    if let Some(engine) = scheduled.upgrade() {
                        // A failed scheduled flush keeps its reports and shows in `status().code`.
                        wasm_bindgen_futures::spawn_local(async move {
                            let _ = engine.flush().await;
                        });
                    }
                });
                let status = engine.status();
                SESSION.with_borrow_mut(|session| *session = Some(Session { engine, _reports: reports }));
                Ok::<_, LicetError>(interop::status::<JsValue>(&status))
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
        match engine() {
            Ok(engine) => interop::status(&engine.status()),
            Err(_) => interop::status(&crate::core::status::status(None, None, false)),
        }
    }
}
