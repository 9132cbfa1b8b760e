//! The engine against the in-memory twins: authorization, counting, flushing exactly once,
//! offline start within the grace period, refusals of forged answers, refused renewals, the
//! status changes that listeners are told of, and failover from the main server to a standby.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use licet_protocol::keys::{ServerKeys, ServerPublicKeys};
use licet_protocol::license::{Module, DAY_MS};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::ErrorCode;
use rand_core::{OsRng, TryRngCore};

use crate::core::dedup::Deduplicator;
use crate::core::error::LicetError;
use crate::core::failover::FIRST_RETRY_MS;
use crate::core::ledger::UsageItem;
use crate::core::session::{AuthorizeParams, Project, Target};
use crate::core::status::{Status, StatusWatch};
use crate::engine::{Engine, Flushed};
use crate::platform::memory::{MemoryClock, MemoryStore, ServerTwin, HANDSHAKE, ORGANIZATION, SERVER_URL};

/// Runs a future of the in-memory twins, which never wait on anything.
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the in-memory twins never leave a future pending"),
    }
}

const NOW: u64 = 1_800_000_000_000;

/// A target for the twin's project with these server keys, trusting this vendor key.
fn target_with(keys: &ServerPublicKeys, vendor: &str) -> Target {
    let key = LicenseKey::new(vec![SERVER_URL.into()], Some(ORGANIZATION.into()), Some(HANDSHAKE.into()), keys);
    Target::new(key, vendor).unwrap()
}

pub(crate) fn target(server: &ServerTwin) -> Target {
    target_with(&server.keys.public(), &server.vendor.public_text())
}

pub(crate) fn params() -> AuthorizeParams {
    AuthorizeParams { product: "sdk".into(), domain: "app.example.com".into(), ..Default::default() }
}

/// One origin's store and clock, and the license server twin it talks to.
struct World {
    server: ServerTwin,
    store: MemoryStore,
    clock: MemoryClock,
}

type TwinEngine<'a> = Engine<&'a MemoryStore, &'a ServerTwin, &'a MemoryClock>;

impl World {
    fn new() -> Self {
        World { server: ServerTwin::new(NOW), store: MemoryStore::default(), clock: MemoryClock(Cell::new(NOW)) }
    }

    fn start_with(&self, target: Target) -> Result<TwinEngine<'_>, LicetError> {
        ready(Engine::start(&self.store, &self.server, &self.clock, target, params()))
    }

    fn start(&self) -> Result<TwinEngine<'_>, LicetError> {
        self.start_with(target(&self.server))
    }
}

#[test]
fn init_count_and_flush_counts_each_page_once() {
    let world = World::new();
    let (server, store) = (&world.server, &world.store);
    let engine = world.start().unwrap();
    assert_eq!(engine.status().state, "valid");
    assert_eq!(engine.status().offline_until, Some(NOW + 7 * DAY_MS));
    assert!(engine.device_id().is_v4());

    ready(engine.count_pages(Module::Core, 3)).unwrap();
    assert_eq!(store.pending.borrow().len(), 1);
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&3));
    assert!(store.pending.borrow().is_empty() && store.outbox.borrow().is_empty());

    // A second flush has nothing to send and counts nothing more; the page's total stays.
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 0, waiting: 0 });
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&3));
    assert_eq!(ready(engine.reports()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
}

#[test]
fn the_device_id_survives_a_restart() {
    let world = World::new();
    let (server, clock) = (&world.server, &world.clock);
    let first = world.start().unwrap().device_id();
    let second = world.start().unwrap().device_id();
    assert_eq!(first, second);
    let other_origin = MemoryStore::default();
    let third = ready(Engine::start(&other_origin, server, clock, target(server), params())).unwrap().device_id();
    assert_ne!(first, third);
}

#[test]
fn usage_counted_offline_stays_until_a_receipt_and_is_sent_once() {
    let world = World::new();
    let (server, store) = (&world.server, &world.store);
    let engine = world.start().unwrap();
    server.offline.set(true);
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap_err().code, ErrorCode::NetworkError);
    assert_eq!(engine.status().code, Some(ErrorCode::NetworkError));
    assert!(!engine.status().online);
    assert_eq!(store.outbox.borrow().len(), 1, "the sealed report waits in the outbox");
    assert_eq!(ready(engine.reports()).unwrap(), Flushed { acknowledged: 0, waiting: 1 });
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    server.offline.set(false);
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 2, waiting: 0 });
    assert_eq!(ready(engine.reports()).unwrap(), Flushed { acknowledged: 2, waiting: 0 });
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&3));
    assert_eq!(engine.status().code, None);
}

