//! The license types at their limits, with the server's clock moved by the test: quotas per
//! scan and per page with their tolerance, several items on one handshake code without rollover,
//! device seats, concurrent devices per slot, per-domain licenses, expiry tolerance for reports,
//! the public trial, and how long each type works offline.

mod common;

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use common::router::*;
use licet_protocol::envelope::Route;
use licet_protocol::ids::{DeviceId, ReportId};
use licet_protocol::license::{ActivePeriod, LicenseFile, LicenseType, Module, Tolerance, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{Authorization, LicenseState, SlotUsage, UsageReport};
use licet_protocol::SLOT_MS;
use licet_server::housekeeping;
use licet_server::storage::{TrialSetting, UsageItem};

const YEAR: u64 = 365 * DAY_MS;

/// A report of `n` pages of `module` and nothing else.
fn pages(module: Module, n: u64) -> UsageReport {
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage { slot: NOW / SLOT_MS - 1, pages: vec![(module, n)], scans: vec![] }],
    }
}

/// A report of `n` QR code scans and nothing else.
fn scans(n: u64) -> UsageReport {
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage { slot: NOW / SLOT_MS - 1, pages: vec![], scans: vec![("QR_CODE".into(), n)] }],
    }
}

/// A license with a quota of `quota` and the default tolerance (+5%).
fn quota_license(id: &str, license_type: LicenseType, modules: &[Module], quota: u64, expires_at: u64) -> LicenseFile {
    LicenseFile { quota: Some(quota), ..license_file(id, license_type, modules, expires_at) }
}

/// A license limited to `devices` devices (per device or concurrent), with the default
/// tolerance (+10%) and the offline grace `license issue` writes for its type.
fn device_license(
    id: &str,
    license_type: LicenseType,
    devices: u32,
    active: Option<ActivePeriod>,
    expires_at: u64,
) -> LicenseFile {
    LicenseFile {
        quota: None,
        devices: Some(devices),
        active,
        offline_grace_ms: license_type.default_offline_grace_ms(active),
        ..license_file(id, license_type, &[Module::Core], expires_at)
    }
}

impl Server {
    /// Authorizes `device` for `CODE`.
    async fn authorize_on_code(&self, device: DeviceId) -> Answer<Authorization> {
        self.authorize(&authorize_request(device, None, Some(CODE))).await
    }

    fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// The usage charged to `license_id` for QR code scans.
    async fn scans_of(&self, license_id: &str) -> u64 {
        total(&self.usage().await, license_id, UsageItem::Scans("QR_CODE".into()))
    }
}

/// Sends `report` and returns the renewal's state, or its refusal code; the receipt must
/// acknowledge the report whatever the renewal says.
async fn send(server: &Server, device: DeviceId, report: UsageReport) -> Result<LicenseState, String> {
    let id = report.report_id;
    let (receipt, renewal) = server.report(device, vec![report]).await;
    assert_eq!(receipt.accepted, vec![id], "a report is acknowledged even when the renewal is refused");
    renewal.map(|authorization| authorization.state)
}

#[tokio::test]
async fn a_scan_quota_works_to_its_limit_then_with_a_warning_for_5_percent_then_is_exhausted() {
    let server = Server::new("rules-scan-quota").await;
    server.import(&quota_license("L-scans", LicenseType::PerScan, &[], 1000, NOW + YEAR)).await;
    server.project(CODE, None, &["L-scans"]).await;
    let device = new_device();
    server.authorize_on_code(device).await.unwrap();

    assert_eq!(send(&server, device, scans(1000)).await, Ok(LicenseState::Valid));
    assert_eq!(send(&server, device, scans(50)).await, Ok(LicenseState::Tolerance));
    assert_eq!(server.authorize_on_code(device).await.unwrap().state, LicenseState::Tolerance);
    // One scan past the tolerance: counted all the same, and the renewal is refused.
    assert_eq!(send(&server, device, scans(1)).await, Err("QUOTA_EXHAUSTED".into()));
    assert_eq!(server.scans_of("L-scans").await, 1051);
    assert_refused(server.authorize_on_code(device).await, StatusCode::FORBIDDEN, "QUOTA_EXHAUSTED");
    assert_refused(server.authorize_on_code(new_device()).await, StatusCode::FORBIDDEN, "QUOTA_EXHAUSTED");
}

