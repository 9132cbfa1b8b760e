//! Admission: whether a device in contact with its project gets what its licenses make it
//! claim (a public trial, a seat of a per-device item, a place among the devices of a slot for a
//! concurrent item), decided on the facts the store reads inside the transaction that then
//! takes what the decision says. It does no I/O: the store reads and writes, this decides, so
//! the sequence is the same on every backend and only the transaction that takes a claim can
//! know it fits without a race.

/// One per-device license item as a pool of seats. (The `seats` table's comment in migration
/// 0002 says a lapsed row is overwritten by the next device; in fact each device keeps its own
/// row per item, which holds no seat once past `held_until`. Applied migrations are never
/// edited, so the correction lives here.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatPool {
    pub license_id: String,
    pub seats: u64,
    /// Until when (inclusive) a seat taken or refreshed now is held: min(now + the active
    /// period, the end of the item).
    pub held_until: u64,
}

/// A device's claim on a seat of the per-device items of its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatClaim {
    /// The pools in the order seats are taken from them; never empty.
    pub pools: Vec<SeatPool>,
    /// How many devices beyond the pools' seats may hold one, as tolerance.
    pub tolerance: u64,
}

/// A device's claim on a place among the devices in contact with its project in one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowClaim {
    pub slot: u64,
    pub limit: u64,
    /// How many devices beyond `limit` may be in contact, as tolerance.
    pub tolerance: u64,
}

/// A device's claim on the public trial: its running trial, or a new one until `ends_at` if it
/// never had one and `open` allows new ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialClaim {
    pub ends_at: u64,
    pub open: bool,
}

/// What a contact must take, beyond being recorded, for the device to be authorized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    pub seat: Option<SeatClaim>,
    pub window: Option<WindowClaim>,
    pub trial: Option<TrialClaim>,
}

/// How a claim on a limited pool was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Within,
    /// Granted beyond the limit, inside the tolerance.
    Tolerance,
    /// Refused: the limit and the tolerance are taken.
    Full,
}

/// How a trial claim was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialOutcome {
    /// The device's trial, new or running, lasts until `ends_at`.
    Granted { ends_at: u64 },
    /// The device had its trial and it ran out, or the server knows it from another project.
    Used,
    /// The device never had a trial, and no new ones start.
    Closed,
}

/// How each claim of an `Admission` was decided (`None` where nothing was claimed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admitted {
    pub seat: Option<Capacity>,
    /// Until when the device's seat is held, once taken or refreshed: the end of its offline
    /// period too (`licensing::terms`).
    pub seat_until: Option<u64>,
    pub window: Option<Capacity>,
    pub trial: Option<TrialOutcome>,
}

/// Which claim of an `Admission` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `TrialOutcome::Used`.
    TrialUsed,
    /// `TrialOutcome::Closed`.
    TrialClosed,
    /// The seats and their tolerance are taken.
    SeatsTaken,
    /// The slot's places and their tolerance are taken.
    SlotFull,
}

impl Admitted {
    /// The first refused claim, in the order they are taken (trial, seat, slot); `None` when the
    /// device is admitted. A refusal at authorization stores nothing.
    pub fn refusal(&self) -> Option<Refusal> {
        match (self.trial, self.seat, self.window) {
            (Some(TrialOutcome::Used), _, _) => Some(Refusal::TrialUsed),
            (Some(TrialOutcome::Closed), _, _) => Some(Refusal::TrialClosed),
            (_, Some(Capacity::Full), _) => Some(Refusal::SeatsTaken),
            (_, _, Some(Capacity::Full)) => Some(Refusal::SlotFull),
            _ => None,
        }
    }
}

impl TrialClaim {
    /// The outcome that the device's stored trial end (`None`: it never had a trial) decides at
    /// `now`, both as stored (signed integers); `None` when a new trial may start, which only
    /// whether the server has seen the device settles (`new_trial`).
    pub fn decide(&self, ends_at: Option<i64>, now: i64) -> Option<TrialOutcome> {
        match ends_at {
            Some(ends_at) if ends_at >= now => Some(TrialOutcome::Granted { ends_at: ends_at as u64 }),
            Some(_) => Some(TrialOutcome::Used),
            None if !self.open => Some(TrialOutcome::Closed),
            None => None,
        }
    }

