//! The license types of the licensing rules as pure functions of a project's license items,
//! their usage and the time: which items are in force (expiry and its tolerance), what they grant
//! (modules, and whether quotas or expiry put the project in its tolerance stage), what a device
//! must claim (a seat, a place in the slot), and which item each count is charged to. It does no
//! I/O, takes no claim itself and answers no HTTP: it refuses with a `Lapse` of the licensing
//! domain, which the handlers answer with its code. The handlers fetch, this decides, the store
//! claims atomically (`admission::Admission::decide`).

use std::collections::HashMap;

use licet_protocol::ids::ReportId;
use licet_protocol::license::{ActivePeriod, LicenseFile, LicenseType, Module};
use licet_protocol::sign::Signed;
use licet_protocol::wire::UsageReport;

use super::admission::{Admission, SeatClaim, SeatPool, TrialClaim, WindowClaim};
use crate::storage::{Charging, UsageItem, UsageRow, UsageTotal};

/// Why the rules serve a project's devices nothing: a refusal of the licensing domain, not an
/// HTTP answer (the handlers answer it with its code, through `From<Lapse> for ApiError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// The project has no license items.
    NoLicense,
    /// Every item is past its expiry and its tolerance.
    Expired,
    /// All the items in force sell is used up past its tolerance.
    QuotaExhausted,
}

/// A license item assigned to the project, decoded from its verified vendor-signed file.
#[derive(Debug, Clone)]
pub struct LicenseItem {
    pub file: LicenseFile,
    /// The vendor-signed file exactly as imported: what devices verify.
    pub signed: Signed,
}

/// What one quota counts: the scans of every symbology, or the pages of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Scans,
    Pages(Module),
}

impl Kind {
    fn of(item: &UsageItem) -> Kind {
        match item {
            UsageItem::Pages(module) => Kind::Pages(*module),
            UsageItem::Scans(_) => Kind::Scans,
        }
    }
}

/// How a kind of use stands against the items in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// No item in force sells it.
    NotSold,
    /// Sold by an item without a quota (per device, concurrent, per domain).
    Unlimited,
    Within,
    /// Over the quota, inside its tolerance.
    Tolerance,
    /// Over the quota and its tolerance.
    Exhausted,
}

/// `value` per mille, rounded down: the tolerance of a quota or a device limit.
fn permille(value: u64, permille: u32) -> u64 {
    value.saturating_mul(u64::from(permille)) / 1000
}

impl LicenseItem {
    /// The last instant of the item's tolerance past expiry.
    fn tolerance_end(&self) -> u64 {
        self.file.expires_at.saturating_add(self.file.tolerance.expiry_ms)
    }

    /// Whether the type limits use by quota (per scan, per page) rather than by devices or domain.
    fn has_quota(&self) -> bool {
        self.file.license_type.has_quota()
    }

    /// Whether the item sells this kind of use. Per-scan items sell scans, per-page items the
    /// pages of their modules; the unlimited types sell scans and the pages of their modules.
    fn sells(&self, kind: Kind) -> bool {
        match (self.file.license_type, kind) {
            (LicenseType::PerScan, Kind::Scans) => true,
            (LicenseType::PerScan, Kind::Pages(_)) | (LicenseType::PerPage, Kind::Scans) => false,
            (_, Kind::Scans) => true,
            (_, Kind::Pages(module)) => self.file.modules.contains(&module),
        }
    }

    fn quota(&self) -> u64 {
        self.file.quota.unwrap_or(0)
    }

    fn devices(&self) -> u64 {
        u64::from(self.file.devices.unwrap_or(0))
    }
}

/// The items of a project that are in force at a time.
#[derive(Debug, Clone)]
pub struct InForce<'a> {
    /// Ordered by expiry, then assignment: the order quotas are used up and seats taken.
    pub items: Vec<&'a LicenseItem>,
    /// True when every item is past its expiry and only the tolerance keeps them in force.
    pub past_expiry: bool,
}

