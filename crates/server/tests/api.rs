//! The protocol routes, driven through the router with the protocol crate as the client: what
//! each request is answered, and that refused requests leave the store as it was.

mod common;

use common::router::*;

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use licet_protocol::envelope::{self, Route};
use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::keys::{ServerKeys, VendorKey};
use licet_protocol::license::{self, LicenseType, Module, Tolerance, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{self, Authorization, ErrorBody, LicenseState, Receipt, ReportsResponse};
use licet_server::storage::UsageItem;
use licet_server::{admin, Config};
use rand_core::{OsRng, TryRngCore};

#[tokio::test]
async fn authorize_answers_a_signed_authorization_that_carries_the_vendor_signed_licenses() {
    let server = Server::new("authorize-ok").await;
    let pages = server.license("L-pages", LicenseType::PerPage, &[Module::Ocr, Module::Core], NOW + 30 * DAY_MS).await;
    let scans = server.license("L-scans", LicenseType::PerScan, &[Module::Core], NOW + 90 * DAY_MS).await;
    server.project(CODE, None, &["L-pages", "L-scans"]).await;
    let device = DeviceId::from_random(random16());
    let request = authorize_request(device, Some(ORG), Some(CODE));

    let authorization = server.authorize(&request).await.unwrap();

    assert_eq!(authorization.nonce, request.nonce);
    assert_eq!(authorization.device_id, device);
    assert_eq!(authorization.handshake_code, CODE);
    assert_eq!(authorization.licenses, vec![pages, scans]);
    for signed in &authorization.licenses {
        license::verify(signed, &server.vendor_public()).expect("each license verifies with the vendor key");
    }
    assert_eq!(authorization.modules, vec![Module::Core, Module::Ocr]);
    assert_eq!(authorization.server_time, NOW);
    assert_eq!(authorization.offline_until, NOW + license::DEFAULT_OFFLINE_GRACE_MS);
    assert_eq!(authorization.active_until, NOW + 90 * DAY_MS);
    assert_eq!(authorization.report_interval_ms, 180_000);
    assert_eq!(authorization.state, LicenseState::Valid);
    let devices = server.storage.devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].contact.device_id, device);
    assert_eq!(devices[0].contact.domain, "app.example.com");
    assert_eq!((devices[0].first_seen, devices[0].last_seen), (NOW, NOW));
}

#[tokio::test]
async fn an_organization_alone_resolves_to_its_first_project() {
    let server = Server::new("authorize-org").await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
    server.project(CODE, None, &["L-pages"]).await;
    server.project("acme-second", None, &["L-pages"]).await;
    let device = DeviceId::from_random(random16());

    let authorization = server.authorize(&authorize_request(device, Some(ORG), None)).await.unwrap();

    assert_eq!(authorization.handshake_code, CODE);
}

#[tokio::test]
async fn an_unknown_project_is_refused_and_stores_no_device() {
    let (server, _) = licensed_server("authorize-unknown").await;
    let before = server.storage.devices().await.unwrap();
    let stranger = DeviceId::from_random(random16());

    for (org, code) in [(None, Some("no-such-code")), (Some("other-org"), None), (Some(ORG), Some("no-such-code"))] {
        let answer = server.authorize(&authorize_request(stranger, org, code)).await;
        assert_refused(answer, StatusCode::NOT_FOUND, "UNKNOWN_PROJECT");
    }
    // Both given, and the code is another organization's: a named error of its own.
    let answer = server.authorize(&authorize_request(stranger, Some("other-org"), Some(CODE))).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "ORGANIZATION_MISMATCH");
    // Neither given, on a server that offers no public trial.
    let answer = server.authorize(&authorize_request(stranger, None, None)).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "TRIAL_UNAVAILABLE");

    assert_eq!(server.storage.devices().await.unwrap(), before);
}

#[tokio::test]
async fn a_missing_or_wrong_session_password_is_refused_and_the_right_one_accepted() {
    let server = Server::new("authorize-password").await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
    server.project(CODE, Some("open sesame"), &["L-pages"]).await;
    // Only a salted argon2id hash is stored, never the password itself.
    let stored = server.storage.project(CODE).await.unwrap().unwrap().session_password_hash.unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains("open sesame"), "{stored}");
    let device = DeviceId::from_random(random16());
    let mut request = authorize_request(device, None, Some(CODE));

    assert_refused(server.authorize(&request).await, StatusCode::FORBIDDEN, "WRONG_SESSION_PASSWORD");
    request.session_password = Some("open sesame!".into());
    request.nonce = Nonce(random16());
    assert_refused(server.authorize(&request).await, StatusCode::FORBIDDEN, "WRONG_SESSION_PASSWORD");
    assert!(server.storage.devices().await.unwrap().is_empty());

    request.session_password = Some("open sesame".into());
    request.nonce = Nonce(random16());
    assert_eq!(server.authorize(&request).await.unwrap().device_id, device);
}