    /// The outcome for a device that never had a trial, while new ones start: a device the
    /// server knows (from any project) had its chance.
    pub fn new_trial(&self, seen: bool) -> TrialOutcome {
        if seen {
            TrialOutcome::Used
        } else {
            TrialOutcome::Granted { ends_at: self.ends_at }
        }
    }
}

impl SeatClaim {
    /// Decides the claim of `device` given the seats held now (license id, device id): the seat
    /// it holds (refreshed), else a free seat of the first pool with one, else a seat of the last
    /// pool inside the tolerance. Returns the pool whose seat to write, `None` when `Full`.
    pub fn decide<'a>(&'a self, device: &str, live: &[(String, String)]) -> (Option<&'a SeatPool>, Capacity) {
        let seats: u64 = self.pools.iter().map(|p| p.seats).sum();
        let held = |pool: &SeatPool| live.iter().filter(|(license, _)| *license == pool.license_id).count() as u64;
        let total: u64 = self.pools.iter().map(held).sum();
        let over = |total: u64| if total > seats { Capacity::Tolerance } else { Capacity::Within };
        let mine = live
            .iter()
            .find(|(license, holder)| holder == device && self.pools.iter().any(|p| p.license_id == *license));
        if let Some((license, _)) = mine {
            return (self.pools.iter().find(|p| p.license_id == *license), over(total));
        }
        if let Some(pool) = self.pools.iter().find(|p| held(p) < p.seats) {
            return (Some(pool), over(total + 1));
        }
        if total < seats + self.tolerance {
            return (self.pools.last(), Capacity::Tolerance);
        }
        (None, Capacity::Full)
    }
}

impl WindowClaim {
    /// Decides the claim of a device given how many devices are in contact in the slot and
    /// whether it is one of them; `true` in the result when its contact must be written.
    pub fn decide(&self, in_contact: u64, present: bool) -> (bool, Capacity) {
        let over = |count: u64| if count > self.limit { Capacity::Tolerance } else { Capacity::Within };
        if present {
            (false, over(in_contact))
        } else if in_contact < self.limit + self.tolerance {
            (true, over(in_contact + 1))
        } else {
            (false, Capacity::Full)
        }
    }
}

/// What the store holds that an `Admission` is decided on, read by the backend inside the
/// transaction that then takes what the decision says. Only the facts of the claims the
/// admission makes are read; the others stay at their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionFacts {
    /// The end of the device's public trial, as stored (`None`: it never had one).
    pub trial_ends_at: Option<i64>,
    /// Whether the server has seen the device before, from any project: read only when the
    /// stored trial does not settle the trial claim (`TrialClaim::decide` gives `None`).
    pub seen: bool,
    /// The seats held now of the seat claim's pools: (license id, device id).
    pub live_seats: Vec<(String, String)>,
    /// How many devices are in contact with the project in the window claim's slot.
    pub in_slot: u64,
    /// Whether the device is one of them.
    pub in_slot_present: bool,
}

/// A row an admitted claim writes, in the order `Admission::decide` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// The device's new public trial, from now until `ends_at`.
    Trial { ends_at: u64 },
    /// A seat of `license_id` taken or refreshed, held until `held_until` (never shortened).
    Seat { license_id: String, held_until: u64 },
    /// The device's place among those in contact with its project in `slot`.
    SlotPlace { slot: u64 },
}