impl<'a> InForce<'a> {
    /// The items in force at `now`: the unexpired ones; when there are none, the ones inside
    /// their tolerance past expiry. An expired item's unused quota lapses as soon as an unexpired
    /// item serves the project: nothing rolls over. `NO_LICENSE` for a project without items,
    /// `LICENSE_EXPIRED` when every item is past its tolerance.
    pub fn at(items: &'a [LicenseItem], now: u64) -> Result<InForce<'a>, Lapse> {
        if items.is_empty() {
            return Err(Lapse::NoLicense);
        }
        let pick = |keep: &dyn Fn(&LicenseItem) -> bool| {
            let mut chosen: Vec<&LicenseItem> = items.iter().filter(|i| keep(i)).collect();
            // A stable sort keeps the assignment order between items that expire together.
            chosen.sort_by_key(|i| i.file.expires_at);
            chosen
        };
        let unexpired = pick(&|i| i.file.expires_at >= now);
        if !unexpired.is_empty() {
            return Ok(InForce { items: unexpired, past_expiry: false });
        }
        let tolerated = pick(&|i| i.tolerance_end() >= now);
        if tolerated.is_empty() {
            return Err(Lapse::Expired);
        }
        Ok(InForce { items: tolerated, past_expiry: true })
    }

    /// The items usage is charged to at `now`: those in force; when every item is past its
    /// tolerance, the one that expired last, so that usage is kept and shown, never dropped.
    /// `NO_LICENSE` for a project without items.
    pub fn charging(items: &'a [LicenseItem], now: u64) -> Result<InForce<'a>, Lapse> {
        match InForce::at(items, now) {
            Err(Lapse::Expired) => {
                let last = items.iter().max_by_key(|i| i.file.expires_at).ok_or(Lapse::NoLicense)?;
                Ok(InForce { items: vec![last], past_expiry: true })
            }
            other => other,
        }
    }

    /// The IDs of the items with a quota: the only ones whose usage `assess` and `attribute`
    /// read (none for a project of unlimited items, which then needs no usage at all).
    pub fn quota_ids(&self) -> Vec<String> {
        self.items.iter().filter(|i| i.has_quota()).map(|i| i.file.id.clone()).collect()
    }

    /// When an item's use ends: its expiry, or the end of its tolerance once past it.
    fn end_of(&self, item: &LicenseItem) -> u64 {
        if self.past_expiry {
            item.tolerance_end()
        } else {
            item.file.expires_at
        }
    }

    /// The latest end of the items in force: the authorization's `active_until`.
    pub fn end(&self) -> u64 {
        self.items.iter().map(|i| self.end_of(i)).max().unwrap_or(0)
    }

    /// How `kind` stands, given the usage charged to each item.
    fn standing(&self, kind: Kind, used: &HashMap<(&str, Kind), u64>) -> Standing {
        let sellers: Vec<&&LicenseItem> = self.items.iter().filter(|i| i.sells(kind)).collect();
        if sellers.is_empty() {
            return Standing::NotSold;
        }
        if sellers.iter().any(|i| !i.has_quota()) {
            return Standing::Unlimited;
        }
        let quota: u64 = sellers.iter().map(|i| i.quota()).sum();
        let extra: u64 = sellers.iter().map(|i| permille(i.quota(), i.file.tolerance.quota_permille)).sum();
        let spent: u64 = sellers.iter().map(|i| used.get(&(i.file.id.as_str(), kind)).copied().unwrap_or(0)).sum();
        match spent {
            n if n <= quota => Standing::Within,
            n if n <= quota.saturating_add(extra) => Standing::Tolerance,
            _ => Standing::Exhausted,
        }
    }

    /// Decides what the items in force grant, given the usage charged to them:
    /// `QUOTA_EXHAUSTED` when all they sell is used up past its tolerance.
    pub fn assess(&self, usage: &[UsageTotal]) -> Result<Grant, Lapse> {
        let used = spent(usage);
        let scans = self.standing(Kind::Scans, &used);
        let pages: Vec<(Module, Standing)> =
            Module::ALL.iter().map(|&m| (m, self.standing(Kind::Pages(m), &used))).collect();
        let usable = |s: Standing| !matches!(s, Standing::NotSold | Standing::Exhausted);
        let modules: Vec<Module> = pages.iter().filter(|(_, s)| usable(*s)).map(|(m, _)| *m).collect();
        if modules.is_empty() && !usable(scans) {
            // Something is sold (the project has items in force), and all of it is used up.
            return Err(Lapse::QuotaExhausted);
        }
        let over_quota = std::iter::once(scans).chain(pages.iter().map(|(_, s)| *s)).any(|s| s == Standing::Tolerance);
        Ok(Grant { modules, tolerance: self.past_expiry || over_quota })
    }

    /// What a device in contact at `now` must claim: a seat of the per-device items, a place
    /// among the devices of the slot for the concurrent ones. They do not depend on usage.
    pub fn claims(&self, now: u64, trial: Option<TrialClaim>) -> Admission {
        let devices: Vec<&&LicenseItem> =
            self.items.iter().filter(|i| i.file.license_type == LicenseType::PerDevice).collect();
        let seat = (!devices.is_empty()).then(|| SeatClaim {
            pools: devices
                .iter()
                .map(|i| SeatPool {
                    license_id: i.file.id.clone(),
                    seats: i.devices(),
                    held_until: now
                        .saturating_add(i.file.active.unwrap_or(ActivePeriod::Yearly).length_ms())
                        .min(self.end_of(i)),
                })
                .collect(),
            tolerance: devices.iter().map(|i| permille(i.devices(), i.file.tolerance.devices_permille)).sum(),
        });
        let concurrent: Vec<&&LicenseItem> =
            self.items.iter().filter(|i| i.file.license_type == LicenseType::Concurrent).collect();
        let window = (!concurrent.is_empty()).then(|| WindowClaim {
            slot: licet_protocol::slot_of(now),
            limit: concurrent.iter().map(|i| i.devices()).sum(),
            tolerance: concurrent.iter().map(|i| permille(i.devices(), i.file.tolerance.devices_permille)).sum(),
        });
        Admission { seat, window, trial }
    }
}

impl Charging for InForce<'_> {
    fn license_ids(&self) -> Vec<String> {
        self.quota_ids()
    }

    /// Charges every count of `reports` to an item in force that sells it: items without a
    /// quota first, then items with one in the order they expire, each up to its quota; what is
    /// left over goes to the last of them (into its tolerance). Use that no item in force sells
    /// is charged to the first item, so that it is kept and shown, never dropped.
    fn charge(&self, usage: &[UsageTotal], reports: &[&UsageReport]) -> Vec<UsageRow> {
        let mut used: HashMap<(String, Kind), u64> =
            spent(usage).into_iter().map(|((id, kind), n)| (((*id).to_owned(), kind), n)).collect();
        let mut rows = Vec::new();
        let mut charge = |report_id: ReportId, slot: u64, item: UsageItem, count: u64| {
            let kind = Kind::of(&item);
            let mut sellers: Vec<&LicenseItem> = self.items.iter().copied().filter(|i| i.sells(kind)).collect();
            // Stable: within each group, the expiry order of `items` stays.
            sellers.sort_by_key(|i| i.has_quota());
            let Some(last) = sellers.last().or(self.items.first()).copied() else { return };
            let mut left = count;
            for seller in &sellers {
                if left == 0 {
                    break;
                }
                let taken = if seller.has_quota() {
                    let spent = used.entry((seller.file.id.clone(), kind)).or_default();
                    let room = seller.quota().saturating_sub(*spent);
                    let taken = room.min(left);
                    *spent += taken;
                    taken
                } else {
                    left
                };
                if taken > 0 {
                    rows.push(UsageRow {
                        report_id,
                        license_id: seller.file.id.clone(),
                        slot,
                        item: item.clone(),
                        count: taken,
                    });
                    left -= taken;
                }
            }
            if left > 0 {
                *used.entry((last.file.id.clone(), kind)).or_default() += left;
                rows.push(UsageRow { report_id, license_id: last.file.id.clone(), slot, item, count: left });
            }
        };
        for report in reports {
            for slot in &report.slots {
                let pages = slot.pages.iter().map(|&(module, count)| (UsageItem::Pages(module), count));
                let scans = slot.scans.iter().map(|(name, count)| (UsageItem::Scans(name.clone()), *count));
                for (item, count) in pages.chain(scans).filter(|(_, count)| *count > 0) {
                    charge(report.report_id, slot.slot, item, count);
                }
            }
        }
        rows
    }
}

/// The usage charged to each item, per kind.
fn spent(usage: &[UsageTotal]) -> HashMap<(&str, Kind), u64> {
    let mut spent = HashMap::new();
    for total in usage {
        *spent.entry((total.license_id.as_str(), Kind::of(&total.item))).or_default() += total.count;
    }
    spent
}

/// How much of one quota of a license is used: its scans (per scan) or the pages of one of its
/// modules (per page). What usage alerts watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUse {
    /// `scans`, or the module whose pages it counts (`core`, `ocr`, ...).
    pub item: String,
    pub used: u64,
    pub quota: u64,
}