#[tokio::test]
async fn a_project_without_a_license_is_refused() {
    let server = Server::new("authorize-no-license").await;
    server.project(CODE, None, &[]).await;

    let answer = server.authorize(&authorize_request(DeviceId::from_random(random16()), None, Some(CODE))).await;

    assert_refused(answer, StatusCode::FORBIDDEN, "NO_LICENSE");
    assert!(server.storage.devices().await.unwrap().is_empty());
}

#[tokio::test]
async fn expired_licenses_are_refused_and_left_out_while_another_is_valid() {
    let server = Server::new("authorize-expired").await;
    server.license("L-old", LicenseType::PerPage, &[Module::Ocr], NOW - 1).await;
    let current = server.license("L-current", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
    server.project(CODE, None, &["L-old", "L-current"]).await;
    let device = DeviceId::from_random(random16());

    let authorization = server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    assert_eq!(authorization.licenses, vec![current]);
    assert_eq!(authorization.modules, vec![Module::Core]);
    // The 7-day offline grace stops at the license's expiry, one day away.
    assert_eq!(authorization.offline_until, NOW + DAY_MS);

    // Past the last expiry, the tolerance of 7 days: every item inside it is in force, with a
    // warning, until the end of the latest one's.
    let tolerance_end = NOW + DAY_MS + Tolerance::default().expiry_ms;
    server.now.store(NOW + DAY_MS + 1, Ordering::SeqCst);
    let authorization = server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    assert_eq!(authorization.state, LicenseState::Tolerance);
    assert_eq!(authorization.modules, vec![Module::Core, Module::Ocr]);
    assert_eq!((authorization.active_until, authorization.offline_until), (tolerance_end, tolerance_end));

    // Past that, nothing is in force any more.
    server.now.store(tolerance_end + 1, Ordering::SeqCst);
    let answer = server.authorize(&authorize_request(device, None, Some(CODE))).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "LICENSE_EXPIRED");
    assert_eq!(server.storage.devices().await.unwrap()[0].last_seen, NOW + DAY_MS + 1);
}

#[tokio::test]
async fn a_report_sent_in_two_requests_is_acknowledged_twice_and_counted_once() {
    let (server, device) = licensed_server("reports-once").await;
    let first = report(3, 2);
    let second = report(1, 0);

    let answer: ReportsResponse =
        server.call(Route::Reports, &reports_request(device, vec![first.clone()])).await.unwrap();
    let receipt: Receipt = answer.receipt.verify(&server.server_signing()).unwrap();
    assert_eq!(receipt.accepted, vec![first.report_id]);

    let request = reports_request(device, vec![first.clone(), second.clone()]);
    let answer: ReportsResponse = server.call(Route::Reports, &request).await.unwrap();
    let receipt: Receipt = answer.receipt.verify(&server.server_signing()).unwrap();
    assert_eq!(receipt.accepted, vec![first.report_id, second.report_id]);
    assert_eq!((receipt.device_id, receipt.nonce, receipt.server_time), (device, request.nonce, NOW));
    let wire::Renewal::Renewed(signed) = answer.renewal else { panic!("the authorization is renewed") };
    let authorization: Authorization = signed.verify(&server.server_signing()).unwrap();
    assert_eq!(
        (authorization.nonce, authorization.device_id, authorization.handshake_code.as_str()),
        (request.nonce, device, CODE)
    );

    let usage = server.usage().await;
    assert_eq!(total(&usage, "L-pages", UsageItem::Pages(Module::Core)), 4);
    assert_eq!(total(&usage, "L-pages", UsageItem::Scans("QR_CODE".into())), 2);
}

