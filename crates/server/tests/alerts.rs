//! Usage alerts: quota thresholds, expiry reminders and the failed-authorization alarm each fire
//! once per crossing and are stored; webhooks get each alert signed with HMAC-SHA256, retried
//! with backoff, and a webhook that hangs holds up no request.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::router::*;
use hmac::{Hmac, Mac};
use licet_protocol::license::{LicenseType, Module, DAY_MS};
use licet_protocol::wire::{SlotUsage, UsageReport};
use licet_server::alerts::{self, AlertSettings};
use licet_server::storage::Alert;
use sha2::Sha256;

fn core_pages(n: u64) -> UsageReport {
    UsageReport {
        report_id: licet_protocol::ids::ReportId(random16()),
        slots: vec![SlotUsage {
            slot: NOW / licet_protocol::SLOT_MS - 1,
            pages: vec![(Module::Core, n)],
            scans: vec![],
        }],
    }
}

fn keys(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| format!("{} {}", a.kind, a.message)).collect()
}

#[tokio::test]
async fn usage_alerts_fire_once_for_each_threshold_a_quota_crosses() {
    let server = Server::new("alerts-usage").await;
    let mut file = license_file("L-pages", LicenseType::PerPage, &[Module::Core, Module::Ocr], NOW + 365 * DAY_MS);
    file.quota = Some(100);
    server.import(&file).await;
    server.project(CODE, None, &["L-pages"]).await;
    let device = new_device();
    server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    let settings = AlertSettings::default();

    assert!(server.report(device, vec![core_pages(59)]).await.1.is_ok());
    assert_eq!(keys(&alerts::check(&server.config, &settings, NOW).await.unwrap()), Vec::<String>::new());
    assert!(server.report(device, vec![core_pages(1)]).await.1.is_ok());
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(keys(&fired), ["usage license L-pages has used 60% of its core quota: 60 of 100"]);
    assert_eq!(fired[0].subject, "L-pages");
    assert!(alerts::check(&server.config, &settings, NOW).await.unwrap().is_empty(), "a crossing fires once");

    // From 60 to 105 in one step crosses 80% and 100%: each fires, once.
    assert!(server.report(device, vec![core_pages(45)]).await.1.is_ok());
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(
        keys(&fired),
        [
            "usage license L-pages has used 80% of its core quota: 105 of 100",
            "usage license L-pages has used 100% of its core quota: 105 of 100"
        ]
    );
    assert!(alerts::check(&server.config, &settings, NOW).await.unwrap().is_empty());
    assert_eq!(server.storage.alerts().await.unwrap().len(), 3, "every alert is stored");
}

#[tokio::test]
async fn seat_alerts_fire_as_a_per_device_license_fills() {
    let server = Server::new("alerts-seats").await;
    let mut file = license_file("L-devices", LicenseType::PerDevice, &[Module::Core], NOW + 365 * DAY_MS);
    (file.quota, file.devices) = (None, Some(5));
    server.import(&file).await;
    server.project(CODE, None, &["L-devices"]).await;
    let settings = AlertSettings::default();
    for _ in 0..2 {
        server.authorize(&authorize_request(new_device(), None, Some(CODE))).await.unwrap();
    }
    assert!(alerts::check(&server.config, &settings, NOW).await.unwrap().is_empty(), "2 of 5 seats");
    server.authorize(&authorize_request(new_device(), None, Some(CODE))).await.unwrap();
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(keys(&fired), ["usage license L-devices has 60% of its device seats taken: 3 of 5"]);
    for _ in 0..2 {
        server.authorize(&authorize_request(new_device(), None, Some(CODE))).await.unwrap();
    }
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(
        keys(&fired),
        [
            "usage license L-devices has 80% of its device seats taken: 5 of 5",
            "usage license L-devices has 100% of its device seats taken: 5 of 5"
        ]
    );
}

#[tokio::test]
async fn expiry_reminders_fire_once_at_the_nearest_reminder_day() {
    let server = Server::new("alerts-expiry").await;
    let expires = NOW + 40 * DAY_MS;
    server.license("L-year", LicenseType::PerDomain, &[Module::Core], expires).await;
    let settings = AlertSettings::default();
    let check = |now| {
        let (config, settings) = (server.config.clone(), settings.clone());
        async move { keys(&alerts::check(&config, &settings, now).await.unwrap()) }
    };

    assert!(check(NOW).await.is_empty(), "40 days before expiry");
    assert_eq!(
        check(expires - 29 * DAY_MS).await,
        [format!("expiry license L-year expires within 30 days, at {expires} (Unix ms)")]
    );
    assert!(check(expires - 20 * DAY_MS).await.is_empty(), "once");
    // 5 days before: the 7-day reminder; the 1-day one waits for its day.
    assert_eq!(
        check(expires - 5 * DAY_MS).await,
        [format!("expiry license L-year expires within 7 days, at {expires} (Unix ms)")]
    );
    assert_eq!(
        check(expires - DAY_MS / 2).await,
        [format!("expiry license L-year expires within 1 days, at {expires} (Unix ms)")]
    );
    assert!(check(expires + 1).await.is_empty(), "no reminder once it has expired");
}