/// The quotas of each of `files` and their use in `usage` (totals of any licenses), in the
/// files' order; none for a license type without a quota. The usage is summed once for all.
pub fn quota_uses(files: &[LicenseFile], usage: &[UsageTotal]) -> Vec<Vec<QuotaUse>> {
    let used = spent(usage);
    files.iter().map(|file| quota_use(file, &used)).collect()
}

/// The quotas of `file` and their use in `used` (`spent`).
fn quota_use(file: &LicenseFile, used: &HashMap<(&str, Kind), u64>) -> Vec<QuotaUse> {
    let Some(quota) = file.quota.filter(|_| file.license_type.has_quota()) else { return Vec::new() };
    let of = |kind: Kind| used.get(&(file.id.as_str(), kind)).copied().unwrap_or(0);
    match file.license_type {
        LicenseType::PerScan => vec![QuotaUse { item: "scans".into(), used: of(Kind::Scans), quota }],
        _ => file
            .modules
            .iter()
            .map(|&module| QuotaUse { item: module.as_str().into(), used: of(Kind::Pages(module)), quota })
            .collect(),
    }
}

/// What the items in force grant a device, before its claims are decided.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The modules whose pages may be counted: sold, and not used up past tolerance.
    pub modules: Vec<Module>,
    /// True when the project is in its tolerance stage by quota or expiry.
    pub tolerance: bool,
}

