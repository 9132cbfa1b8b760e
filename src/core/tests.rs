//! Tests of the pure core; the same tests run natively and in the browser.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
use licet_protocol::wire::{self, SlotUsage};
use licet_protocol::{ErrorCode, SLOT_MS};

use super::ledger::{module, page_count, seal, slot_of, OutboxReport, UsageRecord, MAX_PAGES_PER_CALL};

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
    wire::encode(&UsageRecord { handshake_code: project.into(), slot, module, count })
}

#[test]
fn sealing_sums_per_project_slot_and_module_and_loses_nothing() {
    let records = vec![
        record("a", 1, Module::Core, 2),
        record("a", 1, Module::Core, 3),
        record("a", 2, Module::Ocr, 1),
        record("b", 1, Module::Core, 7),
        vec![0xff, 0xff], // unreadable: dropped, does not block the rest
    ];
    let mut next = 0u8;
    let sealed = seal(records, || {
        next += 1;
        ReportId([next; 16])
    });
    assert_eq!(sealed.len(), 2);
    let a: OutboxReport = wire::decode(&sealed[0].bytes).unwrap();
    assert_eq!(a.handshake_code, "a");
    assert_eq!(a.report.report_id, sealed[0].report_id);
    assert_eq!(
        a.report.slots,
        vec![
            SlotUsage { slot: 1, pages: vec![(Module::Core, 5)], scans: vec![] },
            SlotUsage { slot: 2, pages: vec![(Module::Ocr, 1)], scans: vec![] },
        ]
    );
    let b: OutboxReport = wire::decode(&sealed[1].bytes).unwrap();
    assert_eq!(b.report.slots, vec![SlotUsage { slot: 1, pages: vec![(Module::Core, 7)], scans: vec![] }]);
    assert_ne!(sealed[0].report_id, sealed[1].report_id);
    assert!(seal(vec![], || ReportId([0; 16])).is_empty());
}