#[tokio::test]
async fn usage_is_charged_to_the_license_that_sells_it() {
    let server = Server::new("reports-attribution").await;
    server.license("L-core", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
    server.license("L-scans", LicenseType::PerScan, &[Module::Core], NOW + DAY_MS).await;
    server.license("L-ocr", LicenseType::PerPage, &[Module::Ocr], NOW + DAY_MS).await;
    server.project(CODE, None, &["L-core", "L-scans", "L-ocr"]).await;
    let device = DeviceId::from_random(random16());
    server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    let mut usage = report(5, 7);
    usage.slots[0].pages.extend([(Module::Ocr, 2), (Module::Webcam, 9)]);

    let _: ReportsResponse = server.call(Route::Reports, &reports_request(device, vec![usage])).await.unwrap();

    let usage = server.usage().await;
    assert_eq!(total(&usage, "L-core", UsageItem::Pages(Module::Core)), 5);
    assert_eq!(total(&usage, "L-ocr", UsageItem::Pages(Module::Ocr)), 2);
    assert_eq!(total(&usage, "L-scans", UsageItem::Scans("QR_CODE".into())), 7);
    // No license sells webcam frames: they go to the first license rather than nowhere.
    assert_eq!(total(&usage, "L-core", UsageItem::Pages(Module::Webcam)), 9);
}

#[tokio::test]
async fn an_exact_replay_is_refused_and_changes_nothing() {
    let (server, device) = licensed_server("reports-replay").await;
    let (body, key) = server.seal(Route::Reports, &reports_request(device, vec![report(3, 0)]));
    let _: ReportsResponse = server.send(Route::Reports, body.clone(), &key).await.unwrap();
    let before = server.usage().await;

    let answer: Answer<ReportsResponse> = server.send(Route::Reports, body, &key).await;

    assert_refused(answer, StatusCode::CONFLICT, "REPLAYED_NONCE");
    assert_eq!(server.usage().await, before);
    assert_eq!(total(&before, "L-pages", UsageItem::Pages(Module::Core)), 3);
}

/// Copies of one request in flight together, beside other devices' reports: the store may write
/// them in one transaction (SQLite commits the writes waiting together at once), and still only
/// the first copy counts while every other request stands on its own.
#[tokio::test]
async fn concurrent_copies_of_a_request_count_once_beside_other_requests() {
    let (server, device) = licensed_server("reports-concurrent-replay").await;
    let other = DeviceId::from_random(random16());
    server.authorize(&authorize_request(other, None, Some(CODE))).await.unwrap();
    let (body, key) = server.seal(Route::Reports, &reports_request(device, vec![report(3, 0)]));
    let (other_body, other_key) = server.seal(Route::Reports, &reports_request(other, vec![report(5, 0)]));

    let (a, b, c, d): (
        Answer<ReportsResponse>,
        Answer<ReportsResponse>,
        Answer<ReportsResponse>,
        Answer<ReportsResponse>,
    ) = tokio::join!(
        server.send(Route::Reports, body.clone(), &key),
        server.send(Route::Reports, other_body, &other_key),
        server.send(Route::Reports, body.clone(), &key),
        server.send(Route::Reports, body, &key),
    );

    assert!(b.is_ok(), "{b:?}");
    let copies = [a, c, d];
    assert_eq!(copies.iter().filter(|answer| answer.is_ok()).count(), 1, "{copies:?}");
    for answer in copies.into_iter().filter(|answer| answer.is_err()) {
        assert_refused(answer, StatusCode::CONFLICT, "REPLAYED_NONCE");
    }
    assert_eq!(total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)), 8);
}

/// Requests in flight together, which SQLite writes in one transaction (each in a savepoint of
/// its own): a report in several of them counts once, and of two requests with one nonce
/// the one refused as a replay writes nothing, not even its reports.
#[tokio::test]
async fn requests_in_flight_together_count_a_shared_report_once_and_a_replay_not_at_all() {
    let (server, device) = licensed_server("reports-group").await;
    let other = DeviceId::from_random(random16());
    server.authorize(&authorize_request(other, None, Some(CODE))).await.unwrap();
    let shared = report(1, 0);
    // Rounds of four: two requests with the shared report, and two with one nonce.
    let mut requests = Vec::new();
    for _ in 0..4 {
        requests.push(reports_request(device, vec![report(10, 0), shared.clone()]));
        requests.push(reports_request(other, vec![shared.clone(), report(10, 0)]));
        let original = reports_request(device, vec![report(1_000, 0)]);
        let mut replay = reports_request(other, vec![report(100_000, 0)]);
        replay.nonce = original.nonce;
        requests.extend([original, replay]);
    }
    let server = std::sync::Arc::new(server);
    let sent: Vec<_> = requests
        .iter()
        .map(|request| {
            let (server, (body, key)) = (server.clone(), server.seal(Route::Reports, request));
            tokio::spawn(async move { server.send::<ReportsResponse>(Route::Reports, body, &key).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in sent {
        answers.push(task.await.unwrap());
    }

    let mut answers = answers.into_iter();
    let (mut counted, mut refused) = (1 + 8 * 10, Vec::new());
    for round in requests.chunks(4) {
        let mut next = || answers.next().unwrap();
        let (first, second, original, replay) = (next(), next(), next(), next());
        assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
        let (kept, answer, lost) = match (original.is_ok(), replay.is_ok()) {
            (true, false) => (1_000, replay, &round[3]),
            (false, true) => (100_000, original, &round[2]),
            (kept_original, kept_replay) => {
                panic!("one of two requests with one nonce is stored, not {kept_original} and {kept_replay}")
            }
        };
        assert_refused(answer, StatusCode::CONFLICT, "REPLAYED_NONCE");
        counted += kept;
        refused.extend(lost.reports.iter().cloned());
    }
    assert_eq!(total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)), counted);
    // The refused requests stored not even their reports: sent again under a nonce of their own,
    // they count.
    let _: ReportsResponse = server.call(Route::Reports, &reports_request(device, refused)).await.unwrap();
    assert_eq!(
        total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)),
        1 + 8 * 10 + 4 * (1_000 + 100_000)
    );
}

