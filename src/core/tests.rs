//! Tests of the pure core; the same tests run natively and in the browser.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
use licet_protocol::wire::{self, SlotUsage};
use licet_protocol::{ErrorCode, SLOT_MS};

use super::ledger::{
    module, page_count, seal, slot_of, OutboxReport, Tally, UsageItem, UsageRecord, MAX_PAGES_PER_CALL,
};

#[test]
fn page_counts_must_be_whole_sane_numbers() {
    assert_eq!(page_count(0.0).unwrap(), 0);
    assert_eq!(page_count(3.0).unwrap(), 3);
    assert_eq!(page_count(MAX_PAGES_PER_CALL as f64).unwrap(), MAX_PAGES_PER_CALL);
    for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, (MAX_PAGES_PER_CALL + 1) as f64, 1e300] {
        assert_eq!(page_count(bad).unwrap_err().code, ErrorCode::InvalidArgument, "{bad}");
    }
}

#[test]
fn module_names_are_the_four_documented_ones() {
    assert_eq!(module("core").unwrap(), Module::Core);
    assert_eq!(module("webcam").unwrap(), Module::Webcam);
    assert_eq!(module("pdfr").unwrap(), Module::Pdfr);
    assert_eq!(module("ocr").unwrap(), Module::Ocr);
    assert_eq!(module("Core").unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(module("scanner").unwrap_err().code, ErrorCode::InvalidArgument);
}

#[test]
fn slots_are_absolute_three_minute_windows() {
    assert_eq!(slot_of(0), 0);
    assert_eq!(slot_of(SLOT_MS - 1), 0);
    assert_eq!(slot_of(SLOT_MS), 1);
}

fn record(project: &str, slot: u64, module: Module, count: u64) -> Vec<u8> {
    wire::encode(&UsageRecord { handshake_code: project.into(), slot, item: UsageItem::Pages(module), count })
}

fn scans(project: &str, slot: u64, symbology: &str, count: u64) -> Vec<u8> {
    wire::encode(&UsageRecord { handshake_code: project.into(), slot, item: UsageItem::Scans(symbology.into()), count })
}

#[test]
fn sealing_sums_per_project_slot_and_module_and_loses_nothing() {
    let records = vec![
        record("a", 1, Module::Core, 2),
        record("a", 1, Module::Core, 3),
        record("a", 2, Module::Ocr, 1),
        record("b", 1, Module::Core, 7),
        scans("a", 1, "QR_CODE", 2),
        scans("a", 1, "QR_CODE", 1),
        scans("a", 1, "EAN_13", 4),
        vec![0xff, 0xff], // unreadable: dropped, does not block the rest
    ];
    let mut next = 0u8;
    let (sealed, kept) = seal(records, u64::MAX, || {
        next += 1;
        ReportId([next; 16])
    });
    assert!(kept.is_empty());
    assert_eq!(sealed.len(), 2);
    let a: OutboxReport = wire::decode(&sealed[0].bytes).unwrap();
    assert_eq!(a.handshake_code, "a");
    assert_eq!(a.report.report_id, sealed[0].report_id);
    assert_eq!(
        a.report.slots,
        vec![
            SlotUsage {
                slot: 1,
                pages: vec![(Module::Core, 5)],
                scans: vec![("QR_CODE".into(), 3), ("EAN_13".into(), 4)]
            },
            SlotUsage { slot: 2, pages: vec![(Module::Ocr, 1)], scans: vec![] },
        ]
    );
    let b: OutboxReport = wire::decode(&sealed[1].bytes).unwrap();
    assert_eq!(b.report.slots, vec![SlotUsage { slot: 1, pages: vec![(Module::Core, 7)], scans: vec![] }]);
    assert_ne!(sealed[0].report_id, sealed[1].report_id);
    assert_eq!(seal(vec![], u64::MAX, || ReportId([0; 16])), (vec![], vec![]));
}

#[test]
fn sealing_up_to_the_open_slot_keeps_its_records_pending() {
    let open = record("a", 5, Module::Core, 1);
    let later = record("a", 6, Module::Core, 1);
    let (sealed, kept) =
        seal(vec![record("a", 4, Module::Core, 2), open.clone(), later.clone()], 5, || ReportId([1; 16]));
    assert_eq!(kept, vec![open, later]);
    let report: OutboxReport = wire::decode(&sealed[0].bytes).unwrap();
    assert_eq!(report.report.slots, vec![SlotUsage { slot: 4, pages: vec![(Module::Core, 2)], scans: vec![] }]);
    let (none, _) = seal(vec![record("a", 5, Module::Core, 1)], 5, || ReportId([1; 16]));
    assert!(none.is_empty(), "no report for an open slot alone");
}

#[test]
fn a_tally_sums_per_project_slot_and_item_and_merges_back() {
    let mut tally = Tally::default();
    tally.add("a", 1, UsageItem::Scans("QR_CODE".into()), 1);
    tally.add("a", 1, UsageItem::Scans("QR_CODE".into()), 1);
    tally.add("a", 2, UsageItem::Pages(Module::Core), 3);
    let records = tally.records();
    // Ordered by project, then slot.
    assert_eq!(records, vec![scans("a", 1, "QR_CODE", 2), record("a", 2, Module::Core, 3)]);
    let mut other = Tally::default();
    other.add("a", 1, UsageItem::Scans("QR_CODE".into()), 5);
    tally.merge(other);
    assert!(tally.records().contains(&scans("a", 1, "QR_CODE", 7)));
    assert!(!tally.is_empty() && Tally::default().is_empty());
}

mod dedup {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use serde_json::Value;

    use crate::core::dedup::{Deduplicator, MAX_FORGET_MS, MAX_TRACKED};

    /// The vendored conformance vectors (tests/conformance/), built in so the browser run reads the same file.
    const VECTORS: &str = include_str!("../../tests/conformance/dedup_vectors.json");

    fn added(dedup: &mut Deduplicator, results: &[(&str, &str)], at: u64) -> usize {
        dedup.record_frame(results.iter().copied(), at).into_iter().map(|(_, n)| n as usize).sum()
    }

    #[test]
    fn every_conformance_vector_passes() {
        let vectors: Value = serde_json::from_str(VECTORS).unwrap();
        let cases = vectors["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let mut dedup = Deduplicator::new(case["forget_ms"].as_u64().unwrap());
            let expected: Vec<u64> = case["counted"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect();
            let counted: Vec<u64> = case["frames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|frame| {
                    let at = frame[0].as_u64().unwrap();
                    let results: Vec<(&str, &str)> = frame[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| (r[0].as_str().unwrap(), r[1].as_str().unwrap()))
                        .collect();
                    added(&mut dedup, &results, at) as u64
                })
                .collect();
            assert_eq!(counted, expected, "{name}");
        }
    }

    #[test]
    fn a_timestamp_that_goes_backwards_is_taken_as_the_latest() {
        let mut dedup = Deduplicator::new(3_000);
        assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 10_000), 1);
        // Stamped 5 s earlier: treated as 10 000, so still inside the window.
        assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 5_000), 0);
        assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 12_999), 0);
        assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 15_999), 1);
    }

    #[test]
    fn memory_stays_bounded_and_the_least_recently_seen_is_forgotten_first() {
        let mut dedup = Deduplicator::new(60_000);
        let texts: Vec<String> = (0..MAX_TRACKED + 100).map(|i| format!("code-{i}")).collect();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(added(&mut dedup, &[("CODE_128", text)], i as u64), 1);
        }
        assert_eq!(dedup.tracked(), MAX_TRACKED);
        let at = texts.len() as u64;
        // The newest are still remembered; the oldest were forgotten and count again.
        assert_eq!(added(&mut dedup, &[("CODE_128", texts.last().unwrap())], at), 0);
        assert_eq!(added(&mut dedup, &[("CODE_128", &texts[0])], at), 1);
        assert_eq!(dedup.tracked(), MAX_TRACKED);
    }

    #[test]
    fn sightings_that_no_window_can_reach_free_their_memory() {
        let mut dedup = Deduplicator::new(1_000);
        added(&mut dedup, &[("QR_CODE", "A"), ("QR_CODE", "B")], 0);
        assert_eq!(dedup.tracked(), 2);
        // The window has closed, but a longer one set now would still reach them.
        added(&mut dedup, &[], 1_000);
        assert_eq!(dedup.tracked(), 2);
        added(&mut dedup, &[], MAX_FORGET_MS);
        assert_eq!(dedup.tracked(), 0);
    }

    /// Found by the property test against the reference model (src/core/proptests.rs): a
    /// window lengthened after the old one closed still judges a barcode by its last sighting,
    /// whether or not another frame came in between.
    #[test]
    fn a_lengthened_window_judges_every_barcode_by_its_last_sighting() {
        for frame_in_between in [false, true] {
            let mut dedup = Deduplicator::new(1_000);
            assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 0), 1);
            if frame_in_between {
                added(&mut dedup, &[("QR_CODE", "B")], 1_500);
            }
            dedup.set_forget_ms(5_000);
            assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 2_000), 0, "{frame_in_between}");
            assert_eq!(added(&mut dedup, &[("QR_CODE", "A")], 7_000), 1, "{frame_in_between}");
        }
    }
}