#[tokio::test]
async fn a_page_quota_is_per_module_and_a_used_up_module_is_dropped_from_the_authorization() {
    let server = Server::new("rules-page-quota").await;
    server
        .import(&quota_license("L-pages", LicenseType::PerPage, &[Module::Core, Module::Pdfr], 100, NOW + YEAR))
        .await;
    server.project(CODE, None, &["L-pages"]).await;
    let device = new_device();
    assert_eq!(server.authorize_on_code(device).await.unwrap().modules, vec![Module::Core, Module::Pdfr]);

    assert_eq!(send(&server, device, pages(Module::Pdfr, 105)).await, Ok(LicenseState::Tolerance));
    assert_eq!(send(&server, device, pages(Module::Pdfr, 1)).await, Ok(LicenseState::Valid));
    let authorization = server.authorize_on_code(device).await.unwrap();
    assert_eq!((authorization.modules, authorization.state), (vec![Module::Core], LicenseState::Valid));

    assert_eq!(send(&server, device, pages(Module::Core, 106)).await, Err("QUOTA_EXHAUSTED".into()));
    assert_refused(server.authorize_on_code(device).await, StatusCode::FORBIDDEN, "QUOTA_EXHAUSTED");
    let usage = server.usage().await;
    assert_eq!(total(&usage, "L-pages", UsageItem::Pages(Module::Pdfr)), 106);
    assert_eq!(total(&usage, "L-pages", UsageItem::Pages(Module::Core)), 106);
}

#[tokio::test]
async fn a_new_item_on_the_same_code_adds_quota_without_a_new_key_and_usage_fills_items_in_expiry_order() {
    let server = Server::new("rules-added-quota").await;
    server.import(&quota_license("L-first", LicenseType::PerScan, &[], 100, NOW + 30 * DAY_MS)).await;
    server.project(CODE, None, &["L-first"]).await;
    let device = new_device();
    server.authorize_on_code(device).await.unwrap();
    assert_eq!(send(&server, device, scans(106)).await, Err("QUOTA_EXHAUSTED".into()));
    assert_refused(server.authorize_on_code(device).await, StatusCode::FORBIDDEN, "QUOTA_EXHAUSTED");

    // The vendor sells 100 more scans as a second item on the same handshake code.
    server.import(&quota_license("L-more", LicenseType::PerScan, &[], 100, NOW + YEAR)).await;
    server.storage.assign_license(CODE, "L-more", NOW).await.unwrap();
    let authorization = server.authorize_on_code(device).await.unwrap();
    assert_eq!(authorization.state, LicenseState::Valid);
    assert_eq!(authorization.licenses.len(), 2);

    // The first item is over its quota: new scans go to the second.
    assert_eq!(send(&server, device, scans(10)).await, Ok(LicenseState::Valid));
    assert_eq!((server.scans_of("L-first").await, server.scans_of("L-more").await), (106, 10));
}

#[tokio::test]
async fn unused_quota_of_an_expired_item_does_not_roll_over_to_the_next() {
    let server = Server::new("rules-no-rollover").await;
    server.import(&quota_license("L-2027", LicenseType::PerScan, &[], 100, NOW + 30 * DAY_MS)).await;
    server.import(&quota_license("L-2028", LicenseType::PerScan, &[], 100, NOW + YEAR)).await;
    server.project(CODE, None, &["L-2027", "L-2028"]).await;
    let device = new_device();
    server.authorize_on_code(device).await.unwrap();

    // Scans fill the item that expires first, and what it cannot take goes to the next.
    assert_eq!(send(&server, device, scans(60)).await, Ok(LicenseState::Valid));
    assert_eq!(send(&server, device, scans(20)).await, Ok(LicenseState::Valid));
    assert_eq!((server.scans_of("L-2027").await, server.scans_of("L-2028").await), (80, 0));

    // Once the first item has expired, its 20 unused scans are gone: 104 of the second's 100
    // is the tolerance stage (with the 20 rolled over it would be valid), and 106 is past it.
    server.set_now(NOW + 30 * DAY_MS + 1);
    assert_eq!(send(&server, device, scans(104)).await, Ok(LicenseState::Tolerance));
    assert_eq!(send(&server, device, scans(2)).await, Err("QUOTA_EXHAUSTED".into()));
    assert_eq!((server.scans_of("L-2027").await, server.scans_of("L-2028").await), (80, 106));
}