#[test]
fn a_cached_authorization_starts_the_page_offline_only_within_its_grace() {
    let world = World::new();
    let (server, clock) = (&world.server, &world.clock);
    world.start().unwrap();
    server.offline.set(true);
    clock.0.set(NOW + 7 * DAY_MS);
    let engine = world.start().unwrap();
    assert_eq!(engine.status().state, "valid");
    assert_eq!(engine.status().code, Some(ErrorCode::NetworkError));
    clock.0.set(NOW + 7 * DAY_MS + 1);
    let late = world.start();
    assert_eq!(late.err().map(|e| e.code), Some(ErrorCode::GraceExpired));
}

#[test]
fn counting_before_an_authorization_is_refused() {
    let world = World::new();
    let server = &world.server;
    let mut key_target = target(server);
    key_target.handshake_code = Some("unknown".into());
    let refused = world.start_with(key_target);
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::UnknownProject));
}

#[test]
fn answers_signed_by_another_server_are_refused() {
    let world = World::new();
    let server = &world.server;
    let impostor = ServerKeys::generate(&mut OsRng.unwrap_err());
    let mut keys = server.keys.public();
    keys.signing = impostor.public().signing;
    let refused = world.start_with(target_with(&keys, &server.vendor.public_text()));
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::BadSignature));
}

#[test]
fn licenses_not_signed_by_the_built_in_vendor_key_are_refused() {
    let world = World::new();
    let server = &world.server;
    let other_vendor = ServerTwin::new(NOW).vendor.public_text();
    let refused = world.start_with(target_with(&server.keys.public(), &other_vendor));
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::BadSignature));
}

#[test]
fn a_license_key_without_servers_is_invalid_and_empty_project_fields_are_absent() {
    let server = ServerTwin::new(NOW);
    let vendor = server.vendor.public_text();
    let none = LicenseKey::new(vec![], None, Some(HANDSHAKE.into()), &server.keys.public());
    assert_eq!(Target::new(none, &vendor).err().map(|e| e.code), Some(ErrorCode::InvalidLicenseKey));
    let empty =
        LicenseKey::new(vec![SERVER_URL.into()], Some(String::new()), Some(String::new()), &server.keys.public());
    let target = Target::new(empty, &vendor).unwrap();
    assert_eq!((target.organization_id, target.handshake_code), (None, None));
}

/// The project form of `initLicense` with the twin's license key as its server.
fn project_target(world: &World, organization_id: Option<&str>, handshake_code: Option<&str>) -> Target {
    let server_key = LicenseKey::new(
        vec![SERVER_URL.into()],
        Some("another-org".into()),
        Some("another-code".into()),
        &world.server.keys.public(),
    );
    let project = Project {
        organization_id: organization_id.map(Into::into),
        handshake_code: handshake_code.map(Into::into),
        license_server: Some("LICET1.the-server".into()),
    };
    let key = project.license_key(None, |_| Ok(server_key)).unwrap();
    Target::new(key, &world.server.vendor.public_text()).unwrap()
}

/// The authorize request the twin received last.
fn last_authorize_request(world: &World) -> licet_protocol::wire::AuthorizeRequest {
    licet_protocol::wire::decode(world.server.plaintexts.borrow().last().unwrap()).unwrap()
}

#[test]
fn a_project_is_asked_for_by_its_own_organization_and_code_not_the_server_keys() {
    let world = World::new();
    let engine = world.start_with(project_target(&world, Some(ORGANIZATION), None)).unwrap();
    let sent = last_authorize_request(&world);
    assert_eq!((sent.organization_id.as_deref(), sent.handshake_code), (Some(ORGANIZATION), None));
    assert_eq!(engine.status().handshake_code.as_deref(), Some(HANDSHAKE), "the organization's default code");

    world.start_with(project_target(&world, None, Some(HANDSHAKE))).unwrap();
    let sent = last_authorize_request(&world);
    assert_eq!((sent.organization_id, sent.handshake_code.as_deref()), (None, Some(HANDSHAKE)));
}

