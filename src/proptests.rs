//! Property test of the whole ledger through the engine and the in-memory twins (native only:
//! proptest is not built for the browser): whatever the interleaving of counts in several tabs
//! and projects, persists, scheduled reports and flushes, clock moves across slots, failed
//! writes, lost sends, lost or stale answers and partial or padded receipts, no count is lost
//! or doubled, and once everything is flushed the server has counted exactly what was counted.
//! It does not check the browser adapters (IndexedDB, fetch), the schedule's timing, licensing
//! decisions, failover between servers (src/tests.rs does), or a tab closed with counts in
//! memory (which the page's `pagehide` persist covers).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use licet_protocol::ids::ReportId;
use licet_protocol::license::Module;
use licet_protocol::wire::{self, SealedRequest, UsageReport};
use licet_protocol::{ErrorCode, SLOT_MS};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::core::error::LicetError;
use crate::core::ledger::{slot_of, OutboxReport, UsageItem, UsageRecord};
use crate::engine::Engine;
use crate::platform::memory::{MemoryClock, MemoryStore, ServerTwin, HANDSHAKE};
use crate::ports::{OutboxEntry, Reply, Transport};
use crate::tests::{params, ready, target};

// --- Shared with src/core/proptests.rs --------------------------------------------------------
// Here rather than there: `core`'s `proptests` module is private to `core`, while this one, at
// the crate root, is visible to the whole crate.

/// `cases` cases, and no failure file written into the source tree: a failure prints its
/// minimal case, which is what a regression test is made from.
pub(crate) fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Where a count belongs: project (handshake code), slot, item.
pub(crate) type Key = (String, u64, UsageItem);

/// Adds `n` to `key`'s total; a zero count adds no entry, as the ledger keeps none.
pub(crate) fn add(totals: &mut BTreeMap<Key, u64>, key: Key, n: u64) {
    if n > 0 {
        *totals.entry(key).or_default() += n;
    }
}

/// Adds the counts of encoded pending records (`UsageRecord`s).
pub(crate) fn add_records(totals: &mut BTreeMap<Key, u64>, records: &[Vec<u8>]) {
    for bytes in records {
        let record: UsageRecord = wire::decode(bytes).expect("a pending record decodes");
        add(totals, (record.handshake_code, record.slot, record.item), record.count);
    }
}

/// Adds the counts of one project's report.
pub(crate) fn add_report(totals: &mut BTreeMap<Key, u64>, project: &str, report: &UsageReport) {
    for usage in &report.slots {
        for (module, n) in &usage.pages {
            add(totals, (project.into(), usage.slot, UsageItem::Pages(*module)), *n);
        }
        for (symbology, n) in &usage.scans {
            add(totals, (project.into(), usage.slot, UsageItem::Scans(symbology.clone())), *n);
        }
    }
}

/// Any item: pages of any module, scans of one of three symbologies.
pub(crate) fn item() -> impl Strategy<Value = UsageItem> {
    prop_oneof![
        prop::sample::select(Module::ALL.to_vec()).prop_map(UsageItem::Pages),
        prop_oneof![Just("QR_CODE"), Just("EAN_13"), Just("CODE_128")].prop_map(|s| UsageItem::Scans(s.into())),
    ]
}

// --- The ledger through the engine ------------------------------------------------------------

/// The second project, counted by a tab of its own on the same origin.
const SECOND: &str = "second-project";
/// Tabs 0 and 1 count for `HANDSHAKE`, tab 2 for `SECOND`.
const PROJECTS: [&str; 3] = [HANDSHAKE, HANDSHAKE, SECOND];
const START: u64 = 1_800_000_000_000;

/// What the network does to a request.
#[derive(Debug, Clone, Copy)]
enum Network {
    Up,
    /// No request reaches the server.
    Down,
    /// The server takes the request in, and its answer is lost.
    LosesAnswers,
    /// The server takes the request in; the client gets the answer to the one before instead.
    StaleAnswers,
    /// Every other request does not reach the server: within one send, one project's request
    /// may go through and another's not.
    Flaky,
}

/// The license server twin behind a network that can fail in each of those ways.
struct Link<'a> {
    server: &'a ServerTwin,
    network: Cell<Network>,
    last_answer: RefCell<Option<Reply>>,
    posts: Cell<u64>,
}