#[tokio::test]
async fn per_device_seats_stop_at_the_limit_plus_10_percent_and_lapse_after_the_active_period() {
    let server = Server::new("rules-seats").await;
    server
        .import(&device_license("L-devices", LicenseType::PerDevice, 10, Some(ActivePeriod::Daily), NOW + YEAR))
        .await;
    server.project(CODE, None, &["L-devices"]).await;
    let devices: Vec<DeviceId> = (0..12).map(|_| new_device()).collect();

    for device in &devices[..10] {
        assert_eq!(server.authorize_on_code(*device).await.unwrap().state, LicenseState::Valid);
    }
    // The 11th device is the 10% tolerance; the 12th is refused and nothing of it is stored.
    assert_eq!(server.authorize_on_code(devices[10]).await.unwrap().state, LicenseState::Tolerance);
    assert_refused(server.authorize_on_code(devices[11]).await, StatusCode::FORBIDDEN, "DEVICE_LIMIT_REACHED");
    assert_eq!(server.storage.devices().await.unwrap().len(), 11);
    // A device that holds a seat keeps it at every contact.
    assert_eq!(server.authorize_on_code(devices[0]).await.unwrap().state, LicenseState::Tolerance);

    // Twelve hours on, device 0 reports: its seat is refreshed for another day.
    server.set_now(NOW + DAY_MS / 2);
    assert!(send(&server, devices[0], scans(1)).await.is_ok());
    // A day after the others' last contact, their seats have lapsed: the 12th device gets one,
    // and device 0 still holds its own.
    server.set_now(NOW + DAY_MS + 1);
    assert_eq!(server.authorize_on_code(devices[11]).await.unwrap().state, LicenseState::Valid);
    for device in &devices[1..10] {
        server.authorize_on_code(*device).await.unwrap();
    }
    // Now devices 0 to 9 and 11 hold the 11 seats: device 10 comes back to a full license.
    assert_refused(server.authorize_on_code(devices[10]).await, StatusCode::FORBIDDEN, "DEVICE_LIMIT_REACHED");
    assert_eq!(send(&server, devices[10], scans(3)).await, Err("DEVICE_LIMIT_REACHED".into()));
    assert_eq!(server.scans_of("L-devices").await, 4, "the refused device's scans are counted all the same");
}

