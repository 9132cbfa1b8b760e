//! Every conversion between JS values and Rust values of the API, in one place: options in,
//! license keys and projects in, status and flush results out. Wrong types become
//! `INVALID_ARGUMENT`.

use js_sys::{Array, Object};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::ErrorCode;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::error::LicetError;
use crate::core::session::{AuthorizeParams, Project};
use crate::core::status::Status;
use crate::engine::Flushed;
use crate::platform::browser::{property as get, set_property as set, string_property};

/// Whether an optional value is left out: `undefined` or `null`.
fn is_absent(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// Whether an options argument has the shape of one: an object, or left out.
fn is_options(value: &JsValue) -> bool {
    is_absent(value) || value.is_object()
}

/// An optional string option: absent, `undefined` or `null` is `None`; any other non-string is
/// refused rather than stringified.
fn optional_string(options: &JsValue, name: &str) -> Result<Option<String>, LicetError> {
    let value = get(options, name);
    if is_absent(&value) {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| ErrorCode::InvalidArgument.into())
}

/// Reads `initLicense`'s options object.
pub fn authorize_params(options: &JsValue, domain: String) -> Result<AuthorizeParams, LicetError> {
    if !is_options(options) {
        return Err(ErrorCode::InvalidArgument.into());
    }
    Ok(AuthorizeParams {
        session_password: optional_string(options, "sessionPassword")?,
        device_name: optional_string(options, "deviceFriendlyName")?,
        product: optional_string(options, "product")?.unwrap_or_default(),
        domain,
    })
}

/// Reads `initLicense`'s first argument: a license key string, or a project object
/// `{ organizationID, handshakeCode, licenseServer }` whose server defaults to the build's.
pub fn license_key(value: &JsValue) -> Result<LicenseKey, LicetError> {
    if !value.is_object() {
        return license_key_text(&value.as_string().unwrap_or_default());
    }
    let project = Project {
        organization_id: optional_string(value, "organizationID")?,
        handshake_code: optional_string(value, "handshakeCode")?,
        license_server: optional_string(value, "licenseServer")?,
    };
    project.license_key(crate::LICENSE_SERVER, license_key_text)
}

/// Decodes a license key string with the platform's own `JSON`.
fn license_key_text(key: &str) -> Result<LicenseKey, LicetError> {
    let json = LicenseKey::unwrap_json(key).ok();
    let value = json.and_then(|json| js_sys::JSON::parse(&json).ok()).unwrap_or(JsValue::UNDEFINED);
    let servers = get(&value, "servers");
    let parsed = (|| {
        Some(LicenseKey {
            servers: servers.dyn_ref::<Array>()?.iter().map(|url| url.as_string()).collect::<Option<_>>()?,
            organization_id: string_property(&value, "organizationId"),
            handshake_code: string_property(&value, "handshakeCode"),
            signing_key: string_property(&value, "signingKey")?,
            hpke_key: string_property(&value, "hpkeKey")?,
        })
    })();
    parsed.ok_or_else(|| ErrorCode::InvalidLicenseKey.into())
}

#[wasm_bindgen(inline_js = r#"
// One frame's results as one string, `<length>:<format><length>:<text>...` with lengths in
// UTF-16 units, or undefined when the frame is not an array of { format, text } strings: one
// call into JS per frame instead of four per result.
export function flattenResults(results) {
  if (!Array.isArray(results)) return undefined;
  let flat = '';
  for (const r of results) {
    if (r === null || typeof r !== 'object' || typeof r.format !== 'string' || typeof r.text !== 'string') return undefined;
    flat += r.format.length + ':' + r.format + r.text.length + ':' + r.text;
  }
  return flat;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = flattenResults)]
    fn flatten_results(results: &JsValue) -> Option<String>;
}