impl Transport for &Link<'_> {
    async fn post(&self, url: &str, body: &SealedRequest) -> Result<Reply, LicetError> {
        let network = self.network.get();
        self.posts.set(self.posts.get() + 1);
        match network {
            Network::Down => return Err(ErrorCode::NetworkError.into()),
            Network::Flaky if self.posts.get() % 2 == 0 => return Err(ErrorCode::NetworkError.into()),
            _ => {}
        }
        let answer = self.server.post(url, body).await?;
        let previous = self.last_answer.replace(Some(answer.clone()));
        match network {
            Network::Up | Network::Flaky => Ok(answer),
            Network::StaleAnswers => previous.ok_or(ErrorCode::NetworkError.into()),
            Network::Down | Network::LosesAnswers => Err(ErrorCode::NetworkError.into()),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// `tally`: what a scan session's frame or `countPages` adds in memory.
    Tally(usize, UsageItem, u64),
    /// `countPages`: tally, then persist.
    CountPages(usize, Module, u64),
    Persist(usize),
    /// The scheduled send: seals the closed slots only.
    Report(usize),
    Flush(usize),
    /// The device clock and the server's move on together by this many ms.
    Advance(u64),
    Network(Network),
    StoreFails(bool),
    /// The server's receipts name at most this many of a request's reports.
    ReceiptLimit(Option<usize>),
    /// The server's receipts also name every report in the outbox, the request's own too (so
    /// twice), and reports of other projects that the request did not carry.
    ReceiptPadded(bool),
}

type Tab<'a> = Engine<&'a MemoryStore, &'a Link<'a>, &'a MemoryClock>;

/// Every count, wherever it is now: in a tab's memory, pending in the store, sealed in the
/// outbox or counted by the server. A report both in the outbox and counted (its receipt was
/// lost or cut short) is one report, and must be the same report under its one ID.
fn everywhere(tabs: &[Tab], store: &MemoryStore, server: &ServerTwin) -> Result<BTreeMap<Key, u64>, String> {
    let mut totals = BTreeMap::new();
    for tab in tabs {
        add_records(&mut totals, &tab.unpersisted());
    }
    add_records(&mut totals, &store.pending.borrow());
    let mut reports: BTreeMap<ReportId, (String, UsageReport)> = BTreeMap::new();
    for entry in store.outbox.borrow().iter() {
        let sealed: OutboxReport = wire::decode(&entry.bytes).map_err(|e| format!("an outbox entry: {e:?}"))?;
        if sealed.report.report_id != entry.report_id {
            return Err(format!("outbox entry {:?} holds report {:?}", entry.report_id, sealed.report.report_id));
        }
        if reports.insert(entry.report_id, (sealed.handshake_code, sealed.report)).is_some() {
            return Err(format!("report {:?} twice in the outbox", entry.report_id));
        }
    }
    // The twin counts each report ID once, so `counted` holds no report twice: a count the
    // client doubled (sealed again under a new ID) shows in the totals instead.
    for (project, report) in server.counted.borrow().iter() {
        match reports.get(&report.report_id) {
            Some(sealed) if *sealed != (project.clone(), report.clone()) => {
                return Err(format!("report {:?} differs between outbox and server", report.report_id));
            }
            Some(_) => {}
            None => {
                reports.insert(report.report_id, (project.clone(), report.clone()));
            }
        }
    }
    for (project, report) in reports.values() {
        add_report(&mut totals, project, report);
    }
    Ok(totals)
}

fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..=4u64, 1 => 0..=100_000u64]
}