impl Admission {
    /// The whole admission sequence, once for every backend: the trial, then the seat, then the
    /// place in the slot, each decided on `facts` (read at `now`, stored form), and the first
    /// refusal ends it: a refused device takes nothing after the refused claim. Returns how
    /// each claim was decided and what the backend must write for it.
    pub fn decide(&self, device: &str, now: i64, facts: &AdmissionFacts) -> (Admitted, Vec<Take>) {
        let mut admitted = Admitted::default();
        let mut takes = Vec::new();
        if let Some(claim) = &self.trial {
            let outcome = claim.decide(facts.trial_ends_at, now).unwrap_or_else(|| {
                if !facts.seen {
                    takes.push(Take::Trial { ends_at: claim.ends_at });
                }
                claim.new_trial(facts.seen)
            });
            admitted.trial = Some(outcome);
            if admitted.refusal().is_some() {
                return (admitted, takes);
            }
        }
        if let Some(claim) = &self.seat {
            let (pool, capacity) = claim.decide(device, &facts.live_seats);
            if let Some(pool) = pool {
                takes.push(Take::Seat { license_id: pool.license_id.clone(), held_until: pool.held_until });
                admitted.seat_until = Some(pool.held_until);
            }
            admitted.seat = Some(capacity);
            if admitted.refusal().is_some() {
                return (admitted, takes);
            }
        }
        if let Some(claim) = &self.window {
            let (write, capacity) = claim.decide(facts.in_slot, facts.in_slot_present);
            if write {
                takes.push(Take::SlotPlace { slot: claim.slot });
            }
            admitted.window = Some(capacity);
        }
        (admitted, takes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const DEVICE: &str = "device-a";

    fn pool(license_id: &str, seats: u64) -> SeatPool {
        SeatPool { license_id: license_id.into(), seats, held_until: 2_000_000 }
    }

    fn seats(pools: Vec<SeatPool>, tolerance: u64) -> Option<SeatClaim> {
        Some(SeatClaim { pools, tolerance })
    }

    fn window(limit: u64, tolerance: u64) -> Option<WindowClaim> {
        Some(WindowClaim { slot: 7, limit, tolerance })
    }

    fn trial(open: bool) -> Option<TrialClaim> {
        Some(TrialClaim { ends_at: 1_500_000, open })
    }

    /// `n` seats of `license` held by other devices.
    fn held(license: &str, n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (license.to_owned(), format!("other-{i}"))).collect()
    }

    fn seat(license_id: &str) -> Take {
        Take::Seat { license_id: license_id.into(), held_until: 2_000_000 }
    }

    /// One row of the table below: its name, what is claimed, what the store holds, how each
    /// claim is decided, the first refusal, and what is written.
    type Row = (&'static str, Admission, AdmissionFacts, Admitted, Option<Refusal>, Vec<Take>);

    /// Every row of the admission sequence: what is claimed, what the store holds, how each
    /// claim is decided, the first refusal, and what is written (nothing after a refusal).
    #[test]
    fn the_admission_sequence_row_by_row() {
        use Capacity::{Full, Tolerance, Within};
        let granted = Some(TrialOutcome::Granted { ends_at: 1_500_000 });
        let rows: Vec<Row> = vec![
            (
                "nothing claimed: admitted, nothing taken",
                Admission::default(),
                AdmissionFacts::default(),
                Admitted::default(),
                None,
                vec![],
            ),
            (
                "a new device starts its trial",
                Admission { trial: trial(true), ..Default::default() },
                AdmissionFacts::default(),
                Admitted { trial: granted, ..Default::default() },
                None,
                vec![Take::Trial { ends_at: 1_500_000 }],
            ),
            (
                "a running trial goes on, nothing written",
                Admission { trial: trial(false), ..Default::default() },
                AdmissionFacts { trial_ends_at: Some(NOW + 5), seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Granted { ends_at: (NOW + 5) as u64 }), ..Default::default() },
                None,
                vec![],
            ),
            (
                "a trial that ended is used, and nothing after it is taken",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 5)], 0), window: window(5, 0) },
                AdmissionFacts { trial_ends_at: Some(NOW - 1), seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Used), ..Default::default() },
                Some(Refusal::TrialUsed),
                vec![],
            ),
            (
                "a device the server has seen gets no new trial",
                Admission { trial: trial(true), ..Default::default() },
                AdmissionFacts { seen: true, ..Default::default() },
                Admitted { trial: Some(TrialOutcome::Used), ..Default::default() },
                Some(Refusal::TrialUsed),
                vec![],
            ),
            (
                "no new trials while closed",
                Admission { trial: trial(false), ..Default::default() },
                AdmissionFacts::default(),
                Admitted { trial: Some(TrialOutcome::Closed), ..Default::default() },
                Some(Refusal::TrialClosed),
                vec![],
            ),
            (
                "a free seat of the first pool with one",
                Admission { seat: seats(vec![pool("L1", 1), pool("L2", 2)], 0), ..Default::default() },
                AdmissionFacts { live_seats: held("L1", 1), ..Default::default() },
                Admitted { seat: Some(Within), ..Default::default() },
                None,
                vec![seat("L2")],
            ),
            (
                "the device's own seat is refreshed, even past the limit",
                Admission { seat: seats(vec![pool("L1", 1)], 0), ..Default::default() },
                AdmissionFacts {
                    live_seats: [held("L1", 1), vec![("L1".into(), DEVICE.into())]].concat(),
                    ..Default::default()
                },
                Admitted { seat: Some(Tolerance), ..Default::default() },
                None,
                vec![seat("L1")],
            ),
            (
                "every seat taken: one more within the tolerance, from the last pool",
                Admission { seat: seats(vec![pool("L1", 1), pool("L2", 1)], 1), ..Default::default() },
                AdmissionFacts { live_seats: [held("L1", 1), held("L2", 1)].concat(), ..Default::default() },
                Admitted { seat: Some(Tolerance), ..Default::default() },
                None,
                vec![seat("L2")],
            ),
            (
                "seats and tolerance taken: refused, and no place in the slot is taken",
                Admission { seat: seats(vec![pool("L1", 2)], 1), window: window(5, 0), ..Default::default() },
                AdmissionFacts { live_seats: held("L1", 3), ..Default::default() },
                Admitted { seat: Some(Full), ..Default::default() },
                Some(Refusal::SeatsTaken),
                vec![],
            ),
            (
                "a place in the slot within the limit",
                Admission { window: window(2, 0), ..Default::default() },
                AdmissionFacts { in_slot: 1, ..Default::default() },
                Admitted { window: Some(Within), ..Default::default() },
                None,
                vec![Take::SlotPlace { slot: 7 }],
            ),
            (
                "a place in the slot within the tolerance",
                Admission { window: window(2, 1), ..Default::default() },
                AdmissionFacts { in_slot: 2, ..Default::default() },
                Admitted { window: Some(Tolerance), ..Default::default() },
                None,
                vec![Take::SlotPlace { slot: 7 }],
            ),
            (
                "already in the slot: nothing written, even when it is over the limit",
                Admission { window: window(2, 0), ..Default::default() },
                AdmissionFacts { in_slot: 3, in_slot_present: true, ..Default::default() },
                Admitted { window: Some(Tolerance), ..Default::default() },
                None,
                vec![],
            ),
            (
                "the slot and its tolerance full: refused",
                Admission { window: window(2, 1), ..Default::default() },
                AdmissionFacts { in_slot: 3, ..Default::default() },
                Admitted { window: Some(Full), ..Default::default() },
                Some(Refusal::SlotFull),
                vec![],
            ),
            (
                "all three taken in order: trial, seat, slot",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 1)], 0), window: window(1, 0) },
                AdmissionFacts::default(),
                Admitted { trial: granted, seat: Some(Within), window: Some(Within), ..Default::default() },
                None,
                vec![Take::Trial { ends_at: 1_500_000 }, seat("L1"), Take::SlotPlace { slot: 7 }],
            ),
            (
                "a new trial is written before a seat refusal (the caller discards a refused authorization whole)",
                Admission { trial: trial(true), seat: seats(vec![pool("L1", 0)], 0), window: window(1, 0) },
                AdmissionFacts::default(),
                Admitted { trial: granted, seat: Some(Full), ..Default::default() },
                Some(Refusal::SeatsTaken),
                vec![Take::Trial { ends_at: 1_500_000 }],
            ),
        ];
        for (name, admission, facts, admitted, refusal, takes) in rows {
            // A seat taken or refreshed is held until the end the table's take names.
            let seat_until = takes.iter().find_map(|take| match take {
                Take::Seat { held_until, .. } => Some(*held_until),
                _ => None,
            });
            let admitted = Admitted { seat_until, ..admitted };
            let decided = admission.decide(DEVICE, NOW, &facts);
            assert_eq!(decided, (admitted, takes), "{name}");
            assert_eq!(decided.0.refusal(), refusal, "{name}");
        }
    }
}
