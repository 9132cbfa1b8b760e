//! The server's production hygiene, driven through the router and over real sockets: CORS
//! that admits only the origins licenses bind, body limits per route, per-address rate limits,
//! the Prometheus metrics, HTTPS, and a shutdown that finishes the requests in flight.

mod common;

use common::http::{exchange, get, post, read_response};
use common::router::*;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use licet_protocol::envelope::{self, Route};
use licet_protocol::ids::{DeviceId, ReportId};
use licet_protocol::license::{LicenseType, Module, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{self, ErrorBody, ReportsResponse, SealedResponse, SlotUsage, UsageReport};
use licet_server::http::{AUTHORIZE_BODY_LIMIT, REPORTS_BODY_LIMIT};
use licet_server::limits::RateLimit;
use licet_server::{Config, Listeners, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Sends `request` through the router; returns the status, headers and body.
async fn through(server: &Server, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = server.router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec())
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(Route::Authorize.path())
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap()
}

/// The origin a preflight from `origin` is admitted with, if any.
async fn preflight_admits(server: &Server, origin: &str) -> bool {
    let (status, headers, _) = through(server, preflight(origin)).await;
    assert!(status.is_success(), "{status}");
    match headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        Some(allowed) => {
            assert_eq!(allowed, origin);
            assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
            assert!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().contains("content-type"));
            true
        }
        None => false,
    }
}

/// A server started on 127.0.0.1, port 0, with its stop switch.
struct Running {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    async fn start(config: Config) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Running::with(config, |public| public.into(), listener).await
    }

    async fn with(config: Config, listeners: impl FnOnce(TcpListener) -> Listeners, listener: TcpListener) -> Running {
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(licet_server::serve(config, listeners(listener), async move {
            let _ = stopped.await;
        }));
        Running { address, stop: Some(stop), task }
    }

    /// Stops the server and expects it to return `Ok`.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().expect("serve returns Ok after shutdown");
    }
}

async fn tcp(address: SocketAddr, request: &[u8]) -> (u16, String, Vec<u8>) {
    exchange(TcpStream::connect(address).await.unwrap(), request).await
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body).expect("the shared error body").code
}

/// The value of the metric line that starts with `series ` in the `/metrics` text.
fn metric(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[prefix.len()..].parse().unwrap()
}

async fn scrape(server: &Server) -> String {
    let (status, headers, body) = through(server, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/openmetrics-text"));
    String::from_utf8(body).unwrap()
}

// ---------------------------------------------------------------------------------------------
// CORS

#[tokio::test]
async fn a_preflight_is_admitted_only_for_an_origin_some_stored_license_admits() {
    let server = Server::new("cors-preflight").await;
    server.domain_license("L-app", &["app.example.com", "*.shop.example"], false).await;

    assert!(preflight_admits(&server, "https://app.example.com").await);
    assert!(preflight_admits(&server, "https://eu.shop.example:8443").await);
    for refused in ["https://evil.example", "http://localhost:5173", "null", "not an origin"] {
        assert!(!preflight_admits(&server, refused).await, "{refused}");
    }

    // The licenses are read again only once the snapshot is REFRESH_MS old on the server's clock.
    server.domain_license("L-dev", &["dev.example.com"], true).await;
    assert!(!preflight_admits(&server, "http://localhost:5173").await, "the snapshot is still fresh");
    server.now.fetch_add(30_000, Ordering::SeqCst);
    assert!(preflight_admits(&server, "http://localhost:5173").await, "development hosts of L-dev");
    assert!(!preflight_admits(&server, "https://evil.example").await);

    // A license that binds no domain admits every origin.
    server.license("L-any", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
    server.now.fetch_add(30_000, Ordering::SeqCst);
    assert!(preflight_admits(&server, "https://evil.example").await);
    assert!(!preflight_admits(&server, "null").await, "an opaque origin never");
}

#[tokio::test]
async fn every_answer_to_a_post_names_its_origin_back_so_the_page_reads_the_code() {
    let server = Server::new("cors-answers").await;
    server.domain_license("L-app", &["app.example.com"], false).await;
    server.project(CODE, None, &["L-app"]).await;
    let send = |origin: &'static str, domain: &str| {
        let (body, _) = server.seal(Route::Authorize, &from_domain(domain));
        Request::post(Route::Authorize.path())
            .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
            .header(header::ORIGIN, origin)
            .body(Body::from(body))
            .unwrap()
    };

    let (status, headers, body) = through(&server, send("https://shop.example.org", "shop.example.org")).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "DOMAIN_MISMATCH"));
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://shop.example.org");
    assert!(headers[header::VARY].to_str().unwrap().contains("origin"));
    assert!(headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("retry-after"));

    let (status, headers, _) = through(&server, send("https://app.example.com", "app.example.com")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");

    let (_, headers, _) = through(
        &server,
        Request::get("/healthz").header(header::ORIGIN, "https://x.example").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "only the protocol routes take part in CORS");
}