mod schedule {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use licet_protocol::SLOT_MS;

    use crate::core::schedule::{
        before_grace_ends, Schedule, FIRST_BACKOFF_MS, JITTER_MS, MAX_BACKOFF_MS, MIN_WAIT_MS,
        RENEW_BEFORE_GRACE_ENDS_MS, SETTLE_MS,
    };

    #[test]
    fn a_short_grace_brings_the_next_send_forward() {
        let now = 1_000_000;
        // A 3-minute grace: renew 30 s before it ends, not after the slot's 3 min + jitter.
        let grace_end = now + SLOT_MS;
        assert_eq!(before_grace_ends(now + SLOT_MS + 20_000, now, grace_end), grace_end - RENEW_BEFORE_GRACE_ENDS_MS);
        // A long grace changes nothing; a grace already ending still waits a little.
        assert_eq!(before_grace_ends(now + SLOT_MS, now, now + 7 * 24 * 3_600_000), now + SLOT_MS);
        assert_eq!(before_grace_ends(now + SLOT_MS, now, now + 1_000), now + MIN_WAIT_MS);
    }

    #[test]
    fn after_a_success_the_next_send_follows_the_next_slot_boundary_with_jitter() {
        let mut schedule = Schedule::default();
        let now = 10 * SLOT_MS + 1_234;
        assert_eq!(schedule.next(now, true, 0), 11 * SLOT_MS + SETTLE_MS);
        assert_eq!(schedule.next(now, true, JITTER_MS - 1), 11 * SLOT_MS + SETTLE_MS + JITTER_MS - 1);
        assert_eq!(schedule.next(now, true, JITTER_MS), 11 * SLOT_MS + SETTLE_MS, "jitter stays below its width");
        // Exactly on a boundary, the slot that just began is not closed: wait for the next one.
        assert_eq!(schedule.next(11 * SLOT_MS, true, 0), 12 * SLOT_MS + SETTLE_MS);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_cap_and_a_success_resets() {
        let mut schedule = Schedule::default();
        let delays: Vec<u64> = (0..8).map(|_| schedule.next(0, false, 0)).collect();
        assert_eq!(delays[0], FIRST_BACKOFF_MS);
        assert_eq!(delays[1], 2 * FIRST_BACKOFF_MS);
        assert_eq!(delays[2], 4 * FIRST_BACKOFF_MS);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*delays.last().unwrap(), MAX_BACKOFF_MS);
        assert_eq!(schedule.failures(), 8);
        // Jitter adds at most half the backoff.
        let mut jittered = Schedule::default();
        assert_eq!(jittered.next(0, false, u64::MAX), FIRST_BACKOFF_MS + u64::MAX % (FIRST_BACKOFF_MS / 2 + 1));
        assert!(jittered.next(0, false, u64::MAX) <= 2 * FIRST_BACKOFF_MS * 3 / 2);
        schedule.next(0, true, 0);
        assert_eq!(schedule.failures(), 0);
        assert_eq!(schedule.next(0, false, 0), FIRST_BACKOFF_MS);
    }
}

