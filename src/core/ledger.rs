//! The usage ledger: counts are summed in memory (`Tally`), written to durable storage in
//! batches as pending records, and sealed into reports with fresh report IDs. Sealing sums per
//! project, slot and item; it never merges counts across projects. Records carry counts and
//! symbology names, never barcode text or document contents.

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
pub use licet_protocol::slot_of;
use licet_protocol::wire::{self, SlotUsage, UsageReport};
use licet_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::core::error::{whole_number, LicetError};
use crate::ports::OutboxEntry;

/// The most pages one `countPages` call may add: more is a bug in the caller, not a scan job.
pub const MAX_PAGES_PER_CALL: u64 = 100_000;

/// What a count is of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UsageItem {
    Pages(Module),
    /// Unique successful scans of one symbology.
    Scans(String),
}

/// One batch entry, as stored in the pending ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub handshake_code: String,
    pub slot: u64,
    pub item: UsageItem,
    pub count: u64,
}

/// The value of `key` in a short list of groups, added with its default when missing. Lists
/// here hold a few projects, slots or items, so a linear search beats a map, and one generic
/// helper keeps the browser module free of several map instantiations.
pub(crate) fn group<K: PartialEq, V: Default>(groups: &mut Vec<(K, V)>, key: K) -> &mut V {
    let at = match groups.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            groups.push((key, V::default()));
            groups.len() - 1
        }
    };
    &mut groups[at].1
}

/// Counts not yet in durable storage, summed per project, slot and item, in the order first
/// counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally(Vec<((String, u64, UsageItem), u64)>);

impl Tally {
    pub fn add(&mut self, handshake_code: &str, slot: u64, item: UsageItem, count: u64) {
        // Compared in place: the project's name is copied only for a new entry.
        match self.0.iter_mut().find(|((code, at, what), _)| code == handshake_code && *at == slot && *what == item) {
            Some((_, total)) => *total = total.saturating_add(count),
            None => self.0.push(((handshake_code.to_owned(), slot, item), count)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds another tally's counts, e.g. those of a batch that could not be written.
    pub fn merge(&mut self, other: Tally) {
        for ((handshake_code, slot, item), count) in other.0 {
            self.add(&handshake_code, slot, item, count);
        }
    }

    /// The pending records of this tally, encoded.
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.0
            .iter()
            .map(|((handshake_code, slot, item), count)| {
                wire::encode(&UsageRecord {
                    handshake_code: handshake_code.clone(),
                    slot: *slot,
                    item: item.clone(),
                    count: *count,
                })
            })
            .collect()
    }
}

/// A sealed report and the project it goes to, as kept in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxReport {
    pub handshake_code: String,
    pub report: UsageReport,
}

/// Checks a page count from JS: a whole number from 0 to `MAX_PAGES_PER_CALL`.
pub fn page_count(n: f64) -> Result<u64, LicetError> {
    whole_number(n, MAX_PAGES_PER_CALL)
}

/// Parses a module name from JS.
pub fn module(name: &str) -> Result<Module, LicetError> {
    Module::parse(name).ok_or_else(|| ErrorCode::InvalidArgument.into())
}

/// Seals the pending records of slots before `open_slot` into one report per project, and
/// returns them with the records it keeps pending (those of `open_slot` and later). `new_id`
/// gives each report its ID. Records that do not decode are dropped: they cannot be counted
/// and must not block the rest.
pub fn seal(
    records: Vec<Vec<u8>>,
    open_slot: u64,
    mut new_id: impl FnMut() -> ReportId,
) -> (Vec<OutboxEntry>, Vec<Vec<u8>>) {
    let mut by_project: Vec<(String, Vec<(u64, SlotUsage)>)> = Vec::new();
    let mut kept = Vec::new();
    for bytes in records {
        let Ok(record) = wire::decode::<UsageRecord>(&bytes) else { continue };
        if record.slot >= open_slot {
            kept.push(bytes);
            continue;
        }
        let usage = group(group(&mut by_project, record.handshake_code), record.slot);
        usage.slot = record.slot;
        let total = match record.item {
            UsageItem::Pages(module) => group(&mut usage.pages, module),
            UsageItem::Scans(symbology) => group(&mut usage.scans, symbology),
        };
        *total = total.saturating_add(record.count);
    }
    let sealed = by_project
        .into_iter()
        .map(|(handshake_code, slots)| {
            let report =
                UsageReport { report_id: new_id(), slots: slots.into_iter().map(|(_, usage)| usage).collect() };
            OutboxEntry { report_id: report.report_id, bytes: wire::encode(&OutboxReport { handshake_code, report }) }
        })
        .collect();
    (sealed, kept)
}
