//! CORS for the protocol routes (`tower-http`'s layer, with the server's own origin rule). The
//! browser module posts `text/plain` bodies, which need no preflight; every answer to such a
//! request names its `Origin` back, so that a page can read the error code of a refusal (like
//! `DOMAIN_MISMATCH` on a site the license does not bind) and a success, which the domain
//! guards only give to an origin the project admits. A preflight (from a caller that posts JSON)
//! is answered for an origin only when some license on this server admits its host: one that
//! binds no domain admits every host, the others their patterns and development hosts. The
//! licenses are read from the store at most once per `REFRESH_MS` of the server's clock, never
//! per preflight. It decides nothing about a request's project: the guards do.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use licet_protocol::domain;
use licet_protocol::license::LicenseFile;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::origin_host;
use crate::http::Config;

/// How long the licenses read for preflights are used before they are read again, in ms of
/// the server's clock: a license imported now admits its origins' preflights within this.
pub const REFRESH_MS: u64 = 30_000;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The licenses read last, and when (server clock, ms).
struct Snapshot {
    read_at: u64,
    licenses: Arc<Vec<LicenseFile>>,
}

/// Which origins a preflight admits: a snapshot of the stored licenses, read again when stale.
#[derive(Default)]
pub struct Origins {
    snapshot: RwLock<Option<Snapshot>>,
    /// Held while the store is read, so that a burst of preflights reads it once.
    reading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Origins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origins").finish_non_exhaustive()
    }
}

impl Origins {
    fn fresh(&self, now: u64) -> Option<Arc<Vec<LicenseFile>>> {
        let snapshot = self.snapshot.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        snapshot.as_ref().filter(|s| now.saturating_sub(s.read_at) < REFRESH_MS).map(|s| s.licenses.clone())
    }

    /// The stored licenses, as read within `REFRESH_MS`; when the store fails, the last ones read.
    async fn licenses(&self, config: &Config) -> Arc<Vec<LicenseFile>> {
        if let Some(licenses) = self.fresh(config.now()) {
            return licenses;
        }
        let _reading = self.reading.lock().await;
        let now = config.now();
        if let Some(licenses) = self.fresh(now) {
            return licenses;
        }
        match config.storage.licenses().await {
            Ok(records) => {
                // A record that does not verify admits nothing here, as it serves no request.
                let licenses: Vec<LicenseFile> = records
                    .iter()
                    .filter_map(|record| config.verify_license(record).ok().map(|(_, file)| file))
                    .collect();
                let licenses = Arc::new(licenses);
                let mut snapshot = self.snapshot.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                *snapshot = Some(Snapshot { read_at: now, licenses: licenses.clone() });
                licenses
            }
            Err(e) => {
                tracing::error!(cause = %e, "the licenses for cors preflights could not be read; the last ones read stay in use");
                let snapshot = self.snapshot.read().unwrap_or_else(|poisoned| poisoned.into_inner());
                snapshot.as_ref().map(|s| s.licenses.clone()).unwrap_or_default()
            }
        }
    }

    /// Whether a preflight from `origin` is admitted.
    pub async fn admit(&self, config: &Config, origin: &HeaderValue) -> bool {
        let Some(host) = origin.to_str().ok().and_then(origin_host) else { return false };
        domain::licenses_allow_host(self.licenses(config).await.iter(), host).is_ok()
    }
}

/// The CORS layer of the protocol routes of `config`.
pub fn layer(config: Arc<Config>) -> CorsLayer {
    let allow = AllowOrigin::async_predicate(move |origin: HeaderValue, parts: &axum::http::request::Parts| {
        let config = config.clone();
        // Only a preflight reaches this with OPTIONS: the routes themselves take POST alone.
        let preflight = parts.method == Method::OPTIONS;
        async move { !preflight || config.origins.admit(&config, &origin).await }
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}