#[test]
fn offline_a_cached_authorization_serves_only_the_project_asked_for() {
    let world = World::new();
    world.start().unwrap();
    world.server.offline.set(true);
    // The twin's license is the organization's: an organization-only start may use it.
    world.start_with(project_target(&world, Some(ORGANIZATION), None)).unwrap();
    for (org, code) in [(Some("another-org"), None), (None, Some("another-code")), (None, None)] {
        let refused = world.start_with(project_target(&world, org, code));
        assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::NetworkError), "{org:?} {code:?}");
    }
    // A trial start may use a cached trial authorization only.
    world.server.offline.set(false);
    world.server.state.set(licet_protocol::wire::LicenseState::Trial);
    world.start().unwrap();
    world.server.offline.set(true);
    assert_eq!(world.start_with(project_target(&world, None, None)).unwrap().status().state, "trial");
}

#[test]
fn naming_no_project_asks_the_server_for_the_public_trial() {
    let world = World::new();
    // Empty strings are absent: the request carries neither field, and the server decides
    // (the twin has no trial to give).
    let refused = world.start_with(project_target(&world, Some(""), Some("")));
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::TrialUnavailable));
    let sent = last_authorize_request(&world);
    assert_eq!((sent.organization_id, sent.handshake_code), (None, None));
    // So does a license key string that names neither.
    let anonymous = LicenseKey::new(vec![SERVER_URL.into()], None, None, &world.server.keys.public());
    let refused = world.start_with(Target::new(anonymous, &world.server.vendor.public_text()).unwrap());
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::TrialUnavailable));
}

#[test]
fn scans_are_counted_per_symbology_and_barcode_text_never_leaves_memory() {
    const SECRET: &str = "SECRET-BARCODE-4711";
    let world = World::new();
    let engine = world.start().unwrap();
    let mut dedup = Deduplicator::new(3_000);
    let frames: [(&[(&str, &str)], u64); 3] = [
        (&[("QR_CODE", SECRET), ("QR_CODE", SECRET), ("EAN_13", "4006381333931")], 0),
        (&[("QR_CODE", SECRET)], 100),
        (&[("QR_CODE", SECRET)], 3_100),
    ];
    for (results, at) in frames {
        let scans = dedup.record_frame(results.iter().copied(), at);
        engine.tally(scans.into_iter().map(|(format, n)| (UsageItem::Scans(format.into()), n))).unwrap();
    }
    ready(engine.persist()).unwrap();
    assert_eq!(world.store.pending.borrow().len(), 2, "one record per symbology in this slot");
    ready(engine.flush()).unwrap();
    assert_eq!(world.server.scans.borrow().get("QR_CODE"), Some(&2));
    assert_eq!(world.server.scans.borrow().get("EAN_13"), Some(&1));

    let leaks = |bytes: &[u8]| bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    assert!(!world.server.plaintexts.borrow().is_empty());
    assert!(world.server.plaintexts.borrow().iter().all(|p| !leaks(p)), "a request carried the barcode text");
    assert!(world.store.authorization.borrow().iter().all(|a| !leaks(a)));
    // The test itself can see the text in a plaintext when it is there.
    assert!(leaks(format!("x{SECRET}y").as_bytes()));
}

#[test]
fn counts_wait_in_memory_until_persisted_and_a_flush_persists_them_first() {
    let world = World::new();
    let engine = world.start().unwrap();
    engine.tally([(UsageItem::Scans("QR_CODE".into()), 1), (UsageItem::Pages(Module::Webcam), 30)]).unwrap();
    assert!(world.store.pending.borrow().is_empty(), "tallying never touches storage");
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(world.server.pages.borrow().get(&Module::Webcam), Some(&30));
    assert_eq!(world.server.scans.borrow().get("QR_CODE"), Some(&1));
}

#[test]
fn a_scheduled_report_sends_closed_slots_and_leaves_the_open_one_filling() {
    let world = World::new();
    let engine = world.start().unwrap();
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    assert_eq!(ready(engine.report()).unwrap(), Flushed { acknowledged: 0, waiting: 0 });
    assert_eq!(world.store.pending.borrow().len(), 1, "the open slot stays pending");
    assert!(world.server.pages.borrow().is_empty());

    world.clock.0.set(NOW + licet_protocol::SLOT_MS);
    ready(engine.count_pages(Module::Core, 5)).unwrap();
    assert_eq!(ready(engine.report()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&2));
    assert_eq!(world.store.pending.borrow().len(), 1, "the new open slot's 5 pages wait");
    ready(engine.flush()).unwrap();
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&7));
}

const DAY: u64 = 24 * 60 * 60 * 1000;

