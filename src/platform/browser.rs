//! Small facts of the browser global scope, for windows and workers alike: the clock, the
//! page's host name, and property access on plain JS objects. It reads `self.location`, never
//! `window`, which workers do not have.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use crate::ports::Clock;

/// `Date.now()`.
pub struct BrowserClock;

impl Clock for BrowserClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

/// `object[name]`, or `undefined` when `object` has no such property or is not an object.
pub fn property(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[name]` when it is a string.
pub fn string_property(object: &JsValue, name: &str) -> Option<String> {
    property(object, name).as_string()
}

/// Sets `object[name]` on a plain object made here, where it cannot fail.
pub fn set_property(object: &Object, name: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &JsValue::from_str(name), &value.into());
}

/// The host name of this page or worker (`location.hostname`), or "" where there is none.
pub fn host_name() -> String {
    string_property(&property(&js_sys::global(), "location"), "hostname").unwrap_or_default()
}
