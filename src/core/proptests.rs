//! Property tests of the pure core (native only: proptest is not built for the browser): the
//! de-duplication of scans against a naive reference model of the documented rules, and the
//! ledger's tally and sealing, which must neither lose nor double a count. They do not check
//! I/O, time reading or the engine (src/proptests.rs drives the whole ledger through the
//! engine), nor the hash's collision resistance beyond a few colliding-by-concatenation names.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
use licet_protocol::wire;
use proptest::prelude::*;

use super::dedup::{Deduplicator, MAX_FORGET_MS, MAX_TRACKED};
use super::ledger::{seal, OutboxReport, Tally, UsageRecord};
use crate::proptests::{add, add_records, add_report, config, item, Key};

// --- De-duplication -------------------------------------------------------------------------

/// The reference: the rules of README.md ("Scan sessions") and docs/metering.md, written the
/// obvious way over the barcode texts themselves. It forgets a barcode only past MAX_TRACKED:
/// one whose window has closed is still judged by its last sighting, so a window lengthened
/// later applies to it too (which the deduplicator did not do before this test found it; see
/// `a_lengthened_window_judges_every_barcode_by_its_last_sighting` in tests.rs).
struct Model {
    forget_ms: u64,
    /// The latest timestamp seen.
    latest: u64,
    /// (format, text) → (last sighting, its number among the session's sightings, which orders
    /// sightings of one timestamp: the first result of a frame is seen before the next).
    seen: HashMap<(String, String), (u64, u64)>,
    sightings: u64,
}

impl Model {
    fn new(forget_ms: u64) -> Self {
        Model { forget_ms, latest: 0, seen: HashMap::new(), sightings: 0 }
    }

    fn frame(&mut self, results: &[(String, String)], timestamp_ms: u64) -> BTreeMap<String, u64> {
        // A timestamp earlier than one already seen counts as that one.
        let now = timestamp_ms.max(self.latest);
        self.latest = now;
        let mut in_this_frame = HashSet::new();
        let mut scans = BTreeMap::new();
        for (format, text) in results {
            let key = (format.clone(), text.clone());
            // Identical results within one frame count once.
            if !in_this_frame.insert(key.clone()) {
                continue;
            }
            // New, or not seen for the window: a scan. Either way this is its last sighting,
            // so a shorter gap slides the window.
            let new_scan = match self.seen.get(&key) {
                Some(&(last, _)) => now - last >= self.forget_ms,
                None => true,
            };
            self.sightings += 1;
            self.seen.insert(key, (now, self.sightings));
            if new_scan {
                *scans.entry(format.clone()).or_default() += 1;
            }
        }
        // At most MAX_TRACKED remembered, after the frame: the least recently seen are forgotten
        // first.
        if self.seen.len() > MAX_TRACKED {
            let mut by_age: Vec<(u64, u64, (String, String))> =
                self.seen.iter().map(|(key, &(last, order))| (last, order, key.clone())).collect();
            by_age.sort();
            for (_, _, key) in by_age.into_iter().take(self.seen.len() - MAX_TRACKED) {
                self.seen.remove(&key);
            }
        }
        scans
    }
}

/// How far the clock moves before a frame: by a number of ms (negative: a timestamp earlier
/// than the latest), or by the window in force plus a little, to land on its edge.
#[derive(Debug, Clone)]
enum Advance {
    By(i64),
    Window(i64),
}

#[derive(Debug, Clone)]
enum Step {
    Frame(Advance, Vec<(String, String)>),
    SetForget(u64),
}

/// Forget times: the edges of the range, small windows the clock steps over often, any.
fn forget_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..=6u64,
        1 => Just(0),
        1 => Just(MAX_FORGET_MS),
        1 => Just(MAX_FORGET_MS - 1),
        2 => 0..=MAX_FORGET_MS,
    ]
}

fn advance() -> impl Strategy<Value = Advance> {
    let max = MAX_FORGET_MS as i64;
    prop_oneof![
        6 => (-3..=8i64).prop_map(Advance::By),
        3 => (-1..=1i64).prop_map(Advance::Window),
        1 => (-2 * max..=2 * max).prop_map(Advance::By),
    ]
}

/// Formats and texts from tiny alphabets, so that repeats are the rule; ("A", "B") and
/// ("AB", "") read the same run together, and must stay two barcodes.
fn small_result() -> impl Strategy<Value = (String, String)> {
    let format = prop_oneof![Just("A"), Just("AB"), Just("QR_CODE")];
    let text = prop_oneof![Just(""), Just("B"), Just("AB"), Just("x")];
    (format, text).prop_map(|(f, t)| (f.to_owned(), t.to_owned()))
}

/// Up to 60 frames of up to 6 results, and now and then a new forget time.
fn few_barcodes() -> impl Strategy<Value = Vec<Step>> {
    let frame = (advance(), prop::collection::vec(small_result(), 0..=6)).prop_map(|(a, r)| Step::Frame(a, r));
    prop::collection::vec(prop_oneof![9 => frame, 1 => forget_ms().prop_map(Step::SetForget)], 0..=60)
}