mod frame {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::core::frame::split;

    #[test]
    fn flattened_results_split_back_into_pairs_whatever_their_text() {
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(split("7:QR_CODE1:A6:EAN_130:"), Some(vec![("QR_CODE", "A"), ("EAN_13", "")]));
        // Lengths are UTF-16 units: an emoji is two, "é" one; separators inside text are text.
        assert_eq!(split("7:QR_CODE4:😀é:"), Some(vec![("QR_CODE", "😀é:")]));
        assert_eq!(split("7:QR_CODE3:12:"), Some(vec![("QR_CODE", "12:")]));
    }

    #[test]
    fn malformed_flattened_results_are_refused() {
        for bad in ["7:QR_CODE", "7:QR_CODE9:A", "x:QR_CODE1:A", ":A", "7:QR_CODE1:AB", "-1:A1:B", "+1:A1:B", "1:A"] {
            assert_eq!(split(bad), None, "{bad}");
        }
        // A length that falls inside a two-unit character is refused, not split.
        assert_eq!(split("7:QR_CODE1:😀"), None);
    }
}

mod clock {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::core::clock::{Agreement, Reading, TimeGuard, ROLLBACK_TOLERANCE_MS, SKEW_TOLERANCE_MS};

    const DAY: u64 = 24 * 60 * 60 * 1000;
    const T: u64 = 1_800_000_000_000;