#[tokio::test]
async fn a_high_share_of_failed_authorizations_raises_one_alarm_per_window() {
    let server = Server::new("alerts-failures").await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + 365 * DAY_MS).await;
    server.project(CODE, Some("open sesame"), &["L-pages"]).await;
    let settings = AlertSettings::default();
    let attempt = |password: &'static str| {
        let mut request = authorize_request(new_device(), None, Some(CODE));
        request.session_password = Some(password.into());
        request
    };

    for _ in 0..5 {
        server.authorize(&attempt("open sesame")).await.unwrap();
    }
    for _ in 0..14 {
        assert!(server.authorize(&attempt("wrong")).await.is_err());
    }
    assert!(
        alerts::check(&server.config, &settings, NOW).await.unwrap().is_empty(),
        "19 attempts are too few to judge"
    );
    assert!(server.authorize(&attempt("wrong")).await.is_err());
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(
        keys(&fired),
        [format!("authorization-failures project {CODE}: 15 of 20 authorizations failed in one window")]
    );
    assert!(alerts::check(&server.config, &settings, NOW).await.unwrap().is_empty(), "once per window");

    // A crossing in the last moments of a window is still seen by a check after it closed.
    let late = NOW + 15 * 60 * 1000 - 1;
    server.now.store(late, Ordering::SeqCst);
    let next_code = "acme-late";
    server.project(next_code, Some("open sesame"), &["L-pages"]).await;
    for _ in 0..20 {
        let mut request = attempt("wrong");
        request.handshake_code = Some(next_code.into());
        assert!(server.authorize(&request).await.is_err());
    }
    let fired = alerts::check(&server.config, &settings, late + 60_000).await.unwrap();
    assert_eq!(
        keys(&fired),
        [format!("authorization-failures project {next_code}: 20 of 20 authorizations failed in one window")]
    );

    // The next window starts from nothing: all well there, no alarm.
    let next = NOW + 15 * 60 * 1000;
    server.now.store(next, Ordering::SeqCst);
    for _ in 0..20 {
        server.authorize(&attempt("open sesame")).await.unwrap();
    }
    assert!(alerts::check(&server.config, &settings, next).await.unwrap().is_empty());
}

/// A request a webhook receiver received: its headers and body.
type Received = (HeaderMap, Vec<u8>);

/// A webhook receiver on a free port: answers each request with the next status of `statuses`
/// (200 once they run out) and keeps what it received.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(statuses: Vec<StatusCode>) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let statuses = Arc::new(Mutex::new(statuses.into_iter()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| async move {
            kept.lock().unwrap().push((headers, body.to_vec()));
            statuses.lock().unwrap().next().unwrap_or(StatusCode::OK)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, received }
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn webhooks_get_each_alert_signed_and_retried_with_backoff_until_delivered() {
    let server = Server::new("alerts-webhook").await;
    let hook = receiver(vec![StatusCode::INTERNAL_SERVER_ERROR]).await;
    let settings = AlertSettings {
        webhooks: vec![hook.url.clone()],
        webhook_secret: Some("s3cret".into()),
        retry_base: Duration::from_secs(30),
        ..AlertSettings::default()
    };
    let client = reqwest::Client::new();
    let expires = NOW + 3 * DAY_MS;
    server.license("L-soon", LicenseType::PerDomain, &[Module::Core], expires).await;
    let fired = alerts::check(&server.config, &settings, NOW).await.unwrap();
    assert_eq!(fired.len(), 1);

    // The first attempt gets a 500: tried again 30 s later, not before.
    assert_eq!(alerts::deliver_due(&server.config, &settings, &client, NOW).await.unwrap(), 1);
    let delivery = server.storage.alerts().await.unwrap()[0].deliveries[0].clone();
    assert_eq!((delivery.attempts, delivery.delivered_at, delivery.next_attempt_at), (1, None, NOW + 30_000));
    assert_eq!(delivery.last_error.as_deref(), Some("the webhook answered 500 Internal Server Error"));
    assert_eq!(alerts::deliver_due(&server.config, &settings, &client, NOW + 29_999).await.unwrap(), 0);
    server.now.store(NOW + 30_000, Ordering::SeqCst);
    assert_eq!(alerts::deliver_due(&server.config, &settings, &client, NOW + 30_000).await.unwrap(), 1);
    let delivery = server.storage.alerts().await.unwrap()[0].deliveries[0].clone();
    assert_eq!((delivery.attempts, delivery.delivered_at), (2, Some(NOW + 30_000)));
    assert_eq!(
        alerts::deliver_due(&server.config, &settings, &client, NOW + DAY_MS).await.unwrap(),
        0,
        "delivered once"
    );

    // Both attempts carried the same JSON, signed with the shared secret.
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    for (headers, body) in &received {
        assert_eq!(headers["licet-signature"].to_str().unwrap(), format!("sha256={}", hmac_hex("s3cret", body)));
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (json["kind"].as_str(), json["subject"].as_str(), json["firedAt"].as_u64()),
            (Some("expiry"), Some("L-soon"), Some(NOW))
        );
    }
    assert_eq!(received[0].1, received[1].1);
}

