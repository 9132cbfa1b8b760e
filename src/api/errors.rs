//! Licet errors as JS `Error`s with a stable `code` property, so callers branch on
//! `error.code === "NETWORK_ERROR"` and never parse messages.

use js_sys::Reflect;
use licet_protocol::ErrorCode;
use wasm_bindgen::JsValue;

use crate::core::error::LicetError;

pub fn to_js(error: LicetError) -> JsValue {
    let js_error = js_sys::Error::new(error.message());
    js_error.set_name("LicetError");
    let _ = Reflect::set(&js_error, &JsValue::from_str("code"), &JsValue::from_str(error.code.as_str()));
    js_error.into()
}

pub fn invalid_argument() -> JsValue {
    to_js(ErrorCode::InvalidArgument.into())
}