#[test]
fn an_idle_page_online_renews_once_half_its_grace_has_passed() {
    let world = World::new();
    let engine = world.start().unwrap();
    let requests = || world.server.received.borrow().len();
    let after_start = requests();

    // Nothing to report and most of the grace left: the scheduled send sends nothing.
    world.clock.0.set(NOW + 3 * DAY);
    world.server.now.set(NOW + 3 * DAY);
    assert_eq!(ready(engine.report()).unwrap(), Flushed { acknowledged: 0, waiting: 0 });
    assert_eq!(requests(), after_start);

    // Past half of the 7-day grace, an empty report renews the authorization.
    world.clock.0.set(NOW + 4 * DAY);
    world.server.now.set(NOW + 4 * DAY);
    assert_eq!(ready(engine.report()).unwrap(), Flushed { acknowledged: 0, waiting: 0 });
    assert_eq!(requests(), after_start + 1);
    assert_eq!(engine.status().offline_until, Some(NOW + 11 * DAY));

    // So a page that counted nothing for 8 days in contact can still count.
    world.clock.0.set(NOW + 8 * DAY);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
}

#[test]
fn offline_the_grace_holds_six_days_ends_at_eight_and_a_contact_renews_it() {
    let world = World::new();
    let engine = world.start().unwrap();
    world.server.offline.set(true);
    world.clock.0.set(NOW + 6 * DAY);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    assert_eq!(engine.status().state, "valid");

    world.clock.0.set(NOW + 8 * DAY);
    assert_eq!(ready(engine.count_pages(Module::Core, 1)).unwrap_err().code, ErrorCode::GraceExpired);
    assert_eq!(engine.status().state, "expired");
    assert_eq!(engine.status().code, Some(ErrorCode::GraceExpired));

    // Back online: the report renews the authorization, and the offline usage arrives.
    world.server.offline.set(false);
    world.server.now.set(NOW + 8 * DAY);
    ready(engine.flush()).unwrap();
    assert_eq!(engine.status().state, "valid");
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&1));
    ready(engine.count_pages(Module::Core, 1)).unwrap();
}

#[test]
fn setting_the_clock_back_is_named_and_stretches_no_grace() {
    let world = World::new();
    let engine = world.start().unwrap();
    world.server.offline.set(true);
    world.clock.0.set(NOW + 6 * DAY);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    world.clock.0.set(NOW + DAY);
    assert_eq!(engine.status().code, Some(ErrorCode::ClockSetBack));
    // Trusted time stays at day 6 and runs on from there: one more day of the (set back) clock
    // ends the grace, as it would have without the change.
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    world.clock.0.set(NOW + 2 * DAY + 1);
    assert_eq!(ready(engine.count_pages(Module::Core, 1)).unwrap_err().code, ErrorCode::GraceExpired);
}

#[test]
fn a_clock_set_back_after_a_reload_keeps_the_trusted_time_of_before() {
    let world = World::new();
    let engine = world.start().unwrap();
    world.server.offline.set(true);
    world.clock.0.set(NOW + 6 * DAY);
    ready(engine.count_pages(Module::Core, 1)).unwrap(); // persists, saving the trusted time
    drop(engine);
    world.clock.0.set(NOW + DAY);
    let reloaded = world.start().unwrap();
    assert_eq!(reloaded.status().code, Some(ErrorCode::ClockSetBack));
    // The trusted time of before the reload holds: this page is counted on day 6, not day 1.
    ready(reloaded.count_pages(Module::Core, 2)).unwrap();
    world.server.offline.set(false);
    ready(reloaded.flush()).unwrap();
    let sent: licet_protocol::wire::ReportsRequest =
        licet_protocol::wire::decode(world.server.plaintexts.borrow().last().unwrap()).unwrap();
    let slots: Vec<(u64, u64)> =
        sent.reports.iter().flat_map(|r| &r.slots).map(|s| (s.slot, s.pages.iter().map(|(_, n)| n).sum())).collect();
    assert!(slots.contains(&(crate::core::ledger::slot_of(NOW + 6 * DAY), 3)), "slots: {slots:?}");
}

#[test]
fn a_device_clock_far_from_the_servers_is_named_and_corrected_for() {
    let world = World::new();
    world.clock.0.set(NOW + 8 * DAY);
    let engine = world.start().unwrap();
    assert_eq!(engine.status().code, Some(ErrorCode::ClockSkew));
    assert_eq!(engine.status().state, "valid", "the server's time decides, not the device's");
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    ready(engine.flush()).unwrap();
    let report: crate::core::ledger::OutboxReport = {
        // The slot counted is the server's, not the device's.
        let sealed = world.server.plaintexts.borrow().last().cloned().unwrap();
        let request: licet_protocol::wire::ReportsRequest = licet_protocol::wire::decode(&sealed).unwrap();
        crate::core::ledger::OutboxReport { handshake_code: request.handshake_code, report: request.reports[0].clone() }
    };
    assert_eq!(report.report.slots[0].slot, crate::core::ledger::slot_of(NOW));
}