    #[test]
    fn decisions_use_server_time_whatever_the_device_clock_says() {
        let mut guard = TimeGuard::default();
        // The device clock runs 8 days ahead of the server: named, and corrected for.
        assert_eq!(guard.server_time(T, T + 8 * DAY), Agreement::Skewed);
        assert_eq!(guard.read(T + 8 * DAY + 1_000), (T + 1_000, Reading::Normal));
        assert_eq!(TimeGuard::default().server_time(T, T + SKEW_TOLERANCE_MS), Agreement::Agrees);
    }

    #[test]
    fn a_clock_set_back_is_named_and_does_not_turn_trusted_time_back() {
        let mut guard = TimeGuard::default();
        guard.server_time(T, T);
        assert_eq!(guard.read(T + 6 * DAY), (T + 6 * DAY, Reading::Normal));
        // Back by 5 days: named, and the trusted time stays where it was...
        assert_eq!(guard.read(T + DAY), (T + 6 * DAY, Reading::SetBack));
        // ...and goes on from there at the clock's pace: a day later it is day 7, not day 6.
        assert_eq!(guard.read(T + 2 * DAY), (T + 7 * DAY, Reading::Normal));
        // Setting it back again gains nothing either.
        assert_eq!(guard.read(T), (T + 7 * DAY, Reading::SetBack));
        assert_eq!(guard.read(T + DAY), (T + 8 * DAY, Reading::Normal));
        // A small step back (a clock sync) is not a manipulation.
        let mut synced = TimeGuard::default();
        synced.server_time(T, T);
        synced.read(T + 10 * ROLLBACK_TOLERANCE_MS);
        assert_eq!(synced.read(T + 9 * ROLLBACK_TOLERANCE_MS).1, Reading::Normal);
    }

    #[test]
    fn moving_the_clock_forward_moves_trusted_time_forward_until_the_server_corrects_it() {
        let mut guard = TimeGuard::default();
        guard.server_time(T, T);
        assert_eq!(guard.read(T + 8 * DAY).0, T + 8 * DAY);
        // Back in contact: the server says it is T + 1 s, and that is what counts from now on.
        guard.server_time(T + 1_000, T + 8 * DAY);
        assert_eq!(guard.read(T + 8 * DAY + 500).0, T + 1_500);
    }
}

mod limits {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use licet_protocol::ids::{DeviceId, Nonce};
    use licet_protocol::license::{LicenseFile, LicenseType, Module, Tolerance, DAY_MS};
    use licet_protocol::wire::{Authorization, LicenseState};

    use crate::core::session::within_licenses;

