//! The fleet's side of the wire: one pooled keep-alive HTTP/1 client shared by every simulated
//! device. Sealing a request to the server key of the license key, posting it with the page's
//! `Origin`, and opening and verifying its answer with that key's server signing key are three
//! separate steps, so that a phase can seal before its clock starts and open after it stops.
//! It sorts a failed post into one a retry may cure (no answer, 5xx, 429) and one it cannot
//! (any other refusal); it never retries by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, ORIGIN};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use licet_protocol::envelope::{self, ResponseKey, Route};
use licet_protocol::keys::{self, VerifyingKey};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::sign::{Signed, SignedPayload};
use licet_protocol::wire::{self, ErrorBody, SealedResponse};
use rand_core::{OsRng, TryRngCore};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::FleetError;

/// How to reach the server and what to tell it.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    /// The `LICET1.` license key of the project the devices use.
    pub key: String,
    /// The base URL to post to, instead of the key's first server (e.g. the bare baseline).
    pub server: Option<String>,
    /// The page's host: the domain the requests report and the host of their `Origin`.
    pub domain: String,
    /// Whether answers are opened and verified; off only against the bare baseline, whose
    /// answers are not sealed.
    pub verify: bool,
    /// How many keep-alive connections the pool keeps open.
    pub connections: usize,
}

/// A server the fleet talks to; cheap to clone, one connection pool for all clones.
#[derive(Clone)]
pub struct Target(Arc<Inner>);

struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    origin: HeaderValue,
    domain: String,
    hpke: [u8; 32],
    signing: VerifyingKey,
    organization_id: Option<String>,
    handshake_code: Option<String>,
    verify: bool,
}

/// A failed exchange.
pub(crate) enum Failure {
    /// Worth another attempt with the same content: the text says what happened.
    Retry(String),
    /// No attempt will succeed.
    Fatal(FleetError),
}

impl From<FleetError> for Failure {
    fn from(error: FleetError) -> Self {
        Failure::Fatal(error)
    }
}

/// A request sealed ahead of its sending: the body to post, and the one-time key that opens
/// the answer to exactly this body.
pub(crate) struct Sealed {
    pub body: Bytes,
    pub key: ResponseKey,
}

/// An answer with 200: its body, not opened, and how long the round trip took (from sending
/// the sealed request to holding the whole answer).
pub(crate) struct Answer {
    pub body: Bytes,
    pub round_trip: Duration,
}

impl Target {
    pub fn new(options: &TargetOptions) -> Result<Target, FleetError> {
        let key = LicenseKey::decode(&options.key).map_err(FleetError::LicenseKey)?;
        let public = key.server_keys().map_err(FleetError::LicenseKey)?;
        let signing = keys::verifying_key(&public.signing).map_err(FleetError::LicenseKey)?;
        let base = match &options.server {
            Some(server) => server.clone(),
            None => key.servers.first().cloned().ok_or(FleetError::NoServer)?,
        };
        let base = base.trim_end_matches('/').to_owned();
        let parsed: Uri = base.parse().map_err(|_| FleetError::BadUrl(base.clone()))?;
        if parsed.scheme_str() != Some("http") || parsed.host().is_none() {
            return Err(FleetError::BadUrl(base));
        }
        let origin = HeaderValue::from_str(&format!("https://{}", options.domain))
            .map_err(|_| FleetError::BadDomain(options.domain.clone()))?;
        let mut connector = HttpConnector::new();
        // Small requests answered at once: Nagle's delay would only measure itself.
        connector.set_nodelay(true);
        let client =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(options.connections.max(1)).build(connector);
        Ok(Target(Arc::new(Inner {
            client,
            base,
            origin,
            domain: options.domain.clone(),
            hpke: public.hpke,
            signing,
            organization_id: key.organization_id,
            handshake_code: key.handshake_code,
            verify: options.verify,
        })))
    }

    /// The base URL requests go to.
    pub fn base(&self) -> &str {
        &self.0.base
    }

    pub(crate) fn domain(&self) -> &str {
        &self.0.domain
    }

    pub(crate) fn organization_id(&self) -> Option<&str> {
        self.0.organization_id.as_deref()
    }

    pub(crate) fn handshake_code(&self) -> Option<&str> {
        self.0.handshake_code.as_deref()
    }

    /// Whether answers are opened and verified.
    pub fn verifies(&self) -> bool {
        self.0.verify
    }

    /// Encodes `message` and seals it for `route`.
    pub(crate) fn seal<T: Serialize>(&self, route: Route, message: &T) -> Result<Sealed, FleetError> {
        let (sealed, key) =
            envelope::seal_request(&self.0.hpke, route, &wire::encode(message), &mut OsRng.unwrap_err())
                .map_err(FleetError::LicenseKey)?;
        let body = serde_json::to_vec(&sealed).map_err(FleetError::Encode)?;
        Ok(Sealed { body: Bytes::from(body), key })
    }

    /// Posts a sealed body to `route`; an answer other than 200 is a failure.
    pub(crate) async fn post(&self, route: Route, body: Bytes) -> Result<Answer, Failure> {
        let uri = format!("{}{}", self.0.base, route.path());
        let request = Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, self.0.origin.clone())
            .body(Full::new(body))
            .map_err(|_| FleetError::BadUrl(uri))?;
        let start = Instant::now();
        let response = self.0.client.request(request).await.map_err(|e| Failure::Retry(format!("no answer: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Retry(format!("the answer broke off: {e}")))?
            .to_bytes();
        let round_trip = start.elapsed();
        if status == StatusCode::OK {
            return Ok(Answer { body, round_trip });
        }
        let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let (code, message) = match error {
            Some(error) => (error.code, error.message),
            None => (String::new(), String::from_utf8_lossy(&body).into_owned()),
        };
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Retry(format!("{status} {code}: {message}")));
        }
        Err(Failure::Fatal(FleetError::Refused { route: route.path(), status: status.as_u16(), code, message }))
    }

    /// Decrypts and decodes the answer `body` to the request that `key` was sealed with.
    pub(crate) fn open<R: DeserializeOwned>(
        &self,
        route: Route,
        key: &ResponseKey,
        body: &[u8],
    ) -> Result<R, FleetError> {
        let bad = |reason: String| FleetError::BadAnswer { route: route.path(), reason };
        let sealed: SealedResponse =
            serde_json::from_slice(body).map_err(|e| bad(format!("not a sealed answer: {e}")))?;
        let plain = envelope::open_response(key, &sealed).map_err(|e| bad(e.to_string()))?;
        wire::decode(&plain).map_err(|e| bad(e.to_string()))
    }

    /// Verifies a signed object with the server signing key of the license key.
    pub(crate) fn verify_signed<P: SignedPayload>(&self, route: Route, signed: &Signed) -> Result<P, FleetError> {
        signed.verify(&self.0.signing).map_err(|e| FleetError::BadAnswer { route: route.path(), reason: e.to_string() })
    }
}