#[test]
fn an_edited_cached_authorization_is_refused_offline_and_replaced_online() {
    let world = World::new();
    world.start().unwrap();
    let cached = world.store.authorization.borrow().clone().unwrap();
    for at in [10, cached.len() / 2, cached.len() - 70] {
        let mut edited = cached.clone();
        edited[at] ^= 0x01;
        *world.store.authorization.borrow_mut() = Some(edited);
        world.server.offline.set(true);
        let refused = world.start();
        assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::BadSignature), "byte {at}");
        // Online, the server's fresh authorization replaces it.
        world.server.offline.set(false);
        assert_eq!(world.start().unwrap().status().state, "valid");
    }
}

#[test]
fn the_module_refuses_a_host_its_licenses_do_not_bind_even_if_the_server_allows_it() {
    // The twin does not check domains: the refusal below is the browser module's own.
    let world = World { server: ServerTwin::bound_to(NOW, &["*.example.com"]), ..World::new() };
    assert_eq!(world.start().unwrap().status().state, "valid", "app.example.com is bound");
    let elsewhere = AuthorizeParams { domain: "app.example.net".into(), ..params() };
    let refused = ready(Engine::start(&world.store, &world.server, &world.clock, target(&world.server), elsewhere));
    assert_eq!(refused.err().map(|e| e.code), Some(ErrorCode::DomainMismatch));
}

#[test]
fn the_typescript_error_union_lists_exactly_the_shared_codes() {
    let api = include_str!("api/mod.rs");
    let union = &api[api.find("export type LicetErrorCode =").unwrap()..];
    let union = &union[..union.find(';').unwrap()];
    let listed: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
    let shared: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, shared, "the .d.ts union and crates/protocol/src/codes.rs differ");
}

#[test]
fn a_tab_that_does_not_report_adopts_the_fresher_authorization_of_the_one_that_does() {
    let world = World::new();
    let reporter = world.start().unwrap();
    let other = world.start().unwrap();
    let first = other.status().offline_until.unwrap();
    // Days later the reporting tab refreshes its authorization through a report.
    world.clock.0.set(NOW + 5 * DAY);
    world.server.now.set(NOW + 5 * DAY);
    ready(reporter.count_pages(Module::Core, 1)).unwrap();
    ready(reporter.flush()).unwrap();
    // The other tab, whose own copy is older, does not write it over the newer one...
    ready(other.count_pages(Module::Core, 1)).unwrap();
    ready(other.persist()).unwrap();
    // ...and picks the newer one up.
    ready(other.adopt_cached()).unwrap();
    assert_eq!(other.status().offline_until, Some(NOW + 12 * DAY));
    assert!(other.status().offline_until.unwrap() > first);
    world.clock.0.set(NOW + 9 * DAY);
    ready(other.count_pages(Module::Core, 1)).unwrap();
    world.server.offline.set(true);
    let offline = world.start().unwrap();
    assert_eq!(offline.status().offline_until, Some(NOW + 12 * DAY), "the cache holds the newest");
}

#[test]
fn the_grace_end_is_given_in_device_time_for_the_schedule() {
    let world = World::new();
    world.clock.0.set(NOW + 8 * DAY); // the device clock runs 8 days ahead of the server's
    let engine = world.start().unwrap();
    assert_eq!(engine.grace_ends_at(), Some(NOW + 8 * DAY + 7 * DAY));
}