#[tokio::test]
async fn housekeeping_releases_lapsed_seats_and_devices_shows_it() {
    let server = Server::new("rules-housekeeping").await;
    server
        .import(&device_license("L-devices", LicenseType::PerDevice, 10, Some(ActivePeriod::Daily), NOW + YEAR))
        .await;
    server.project(CODE, None, &["L-devices"]).await;
    let (early, late) = (new_device(), new_device());
    server.authorize_on_code(early).await.unwrap();
    server.set_now(NOW + DAY_MS / 2);
    server.authorize_on_code(late).await.unwrap();
    let seats =
        |devices: Vec<licet_server::storage::Device>| devices.iter().map(|d| d.seat_held_until).collect::<Vec<_>>();
    assert_eq!(seats(server.storage.devices().await.unwrap()), [Some(NOW + DAY_MS), Some(NOW + DAY_MS + DAY_MS / 2)]);

    // A day after the first contact, the early device's seat has lapsed, and a sweep releases
    // it; the late one's is kept.
    server.set_now(NOW + DAY_MS + 1);
    let swept = housekeeping::sweep(&server.config).await.unwrap();
    assert_eq!(swept.seats, 1);
    assert_eq!(seats(server.storage.devices().await.unwrap()), [None, Some(NOW + DAY_MS + DAY_MS / 2)]);
    assert_eq!(housekeeping::sweep(&server.config).await.unwrap().seats, 0, "nothing left to release");

    // The task `serve` runs sweeps by itself at its interval.
    server.set_now(NOW + 2 * DAY_MS);
    let task = tokio::spawn(housekeeping::run(server.config.clone(), std::time::Duration::from_millis(20)));
    let mut released = false;
    for _ in 0..500 {
        if seats(server.storage.devices().await.unwrap()) == [None, None] {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    task.abort();
    assert!(released, "the housekeeping task released the late seat within 5 s");
    // A released seat is a free seat: the early device takes one again.
    assert_eq!(server.authorize_on_code(early).await.unwrap().state, LicenseState::Valid);
}

#[tokio::test]
async fn a_seat_is_held_no_longer_than_the_license_runs() {
    let server = Server::new("rules-seat-expiry").await;
    server
        .import(&device_license("L-one", LicenseType::PerDevice, 1, Some(ActivePeriod::Yearly), NOW + 10 * DAY_MS))
        .await;
    server.project(CODE, None, &["L-one"]).await;
    let (first, second) = (new_device(), new_device());
    server.authorize_on_code(first).await.unwrap();
    assert_refused(server.authorize_on_code(second).await, StatusCode::FORBIDDEN, "DEVICE_LIMIT_REACHED");

    // A yearly seat taken ten days before expiry lapses at expiry, not a year on: in the
    // tolerance stage after it, the seat is free for another device.
    server.set_now(NOW + 10 * DAY_MS + 1);
    let authorization = server.authorize_on_code(second).await.unwrap();
    assert_eq!(authorization.state, LicenseState::Tolerance);
    assert_eq!(authorization.active_until, NOW + 10 * DAY_MS + Tolerance::default().expiry_ms);
}

#[tokio::test]
async fn concurrent_devices_are_limited_per_slot_with_10_percent_overuse() {
    let server = Server::new("rules-concurrent").await;
    server.import(&device_license("L-concurrent", LicenseType::Concurrent, 10, None, NOW + YEAR)).await;
    server.project(CODE, None, &["L-concurrent"]).await;
    let devices: Vec<DeviceId> = (0..12).map(|_| new_device()).collect();

    for device in &devices[..10] {
        assert_eq!(server.authorize_on_code(*device).await.unwrap().state, LicenseState::Valid);
    }
    assert_eq!(server.authorize_on_code(devices[10]).await.unwrap().state, LicenseState::Tolerance);
    assert_refused(server.authorize_on_code(devices[11]).await, StatusCode::FORBIDDEN, "CONCURRENT_LIMIT_REACHED");
    // A device already in contact in this slot keeps working in it.
    assert!(send(&server, devices[3], scans(1)).await.is_ok());

    // In the next slot, the window starts empty.
    server.set_now(NOW + SLOT_MS);
    assert_eq!(server.authorize_on_code(devices[11]).await.unwrap().state, LicenseState::Valid);
    for device in &devices[..10] {
        assert!(send(&server, *device, scans(1)).await.is_ok());
    }
    // Devices 0 to 9 and 11 are in contact: the 12th to report this slot gets no renewal.
    assert_eq!(send(&server, devices[10], scans(1)).await, Err("CONCURRENT_LIMIT_REACHED".into()));
    assert_eq!(server.scans_of("L-concurrent").await, 12);

    // An idle page renewing with no usage takes no place: in a fresh slot every device renews
    // so, and the places still go to the first 11 that report usage in it.
    server.set_now(NOW + 2 * SLOT_MS);
    for device in &devices {
        assert!(server.report(*device, vec![]).await.1.is_ok(), "an idle renewal is not refused");
    }
    for device in &devices[..11] {
        assert!(send(&server, *device, scans(1)).await.is_ok());
    }
    assert_eq!(send(&server, devices[11], scans(1)).await, Err("CONCURRENT_LIMIT_REACHED".into()));
}

#[tokio::test]
async fn a_per_domain_license_is_unlimited_on_its_bound_domain() {
    let server = Server::new("rules-per-domain").await;
    server.domain_license("L-domain", &["*.example.com"], false).await;
    server.project(CODE, None, &["L-domain"]).await;

    for _ in 0..30 {
        let device = new_device();
        assert_eq!(server.authorize_on_code(device).await.unwrap().state, LicenseState::Valid);
        assert_eq!(send(&server, device, scans(1_000_000)).await, Ok(LicenseState::Valid));
    }
    assert_eq!(server.scans_of("L-domain").await, 30_000_000);
}

#[tokio::test]
async fn reports_past_the_expiry_tolerance_are_counted_and_the_renewal_is_refused() {
    let server = Server::new("rules-expired-reports").await;
    server.import(&quota_license("L-pages", LicenseType::PerPage, &[Module::Core], 1000, NOW + DAY_MS)).await;
    server.project(CODE, None, &["L-pages"]).await;
    let device = new_device();
    server.authorize_on_code(device).await.unwrap();

    server.set_now(NOW + DAY_MS + 1);
    assert_eq!(send(&server, device, pages(Module::Core, 2)).await, Ok(LicenseState::Tolerance));
    server.set_now(NOW + DAY_MS + Tolerance::default().expiry_ms + 1);
    assert_eq!(send(&server, device, pages(Module::Core, 3)).await, Err("LICENSE_EXPIRED".into()));
    assert_eq!(total(&server.usage().await, "L-pages", UsageItem::Pages(Module::Core)), 5);
}

/// A server with a licensed project `CODE` and a public trial of `days` days on project `trial`.
async fn trial_server(name: &str, days: u32) -> Server {
    let server = Server::new(name).await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + YEAR).await;
    server.project(CODE, None, &["L-pages"]).await;
    server.domain_license("L-trial", &["*.example.com"], false).await;
    server.project("trial", None, &["L-trial"]).await;
    server.storage.set_trial_setting(&TrialSetting { handshake_code: "trial".into(), days, open: true }).await.unwrap();
    server
}

#[tokio::test]
async fn a_public_trial_is_granted_once_per_device_the_server_has_never_seen() {
    let server = trial_server("rules-trial", 7).await;
    let device = new_device();

    let authorization = server.authorize(&authorize_request(device, None, None)).await.unwrap();
    assert_eq!((authorization.state, authorization.handshake_code.as_str()), (LicenseState::Trial, "trial"));
    assert_eq!((authorization.active_until, authorization.offline_until), (NOW + 7 * DAY_MS, NOW + 7 * DAY_MS));

    // Six days on, the same trial goes on, ending when it started to.
    server.set_now(NOW + 6 * DAY_MS);
    let authorization = server.authorize(&authorize_request(device, None, None)).await.unwrap();
    assert_eq!((authorization.state, authorization.active_until), (LicenseState::Trial, NOW + 7 * DAY_MS));
    assert_eq!(send_trial(&server, device).await, Ok(LicenseState::Trial));

    // Once it has run out, the device gets no second one, and its reports are still counted.
    server.set_now(NOW + 7 * DAY_MS + 1);
    assert_refused(server.authorize(&authorize_request(device, None, None)).await, StatusCode::FORBIDDEN, "TRIAL_USED");
    assert_eq!(send_trial(&server, device).await, Err("TRIAL_USED".into()));
    // Naming the trial's project does not get around it.
    assert_refused(
        server.authorize(&authorize_request(device, None, Some("trial"))).await,
        StatusCode::FORBIDDEN,
        "TRIAL_USED",
    );
    assert_eq!(total(&server.usage().await, "L-trial", UsageItem::Scans("QR_CODE".into())), 2);
}

/// Sends one QR code scan of a trial device: its reports name the trial's project.
async fn send_trial(server: &Server, device: DeviceId) -> Result<LicenseState, String> {
    let mut request = reports_request(device, vec![scans(1)]);
    request.handshake_code = "trial".into();
    server.send_reports(&request).await.1.map(|authorization| authorization.state)
}

#[tokio::test]
async fn a_device_the_server_knows_gets_no_trial_and_the_trial_length_is_configurable() {
    let server = trial_server("rules-trial-known", 3).await;
    let licensed = new_device();
    server.authorize_on_code(licensed).await.unwrap();

    assert_refused(
        server.authorize(&authorize_request(licensed, None, None)).await,
        StatusCode::FORBIDDEN,
        "TRIAL_USED",
    );

    let fresh = new_device();
    let authorization = server.authorize(&authorize_request(fresh, None, None)).await.unwrap();
    assert_eq!(authorization.active_until, NOW + 3 * DAY_MS);

    // Closing the trial refuses new ones, however the request names the project; the running
    // one goes on to its end and no further.
    let closed = TrialSetting { handshake_code: "trial".into(), days: 3, open: false };
    server.storage.set_trial_setting(&closed).await.unwrap();
    let stranger = new_device();
    assert_refused(
        server.authorize(&authorize_request(stranger, None, None)).await,
        StatusCode::FORBIDDEN,
        "TRIAL_UNAVAILABLE",
    );
    let named = server.authorize(&authorize_request(stranger, None, Some("trial"))).await;
    assert_refused(named, StatusCode::FORBIDDEN, "TRIAL_UNAVAILABLE");
    let running = server.authorize(&authorize_request(fresh, None, Some("trial"))).await.unwrap();
    assert_eq!((running.state, running.active_until), (LicenseState::Trial, NOW + 3 * DAY_MS));
    server.set_now(NOW + 3 * DAY_MS + 1);
    assert_refused(
        server.authorize(&authorize_request(fresh, None, Some("trial"))).await,
        StatusCode::FORBIDDEN,
        "TRIAL_USED",
    );
}

#[tokio::test]
async fn a_refused_authorization_stores_not_even_its_nonce() {
    let server = trial_server("rules-refused-nonce", 3).await;
    server
        .storage
        .set_trial_setting(&TrialSetting { handshake_code: "trial".into(), days: 3, open: false })
        .await
        .unwrap();
    let (body, key) = server.seal(Route::Authorize, &authorize_request(new_device(), None, Some("trial")));
    let refused: Answer<Signed> = server.send(Route::Authorize, body.clone(), &key).await;
    assert_refused(refused, StatusCode::FORBIDDEN, "TRIAL_UNAVAILABLE");

    // The very same request, once trials open: not a replay, since the refusal stored nothing.
    server
        .storage
        .set_trial_setting(&TrialSetting { handshake_code: "trial".into(), days: 3, open: true })
        .await
        .unwrap();
    let granted: Answer<Signed> = server.send(Route::Authorize, body, &key).await;
    assert!(granted.is_ok(), "{granted:?}");
}

#[tokio::test]
async fn each_active_period_holds_a_seat_for_its_length_after_the_last_contact() {
    for (period, days) in [
        (ActivePeriod::Yearly, 365),
        (ActivePeriod::Quarterly, 90),
        (ActivePeriod::Monthly, 30),
        (ActivePeriod::Daily, 1),
    ] {
        let server = Server::new(&format!("rules-period-{}", period.as_str())).await;
        server.import(&device_license("L-one", LicenseType::PerDevice, 1, Some(period), NOW + 2 * YEAR)).await;
        server.project(CODE, None, &["L-one"]).await;
        let (holder, next) = (new_device(), new_device());
        server.authorize_on_code(holder).await.unwrap();

        server.set_now(NOW + days * DAY_MS);
        let answer = server.authorize_on_code(next).await;
        assert_refused(answer, StatusCode::FORBIDDEN, "DEVICE_LIMIT_REACHED");
        server.set_now(NOW + days * DAY_MS + 1);
        assert!(server.authorize_on_code(next).await.is_ok(), "{} seat lapses after {days} days", period.as_str());
    }
}

#[tokio::test]
async fn a_report_sent_again_with_a_new_one_is_not_charged_again() {
    let server = Server::new("rules-replay-charging").await;
    server.import(&quota_license("L-first", LicenseType::PerScan, &[], 100, NOW + 30 * DAY_MS)).await;
    server.import(&quota_license("L-next", LicenseType::PerScan, &[], 100, NOW + YEAR)).await;
    server.project(CODE, None, &["L-first", "L-next"]).await;
    let device = new_device();
    server.authorize_on_code(device).await.unwrap();
    let first = scans(60);
    assert!(server.report(device, vec![first.clone()]).await.1.is_ok());

    // The receipt was lost: the device sends the first report again with a new one. Only the
    // new one is charged, and the first item still has room for all of it.
    let (receipt, _) = server.report(device, vec![first.clone(), scans(40)]).await;
    assert_eq!(receipt.accepted.len(), 2);
    assert_eq!((server.scans_of("L-first").await, server.scans_of("L-next").await), (100, 0));
}

#[tokio::test]
async fn a_device_refused_for_its_trial_takes_no_seat() {
    let server = Server::new("rules-trial-seat").await;
    server.import(&device_license("L-trial", LicenseType::PerDevice, 1, Some(ActivePeriod::Daily), NOW + YEAR)).await;
    server.project("trial", None, &["L-trial"]).await;
    server
        .storage
        .set_trial_setting(&TrialSetting { handshake_code: "trial".into(), days: 3, open: true })
        .await
        .unwrap();
    let first = new_device();
    server.authorize(&authorize_request(first, None, None)).await.unwrap();

    // Its trial over, the first device still reports: counted, refused, and no seat refreshed.
    server.set_now(NOW + 4 * DAY_MS);
    assert_eq!(send_trial(&server, first).await, Err("TRIAL_USED".into()));
    let second = new_device();
    let authorization = server.authorize(&authorize_request(second, None, None)).await.unwrap();
    assert_eq!(authorization.state, LicenseState::Trial, "the one seat is free for a new trial device");
}

/// How long a device of each license type may work offline, signed as `offline_until` at each
/// contact: per device, as long as its seat lasts (365, 90, 30 or 1 days from the contact, never
/// past the license's end); concurrent, 6 minutes; per scan, per page and per domain, 7 days;
/// and whatever the license file sets instead, from 3 minutes to 365 days.
#[tokio::test]
async fn each_license_type_works_offline_as_long_as_documented() {
    const MINUTE: u64 = 60_000;
    let per_device = |period| device_license("L", LicenseType::PerDevice, 5, Some(period), NOW + 2 * YEAR);
    let with_grace = |file: LicenseFile, grace| LicenseFile { offline_grace_ms: grace, ..file };
    // (name, license, offline period from a contact, whether the license's end cuts it)
    let rows: Vec<(&str, LicenseFile, u64, bool)> = vec![
        ("per device, yearly", per_device(ActivePeriod::Yearly), 365 * DAY_MS, false),
        ("per device, quarterly", per_device(ActivePeriod::Quarterly), 90 * DAY_MS, false),
        ("per device, monthly", per_device(ActivePeriod::Monthly), 30 * DAY_MS, false),
        ("per device, daily", per_device(ActivePeriod::Daily), DAY_MS, false),
        (
            "per device, a seat cut short by the license's end",
            device_license("L", LicenseType::PerDevice, 5, Some(ActivePeriod::Yearly), NOW + 40 * DAY_MS),
            40 * DAY_MS,
            true,
        ),
        (
            "per device, a shorter period set by the file",
            with_grace(per_device(ActivePeriod::Yearly), 7 * DAY_MS),
            7 * DAY_MS,
            false,
        ),
        ("concurrent", device_license("L", LicenseType::Concurrent, 5, None, NOW + YEAR), 6 * MINUTE, false),
        ("per scan", quota_license("L", LicenseType::PerScan, &[], 100, NOW + YEAR), 7 * DAY_MS, false),
        ("per page", quota_license("L", LicenseType::PerPage, &[Module::Core], 100, NOW + YEAR), 7 * DAY_MS, false),
        (
            "per domain",
            LicenseFile { quota: None, ..license_file("L", LicenseType::PerDomain, &[Module::Core], NOW + YEAR) },
            7 * DAY_MS,
            false,
        ),
        (
            "per page, the documented floor set by the file",
            with_grace(quota_license("L", LicenseType::PerPage, &[Module::Core], 100, NOW + YEAR), 3 * MINUTE),
            3 * MINUTE,
            false,
        ),
    ];
    for (i, (name, file, offline, cut_by_end)) in rows.into_iter().enumerate() {
        let server = Server::new(&format!("rules-offline-{i}")).await;
        server.import(&file).await;
        server.project(CODE, None, &["L"]).await;
        let device = new_device();
        let authorization = server.authorize_on_code(device).await.unwrap();
        assert_eq!(authorization.offline_until, NOW + offline, "{name}");
        // Each contact starts the period again (a seat is refreshed), up to the same limits.
        server.set_now(NOW + 2 * MINUTE);
        let renewed = server.authorize_on_code(device).await.unwrap();
        let end = if cut_by_end { NOW + offline } else { NOW + 2 * MINUTE + offline };
        assert_eq!(renewed.offline_until, end, "{name}, renewed");
    }
}

/// A renewal at report time is capped by the seat it refreshes, as an authorization is: a daily
/// device reporting two minutes on may work offline for a day from then, no longer, even under
/// a file that sets a year.
#[tokio::test]
async fn a_renewal_at_report_time_ends_with_the_refreshed_seat() {
    let server = Server::new("rules-offline-report").await;
    let daily = device_license("L", LicenseType::PerDevice, 5, Some(ActivePeriod::Daily), NOW + 2 * YEAR);
    server.import(&LicenseFile { offline_grace_ms: YEAR, ..daily }).await;
    server.project(CODE, None, &["L"]).await;
    let device = new_device();
    assert_eq!(server.authorize_on_code(device).await.unwrap().offline_until, NOW + DAY_MS);
    server.set_now(NOW + 2 * 60_000);
    let (_, renewal) = server.report(device, vec![scans(1)]).await;
    assert_eq!(renewal.unwrap().offline_until, NOW + 2 * 60_000 + DAY_MS);
}