/// Runs the steps through the deduplicator and the model from `start`, frame by frame, and
/// returns how many barcodes the deduplicator remembered at most.
fn same_as_the_model(forget: u64, start: u64, steps: &[Step]) -> Result<usize, TestCaseError> {
    let mut most = 0;
    let mut dedup = Deduplicator::new(forget);
    let mut model = Model::new(forget);
    let mut clock = start;
    for (at, step) in steps.iter().enumerate() {
        match step {
            Step::SetForget(ms) => {
                dedup.set_forget_ms(*ms);
                model.forget_ms = *ms;
                prop_assert_eq!(dedup.forget_ms(), *ms);
            }
            Step::Frame(advance, results) => {
                clock = match advance {
                    Advance::By(ms) => clock.saturating_add_signed(*ms),
                    Advance::Window(ms) => clock.saturating_add(model.forget_ms).saturating_add_signed(*ms),
                };
                let scans = dedup.record_frame(results.iter().map(|(f, t)| (f.as_str(), t.as_str())), clock);
                let expected = model.frame(results, clock);
                // One entry per format that gained scans, none for a format that did not.
                prop_assert!(scans.iter().all(|&(_, n)| n > 0), "a zero count at step {}: {:?}", at, scans);
                let formats: HashSet<&str> = scans.iter().map(|&(f, _)| f).collect();
                prop_assert_eq!(formats.len(), scans.len(), "a format twice at step {}: {:?}", at, scans);
                let scans: BTreeMap<String, u64> = scans.into_iter().map(|(f, n)| (f.to_owned(), n)).collect();
                prop_assert_eq!(scans, expected, "step {} at {} ms", at, clock);
                most = most.max(dedup.tracked());
                prop_assert!(most <= MAX_TRACKED);
            }
        }
    }
    Ok(most)
}

proptest! {
    #![proptest_config(config(256))]

    /// Per frame and per format, the deduplicator counts what the reference model counts, for
    /// any frames of a few barcodes, any timestamps (equal, decreasing, on the window's edge)
    /// and any forget time, changed mid-session too.
    #[test]
    fn dedup_counts_what_the_documented_rules_count(
        forget in forget_ms(),
        start in prop_oneof![Just(0u64), Just(1_800_000_000_000), Just(u64::MAX - 3 * MAX_FORGET_MS)],
        steps in few_barcodes(),
    ) {
        same_as_the_model(forget, start, &steps)?;
    }
}

/// How many distinct barcodes open every case of `many_barcodes`.
const SWEEP: usize = MAX_TRACKED + 512;

/// First a sweep: SWEEP distinct QR_CODE barcodes (texts 0 to SWEEP - 1, shuffled) in frames
/// of 400, which passes MAX_TRACKED in every case by construction, since nothing is forgotten
/// by time meanwhile. Then 30 to 45 steps, about 12 in 13 of them frames of 100 to 400 results
/// drawn from 6 × MAX_TRACKED barcodes (texts 0 to 3 × MAX_TRACKED - 1 in two formats), so
/// with repeats, with barcodes evicted by the sweep coming back, and with forget times changed
/// now and then.
fn many_barcodes() -> impl Strategy<Value = Vec<Step>> {
    let sweep = Just((0..SWEEP).collect::<Vec<usize>>()).prop_shuffle().prop_map(|texts| {
        let frames = texts.chunks(400).map(|chunk| {
            Step::Frame(Advance::By(1), chunk.iter().map(|text| ("QR_CODE".to_owned(), text.to_string())).collect())
        });
        frames.collect::<Vec<Step>>()
    });
    let result = (prop_oneof![Just("QR_CODE"), Just("EAN_13")], 0..3 * MAX_TRACKED)
        .prop_map(|(format, text)| (format.to_owned(), text.to_string()));
    // Small steps only (at most 3 ms, against MAX_FORGET_MS), so that nothing is forgotten by
    // time and the barcodes pile up.
    let frame = ((-2..=3i64).prop_map(Advance::By), prop::collection::vec(result, 100..=400))
        .prop_map(|(advance, results)| Step::Frame(advance, results));
    let rest = prop::collection::vec(prop_oneof![12 => frame, 1 => forget_ms().prop_map(Step::SetForget)], 30..=45);
    (sweep, rest).prop_map(|(mut steps, rest)| {
        steps.extend(rest);
        steps
    })
}