#[cfg(test)]
pub(crate) mod tests {
    use licet_protocol::keys::SigningKey;
    use licet_protocol::license::{Tolerance, DAY_MS};

    use super::*;

    const EXPIRES: u64 = 1_000 * DAY_MS;

    /// A signed license item of `license_type` for the tests of `licensing`: organization
    /// `acme`, expiring at `EXPIRES`, a 7-day offline grace and the default tolerances, each
    /// changed by `edit` before it is signed.
    pub(crate) fn item_with(
        id: &str,
        license_type: LicenseType,
        modules: &[Module],
        quota: Option<u64>,
        edit: impl FnOnce(&mut LicenseFile),
    ) -> LicenseItem {
        let mut file = LicenseFile {
            id: id.into(),
            organization_id: "acme".into(),
            product: "sdk".into(),
            license_type,
            modules: modules.to_vec(),
            quota,
            devices: None,
            active: None,
            domains: vec![],
            allow_dev_hosts: false,
            issued_at: 0,
            expires_at: EXPIRES,
            offline_grace_ms: 7 * DAY_MS,
            tolerance: Tolerance::default(),
        };
        edit(&mut file);
        let signed = file.sign(&SigningKey::from_bytes(&[7; 32]));
        LicenseItem { file, signed }
    }

    fn item(id: &str, license_type: LicenseType, modules: &[Module], quota: Option<u64>) -> LicenseItem {
        item_with(id, license_type, modules, quota, |_| {})
    }

