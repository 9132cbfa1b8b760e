//! The HTTP server: its configuration, the router (protocol routes with their CORS, rate limits
//! and body limits; the admin API; health check; metrics; optional static files), the request log and metrics
//! around every route (`observe`), and `serve` over plain HTTP or HTTPS with graceful shutdown.
//! It binds no socket itself (the caller hands it listeners, so tests use port 0) and reads no
//! clock but the one given, save the monotonic one that times requests and rate limits.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use licet_protocol::envelope::Route;
use licet_protocol::keys::{self, ServerKeys, VerifyingKey};
use licet_protocol::license::LicenseFile;
use licet_protocol::sign::Signed;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

use crate::admin::VerifiedLicenses;
use crate::admin_api;
use crate::alerts::AuthStats;
use crate::api::{self, ApiError, Refused};
use crate::cors::{self, Origins};
use crate::error::ServerError;
use crate::limits::{self, ClientIp, Limiter, RateLimit};
use crate::metrics::{self, Metrics};
use crate::storage::{LicenseRecord, Storage};

/// The largest body `/v1/authorize` reads: its sealed message holds a few short text fields
/// (each at most 256 bytes), so a real one is well under 2 KiB.
pub const AUTHORIZE_BODY_LIMIT: usize = 16 * 1024;
/// The largest body `/v1/reports` reads. The browser module sends at most 256 reports per
/// request (one per 3-minute slot it was open); a week offline is 3,360 slots, so it goes in
/// batches that each stay far below this even with every module and dozens of symbologies
/// counted in every slot (`tests/hygiene.rs` measures one).
pub const REPORTS_BODY_LIMIT: usize = 1024 * 1024;

/// How long a shutdown waits for requests in flight before it closes their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a connection may take to send a request's headers (and to send the next one on a
/// kept-alive connection), so that slow or idle clients do not hold connections forever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server reads the time: Unix milliseconds. Injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The real clock. A system clock before 1970 reads as 0 rather than failing every request.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    })
}

/// Everything a running server needs.
#[derive(Clone)]
pub struct Config {
    pub storage: Arc<dyn Storage>,
    pub keys: Arc<ServerKeys>,
    /// The vendor key that signed every imported license; stored licenses are checked against it
    /// again before they are handed out.
    pub vendor_public: VerifyingKey,
    /// A directory served as static files at `/`.
    pub www: Option<PathBuf>,
    pub clock: Clock,
    /// The counters served at `/metrics`; the alerts code counts the alerts it fires here.
    pub metrics: Arc<Metrics>,
    /// Whether the client address is the last `X-Forwarded-For` entry (behind a proxy) rather
    /// than the connection's peer.
    pub trust_forwarded_for: bool,
    limiter: Arc<Limiter>,
    pub(crate) origins: Arc<Origins>,
    /// Authorization outcomes per project, which the alert checks read.
    pub auth_stats: Arc<AuthStats>,
    /// The stored licenses verified against `vendor_public` so far.
    pub(crate) verified: Arc<VerifiedLicenses>,
}

impl Config {
    /// A configuration with the system clock, no static files and the default rate limit.
    pub fn new(storage: Arc<dyn Storage>, keys: ServerKeys, vendor_public: VerifyingKey) -> Self {
        Config {
            storage,
            keys: Arc::new(keys),
            vendor_public,
            www: None,
            clock: system_clock(),
            metrics: Arc::new(Metrics::new()),
            trust_forwarded_for: false,
            limiter: Arc::new(Limiter::new(RateLimit::default())),
            origins: Arc::new(Origins::default()),
            auth_stats: Arc::default(),
            verified: Arc::default(),
        }
    }

    /// The configuration stored by `licet-server init` in `storage`; `None` before `init`.
    pub async fn load(storage: Arc<dyn Storage>) -> Result<Option<Self>, ServerError> {
        let Some(settings) = storage.settings().await? else { return Ok(None) };
        let keys = ServerKeys::from_text(&settings.server_keys).map_err(ServerError::BadStoredSettings)?;
        let vendor_public =
            keys::verifying_key_from_text(&settings.vendor_public_key).map_err(ServerError::BadStoredSettings)?;
        Ok(Some(Config::new(storage, keys, vendor_public)))
    }

    /// Serves the files of `dir` at `/`.
    pub fn with_www(mut self, dir: PathBuf) -> Self {
        self.www = Some(dir);
        self
    }

    /// Counts authorization outcomes in windows of this length.
    pub fn with_failure_window(mut self, window: std::time::Duration) -> Self {
        self.auth_stats = Arc::new(AuthStats::new(window));
        self
    }

    /// Reads the time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Limits each client address on the protocol routes to `limit` (`RateLimit::OFF`: none).
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.limiter = Arc::new(Limiter::new(limit));
        self
    }

    /// Takes the client address from `X-Forwarded-For`: only behind a proxy that appends to it.
    pub fn with_trust_forwarded_for(mut self, trust: bool) -> Self {
        self.trust_forwarded_for = trust;
        self
    }

    /// A stored license, verified against the vendor key (once per stored text: `VerifiedLicenses`).
    pub fn verify_license(&self, record: &LicenseRecord) -> Result<(Signed, LicenseFile), ServerError> {
        self.verified.verify(record, &self.vendor_public)
    }

    /// The current time, Unix milliseconds.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

async fn metrics_text(State(config): State<Arc<Config>>) -> Response {
    match config.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => ApiError::internal(format!("the metrics could not be encoded: {e}")).into_response(),
    }
}

