//! Licet errors as JS errors with a stable `code` property, so callers branch on
//! `error.code === "NETWORK_ERROR"` and never parse messages. Argument errors keep the JS class
//! a caller expects (`RangeError` for a value out of range, `TypeError` for a wrong shape).

use js_sys::Reflect;
use licet_protocol::ErrorCode;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::error::LicetError;

fn with_code(error: js_sys::Error, code: ErrorCode) -> JsValue {
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code.as_str()));
    error.into()
}

/// An `Error` named `LicetError`.
pub fn to_js(error: LicetError) -> JsValue {
    let js_error = js_sys::Error::new(error.message());
    js_error.set_name("LicetError");
    with_code(js_error, error.code)
}

pub fn invalid_argument() -> JsValue {
    to_js(ErrorCode::InvalidArgument.into())
}

/// A `RangeError` with code `INVALID_ARGUMENT`.
pub fn out_of_range(what: &str) -> JsValue {
    with_code(js_sys::RangeError::new(what).unchecked_into(), ErrorCode::InvalidArgument)
}

/// A `TypeError` with code `INVALID_ARGUMENT`.
pub fn wrong_type(what: &str) -> JsValue {
    with_code(js_sys::TypeError::new(what).unchecked_into(), ErrorCode::InvalidArgument)
}