    const T: u64 = 1_800_000_000_000;

    fn license(expires_at: u64, grace: u64, modules: Vec<Module>) -> LicenseFile {
        LicenseFile {
            id: "L".into(),
            organization_id: "o".into(),
            product: "p".into(),
            license_type: LicenseType::PerPage,
            modules,
            quota: Some(1),
            devices: None,
            active: None,
            domains: vec![],
            allow_dev_hosts: false,
            issued_at: 0,
            expires_at,
            offline_grace_ms: grace,
            tolerance: Tolerance::default(),
        }
    }

    fn authorization(offline_until: u64, modules: Vec<Module>) -> Authorization {
        Authorization {
            device_id: DeviceId([1; 16]),
            handshake_code: "c".into(),
            licenses: vec![],
            modules,
            offline_until,
            active_until: 0,
            report_interval_ms: 0,
            server_time: T,
            state: LicenseState::Valid,
            nonce: Nonce([0; 16]),
        }
    }

    #[test]
    fn a_server_cannot_grant_more_than_the_signed_licenses_allow() {
        let licenses = [license(T + 30 * DAY_MS, 7 * DAY_MS, vec![Module::Core])];
        // A grace of a year from a server that the license allows 7 days: cut to 7 days.
        let held = within_licenses(authorization(T + 365 * DAY_MS, vec![Module::Core, Module::Ocr]), &licenses);
        assert_eq!(held.offline_until, T + 7 * DAY_MS);
        assert_eq!(held.modules, vec![Module::Core], "no license sells ocr");
        // Never past expiry plus its 7-day tolerance.
        let soon = [license(T - 7 * DAY_MS + 1_000, 7 * DAY_MS, vec![Module::Core])];
        assert_eq!(within_licenses(authorization(T + 7 * DAY_MS, vec![]), &soon).offline_until, T + 1_000);
        // An honest authorization is left as it is.
        let honest = within_licenses(authorization(T + 7 * DAY_MS, vec![Module::Core]), &licenses);
        assert_eq!((honest.offline_until, honest.modules), (T + 7 * DAY_MS, vec![Module::Core]));
    }
}

mod project {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use std::cell::RefCell;

    use licet_protocol::keys::ServerPublicKeys;
    use licet_protocol::license_key::LicenseKey;
    use licet_protocol::ErrorCode;

    use crate::core::error::LicetError;
    use crate::core::session::Project;

    fn server_key() -> LicenseKey {
        let keys = ServerPublicKeys { signing: [1; 32], hpke: [2; 32] };
        LicenseKey::new(vec!["https://licenses.test".into()], Some("key-org".into()), Some("key-code".into()), &keys)
    }

    /// `project.license_key(built_in, ...)`, and the key text it was read from.
    fn resolve(project: Project, built_in: Option<&str>) -> (Result<LicenseKey, LicetError>, Option<String>) {
        let read = RefCell::new(None);
        let key = project.license_key(built_in, |text| {
            *read.borrow_mut() = Some(text.to_owned());
            Ok(server_key())
        });
        (key, read.into_inner())
    }

    fn project(organization_id: Option<&str>, handshake_code: Option<&str>, license_server: Option<&str>) -> Project {
        Project {
            organization_id: organization_id.map(Into::into),
            handshake_code: handshake_code.map(Into::into),
            license_server: license_server.map(Into::into),
        }
    }

    #[test]
    fn the_project_replaces_the_keys_own_and_keeps_its_servers_and_keys() {
        let (key, read) = resolve(project(Some("acme"), None, Some("LICET1.given")), Some("LICET1.built-in"));
        let key = key.unwrap();
        assert_eq!(read.as_deref(), Some("LICET1.given"), "licenseServer wins over the build's");
        assert_eq!((key.organization_id.as_deref(), key.handshake_code), (Some("acme"), None));
        assert_eq!(
            (key.servers, key.signing_key, key.hpke_key),
            (server_key().servers, server_key().signing_key, server_key().hpke_key)
        );
        // Neither: the public trial, whatever the key names.
        let trial = resolve(project(None, None, Some("LICET1.given")), None).0.unwrap();
        assert_eq!((trial.organization_id, trial.handshake_code), (None, None));
    }

