//! The HTTP server: its configuration, the router (protocol routes, health check, CORS, body
//! limit, optional static files) and `serve` with graceful shutdown. It binds no socket itself
//! (the caller hands it a listener, so tests use port 0) and reads no clock but the one given.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::routing::{get, post};
use axum::{Json, Router};
use licet_protocol::envelope::Route;
use licet_protocol::keys::{self, ServerKeys, VerifyingKey};
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;

use crate::alerts::AuthStats;
use crate::api;
use crate::error::ServerError;
use crate::storage::Storage;

/// The largest request body the server reads; larger ones get `PAYLOAD_TOO_LARGE`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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
    /// Authorization outcomes per project, which the alert checks read.
    pub auth_stats: Arc<AuthStats>,
}

impl Config {
    /// A configuration with the system clock and no static files.
    pub fn new(storage: Arc<dyn Storage>, keys: ServerKeys, vendor_public: VerifyingKey) -> Self {
        Config { storage, keys: Arc::new(keys), vendor_public, www: None, clock: system_clock(), auth_stats: Arc::default() }
    }

    /// The configuration stored by `licet-server init` in `storage`; `None` before `init`.
    pub async fn load(storage: Arc<dyn Storage>) -> Result<Option<Self>, ServerError> {
        let Some(settings) = storage.settings().await? else { return Ok(None) };
        let keys = ServerKeys::from_text(&settings.server_keys).map_err(ServerError::BadStoredSettings)?;
        let vendor_public = keys::verifying_key_from_text(&settings.vendor_public_key).map_err(ServerError::BadStoredSettings)?;
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

    /// The current time, Unix milliseconds.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

/// The server's routes, ready to serve or to drive with `tower::ServiceExt::oneshot`.
pub fn router(config: Config) -> Router {
    // Any origin may call: an SDK runs on its customers' sites, never on the server's origin.
    // Restricting origins to the domains a license binds is the server's check, not CORS's.
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::POST]).allow_headers([header::CONTENT_TYPE]);
    let www = config.www.clone();
    let mut router = Router::new()
        .route(Route::Authorize.path(), post(api::authorize))
        .route(Route::Reports.path(), post(api::reports))
        .route("/healthz", get(healthz));
    if let Some(dir) = www {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).layer(cors).with_state(Arc::new(config))
}

/// Serves `config` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    axum::serve(listener, router(config)).with_graceful_shutdown(shutdown).await.map_err(ServerError::Serve)
}