fn op() -> impl Strategy<Value = Op> {
    let tab = 0..PROJECTS.len();
    prop_oneof![
        6 => (tab.clone(), item(), amount()).prop_map(|(t, i, n)| Op::Tally(t, i, n)),
        2 => (tab.clone(), prop::sample::select(Module::ALL.to_vec()), amount())
            .prop_map(|(t, m, n)| Op::CountPages(t, m, n)),
        2 => tab.clone().prop_map(Op::Persist),
        3 => tab.clone().prop_map(Op::Report),
        2 => tab.prop_map(Op::Flush),
        // Mostly within a slot, often across one or two boundaries.
        3 => prop_oneof![0..=SLOT_MS / 3, Just(SLOT_MS), SLOT_MS / 2..=2 * SLOT_MS].prop_map(Op::Advance),
        3 => prop_oneof![
            2 => Just(Network::Up),
            1 => Just(Network::Down),
            1 => Just(Network::LosesAnswers),
            1 => Just(Network::StaleAnswers),
            1 => Just(Network::Flaky),
        ].prop_map(Op::Network),
        1 => any::<bool>().prop_map(Op::StoreFails),
        1 => prop::option::of(0..3usize).prop_map(Op::ReceiptLimit),
        1 => any::<bool>().prop_map(Op::ReceiptPadded),
    ]
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let server = ServerTwin::new(START);
    server.other_projects.borrow_mut().push(SECOND.into());
    let link =
        Link { server: &server, network: Cell::new(Network::Up), last_answer: RefCell::default(), posts: Cell::new(0) };
    let store = MemoryStore::default();
    let clock = MemoryClock(Cell::new(START));
    let tabs: Vec<Tab> = PROJECTS
        .iter()
        .map(|project| {
            let mut target = target(&server);
            target.handshake_code = Some((*project).into());
            ready(Engine::start(&store, &link, &clock, target, params())).expect("a tab starts")
        })
        .collect();

    let mut counted: BTreeMap<Key, u64> = BTreeMap::new();
    let mut padded = false;
    for (step, op) in ops.iter().enumerate() {
        if padded {
            *server.receipt_extra.borrow_mut() = store.outbox.borrow().iter().map(|e| e.report_id).collect();
        }
        let slot = slot_of(clock.0.get());
        match op {
            Op::Tally(tab, item, n) => {
                tabs[*tab].tally([(item.clone(), *n)]).expect("counting is never refused here");
                add(&mut counted, (PROJECTS[*tab].into(), slot, item.clone()), *n);
            }
            Op::CountPages(tab, module, n) => {
                match ready(tabs[*tab].count_pages(*module, *n)) {
                    // A failed write keeps the count in memory: it is counted, and persisted later.
                    Ok(()) => {}
                    Err(e) => prop_assert_eq!(e.code, ErrorCode::StorageError),
                }
                add(&mut counted, (PROJECTS[*tab].into(), slot, UsageItem::Pages(*module)), *n);
            }
            Op::Persist(tab) => {
                let _ = ready(tabs[*tab].persist());
            }
            Op::Report(tab) => {
                let _ = ready(tabs[*tab].report());
            }
            Op::Flush(tab) => {
                let _ = ready(tabs[*tab].flush());
            }
            Op::Advance(ms) => {
                clock.0.set(clock.0.get() + ms);
                server.now.set(clock.0.get());
            }
            Op::Network(network) => link.network.set(*network),
            Op::StoreFails(fails) => store.failing.set(*fails),
            Op::ReceiptLimit(limit) => server.receipt_limit.set(*limit),
            Op::ReceiptPadded(on) => {
                padded = *on;
                server.receipt_extra.borrow_mut().clear();
            }
        }
        let now = everywhere(&tabs, &store, &server).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&now, &counted, "after step {}: {:?}", step, op);
    }

    // Everything works again, and each tab flushes: nothing is left anywhere but on the server,
    // which has counted exactly what was counted.
    link.network.set(Network::Up);
    store.failing.set(false);
    server.receipt_limit.set(None);
    server.receipt_extra.borrow_mut().clear();
    for tab in &tabs {
        let flushed = ready(tab.flush());
        prop_assert!(flushed.is_ok(), "{:?}", flushed);
    }
    prop_assert!(tabs.iter().all(|tab| tab.unpersisted().is_empty()));
    prop_assert!(store.pending.borrow().is_empty());
    prop_assert!(store.outbox.borrow().is_empty());
    let mut on_server = BTreeMap::new();
    for (project, report) in server.counted.borrow().iter() {
        add_report(&mut on_server, project, report);
    }
    prop_assert_eq!(&on_server, &counted);
    // The twin's own per-item sums agree.
    let pages: u64 = server.pages.borrow().values().sum();
    let scans: u64 = server.scans.borrow().values().sum();
    let expected = |pages: bool| -> u64 {
        counted.iter().filter(|((_, _, item), _)| matches!(item, UsageItem::Pages(_)) == pages).map(|(_, n)| n).sum()
    };
    prop_assert_eq!((pages, scans), (expected(true), expected(false)));
    Ok(())
}

