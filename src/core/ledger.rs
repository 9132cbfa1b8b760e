//! The usage ledger: one record per counting call, kept pending in durable storage until it is
//! sealed into a report with a fresh report ID. Sealing aggregates per project, slot and module;
//! it never drops or merges counts across projects. Records carry counts, never contents.

use std::collections::BTreeMap;

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
use licet_protocol::wire::{self, SlotUsage, UsageReport};
use licet_protocol::{ErrorCode, SLOT_MS};
use serde::{Deserialize, Serialize};

use crate::core::error::LicetError;
use crate::ports::OutboxEntry;

/// The most pages one `countPages` call may add: more is a bug in the caller, not a scan job.
pub const MAX_PAGES_PER_CALL: u64 = 100_000;

/// One counting call, as stored in the pending ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub handshake_code: String,
    pub slot: u64,
    pub module: Module,
    pub count: u64,
}

/// A sealed report and the project it goes to, as kept in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxReport {
    pub handshake_code: String,
    pub report: UsageReport,
}

/// The slot that `now` falls in.
pub fn slot_of(now: u64) -> u64 {
    now / SLOT_MS
}

/// Checks a page count from JS: a whole number from 0 to `MAX_PAGES_PER_CALL`.
pub fn page_count(n: f64) -> Result<u64, LicetError> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_PAGES_PER_CALL as f64 {
        Ok(n as u64)
    } else {
        Err(ErrorCode::InvalidArgument.into())
    }
}

/// Parses a module name from JS.
pub fn module(name: &str) -> Result<Module, LicetError> {
    Module::parse(name).ok_or_else(|| ErrorCode::InvalidArgument.into())
}

/// Seals pending records into one report per project. `new_id` gives each report its ID.
/// Records that do not decode are dropped: they cannot be counted and must not block the rest.
pub fn seal(records: Vec<Vec<u8>>, mut new_id: impl FnMut() -> ReportId) -> Vec<OutboxEntry> {
    let mut by_project: BTreeMap<String, BTreeMap<u64, BTreeMap<Module, u64>>> = BTreeMap::new();
    for bytes in records {
        let Ok(record) = wire::decode::<UsageRecord>(&bytes) else { continue };
        let pages = by_project.entry(record.handshake_code).or_default().entry(record.slot).or_default();
        let total = pages.entry(record.module).or_default();
        *total = total.saturating_add(record.count);
    }
    by_project
        .into_iter()
        .map(|(handshake_code, slots)| {
            let slots = slots
                .into_iter()
                .map(|(slot, pages)| SlotUsage { slot, pages: pages.into_iter().collect(), scans: Vec::new() })
                .collect();
            let report = UsageReport { report_id: new_id(), slots };
            OutboxEntry { report_id: report.report_id, bytes: wire::encode(&OutboxReport { handshake_code, report }) }
        })
        .collect()
}