#[tokio::test]
async fn a_webhook_that_never_answers_holds_up_no_request_and_is_retried() {
    let server = Server::new("alerts-hang").await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let settings = AlertSettings {
        webhooks: vec![url],
        webhook_secret: Some("s3cret".into()),
        delivery_timeout: Duration::from_secs(2),
        ..AlertSettings::default()
    };
    server.license("L-soon", LicenseType::PerDomain, &[Module::Core], NOW + 3 * DAY_MS).await;
    server.project(CODE, None, &["L-soon"]).await;
    alerts::check(&server.config, &settings, NOW).await.unwrap();

    let (config, delivering_settings) = (server.config.clone(), settings.clone());
    let delivering = tokio::spawn(async move {
        alerts::deliver_due(&config, &delivering_settings, &reqwest::Client::new(), NOW).await.unwrap()
    });
    // While the delivery waits on the silent webhook, a device is authorized.
    let mut request = authorize_request(new_device(), None, Some(CODE));
    request.domain = "app.example.com".into();
    server.authorize(&request).await.unwrap();
    assert!(!delivering.is_finished(), "the authorization did not wait for the webhook");

    assert_eq!(delivering.await.unwrap(), 1);
    let delivery = server.storage.alerts().await.unwrap()[0].deliveries[0].clone();
    assert_eq!((delivery.attempts, delivery.delivered_at.is_none(), delivery.gave_up), (1, true, false));
    let error = delivery.last_error.unwrap();
    assert!(error.starts_with("the webhook could not be reached"), "{error}");
    assert!(!error.contains("/hook"), "the URL, which may hold a secret, is not stored: {error}");
    drop(silent);
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_doubling_waits_and_then_given_up() {
    let server = Server::new("alerts-give-up").await;
    let hook = receiver(vec![StatusCode::BAD_GATEWAY; 10]).await;
    let settings = AlertSettings {
        webhooks: vec![hook.url.clone()],
        webhook_secret: Some("s3cret".into()),
        retry_base: Duration::from_secs(30),
        max_attempts: 3,
        ..AlertSettings::default()
    };
    let client = reqwest::Client::new();
    server.license("L-soon", LicenseType::PerDomain, &[Module::Core], NOW + 3 * DAY_MS).await;
    alerts::check(&server.config, &settings, NOW).await.unwrap();
    let delivery = || async { server.storage.alerts().await.unwrap()[0].deliveries[0].clone() };

    // Waits of 30 s, then 60 s; the third failure is the last attempt.
    let mut at = NOW;
    for (attempts, wait) in [(1, 30_000), (2, 60_000)] {
        server.now.store(at, Ordering::SeqCst);
        assert_eq!(alerts::deliver_due(&server.config, &settings, &client, at).await.unwrap(), 1);
        let d = delivery().await;
        assert_eq!((d.attempts, d.next_attempt_at, d.gave_up), (attempts, at + wait, false));
        assert_eq!(
            alerts::deliver_due(&server.config, &settings, &client, at + wait - 1).await.unwrap(),
            0,
            "not before its time"
        );
        at += wait;
    }
    server.now.store(at, Ordering::SeqCst);
    assert_eq!(alerts::deliver_due(&server.config, &settings, &client, at).await.unwrap(), 1);
    let d = delivery().await;
    assert_eq!((d.attempts, d.gave_up, d.delivered_at), (3, true, None));
    assert_eq!(
        alerts::deliver_due(&server.config, &settings, &client, at + DAY_MS).await.unwrap(),
        0,
        "given up for good"
    );
    assert_eq!(hook.received.lock().unwrap().len(), 3);
}