/// Writes that are not a request's (an import by the CLI, housekeeping's sweep) made while
/// requests keep the store writing: each takes its turn between two of the writer's
/// transactions (SQLite lets one connection write at a time), and nothing is lost.
#[tokio::test]
async fn writes_beside_requests_in_flight_take_their_turn_and_lose_nothing() {
    let (server, device) = licensed_server("writes-beside-requests").await;
    let server = std::sync::Arc::new(server);
    let sent: Vec<_> = (0..100)
        .map(|_| {
            let (server, (body, key)) =
                (server.clone(), server.seal(Route::Reports, &reports_request(device, vec![report(1, 0)])));
            tokio::spawn(async move { server.send::<ReportsResponse>(Route::Reports, body, &key).await })
        })
        .collect();

    let beside = async {
        server.license("L-more", LicenseType::PerPage, &[Module::Core], NOW + DAY_MS).await;
        server.storage.sweep(NOW).await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), beside)
        .await
        .expect("the writes beside the requests took their turn");

    for task in sent {
        let answer = task.await.unwrap();
        assert!(answer.is_ok(), "{answer:?}");
    }
    assert_eq!(total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)), 100);
    assert!(server.storage.license("L-more").await.unwrap().is_some());
}

#[tokio::test]
async fn a_replayed_authorization_is_refused() {
    let (server, device) = licensed_server("authorize-replay").await;
    let (body, key) = server.seal(Route::Authorize, &authorize_request(device, None, Some(CODE)));
    let _: Signed = server.send(Route::Authorize, body.clone(), &key).await.unwrap();

    let answer: Answer<Signed> = server.send(Route::Authorize, body, &key).await;

    assert_refused(answer, StatusCode::CONFLICT, "REPLAYED_NONCE");
}

#[tokio::test]
async fn a_flipped_ciphertext_byte_is_refused_and_stores_nothing() {
    let (server, device) = licensed_server("reports-flipped").await;
    let message = reports_request(device, vec![report(3, 1)]);
    let (sealed, key) =
        envelope::seal_request(&server.public.hpke, Route::Reports, &wire::encode(&message), &mut OsRng.unwrap_err())
            .unwrap();
    let mut altered = sealed.clone();
    altered.ct[10] ^= 0x01;

    let answer: Answer<ReportsResponse> =
        server.send(Route::Reports, serde_json::to_vec(&altered).unwrap(), &key).await;

    assert_refused(answer, StatusCode::BAD_REQUEST, "DECRYPTION_FAILED");
    assert!(server.usage().await.is_empty());
    // Its nonce was not stored either: the intact request still counts.
    let _: ReportsResponse = server.send(Route::Reports, serde_json::to_vec(&sealed).unwrap(), &key).await.unwrap();
    assert_eq!(total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)), 3);
}