// ---------------------------------------------------------------------------------------------
// Body limits

/// A report of one slot with every module and `symbologies` symbologies of realistic names,
/// each with a five-digit count: far more than a real slot holds.
fn heavy_report(slot: u64, symbologies: usize) -> UsageReport {
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage {
            slot,
            pages: [Module::Core, Module::Webcam, Module::Pdfr, Module::Ocr].into_iter().map(|m| (m, 54_321)).collect(),
            scans: (0..symbologies).map(|i| (format!("SYMBOLOGY_{i:02}_CODE"), 54_321)).collect(),
        }],
    }
}

#[tokio::test]
async fn the_reports_limit_admits_the_largest_batch_the_browser_sends_and_authorize_stays_small() {
    let (server, device) = licensed_server("body-limits").await;
    let slot = NOW / licet_protocol::SLOT_MS - 1;

    // The browser sends at most 256 reports per request; here each is a slot with every module
    // and 40 symbologies counted.
    let request = reports_request(device, (0..256).map(|i| heavy_report(slot - i, 40)).collect());
    let (body, key) = server.seal(Route::Reports, &request);
    assert!(body.len() < REPORTS_BODY_LIMIT / 2, "{} bytes", body.len());
    let answer: ReportsResponse = server.send(Route::Reports, body, &key).await.unwrap();
    let receipt: wire::Receipt = answer.receipt.verify(&server.server_signing()).unwrap();
    assert_eq!(receipt.accepted.len(), 256);

    // A whole offline week in one request (3,360 slots, two modules and three symbologies each)
    // fits too, should a client ever send it unbatched.
    let week: Vec<UsageReport> = (0..3_360)
        .map(|i| {
            let mut report = heavy_report(slot - 300 - i, 3);
            report.slots[0].pages.truncate(2);
            report
        })
        .collect();
    let (body, key) = server.seal(Route::Reports, &reports_request(device, week));
    assert!(body.len() < REPORTS_BODY_LIMIT, "{} bytes", body.len());
    let _: ReportsResponse = server.send(Route::Reports, body, &key).await.unwrap();

    let (status, body) = server.post(Route::Authorize.path(), vec![b' '; AUTHORIZE_BODY_LIMIT + 1], None).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
    let (status, body) = server.post(Route::Reports.path(), vec![b' '; AUTHORIZE_BODY_LIMIT + 1], None).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "MALFORMED_REQUEST"),
        "under the reports limit"
    );
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn an_address_over_its_limit_is_answered_429_with_retry_after_and_health_checks_are_not_limited() {
    let server = Server::new("rate-limit").await;
    let running = Running::start(server.config.clone().with_rate_limit(RateLimit { per_second: 1, burst: 2 })).await;
    let request = post(Route::Authorize.path(), b"{}", "Origin: https://app.example.com\r\n");

    for _ in 0..2 {
        let (status, _, body) = tcp(running.address, &request).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "MALFORMED_REQUEST"));
    }
    let (status, head, body) = tcp(running.address, &request).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "RATE_LIMITED"));
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert!(head.contains("access-control-allow-origin: https://app.example.com"), "{head}");
    let (status, _, body) = tcp(running.address, &post(Route::Reports.path(), b"{}", "")).await;
    assert_eq!((status, error_code(&body).as_str()), (429, "RATE_LIMITED"), "one allowance for both routes");

    for path in ["/healthz", "/metrics", "/healthz", "/metrics", "/healthz"] {
        assert_eq!(tcp(running.address, &get(path)).await.0, 200, "{path}");
    }
    running.stop().await;
}