/// The fixed name a request is counted under: its route, the admin API's prefix for any of its
/// routes, or `other` (static files, 404s).
fn route_name(matched: Option<&MatchedPath>) -> &'static str {
    let routes = [Route::Authorize.path(), Route::Reports.path(), "/healthz", "/metrics"];
    let Some(matched) = matched else { return "other" };
    if matched.as_str().starts_with(admin_api::PREFIX) {
        return admin_api::PREFIX;
    }
    routes.into_iter().find(|route| *route == matched.as_str()).unwrap_or("other")
}

/// Around every request: finds the client address (for the limits and the log), then counts
/// the answer in the metrics and writes its log line. The line is `debug` for an answered
/// request, `info` for a refusal (with its code and reason), `error` for a failure of the
/// server's own (with its cause); a rate-limited request is `debug`, so that a flood does not
/// become a flood of log lines. No line holds a header or body: session passwords, keys and
/// device names never reach the log.
async fn observe(State(config): State<Arc<Config>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let client = limits::client_ip(peer, request.headers(), config.trust_forwarded_for);
    if let Some(ip) = client {
        request.extensions_mut().insert(ClientIp(ip));
    }
    let route = route_name(request.extensions().get::<MatchedPath>());
    let method = request.method().clone();
    let uri = request.uri().clone();

    let response = next.run(request).await;

    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let refused = response.extensions().get::<Refused>();
    config.metrics.request(route, status, elapsed.as_secs_f64());
    if route == Route::Authorize.path() && method == Method::POST {
        config.metrics.authorization(refused.map_or(metrics::AUTHORIZED, |r| r.code));
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let client = client.map(tracing::field::display);
    let path = uri.path();
    match refused {
        None => tracing::debug!(%method, path, status, latency_ms, client, "request"),
        Some(&Refused { code, ref reason }) => {
            if status >= 500 {
                tracing::error!(%method, path, status, code, cause = %reason, latency_ms, client, "request failed");
            } else if status == 429 {
                tracing::debug!(%method, path, status, code, latency_ms, client, "request refused");
            } else {
                tracing::info!(%method, path, status, code, reason = %reason, latency_ms, client, "request refused");
            }
        }
    }
    response
}

/// Refuses a request whose client address is over its limit, before its body is read.
async fn rate_limit(State(config): State<Arc<Config>>, request: Request, next: Next) -> Response {
    if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>() {
        if let Err(retry_after) = config.limiter.check(*ip) {
            return ApiError::RateLimited { retry_after }.into_response();
        }
    }
    next.run(request).await
}

/// The public routes; `/metrics` among them unless `with_metrics` is false (served elsewhere).
fn app(config: Arc<Config>, with_metrics: bool) -> Router {
    let protocol = Router::new()
        .route(Route::Authorize.path(), post(api::authorize).layer(DefaultBodyLimit::max(AUTHORIZE_BODY_LIMIT)))
        .route(Route::Reports.path(), post(api::reports).layer(DefaultBodyLimit::max(REPORTS_BODY_LIMIT)))
        .layer(middleware::from_fn_with_state(config.clone(), rate_limit))
        .layer(cors::layer(config.clone()));
    let mut router = Router::new()
        .merge(protocol)
        .nest(admin_api::PREFIX, admin_api::router(config.clone()))
        .route("/healthz", get(healthz));
    if with_metrics {
        router = router.route("/metrics", get(metrics_text));
    }
    if let Some(dir) = config.www.clone() {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router.layer(middleware::from_fn_with_state(config.clone(), observe)).with_state(config)
}

/// The routes of a separate metrics listener: `/metrics` and `/healthz`.
fn metrics_app(config: Arc<Config>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn_with_state(config.clone(), observe))
        .with_state(config)
}

/// The server's routes, ready to serve or to drive with `tower::ServiceExt::oneshot`.
pub fn router(config: Config) -> Router {
    app(Arc::new(config), true)
}

/// Where `serve` listens: the public listener, over TLS when `tls` is given, and optionally a
/// separate plain listener that alone serves `/metrics`.
pub struct Listeners {
    pub public: TcpListener,
    pub tls: Option<RustlsConfig>,
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(public: TcpListener) -> Self {
        Listeners { public, tls: None, metrics: None }
    }
}

fn http_server(listener: TcpListener, handle: &Handle<SocketAddr>) -> axum_server::Server<SocketAddr> {
    let mut server = axum_server::Server::from_listener(listener).handle(handle.clone());
    server.http_builder().http1().header_read_timeout(HEADER_READ_TIMEOUT);
    server
}

/// Serves `config` on `listeners` until `shutdown` completes; then refuses new connections,
/// lets the requests in flight finish (for up to `SHUTDOWN_GRACE`) and returns.
pub async fn serve(
    config: Config,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Listeners { public, tls, metrics } = listeners.into();
    let config = Arc::new(config);
    let public_handle = Handle::<SocketAddr>::new();
    let metrics_handle = Handle::<SocketAddr>::new();
    let app = app(config.clone(), metrics.is_none()).into_make_service_with_connect_info::<SocketAddr>();
    let server = http_server(public, &public_handle);
    let public = async {
        match tls {
            Some(tls) => server.acceptor(RustlsAcceptor::new(tls)).serve(app).await,
            None => server.serve(app).await,
        }
    };
    let metrics = async {
        let Some(listener) = metrics else { return Ok(()) };
        let app = metrics_app(config.clone()).into_make_service_with_connect_info::<SocketAddr>();
        http_server(listener, &metrics_handle).serve(app).await
    };
    let stop = async {
        shutdown.await;
        public_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        metrics_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        // The servers end the `select!` once their connections are done.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        served = async { tokio::try_join!(public, metrics) } => served.map(|_| ()).map_err(ServerError::Serve),
        () = stop => Ok(()),
    }
}