#[test]
fn a_refused_renewal_keeps_the_receipt_and_the_authorization_until_its_offline_until() {
    let world = World::new();
    let (server, store, clock) = (&world.server, &world.store, &world.clock);
    let engine = world.start().unwrap();
    ready(engine.count_pages(Module::Core, 3)).unwrap();
    server.refuse_renewals.set(Some("QUOTA_EXHAUSTED"));
    clock.0.set(NOW + DAY);
    server.now.set(NOW + DAY);
    // The reports are counted, acknowledged and deleted here: the flush succeeds.
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&3));
    assert!(store.outbox.borrow().is_empty() && store.pending.borrow().is_empty());
    // The device keeps the authorization it holds, and says why it was not renewed.
    let status = engine.status();
    assert_eq!((status.state, status.code, status.online), ("valid", Some(ErrorCode::QuotaExhausted), true));
    assert_eq!(status.offline_until, Some(NOW + 7 * DAY));

    // It keeps counting and reporting until its offline_until...
    clock.0.set(NOW + 3 * DAY);
    server.now.set(NOW + 3 * DAY);
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(engine.status().code, Some(ErrorCode::QuotaExhausted), "a successful send does not hide the refusal");
    clock.0.set(NOW + 7 * DAY);
    ready(engine.count_pages(Module::Core, 4)).unwrap();
    // ...and not a moment longer.
    clock.0.set(NOW + 7 * DAY + 1);
    assert_eq!(ready(engine.count_pages(Module::Core, 1)).unwrap_err().code, ErrorCode::GraceExpired);
    assert_eq!((engine.status().state, engine.status().code), ("expired", Some(ErrorCode::GraceExpired)));
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&5));

    // Once the server renews again (quota added), the refusal is gone and counting goes on.
    server.refuse_renewals.set(None);
    server.now.set(NOW + 7 * DAY + 1);
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(server.pages.borrow().get(&Module::Core), Some(&9));
    let status = engine.status();
    assert_eq!((status.state, status.code), ("valid", None));
    assert_eq!(status.offline_until, Some(NOW + 14 * DAY + 1));
    ready(engine.count_pages(Module::Core, 1)).unwrap();
}

#[test]
fn a_reload_refused_because_the_license_ran_out_keeps_the_cached_authorization_until_its_offline_until() {
    let world = World::new();
    world.start().unwrap();
    world.server.refuse_authorizations.set(Some(ErrorCode::QuotaExhausted));
    world.clock.0.set(NOW + DAY);
    world.server.now.set(NOW + DAY);

    let engine = world.start().unwrap();
    let status = engine.status();
    assert_eq!((status.state, status.code, status.online), ("valid", Some(ErrorCode::QuotaExhausted), true));
    assert_eq!(status.offline_until, Some(NOW + 7 * DAY));
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    world.clock.0.set(NOW + 7 * DAY + 1);
    assert_eq!(ready(engine.count_pages(Module::Core, 1)).unwrap_err().code, ErrorCode::GraceExpired);
    drop(engine);

    // A refusal that says the request is wrong, not that the license ran out, is final.
    world.clock.0.set(NOW + 2 * DAY);
    world.server.refuse_authorizations.set(Some(ErrorCode::WrongSessionPassword));
    assert_eq!(world.start().err().map(|e| e.code), Some(ErrorCode::WrongSessionPassword));
}

#[test]
fn a_refusal_code_this_build_does_not_know_is_a_bad_response_and_voids_no_receipt() {
    let world = World::new();
    let engine = world.start().unwrap();
    world.server.refuse_renewals.set(Some("SOMETHING_NEW"));
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(engine.status().code, Some(ErrorCode::BadResponse));
    assert_eq!(engine.status().state, "valid");
    // A new authorization, here that of a reload, clears it.
    world.server.refuse_renewals.set(None);
    assert_eq!(world.start().unwrap().status().code, None);
}

#[test]
fn a_refusal_ends_when_another_tab_caches_an_authorization_granted_after_it() {
    let world = World::new();
    let (server, clock) = (&world.server, &world.clock);
    let reporter = world.start().unwrap();
    let other = world.start().unwrap();
    // Day 1: the reporter renews. Day 2: the other tab's flush is refused.
    clock.0.set(NOW + DAY);
    server.now.set(NOW + DAY);
    ready(reporter.count_pages(Module::Core, 1)).unwrap();
    ready(reporter.flush()).unwrap();
    clock.0.set(NOW + 2 * DAY);
    server.now.set(NOW + 2 * DAY);
    server.refuse_renewals.set(Some("DEVICE_LIMIT_REACHED"));
    ready(other.count_pages(Module::Core, 1)).unwrap();
    ready(other.flush()).unwrap();
    assert_eq!(other.status().code, Some(ErrorCode::DeviceLimitReached));
    // The day-1 authorization in the cache is newer than the other tab's, but older than its
    // refusal: taking it up does not end the refusal.
    ready(other.adopt_cached()).unwrap();
    assert_eq!(other.status().offline_until, Some(NOW + 8 * DAY));
    assert_eq!(other.status().code, Some(ErrorCode::DeviceLimitReached));
    // Day 3: the reporter is renewed again; that one does.
    clock.0.set(NOW + 3 * DAY);
    server.now.set(NOW + 3 * DAY);
    server.refuse_renewals.set(None);
    ready(reporter.count_pages(Module::Core, 1)).unwrap();
    ready(reporter.flush()).unwrap();
    ready(other.adopt_cached()).unwrap();
    assert_eq!(other.status().offline_until, Some(NOW + 10 * DAY));
    assert_eq!(other.status().code, None);
}