/// Reads one frame's results, `[{ format, text }, ...]`, and hands the (format, text) pairs
/// to `use_pairs`; refuses the whole frame when any element has another shape or a format
/// that cannot be reported.
pub fn with_barcode_results<R>(results: &JsValue, use_pairs: impl FnOnce(&[(&str, &str)]) -> R) -> Result<R, JsValue> {
    const SHAPE: &str = "results must be an array of { format: string, text: string }";
    let flat = flatten_results(results).ok_or_else(|| super::errors::wrong_type(SHAPE))?;
    let pairs = crate::core::frame::split(&flat).ok_or_else(|| super::errors::wrong_type(SHAPE))?;
    if !pairs.iter().all(|(format, _)| licet_protocol::wire::is_valid_symbology(format)) {
        return Err(super::errors::wrong_type("a format must be 1 to 64 printable ASCII characters"));
    }
    Ok(use_pairs(&pairs))
}

/// Reads `duplicateForgetTime` from a scan session's options; absent means the default.
pub fn forget_time(options: &JsValue) -> Result<u64, JsValue> {
    if !is_options(options) {
        return Err(super::errors::wrong_type("scan session options must be an object"));
    }
    let value = get(options, "duplicateForgetTime");
    if value.is_undefined() {
        return Ok(crate::core::dedup::DEFAULT_FORGET_MS);
    }
    forget_time_value(&value)
}

/// A `duplicateForgetTime` value: a whole number of milliseconds within the documented range.
pub fn forget_time_value(value: &JsValue) -> Result<u64, JsValue> {
    const RANGE: &str = "duplicateForgetTime must be a whole number of milliseconds from 0 to 180000";
    let ms = value.as_f64().ok_or_else(|| super::errors::wrong_type(RANGE))?;
    crate::core::dedup::forget_time(ms).map_err(|_| super::errors::out_of_range(RANGE))
}

/// An optional frame timestamp in milliseconds; `undefined` means now.
pub fn timestamp(value: &JsValue) -> Result<Option<u64>, JsValue> {
    if is_absent(value) {
        return Ok(None);
    }
    match value.as_f64() {
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Some(ms as u64)),
        Some(_) => Err(super::errors::out_of_range("timestampMs must be a finite number of milliseconds, 0 or more")),
        None => Err(super::errors::wrong_type("timestampMs must be a number")),
    }
}

/// A function argument; anything else is a `TypeError` saying `what`.
pub fn function(value: &JsValue, what: &str) -> Result<js_sys::Function, JsValue> {
    value.dyn_ref::<js_sys::Function>().cloned().ok_or_else(|| super::errors::wrong_type(what))
}

pub fn string_argument(value: &JsValue) -> Result<String, JsValue> {
    value.as_string().ok_or_else(super::errors::invalid_argument)
}

pub fn number_argument(value: &JsValue) -> Result<f64, JsValue> {
    value.as_f64().ok_or_else(super::errors::invalid_argument)
}

fn optional_time(time: Option<u64>) -> JsValue {
    time.map_or(JsValue::NULL, |t| JsValue::from_f64(t as f64))
}

pub fn status<T: JsCast>(status: &Status, reporter: bool) -> T {
    let object = Object::new();
    set(&object, "state", status.state);
    set(&object, "code", status.code.map_or(JsValue::NULL, |c| JsValue::from_str(c.as_str())));
    set(&object, "offlineUntil", optional_time(status.offline_until));
    set(&object, "activeUntil", optional_time(status.active_until));
    set(&object, "handshakeCode", status.handshake_code.as_deref().map_or(JsValue::NULL, JsValue::from_str));
    let modules: Array = status.modules.iter().map(|m| JsValue::from_str(m.as_str())).collect();
    set(&object, "modules", modules);
    set(&object, "online", status.online);
    set(&object, "reporter", reporter);
    object.unchecked_into()
}

pub fn flushed<T: JsCast>(flushed: Flushed) -> T {
    let object = Object::new();
    set(&object, "acknowledged", flushed.acknowledged as f64);
    set(&object, "waiting", flushed.waiting as f64);
    object.unchecked_into()
}