#[tokio::test]
async fn a_request_sealed_to_another_servers_key_is_refused_and_stores_nothing() {
    let (server, _) = licensed_server("authorize-wrong-key").await;
    let before = server.storage.devices().await.unwrap();
    let other = ServerKeys::generate(&mut OsRng.unwrap_err()).public();
    let request = authorize_request(DeviceId::from_random(random16()), Some(ORG), Some(CODE));
    let (sealed, key) =
        envelope::seal_request(&other.hpke, Route::Authorize, &wire::encode(&request), &mut OsRng.unwrap_err())
            .unwrap();

    let answer: Answer<Signed> = server.send(Route::Authorize, serde_json::to_vec(&sealed).unwrap(), &key).await;

    assert_refused(answer, StatusCode::BAD_REQUEST, "DECRYPTION_FAILED");
    assert_eq!(server.storage.devices().await.unwrap(), before);
}

#[tokio::test]
async fn a_body_that_is_not_a_sealed_request_is_malformed() {
    let server = Server::new("malformed").await;
    for body in [&b"not json"[..], b"{}", br#"{"enc":"***","ct":"AAAA"}"#, br#"{"enc":"AAAA","ct":"AAAA"}"#] {
        for route in [Route::Authorize, Route::Reports] {
            let (status, body) = server.post(route.path(), body.to_vec(), None).await;
            let error: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert_eq!((status, error.code.as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_REQUEST"));
        }
    }
    // Sealed correctly, but not the message the route expects.
    let (body, key) = server.seal(Route::Reports, &"just a string");
    assert_refused(
        server.send::<ReportsResponse>(Route::Reports, body, &key).await,
        StatusCode::BAD_REQUEST,
        "MALFORMED_REQUEST",
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_as_too_large() {
    let server = Server::new("too-large").await;

    let (status, body) = server.post(Route::Reports.path(), vec![b' '; 2 * 1024 * 1024], None).await;

    let error: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, error.code.as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
}

#[tokio::test]
async fn a_report_from_a_device_never_authorized_is_refused() {
    let (server, _) = licensed_server("reports-unknown-device").await;
    let stranger = DeviceId::from_random(random16());

    let answer: Answer<ReportsResponse> =
        server.call(Route::Reports, &reports_request(stranger, vec![report(3, 0)])).await;

    assert_refused(answer, StatusCode::FORBIDDEN, "UNKNOWN_DEVICE");
    assert!(server.usage().await.is_empty());
}

/// A server whose project `CODE` has one per-domain license, binding `domains`.
async fn bound_server(name: &str, domains: &[&str], allow_dev_hosts: bool) -> Server {
    let server = Server::new(name).await;
    server.domain_license("L-domains", domains, allow_dev_hosts).await;
    server.project(CODE, None, &["L-domains"]).await;
    server
}

/// An authorize request of a new device from a page on `domain`.
#[tokio::test]
async fn a_bound_domain_and_every_subdomain_of_a_wildcard_are_authorized() {
    let server = bound_server("domain-bound", &["shop.example.org", "*.example.com"], false).await;

    for domain in ["shop.example.org", "example.com", "app.example.com", "a.b.Example.COM", "shop.example.org."] {
        let origin = format!("https://{domain}");
        server.authorize_from(&from_domain(domain), Some(&origin)).await.unwrap_or_else(|e| panic!("{domain}: {e:?}"));
    }

    assert_eq!(server.storage.devices().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_domain_the_license_does_not_bind_is_refused_and_stores_no_device() {
    let server = bound_server("domain-unbound", &["shop.example.org", "*.example.com"], false).await;

    for domain in
        ["example.org", "www.shop.example.org", "evilexample.com", "example.com.evil.net", "example.co", "", "null"]
    {
        let origin = format!("https://{domain}");
        let answer = server.authorize_from(&from_domain(domain), Some(&origin)).await;
        assert_refused(answer, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
        // A tool sends no Origin: the reported domain alone decides, the same way.
        assert_refused(server.authorize(&from_domain(domain)).await, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
    }

    assert!(server.storage.devices().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_origin_that_disagrees_with_the_reported_domain_is_refused() {
    let server = bound_server("domain-origin", &["app.example.com"], false).await;

    for origin in [
        "https://evil.example.net",
        "null",
        "https://app.example.com.evil.net",
        "app.example.com",
        "https://app.example.com/x",
    ] {
        let answer = server.authorize_from(&from_domain("app.example.com"), Some(origin)).await;
        assert_refused(answer, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
    }
    assert!(server.storage.devices().await.unwrap().is_empty());

    // The scheme, the port and the case of the Origin do not matter; a tool sends none.
    server.authorize_from(&from_domain("app.example.com"), Some("http://APP.example.com:8443")).await.unwrap();
    server.authorize(&from_domain("app.example.com")).await.unwrap();
    assert_eq!(server.storage.devices().await.unwrap().len(), 2);
}

#[tokio::test]
async fn development_hosts_are_refused_unless_the_license_allows_them() {
    let strict = bound_server("domain-dev-strict", &["app.example.com"], false).await;
    let dev = bound_server("domain-dev-allowed", &["app.example.com"], true).await;

    for host in ["localhost", "app.localhost", "127.0.0.1", "127.0.1.1", "[::1]"] {
        let origin = format!("http://{host}:5173");
        assert_refused(
            strict.authorize_from(&from_domain(host), Some(&origin)).await,
            StatusCode::FORBIDDEN,
            "DOMAIN_MISMATCH",
        );
        dev.authorize_from(&from_domain(host), Some(&origin)).await.unwrap_or_else(|e| panic!("{host}: {e:?}"));
    }

    assert!(strict.storage.devices().await.unwrap().is_empty());
    // Allowing development hosts binds nothing else.
    assert_refused(dev.authorize(&from_domain("other.example.org")).await, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
}

#[tokio::test]
async fn reports_from_an_unbound_domain_or_a_disagreeing_origin_are_refused_and_count_nothing() {
    let server = bound_server("domain-reports", &["*.example.com"], false).await;
    let device = DeviceId::from_random(random16());
    let mut authorize = authorize_request(device, None, Some(CODE));
    authorize.domain = "app.example.com".into();
    server.authorize(&authorize).await.unwrap();

    let mut elsewhere = reports_request(device, vec![report(3, 1)]);
    elsewhere.domain = "app.example.org".into();
    let answer: Answer<ReportsResponse> = server.call(Route::Reports, &elsewhere).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
    let request = reports_request(device, vec![report(3, 1)]);
    let answer: Answer<ReportsResponse> =
        server.call_from(Route::Reports, &request, Some("https://app.example.org")).await;
    assert_refused(answer, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");
    assert!(server.usage().await.is_empty());

    let _: ReportsResponse = server.call_from(Route::Reports, &request, Some("https://app.example.com")).await.unwrap();
    assert_eq!(total(&server.usage().await, "L-domains", UsageItem::Pages(Module::Core)), 3);
}

#[tokio::test]
async fn a_project_serves_the_union_of_the_domains_of_its_valid_licenses() {
    let server = Server::new("domain-union").await;
    server.domain_license("L-a", &["a.example"], false).await;
    server.domain_license("L-b", &["*.b.example"], false).await;
    server.license("L-old", LicenseType::PerPage, &[Module::Core], NOW - 1).await;
    server.project(CODE, None, &["L-a", "L-b", "L-old"]).await;

    for domain in ["a.example", "b.example", "x.b.example"] {
        server.authorize(&from_domain(domain)).await.unwrap_or_else(|e| panic!("{domain}: {e:?}"));
    }
    // The expired license binds no domain, but only valid licenses count: the project stays bound.
    assert_refused(server.authorize(&from_domain("c.example")).await, StatusCode::FORBIDDEN, "DOMAIN_MISMATCH");

    // A valid license that binds no domain leaves the project unbound, Origin and all.
    server.license("L-any", LicenseType::PerScan, &[Module::Core], NOW + DAY_MS).await;
    server.storage.assign_license(CODE, "L-any", NOW).await.unwrap();
    server.authorize_from(&from_domain("c.example"), Some("https://d.example")).await.unwrap();
}

#[tokio::test]
async fn serve_answers_over_tcp_and_returns_on_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let storage = common::open_store("serve-tcp").await;
    admin::initialize(storage.as_ref(), &VendorKey::generate(&mut OsRng.unwrap_err()).public_text()).await.unwrap();
    let config = Config::load(storage).await.unwrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(licet_server::serve(config, listener, async move {
        let _ = stopped.await;
    }));

    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#"{"ok":true}"#), "{response}");

    stop.send(()).unwrap();
    server.await.unwrap().expect("serve returns Ok after shutdown");
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the listener is closed");
}

#[tokio::test]
async fn a_report_request_with_no_reports_renews_the_authorization() {
    let (server, device) = licensed_server("reports-empty").await;
    server.now.store(NOW + 4 * DAY_MS, Ordering::SeqCst);

    let (receipt, renewal) = server.report(device, vec![]).await;

    assert!(receipt.accepted.is_empty());
    assert_eq!(renewal.unwrap().offline_until, NOW + 4 * DAY_MS + license::DEFAULT_OFFLINE_GRACE_MS);
    assert!(server.usage().await.is_empty());
}
