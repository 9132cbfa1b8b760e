//! Small facts of the browser global scope, for windows and workers alike: the clock and the
//! page's host name. It reads `self.location`, never `window`, which workers do not have.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

use crate::ports::Clock;

/// `Date.now()`.
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// The host name of this page or worker (`location.hostname`), or "" where there is none.
pub fn host_name() -> String {
    Reflect::get(&js_sys::global(), &JsValue::from_str("location"))
        .and_then(|location| Reflect::get(&location, &JsValue::from_str("hostname")))
        .ok()
        .and_then(|host| host.as_string())
        .unwrap_or_default()
}