#[test]
fn listeners_are_told_of_tolerance_refusals_and_the_end_of_the_grace_and_of_nothing_else() {
    let world = World::new();
    let (server, clock) = (&world.server, &world.clock);
    let mut watch = StatusWatch::new(Status::UNINITIALIZED);
    let id = watch.subscribe(());
    let engine = world.start().unwrap();
    let mut told = |status: Status| -> Option<(&'static str, Option<ErrorCode>)> {
        let ids = watch.changed(&status);
        (ids == [id]).then_some((status.state, status.code))
    };
    assert_eq!(told(engine.status()), Some(("valid", None)), "after initLicense");
    // A renewal that changes only offline_until is no news.
    clock.0.set(NOW + DAY);
    server.now.set(NOW + DAY);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    ready(engine.flush()).unwrap();
    assert_eq!(engine.status().offline_until, Some(NOW + 8 * DAY));
    assert_eq!(told(engine.status()), None);
    // Over quota, inside the tolerance: a warning state.
    server.state.set(licet_protocol::wire::LicenseState::Tolerance);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    ready(engine.flush()).unwrap();
    assert_eq!(told(engine.status()), Some(("tolerance", None)));
    // Past the tolerance: the renewal is refused.
    server.refuse_renewals.set(Some("QUOTA_EXHAUSTED"));
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    ready(engine.flush()).unwrap();
    assert_eq!(told(engine.status()), Some(("tolerance", Some(ErrorCode::QuotaExhausted))));
    // Offline: the next send fails; online changes, the code stays the refusal.
    server.offline.set(true);
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap_err().code, ErrorCode::NetworkError);
    assert_eq!(told(engine.status()), Some(("tolerance", Some(ErrorCode::QuotaExhausted))));
    assert!(!engine.status().online);
    // The grace ends: a count is refused, and the status says so.
    clock.0.set(NOW + 8 * DAY + 1);
    assert_eq!(ready(engine.count_pages(Module::Core, 1)).unwrap_err().code, ErrorCode::GraceExpired);
    assert_eq!(told(engine.status()), Some(("expired", Some(ErrorCode::GraceExpired))));
    assert_eq!(told(engine.status()), None, "told once");
}

// Failover: a main server and a standby on one store, as two `licet-server serve` processes
// on one data directory are.

const STANDBY_URL: &str = "https://standby.licet.test";

/// The twin reached at two addresses: the main server (`SERVER_URL`) and a standby sharing its
/// store. Either can be down; the main can also take a request in and then lose its answer, as
/// a server killed between its commit and its reply does.
struct Pair<'a> {
    twin: &'a ServerTwin,
    main_down: Cell<bool>,
    main_loses_answers: Cell<bool>,
    standby_down: Cell<bool>,
    /// Which server each request went to, in order: 0 the main, 1 the standby.
    posted: std::cell::RefCell<Vec<usize>>,
}

impl crate::ports::Transport for &Pair<'_> {
    async fn post(
        &self,
        url: &str,
        body: &licet_protocol::wire::SealedRequest,
    ) -> Result<crate::ports::Reply, LicetError> {
        let main = url.starts_with(&format!("{SERVER_URL}/"));
        self.posted.borrow_mut().push(if main { 0 } else { 1 });
        let down = if main { self.main_down.get() } else { self.standby_down.get() };
        if down {
            return Err(ErrorCode::NetworkError.into());
        }
        let reply = self.twin.post(url, body).await?;
        if main && self.main_loses_answers.get() {
            return Err(ErrorCode::NetworkError.into());
        }
        Ok(reply)
    }
}