#[tokio::test]
async fn the_forwarded_address_is_limited_only_when_the_proxy_is_trusted() {
    let server = Server::new("rate-limit-proxy").await;
    let one = RateLimit { per_second: 1, burst: 1 };
    let from =
        |client: &str| post(Route::Authorize.path(), b"{}", &format!("X-Forwarded-For: 198.51.100.9, {client}\r\n"));

    let direct = Running::start(server.config.clone().with_rate_limit(one)).await;
    assert_eq!(tcp(direct.address, &from("203.0.113.1")).await.0, 400);
    assert_eq!(
        tcp(direct.address, &from("203.0.113.2")).await.0,
        429,
        "the header is ignored: one peer, one allowance"
    );
    direct.stop().await;

    let proxied = Running::start(server.config.clone().with_rate_limit(one).with_trust_forwarded_for(true)).await;
    assert_eq!(tcp(proxied.address, &from("203.0.113.1")).await.0, 400);
    assert_eq!(tcp(proxied.address, &from("203.0.113.2")).await.0, 400, "another client behind the proxy");
    assert_eq!(tcp(proxied.address, &from("203.0.113.1")).await.0, 429);
    proxied.stop().await;
}

#[tokio::test]
async fn a_rate_of_zero_turns_the_limit_off_for_load_tests() {
    let server = Server::new("rate-limit-off").await;
    let running = Running::start(server.config.clone().with_rate_limit(RateLimit::OFF)).await;
    for _ in 0..150 {
        assert_eq!(tcp(running.address, &post(Route::Authorize.path(), b"{}", "")).await.0, 400);
    }
    running.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Metrics

#[tokio::test]
async fn metrics_count_requests_authorizations_by_code_and_reports_ingested() {
    let (server, device) = licensed_server("metrics").await;
    for _ in 0..2 {
        assert_refused(
            server.authorize(&authorize_request(device, None, Some("no-such-code"))).await,
            StatusCode::NOT_FOUND,
            "UNKNOWN_PROJECT",
        );
    }
    let (first, second, third) = (report(1, 0), report(2, 0), report(3, 0));
    assert_eq!(server.report(device, vec![first.clone(), second]).await.0.accepted.len(), 2);
    assert_eq!(server.report(device, vec![first, third]).await.0.accepted.len(), 2);
    server.config.metrics.alert_fired("usage");

    let text = scrape(&server).await;

    assert_eq!(metric(&text, r#"licet_authorizations_total{code="OK"}"#), 1.0);
    assert_eq!(metric(&text, r#"licet_authorizations_total{code="UNKNOWN_PROJECT"}"#), 2.0);
    assert_eq!(metric(&text, r#"licet_authorizations_total{code="QUOTA_EXHAUSTED"}"#), 0.0);
    assert_eq!(metric(&text, r#"licet_reports_ingested_total{outcome="new"}"#), 3.0);
    assert_eq!(metric(&text, r#"licet_reports_ingested_total{outcome="duplicate"}"#), 1.0);
    assert_eq!(metric(&text, r#"licet_http_requests_total{route="/v1/authorize",status="200"}"#), 1.0);
    assert_eq!(metric(&text, r#"licet_http_requests_total{route="/v1/authorize",status="404"}"#), 2.0);
    assert_eq!(metric(&text, r#"licet_http_requests_total{route="/v1/reports",status="200"}"#), 2.0);
    assert_eq!(metric(&text, r#"licet_http_request_duration_seconds_count{route="/v1/authorize"}"#), 3.0);
    assert_eq!(metric(&text, r#"licet_alerts_fired_total{kind="usage"}"#), 1.0);

    // The scrape itself is counted once it is answered.
    let text = scrape(&server).await;
    assert_eq!(metric(&text, r#"licet_http_requests_total{route="/metrics",status="200"}"#), 1.0);
}

#[tokio::test]
async fn a_metrics_listener_of_its_own_takes_metrics_off_the_public_one() {
    let server = Server::new("metrics-listener").await;
    let metrics = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_address = metrics.local_addr().unwrap();
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running =
        Running::with(server.config.clone(), |public| Listeners { public, tls: None, metrics: Some(metrics) }, public)
            .await;

    assert_eq!(tcp(running.address, &get("/metrics")).await.0, 404);
    let (status, _, body) = tcp(metrics_address, &get("/metrics")).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains(r#"licet_http_requests_total{route="other",status="404"} 1"#));
    running.stop().await;
    assert!(TcpStream::connect(metrics_address).await.is_err(), "the metrics listener closes too");
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

/// A clock that, once armed, holds the first request that reads it until released: a request
/// provably in the middle of its handler.
struct HeldClock {
    armed: Arc<AtomicBool>,
    entered: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: mpsc::Sender<()>,
}

fn held_clock(config: Config) -> (Config, HeldClock) {
    let armed = Arc::new(AtomicBool::new(false));
    let (entered_tx, entered) = tokio::sync::mpsc::unbounded_channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let clock_armed = armed.clone();
    let clock = Arc::new(move || {
        if clock_armed.swap(false, Ordering::SeqCst) {
            let _ = entered_tx.send(());
            // Blocks this worker thread only, on purpose: the request stays mid-handler.
            let _ = released.lock().unwrap().recv();
        }
        NOW
    });
    (config.with_clock(clock), HeldClock { armed, entered, release })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn shutdown_refuses_new_connections_and_finishes_the_request_in_flight() {
    let server = Server::new("shutdown").await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + 365 * DAY_MS).await;
    server.project(CODE, None, &["L-pages"]).await;
    let (config, mut held) = held_clock(server.config.clone());
    let running = Running::start(config).await;
    let request = authorize_request(DeviceId::from_random(random16()), None, Some(CODE));
    let (body, key) = server.seal(Route::Authorize, &request);

    held.armed.store(true, Ordering::SeqCst);
    let mut stream = TcpStream::connect(running.address).await.unwrap();
    stream.write_all(&post(Route::Authorize.path(), &body, "")).await.unwrap();
    held.entered.recv().await.expect("the request reaches its handler");

    let Running { address, stop, task } = running;
    stop.unwrap().send(()).unwrap();
    // The listener closes as soon as the shutdown is seen: poll for it, within bounds.
    let mut refused = false;
    for _ in 0..500 {
        if TcpStream::connect(address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "new connections are refused once shutdown started");
    assert!(!task.is_finished(), "the server waits for the request in flight");

    held.release.send(()).unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let sealed: SealedResponse = serde_json::from_slice(&body).unwrap();
    let signed: Signed = wire::decode(&envelope::open_response(&key, &sealed).unwrap()).unwrap();
    let authorization: wire::Authorization = signed.verify(&server.server_signing()).unwrap();
    assert_eq!(authorization.device_id, request.device_id);
    task.await.unwrap().expect("serve returns Ok once the request is done");
}

// ---------------------------------------------------------------------------------------------
// HTTPS

struct Pem {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    der: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
}

fn self_signed(dir: &std::path::Path, name: &str) -> Pem {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    Pem { cert, key, der: certified.cert.der().clone() }
}

#[tokio::test]
async fn https_serves_with_the_given_certificate() {
    use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};

    let server = Server::new("tls").await;
    let pem = self_signed(&common::temp_dir("tls-files"), "server");
    let tls = licet_server::tls::load(&pem.cert, &pem.key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running =
        Running::with(server.config.clone(), |public| Listeners { public, tls: Some(tls), metrics: None }, listener)
            .await;

    let mut roots = RootCertStore::empty();
    roots.add(pem.der.clone()).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp_stream = TcpStream::connect(running.address).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp_stream)
        .await
        .expect("the handshake verifies");

    let (status, _, body) = exchange(stream, &get("/healthz")).await;
    assert_eq!((status, body.as_slice()), (200, br#"{"ok":true}"#.as_slice()));

    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(running.address).await.unwrap();
    plain.write_all(&get("/healthz")).await.unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!answer.starts_with(b"HTTP/1.1 200"));
    running.stop().await;
}

#[test]
fn tls_files_that_do_not_fit_are_refused_with_what_to_do() {
    let dir = common::temp_dir("tls-bad");
    let good = self_signed(&dir, "good");
    let other = self_signed(&dir, "other");
    let message =
        |cert: &std::path::Path, key: &std::path::Path| licet_server::tls::load(cert, key).unwrap_err().to_string();

    assert!(message(&dir.join("missing.crt"), &good.key).starts_with("could not read"), "an unreadable file");
    assert!(message(&good.key, &good.key).contains("holds no certificate"));
    assert!(message(&good.cert, &good.cert).contains("holds no usable private key"));
    let mismatch = message(&good.cert, &other.key);
    assert!(
        mismatch.contains("does not fit") && mismatch.contains("pass the key the certificate was issued for"),
        "{mismatch}"
    );
    assert!(licet_server::tls::load(&good.cert, &good.key).is_ok());
}
