//! The network port over the global `fetch` (windows and workers): POSTs the sealed request, a
//! JSON text, as `text/plain;charset=UTF-8`, and reads back a sealed response or an error body.
//! That type is CORS-safelisted, so a cross-origin POST (the license server is never the page's
//! origin) goes without a preflight, one round trip less per request and per server tried; the
//! server reads the body as bytes whatever its type. It decides nothing about the answer:
//! any HTTP status is handed back; a failed fetch, or one with no complete answer within
//! `REQUEST_TIMEOUT_MS`, is a `NETWORK_ERROR`, so a server that hangs cannot stall reporting.

use licet_protocol::b64;
use licet_protocol::wire::{ErrorBody, SealedRequest, SealedResponse};
use licet_protocol::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Request, RequestInit, RequestMode, Response};

use crate::core::error::LicetError;
use crate::platform::browser::{set_property, string_property};
use crate::ports::{Reply, Transport};

#[wasm_bindgen]
extern "C" {
    // The global `fetch`, present in windows and workers alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
}

/// How long one request may take, answer body included.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// The request body's type: JSON, labelled with a type that needs no CORS preflight.
const CONTENT_TYPE: &str = "text/plain;charset=UTF-8";

pub struct FetchTransport;

fn bad_response(_: impl Sized) -> LicetError {
    ErrorCode::BadResponse.into()
}

/// `{"enc": "...", "ct": "..."}`, written with the platform's `JSON`.
fn request_json(body: &SealedRequest) -> Result<js_sys::JsString, LicetError> {
    let object = js_sys::Object::new();
    set_property(&object, "enc", b64::encode(&body.enc));
    set_property(&object, "ct", b64::encode(&body.ct));
    js_sys::JSON::stringify(&object).map_err(bad_response)
}

/// Reads a success (`{"ct"}`) or error (`{"code", "message"}`) body.
fn reply(ok: bool, value: &JsValue) -> Option<Reply> {
    Some(if ok {
        Reply::Sealed(SealedResponse { ct: b64::decode(&string_property(value, "ct")?).ok()? })
    } else {
        Reply::Refused(ErrorBody {
            code: string_property(value, "code")?,
            message: string_property(value, "message").unwrap_or_default(),
        })
    })
}

/// The POST of `body` to `url`, with its deadline.
fn request(url: &str, body: &SealedRequest) -> Result<Request, LicetError> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_mode(RequestMode::Cors);
    init.set_body(&request_json(body)?.into());
    let headers = web_sys::Headers::new().map_err(bad_response)?;
    headers.set("content-type", CONTENT_TYPE).map_err(bad_response)?;
    init.set_headers(&headers);
    // The platform's own timeout signal: no timer of ours to keep alive or cancel.
    init.set_signal(Some(&AbortSignal::timeout_with_u32(REQUEST_TIMEOUT_MS)));
    Request::new_with_str_and_init(url, &init).map_err(|_| ErrorCode::InvalidLicenseKey.into())
}

impl Transport for FetchTransport {
    async fn post(&self, url: &str, body: &SealedRequest) -> Result<Reply, LicetError> {
        let request = request(url, body)?;
        let network = |_| LicetError::from(ErrorCode::NetworkError);
        let response: Response = JsFuture::from(global_fetch(&request)).await.map_err(network)?.unchecked_into();
        let text = JsFuture::from(response.text().map_err(network)?).await.map_err(network)?;
        let value = js_sys::JSON::parse(&text.as_string().unwrap_or_default()).map_err(bad_response)?;
        reply(response.ok(), &value).ok_or_else(|| ErrorCode::BadResponse.into())
    }
}

#[cfg(test)]
mod tests {
    use licet_protocol::wire::SealedRequest;
    use licet_protocol::ErrorCode;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::FetchTransport;
    use crate::ports::{Reply, Transport};

    fn request() -> SealedRequest {
        SealedRequest { enc: vec![1, 2], ct: vec![3] }
    }

    #[test]
    fn requests_are_posted_as_text_so_that_no_cors_preflight_precedes_them() {
        let request = super::request("https://licenses.example.com/v1/reports", &request()).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.headers().get("content-type").unwrap().as_deref(), Some(super::CONTENT_TYPE));
        assert_eq!(super::CONTENT_TYPE, "text/plain;charset=UTF-8");
    }

    #[test]
    async fn an_unreachable_server_is_a_network_error() {
        // Port 9 on loopback (discard) has no listener on the test machines.
        let error = FetchTransport.post("http://127.0.0.1:9/v1/authorize", &request()).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::NetworkError);
    }

    #[test]
    async fn a_sealed_answer_is_read_from_its_json() {
        let reply = FetchTransport.post("data:application/json,%7B%22ct%22%3A%22AQID%22%7D", &request()).await.unwrap();
        assert_eq!(reply, Reply::Sealed(licet_protocol::wire::SealedResponse { ct: vec![1, 2, 3] }));
    }

    #[test]
    async fn an_answer_that_is_not_licet_json_is_a_bad_response() {
        let error = FetchTransport.post("data:text/html,%3Chtml%3E", &request()).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::BadResponse);
        let error =
            FetchTransport.post("data:application/json,%7B%22ct%22%3A%22%21%22%7D", &request()).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::BadResponse);
    }
}