proptest! {
    // Every send seals, signs and verifies for real (HPKE, Ed25519): 128 cases of up to 80 steps
    // keep this at a few seconds in a debug build.
    #![proptest_config(config(128))]

    /// Whatever happens, every count is in exactly one place (a tab's memory, pending in the
    /// store, a report in the outbox, a report the server counted) at every step, and after a
    /// final flush the server's totals per project, slot and item are exactly what was counted.
    #[test]
    fn the_ledger_loses_nothing_and_doubles_nothing(ops in prop::collection::vec(op(), 10..=80)) {
        run(&ops)?;
    }
}

/// `bytes` changed as another script editing IndexedDB might: each `(at, byte)` overwrites one
/// byte (wrapping around), then the result is cut to `keep` bytes when that is shorter.
fn edited(mut bytes: Vec<u8>, edits: &[(usize, u8)], keep: usize) -> Vec<u8> {
    for &(at, byte) in edits {
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
    }
    bytes.truncate(keep);
    bytes
}

/// What IndexedDB holds is outside the module's control: another script on the origin can
/// write anything there. Started offline from an edited cached authorization, or flushing
/// edited pending records and outbox entries, the engine answers with a code or goes on; it
/// never panics, and the counts it still holds intact reach the server exactly once.
fn start_and_flush_from_edited_store(
    edits: &[(usize, u8)],
    keep: usize,
    garbage: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    let (server, store, clock) = (ServerTwin::new(START), MemoryStore::default(), MemoryClock(Cell::new(START)));
    let first = ready(Engine::start(&store, &server, &clock, target(&server), params())).expect("an authorization");
    ready(first.count_pages(Module::Core, 3)).expect("counted");
    let cached = store.authorization.borrow().clone().expect("a cached authorization");
    let changed = edited(cached.clone(), edits, keep);
    let untouched = changed == cached;
    *store.authorization.borrow_mut() = Some(changed);
    store.pending.borrow_mut().extend(garbage.iter().cloned());
    store.outbox.borrow_mut().extend(
        garbage
            .iter()
            .enumerate()
            .map(|(i, bytes)| OutboxEntry { report_id: ReportId([0xEE ^ i as u8; 16]), bytes: bytes.clone() }),
    );
    server.offline.set(true);
    let offline = ready(Engine::start(&store, &server, &clock, target(&server), params()));
    // Edits may leave the cache usable (an unsigned byte that nothing reads changed back),
    // but the cache as written must start the page offline, whatever the other stores hold.
    if untouched {
        prop_assert!(offline.is_ok(), "{:?}", offline.err());
    }
    // Offline, `Engine::start` falls back on the cache (its authorize fails `NETWORK_ERROR`,
    // an unreachable code), and an edited cache can refuse it in only two ways:
    // - `BAD_SIGNATURE`: the bytes no longer decode as the cache (`cached_authorization`), or
    //   the signed authorization or a license in it no longer verifies (`verify_cached`).
    //   Every other refusal there (another device: `BAD_RESPONSE`; a host its licenses do not
    //   allow: `DOMAIN_MISMATCH`; another project: no usable cache, so `NETWORK_ERROR`) needs
    //   a signed field changed, which fails the signature first.
    // - `GRACE_EXPIRED`: the clock guard saved beside the signature is not signed, and a
    //   larger `latest_ms` or `offset_ms` puts the trusted time past `offline_until`
    //   (`check_grace`). A clock set back only warns (`CLOCK_SET_BACK` in `status()`).
    // (Found so too over thousands of cases, edits aimed at the clock guard included.)
    if let Err(e) = &offline {
        prop_assert!(matches!(e.code, ErrorCode::BadSignature | ErrorCode::GraceExpired), "{:?}", e);
    }
    server.offline.set(false);
    let flushed = ready(first.flush());
    prop_assert!(flushed.is_ok(), "{:?}", flushed);
    let pages: u64 = server.pages.borrow().values().sum();
    prop_assert_eq!(pages, 3);
    Ok(())
}

proptest! {
    // Each case authorizes once for real (HPKE, Ed25519): 128 cases keep it under a second or
    // two in a debug build.
    #![proptest_config(config(128))]

    #[test]
    fn an_edited_store_is_refused_or_skipped_never_a_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        keep in prop_oneof![Just(usize::MAX), 0..400usize],
        garbage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4),
    ) {
        start_and_flush_from_edited_store(&edits, keep, &garbage)?;
    }
}
