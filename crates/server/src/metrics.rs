//! The server's Prometheus metrics (`prometheus-client`), served as OpenMetrics text at
//! `GET /metrics`: requests by route and status, their latency by route, authorizations by
//! result code, reports ingested (new, or acknowledged again), and alerts fired by kind. It
//! counts only: every label value is one of a fixed set (routes, codes, kinds), never anything a
//! client sends, so no request can grow the number of series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use licet_protocol::ErrorCode;

/// The content type of the text `encode` returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The authorization result that is no refusal.
pub const AUTHORIZED: &str = "OK";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s: a cached answer is well under a millisecond, an argon2 check tens.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// The counters and histograms of one server. Shared by every request (`Config::metrics`);
/// each update is an atomic add behind the family's read lock.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
    authorizations: Family<CodeLabel, Counter>,
    reports: Family<OutcomeLabel, Counter>,
    alerts: Family<KindLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("licet");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let authorizations = Family::<CodeLabel, Counter>::default();
        let reports = Family::<OutcomeLabel, Counter>::default();
        let alerts = Family::<KindLabel, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response, by route",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "authorizations",
            "Authorization requests by result: OK or the refusal code",
            authorizations.clone(),
        );
        registry.register(
            "reports_ingested",
            "Usage reports received: new (counted now) or duplicate (held already, acknowledged again)",
            reports.clone(),
        );
        registry.register("alerts_fired", "Usage alerts fired, by kind", alerts.clone());
        // Every result exists from the start, so that a rate over a code that never happened
        // yet reads 0 rather than nothing.
        let codes = ErrorCode::ALL.iter().filter(|code| code.http_status() != 0).map(|code| code.as_str());
        for code in std::iter::once(AUTHORIZED).chain(codes) {
            let _ = authorizations.get_or_create(&CodeLabel { code });
        }
        for outcome in ["new", "duplicate"] {
            let _ = reports.get_or_create(&OutcomeLabel { outcome });
        }
        Metrics { registry, requests, latency, authorizations, reports, alerts }
    }

    /// One answered request: `route` is a fixed name (`http::observe` maps paths to it).
    pub(crate) fn request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { route, status }).inc();
        self.latency.get_or_create(&RouteLabel { route }).observe(seconds);
    }

    /// One authorization request's result: `AUTHORIZED` or a code's `as_str`.
    pub(crate) fn authorization(&self, code: &'static str) {
        self.authorizations.get_or_create(&CodeLabel { code }).inc();
    }

    /// A report batch stored: `new` reports counted now, `duplicate` ones acknowledged again.
    pub(crate) fn reports_ingested(&self, new: u64, duplicate: u64) {
        self.reports.get_or_create(&OutcomeLabel { outcome: "new" }).inc_by(new);
        self.reports.get_or_create(&OutcomeLabel { outcome: "duplicate" }).inc_by(duplicate);
    }

    /// One alert fired. `kind` is one of the alert code's fixed names (`usage`, `expiry`, `authorization-failures`), never
    /// text that varies per license or device, so the series stay few.
    pub fn alert_fired(&self, kind: &'static str) {
        self.alerts.get_or_create(&KindLabel { kind }).inc();
    }

    /// Every metric as OpenMetrics text (`CONTENT_TYPE`).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text_with_their_labels() {
        let metrics = Metrics::new();
        metrics.request("/v1/authorize", 200, 0.002);
        metrics.request("/v1/authorize", 200, 0.004);
        metrics.authorization(AUTHORIZED);
        metrics.reports_ingested(3, 1);
        metrics.alert_fired("usage");

        let text = metrics.encode().unwrap();

        assert!(text.contains(r#"licet_http_requests_total{route="/v1/authorize",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"licet_http_request_duration_seconds_count{route="/v1/authorize"} 2"#), "{text}");
        assert!(text.contains(r#"licet_authorizations_total{code="OK"} 1"#), "{text}");
        assert!(text.contains(r#"licet_authorizations_total{code="QUOTA_EXHAUSTED"} 0"#), "{text}");
        assert!(text.contains(r#"licet_reports_ingested_total{outcome="new"} 3"#), "{text}");
        assert!(text.contains(r#"licet_reports_ingested_total{outcome="duplicate"} 1"#), "{text}");
        assert!(text.contains(r#"licet_alerts_fired_total{kind="usage"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