    fn pages(id: &str, module: Module, count: u64) -> UsageTotal {
        UsageTotal { license_id: id.into(), item: UsageItem::Pages(module), count }
    }

    fn scans(id: &str, count: u64) -> UsageTotal {
        UsageTotal { license_id: id.into(), item: UsageItem::Scans("QR_CODE".into()), count }
    }

    /// What the rules decide for one project at one time with one usage: the modules granted
    /// and whether in tolerance, or the lapse.
    fn decide(items: &[LicenseItem], now: u64, usage: &[UsageTotal]) -> Result<(Vec<Module>, bool), Lapse> {
        let grant = InForce::at(items, now)?.assess(usage)?;
        Ok((grant.modules, grant.tolerance))
    }

    /// Every row of the quota and expiry rules with their numbers: a quota's tolerance is +5%
    /// (50 per mille, rounded down), the expiry's 7 days; past both, the named lapse.
    #[test]
    fn quotas_and_expiry_row_by_row() {
        use Module::{Core, Ocr};
        let per_page = [item("P", LicenseType::PerPage, &[Core, Ocr], Some(100))];
        let per_scan = [item("S", LicenseType::PerScan, &[], Some(500))];
        let per_domain = [item("D", LicenseType::PerDomain, &[Core], None)];
        type Row<'a> = (&'a str, &'a [LicenseItem], u64, Vec<UsageTotal>, Result<(Vec<Module>, bool), Lapse>);
        let rows: Vec<Row> = vec![
            ("no items", &[], 0, vec![], Err(Lapse::NoLicense)),
            ("per page, nothing used", &per_page, 0, vec![], Ok((vec![Core, Ocr], false))),
            (
                "per page, the quota used to the last page",
                &per_page,
                0,
                vec![pages("P", Core, 100)],
                Ok((vec![Core, Ocr], false)),
            ),
            (
                "per page, one page into the tolerance",
                &per_page,
                0,
                vec![pages("P", Core, 101)],
                Ok((vec![Core, Ocr], true)),
            ),
            (
                "per page, the tolerance's last page (+5%)",
                &per_page,
                0,
                vec![pages("P", Core, 105)],
                Ok((vec![Core, Ocr], true)),
            ),
            (
                "per page, one past the tolerance: that module only",
                &per_page,
                0,
                vec![pages("P", Core, 106)],
                Ok((vec![Ocr], false)),
            ),
            (
                "per page, every module past its tolerance",
                &per_page,
                0,
                vec![pages("P", Core, 106), pages("P", Ocr, 200)],
                Err(Lapse::QuotaExhausted),
            ),
            ("per scan, within", &per_scan, 0, vec![scans("S", 500)], Ok((vec![], false))),
            ("per scan, in the tolerance (+25)", &per_scan, 0, vec![scans("S", 525)], Ok((vec![], true))),
            ("per scan, past it", &per_scan, 0, vec![scans("S", 526)], Err(Lapse::QuotaExhausted)),
            (
                "per domain: no quota, any use",
                &per_domain,
                0,
                vec![pages("D", Core, 1_000_000)],
                Ok((vec![Core], false)),
            ),
            ("at the expiry instant", &per_domain, EXPIRES, vec![], Ok((vec![Core], false))),
            ("one ms past expiry: in its tolerance", &per_domain, EXPIRES + 1, vec![], Ok((vec![Core], true))),
            ("the tolerance's last ms (+7 days)", &per_domain, EXPIRES + 7 * DAY_MS, vec![], Ok((vec![Core], true))),
            ("past the tolerance", &per_domain, EXPIRES + 7 * DAY_MS + 1, vec![], Err(Lapse::Expired)),
        ];
        for (name, items, now, usage, expected) in rows {
            assert_eq!(decide(items, now, &usage), expected, "{name}");
        }
    }