impl World {
    fn pair(&self) -> Pair<'_> {
        Pair {
            twin: &self.server,
            main_down: Cell::new(false),
            main_loses_answers: Cell::new(false),
            standby_down: Cell::new(false),
            posted: std::cell::RefCell::default(),
        }
    }

    /// An engine whose license key lists the main server, then the standby.
    fn start_on<'a>(
        &'a self,
        pair: &'a Pair<'a>,
    ) -> Result<Engine<&'a MemoryStore, &'a Pair<'a>, &'a MemoryClock>, LicetError> {
        let key = LicenseKey::new(
            vec![SERVER_URL.into(), STANDBY_URL.into()],
            Some(ORGANIZATION.into()),
            Some(HANDSHAKE.into()),
            &self.server.keys.public(),
        );
        let target = Target::new(key, &self.server.vendor.public_text()).unwrap();
        ready(Engine::start(&self.store, pair, &self.clock, target, params()))
    }
}

/// The servers posted to since the last call.
fn posted(pair: &Pair) -> Vec<usize> {
    std::mem::take(&mut *pair.posted.borrow_mut())
}

#[test]
fn when_the_main_dies_mid_session_the_standby_takes_the_usage_and_the_authorization_holds() {
    let world = World::new();
    let pair = world.pair();
    let engine = world.start_on(&pair).unwrap();
    assert_eq!(posted(&pair), [0]);
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    pair.main_down.set(true);
    ready(engine.count_pages(Module::Core, 3)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(posted(&pair), [0, 1]);
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&5));
    let status = engine.status();
    assert_eq!((status.state, status.code, status.online), ("valid", None, true));
    // The standby answered last: the next request goes to it without trying the dead main.
    ready(engine.count_pages(Module::Core, 1)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(posted(&pair), [1]);
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&6));
    assert!(world.store.outbox.borrow().is_empty());
}

#[test]
fn a_report_the_main_stored_but_could_not_answer_is_counted_once_through_the_standby() {
    let world = World::new();
    let pair = world.pair();
    let engine = world.start_on(&pair).unwrap();
    pair.main_loses_answers.set(true);
    ready(engine.count_pages(Module::Core, 4)).unwrap();
    // The standby gets a request sealed afresh (the main stored the first one's nonce) that
    // carries the same report: it acknowledges it and counts nothing again.
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(posted(&pair), [0, 0, 1]);
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&4));
    assert!(world.store.outbox.borrow().is_empty());
}

#[test]
fn the_client_comes_back_to_the_main_once_the_back_off_has_passed_and_it_answers() {
    let world = World::new();
    let pair = world.pair();
    let engine = world.start_on(&pair).unwrap();
    let flush_one = |pages| {
        ready(engine.count_pages(Module::Core, pages)).unwrap();
        assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    };
    pair.main_down.set(true);
    flush_one(1);
    pair.main_down.set(false);
    posted(&pair);
    // The main is up again, but the back-off has not passed: the standby still serves.
    world.clock.0.set(NOW + FIRST_RETRY_MS - 1);
    flush_one(1);
    assert_eq!(posted(&pair), [1]);
    // It has: the main is asked first, answers, and is the one asked from then on.
    world.clock.0.set(NOW + FIRST_RETRY_MS);
    flush_one(1);
    assert_eq!(posted(&pair), [0]);
    pair.standby_down.set(true);
    flush_one(1);
    assert_eq!(posted(&pair), [0]);
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&4));
}

#[test]
fn a_refusal_by_the_main_is_its_answer_and_no_standby_is_asked() {
    let world = World::new();
    let pair = world.pair();
    world.server.refuse_authorizations.set(Some(ErrorCode::WrongSessionPassword));
    assert_eq!(world.start_on(&pair).err().map(|e| e.code), Some(ErrorCode::WrongSessionPassword));
    assert_eq!(posted(&pair), [0]);
}

#[test]
fn with_every_server_down_usage_waits_and_the_main_keeps_its_place() {
    let world = World::new();
    let pair = world.pair();
    let engine = world.start_on(&pair).unwrap();
    posted(&pair);
    pair.main_down.set(true);
    pair.standby_down.set(true);
    ready(engine.count_pages(Module::Core, 2)).unwrap();
    assert_eq!(ready(engine.flush()).unwrap_err().code, ErrorCode::NetworkError);
    assert_eq!(posted(&pair), [0, 1]);
    assert_eq!(world.store.outbox.borrow().len(), 1);
    // The device was offline, which says nothing of the main: it is still asked first.
    pair.main_down.set(false);
    pair.standby_down.set(false);
    assert_eq!(ready(engine.flush()).unwrap(), Flushed { acknowledged: 1, waiting: 0 });
    assert_eq!(posted(&pair), [0]);
    assert_eq!(world.server.pages.borrow().get(&Module::Core), Some(&2));
}