    #[test]
    fn without_a_license_server_the_builds_is_used_and_without_both_it_is_an_error() {
        for absent in [None, Some("")] {
            let (key, read) = resolve(project(None, Some("web"), absent), Some("LICET1.built-in"));
            assert_eq!(key.unwrap().handshake_code.as_deref(), Some("web"));
            assert_eq!(read.as_deref(), Some("LICET1.built-in"));
            for no_default in [None, Some("")] {
                let (key, read) = resolve(project(None, Some("web"), absent), no_default);
                let error = key.unwrap_err();
                assert_eq!(error.code, ErrorCode::InvalidLicenseKey);
                assert!(
                    error.message().contains("licenseServer") && error.message().contains("LICET_LICENSE_SERVER"),
                    "{}",
                    error.message()
                );
                assert_eq!(read, None);
            }
        }
    }

    #[test]
    fn a_license_server_that_does_not_parse_is_refused_as_it_is() {
        let refused = Project { license_server: Some("nonsense".into()), ..Project::default() }
            .license_key(None, |_| Err(ErrorCode::InvalidLicenseKey.into()));
        assert_eq!(refused.unwrap_err().code, ErrorCode::InvalidLicenseKey);
    }
}

mod status_watch {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use licet_protocol::license::Module;
    use licet_protocol::ErrorCode;

    use crate::core::status::{Status, StatusWatch};

    fn valid() -> Status {
        Status {
            state: "valid",
            code: None,
            offline_until: Some(7),
            active_until: Some(30),
            handshake_code: Some("web".into()),
            modules: vec![Module::Core],
            online: true,
        }
    }

    #[test]
    fn a_change_of_state_code_modules_or_online_is_told_to_every_listener_once() {
        let mut watch = StatusWatch::new(Status::UNINITIALIZED);
        let (a, b) = (watch.subscribe("a"), watch.subscribe("b"));
        assert_eq!(watch.changed(&Status::UNINITIALIZED), Vec::<u32>::new(), "the initial status is no news");
        assert_eq!(watch.changed(&valid()), vec![a, b]);
        assert_eq!(watch.changed(&valid()), Vec::<u32>::new());
        let changes = [
            Status { state: "tolerance", ..valid() },
            Status { state: "tolerance", code: Some(ErrorCode::QuotaExhausted), ..valid() },
            Status { state: "tolerance", code: Some(ErrorCode::QuotaExhausted), modules: vec![], ..valid() },
            Status {
                state: "tolerance",
                code: Some(ErrorCode::QuotaExhausted),
                modules: vec![],
                online: false,
                ..valid()
            },
        ];
        for change in changes {
            assert_eq!(watch.changed(&change), vec![a, b], "{change:?}");
            assert_eq!(watch.changed(&change), Vec::<u32>::new(), "{change:?}");
        }
    }

    #[test]
    fn a_renewal_that_moves_only_the_dates_is_no_news() {
        let mut watch = StatusWatch::new(valid());
        watch.subscribe(());
        let renewed =
            Status { offline_until: Some(8), active_until: Some(31), handshake_code: Some("other".into()), ..valid() };
        assert_eq!(watch.changed(&renewed), Vec::<u32>::new());
    }

    #[test]
    fn an_unsubscribed_listener_is_not_told_and_a_change_without_listeners_still_counts() {
        let mut watch = StatusWatch::new(Status::UNINITIALIZED);
        let a = watch.subscribe('a');
        let b = watch.subscribe('b');
        watch.unsubscribe(a);
        assert_eq!((watch.listener(a), watch.listener(b)), (None, Some(&'b')));
        assert_eq!(watch.changed(&valid()), vec![b]);
        watch.unsubscribe(b);
        assert_eq!(watch.changed(&Status { online: false, ..valid() }), Vec::<u32>::new());
        // Compared with the last status seen, heard or not.
        let c = watch.subscribe('c');
        assert_eq!(watch.changed(&Status { online: false, ..valid() }), Vec::<u32>::new());
        assert_eq!(watch.changed(&valid()), vec![c]);
        assert_ne!(c, a, "IDs are not reused");
    }
}