    /// What a contact must claim, with its numbers: seats of the per-device items in expiry
    /// order, each held until min(now + its active period, its end), +10% of each item's seats
    /// (rounded down) as tolerance; one place in the slot among the concurrent items' devices
    /// summed, with their tolerances summed; nothing for the other types.
    #[test]
    fn claims_row_by_row() {
        let now = 10 * DAY_MS;
        let devices = |id: &str, kind, n: u32, active, expires_at| {
            item_with(id, kind, &[Module::Core], None, |f| {
                f.devices = Some(n);
                f.active = active;
                f.expires_at = expires_at;
            })
        };
        let yearly = devices("Y", LicenseType::PerDevice, 25, Some(ActivePeriod::Yearly), now + 400 * DAY_MS);
        let daily = devices("D", LicenseType::PerDevice, 9, Some(ActivePeriod::Daily), now + 200 * DAY_MS);
        let ending = devices("E", LicenseType::PerDevice, 10, Some(ActivePeriod::Monthly), now + 5 * DAY_MS);
        let concurrent_a = devices("C1", LicenseType::Concurrent, 10, None, now + 400 * DAY_MS);
        let concurrent_b = devices("C2", LicenseType::Concurrent, 15, None, now + 400 * DAY_MS);
        let per_page = item("P", LicenseType::PerPage, &[Module::Core], Some(100));
        let pool = |id: &str, seats, held_until| SeatPool { license_id: id.into(), seats, held_until };
        let slot = licet_protocol::slot_of(now);
        type Row<'a> = (&'a str, Vec<LicenseItem>, Option<SeatClaim>, Option<WindowClaim>);
        let rows: Vec<Row> = vec![
            ("a quota item claims nothing", vec![per_page], None, None),
            (
                "per device: a yearly seat, tolerance 10% of 25 rounded down",
                vec![yearly.clone()],
                Some(SeatClaim { pools: vec![pool("Y", 25, now + 365 * DAY_MS)], tolerance: 2 }),
                None,
            ),
            (
                "per device: pools in expiry order, a seat never past its item's end, tolerances summed",
                vec![yearly, daily, ending],
                Some(SeatClaim {
                    pools: vec![
                        pool("E", 10, now + 5 * DAY_MS),
                        pool("D", 9, now + DAY_MS),
                        pool("Y", 25, now + 365 * DAY_MS),
                    ],
                    // 10% rounded down: 1 of E's 10, 0 of D's 9, 2 of Y's 25.
                    tolerance: 3,
                }),
                None,
            ),
            (
                "concurrent: the devices and tolerances of the items summed, in the slot of now",
                vec![concurrent_a, concurrent_b],
                None,
                Some(WindowClaim { slot, limit: 25, tolerance: 2 }),
            ),
        ];
        for (name, items, seat, window) in rows {
            let claims = InForce::at(&items, now).expect("in force").claims(now, None);
            assert_eq!(claims, Admission { seat, window, trial: None }, "{name}");
        }
    }

    fn report(slot: u64, pages: &[(Module, u64)], scans: &[(&str, u64)]) -> UsageReport {
        UsageReport {
            report_id: ReportId([slot as u8; 16]),
            slots: vec![licet_protocol::wire::SlotUsage {
                slot,
                pages: pages.to_vec(),
                scans: scans.iter().map(|(name, n)| ((*name).to_owned(), *n)).collect(),
            }],
        }
    }

    /// Which item each count is charged to, with the numbers: items without a quota first, then
    /// those with one in expiry order up to each quota, the rest to the last of them (into its
    /// tolerance); use no item in force sells goes to the first item, kept and shown.
    #[test]
    fn charging_row_by_row() {
        let soon = item_with("soon", LicenseType::PerPage, &[Module::Core], Some(100), |f| f.expires_at = EXPIRES - 1);
        let later = item("later", LicenseType::PerPage, &[Module::Core], Some(50));
        let domain = item("domain", LicenseType::PerDomain, &[Module::Core], None);
        let scans_only = item("scans", LicenseType::PerScan, &[], Some(10));
        // (name, items, usage already charged, the report, the rows as (license, item, count))
        type Row<'a> = (&'a str, Vec<LicenseItem>, Vec<UsageTotal>, UsageReport, Vec<(&'a str, UsageItem, u64)>);
        let core = |n| (Module::Core, n);
        let pages_of = UsageItem::Pages(Module::Core);
        let qr = UsageItem::Scans("QR_CODE".into());
        let rows: Vec<Row> = vec![
            (
                "within the first quota",
                vec![soon.clone(), later.clone()],
                vec![],
                report(1, &[core(30)], &[]),
                vec![("soon", pages_of.clone(), 30)],
            ),
            (
                "split where the first quota ends",
                vec![later.clone(), soon.clone()],
                vec![pages("soon", Module::Core, 90)],
                report(1, &[core(30)], &[]),
                vec![("soon", pages_of.clone(), 10), ("later", pages_of.clone(), 20)],
            ),
            (
                "past every quota: the rest to the last item, into its tolerance",
                vec![soon.clone(), later.clone()],
                vec![pages("soon", Module::Core, 100), pages("later", Module::Core, 45)],
                report(1, &[core(8)], &[]),
                vec![("later", pages_of.clone(), 5), ("later", pages_of.clone(), 3)],
            ),
            (
                "an item without a quota takes everything first",
                vec![soon.clone(), domain.clone()],
                vec![],
                report(1, &[core(500)], &[]),
                vec![("domain", pages_of.clone(), 500)],
            ),
            (
                "use no item sells goes to the first item",
                vec![soon.clone(), later.clone()],
                vec![],
                report(1, &[], &[("QR_CODE", 4)]),
                vec![("soon", qr.clone(), 4)],
            ),
            (
                "scans to the scan item, pages to the page item, zero counts to none",
                vec![scans_only, soon],
                vec![],
                report(1, &[core(2), (Module::Ocr, 0)], &[("QR_CODE", 3)]),
                vec![("soon", pages_of.clone(), 2), ("scans", qr, 3)],
            ),
        ];
        for (name, items, usage, report, expected) in rows {
            let in_force = InForce::at(&items, 0).expect("in force");
            let rows = in_force.charge(&usage, &[&report]);
            let got: Vec<(&str, UsageItem, u64)> =
                rows.iter().map(|r| (r.license_id.as_str(), r.item.clone(), r.count)).collect();
            assert_eq!(got, expected, "{name}");
            assert!(rows.iter().all(|r| r.report_id == report.report_id && r.slot == 1), "{name}");
        }
    }

    /// Past every tolerance the usage is still charged, to the item that expired last; a
    /// project without items has nothing to charge to.
    #[test]
    fn usage_past_expiry_is_charged_to_the_last_item() {
        let early =
            item_with("early", LicenseType::PerDomain, &[Module::Core], None, |f| f.expires_at = EXPIRES - DAY_MS);
        let late = item("late", LicenseType::PerDomain, &[Module::Core], None);
        let items = [early, late];
        let after = EXPIRES + 30 * DAY_MS;
        assert_eq!(InForce::at(&items, after).err(), Some(Lapse::Expired));
        let charged = InForce::charging(&items, after).expect("charged to an item");
        assert_eq!(charged.items.iter().map(|i| i.file.id.as_str()).collect::<Vec<_>>(), ["late"]);
        assert_eq!(InForce::charging(&[], after).err(), Some(Lapse::NoLicense));
    }
}