proptest! {
    // Each case pushes thousands of barcodes through both, and every case passes MAX_TRACKED
    // (by its opening sweep) then evicts again and again: a few cases are enough.
    #![proptest_config(config(6))]

    /// Past MAX_TRACKED barcodes, the least recently seen is forgotten first, and counts again
    /// when it comes back; the deduplicator still counts what the model counts.
    #[test]
    fn dedup_forgets_the_least_recently_seen_past_max_tracked(
        forget in prop_oneof![Just(MAX_FORGET_MS), 1_000..=MAX_FORGET_MS],
        steps in many_barcodes(),
    ) {
        let most = same_as_the_model(forget, 1_800_000_000_000, &steps)?;
        prop_assert_eq!(most, MAX_TRACKED, "the case did not reach the bound");
    }
}

// --- Tally and sealing ------------------------------------------------------------------------

/// One count: a project of three, a slot of a few, an item, a count up to a `countPages` call.
fn count() -> impl Strategy<Value = (Key, u64)> {
    (prop_oneof![Just("demo-project"), Just("other"), Just("third")], 0..5u64, item(), 0..=100_000u64)
        .prop_map(|(project, slot, item, n)| ((project.to_owned(), slot, item), n))
}

proptest! {
    #![proptest_config(config(256))]

    /// A tally holds one record per (project, slot, item), summing its counts, and merging
    /// tallies (a failed write put back) sums them too.
    #[test]
    fn a_tally_sums_without_losing_or_doubling(
        batches in prop::collection::vec(prop::collection::vec(count(), 0..12), 0..5),
    ) {
        let mut expected = BTreeMap::new();
        let mut tally = Tally::default();
        for batch in batches {
            let mut other = Tally::default();
            for ((project, slot, item), n) in batch {
                other.add(&project, slot, item.clone(), n);
                add(&mut expected, (project, slot, item), n);
            }
            tally.merge(other);
        }
        let records = tally.records();
        let keys: BTreeSet<Key> = records
            .iter()
            .map(|bytes| wire::decode::<UsageRecord>(bytes).unwrap())
            .map(|r| (r.handshake_code, r.slot, r.item))
            .collect();
        prop_assert_eq!(keys.len(), records.len(), "one record per project, slot and item");
        let mut totals = BTreeMap::new();
        add_records(&mut totals, &records);
        prop_assert_eq!(totals, expected);
    }

    /// Sealing keeps pending exactly the records of the open slot and later, and puts every
    /// other count in exactly one report of its own project, each report with a fresh ID that
    /// its outbox entry carries, each slot and item once per report; unreadable records are
    /// dropped and block nothing.
    #[test]
    fn sealing_moves_each_count_once_into_its_project_report(
        counts in prop::collection::vec(count(), 0..40),
        garbage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3), 0..3),
        open_slot in prop_oneof![0..6u64, Just(u64::MAX)],
    ) {
        let mut records: Vec<Vec<u8>> = counts
            .iter()
            .map(|((handshake_code, slot, item), count)| {
                let (handshake_code, slot, item, count) = (handshake_code.clone(), *slot, item.clone(), *count);
                wire::encode(&UsageRecord { handshake_code, slot, item, count })
            })
            .collect();
        let expected_kept: Vec<Vec<u8>> =
            records.iter().filter(|r| wire::decode::<UsageRecord>(r).unwrap().slot >= open_slot).cloned().collect();
        let mut expected = BTreeMap::new();
        for (key, n) in counts {
            add(&mut expected, key, n);
        }
        // Unreadable records among them, where any byte string that does not decode lands.
        let garbage: Vec<Vec<u8>> = garbage.into_iter().filter(|g| wire::decode::<UsageRecord>(g).is_err()).collect();
        records.extend(garbage);

        let mut issued = 0u32;
        let (sealed, kept) = seal(records, open_slot, || {
            issued += 1;
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&issued.to_le_bytes());
            ReportId(id)
        });
        prop_assert_eq!(&kept, &expected_kept);
        prop_assert_eq!(sealed.len(), issued as usize, "one ID per report");
        let mut totals = BTreeMap::new();
        add_records(&mut totals, &kept);
        let mut projects = HashSet::new();
        let mut ids = HashSet::new();
        for entry in &sealed {
            let outbox: OutboxReport = wire::decode(&entry.bytes).unwrap();
            prop_assert_eq!(outbox.report.report_id, entry.report_id);
            prop_assert!(ids.insert(entry.report_id), "a report ID twice");
            prop_assert!(projects.insert(outbox.handshake_code.clone()), "two reports for one project");
            prop_assert!(!outbox.report.slots.is_empty());
            let mut slots = HashSet::new();
            for usage in &outbox.report.slots {
                prop_assert!(usage.slot < open_slot, "an open slot sealed");
                prop_assert!(slots.insert(usage.slot), "a slot twice in one report");
                let pages: HashSet<Module> = usage.pages.iter().map(|(m, _)| *m).collect();
                let scans: HashSet<&String> = usage.scans.iter().map(|(s, _)| s).collect();
                prop_assert_eq!((pages.len(), scans.len()), (usage.pages.len(), usage.scans.len()));
            }
            add_report(&mut totals, &outbox.handshake_code, &outbox.report);
        }
        prop_assert_eq!(totals, expected);
    }
}