mod failover {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use crate::core::failover::{Failover, FIRST_RETRY_MS, MAIN, MAX_RETRY_MS};

    const MINUTE: u64 = 60 * 1000;
    const T0: u64 = 1_800_000_000_000;

    #[test]
    fn while_the_main_answers_it_is_asked_first_and_the_standbys_in_the_keys_order() {
        let mut failover = Failover::default();
        assert_eq!(failover.order(3, T0), [0, 1, 2]);
        failover.answered(MAIN, false, T0);
        assert_eq!(failover.order(3, T0 + MINUTE), [0, 1, 2]);
        assert_eq!(failover.order(1, T0), [0]);
        assert!(failover.order(0, T0).is_empty());
    }

    #[test]
    fn once_the_main_fails_the_standby_that_answered_is_asked_first_until_the_back_off_passes() {
        let mut failover = Failover::default();
        failover.answered(2, true, T0);
        // The standby that answered, then the main, then the other standby.
        assert_eq!(failover.order(3, T0), [2, 0, 1]);
        assert_eq!(failover.order(3, T0 + FIRST_RETRY_MS - 1), [2, 0, 1]);
        // The back-off has passed: the main first, the standby that answered right after it.
        assert_eq!(failover.order(3, T0 + FIRST_RETRY_MS), [0, 2, 1]);
        // A standby that answers without the main having been tried changes no back-off.
        failover.answered(2, false, T0 + MINUTE);
        assert_eq!(failover.order(3, T0 + FIRST_RETRY_MS), [0, 2, 1]);
    }

    #[test]
    fn the_back_off_doubles_while_the_main_stays_down_up_to_its_cap() {
        let mut failover = Failover::default();
        let mut at = T0;
        failover.answered(1, true, at);
        let mut waits = Vec::new();
        for _ in 0..7 {
            let wait = (1..=MAX_RETRY_MS / MINUTE)
                .map(|m| m * MINUTE)
                .find(|&w| failover.order(2, at + w)[0] == MAIN)
                .unwrap();
            waits.push(wait / MINUTE);
            at += wait;
            // The main tried first again, and it still does not answer.
            failover.answered(1, true, at);
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60, 60]);
    }

    #[test]
    fn a_main_that_answers_again_is_asked_first_and_its_back_off_starts_over() {
        let mut failover = Failover::default();
        failover.answered(1, true, T0);
        failover.answered(1, true, T0 + FIRST_RETRY_MS);
        failover.answered(MAIN, false, T0 + 3 * FIRST_RETRY_MS);
        assert_eq!(failover.order(2, T0 + 3 * FIRST_RETRY_MS), [0, 1]);
        // Down again later: the first wait again, not the doubled one.
        failover.answered(1, true, T0 + 10 * FIRST_RETRY_MS);
        assert_eq!(failover.order(2, T0 + 11 * FIRST_RETRY_MS - 1), [1, 0]);
        assert_eq!(failover.order(2, T0 + 11 * FIRST_RETRY_MS), [0, 1]);
    }

    #[test]
    fn a_standby_failing_moves_the_client_to_the_next_one_that_answers() {
        let mut failover = Failover::default();
        failover.answered(1, true, T0);
        // Standby 1 and the main fail; standby 2 answers.
        failover.answered(2, true, T0 + MINUTE);
        assert_eq!(failover.order(3, T0 + 2 * MINUTE), [2, 0, 1]);
    }

    #[test]
    fn a_clock_set_back_makes_the_main_due_at_once_rather_than_never() {
        let mut failover = Failover::default();
        failover.answered(1, true, T0);
        assert_eq!(failover.order(2, T0 - 24 * 60 * MINUTE), [0, 1]);
    }

    #[test]
    fn a_preferred_server_the_list_no_longer_has_leaves_the_keys_order() {
        let mut failover = Failover::default();
        failover.answered(2, true, T0);
        assert_eq!(failover.order(2, T0), [0, 1]);
    }
}
