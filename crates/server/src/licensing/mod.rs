//! The licensing decisions of the server, made once for every backend and every route: which
//! license items are in force and what they grant (`rules`), what a device in contact must
//! claim and whether it gets it (`admission`), and the terms an admitted device is signed
//! (`terms`: its state, how long it may work, how long offline). Pure functions of the items,
//! their usage, the store's facts and `now`: no I/O, no clock, no HTTP; refusals are domain
//! values (`rules::Lapse`, `admission::Refusal`) that the handlers answer with their codes.

pub mod admission;
pub mod rules;

use licet_protocol::license;
use licet_protocol::wire::LicenseState;

use admission::{Admitted, Capacity, TrialOutcome};
use rules::{Grant, InForce};

/// What an admitted device's authorization says of its license, besides the items themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// `trial` for a device on its public trial, `tolerance` when a quota, the expiry or a
    /// device limit is in its tolerance, else `valid`.
    pub state: LicenseState,
    /// The latest end of the items in force, or of the device's trial when that comes first.
    pub active_until: u64,
    /// Until when the device may count without hearing from the server: `now` plus the shortest
    /// offline grace of the items in force, never past `active_until` nor past the end of the
    /// device's seat (a per-device license works offline as long as its seat lasts).
    pub offline_until: u64,
}

/// The terms of a device admitted at `now` under `in_force`, which grant `grant`.
pub fn terms(in_force: &InForce, grant: &Grant, admitted: &Admitted, now: u64) -> Terms {
    let trial_ends = match admitted.trial {
        Some(TrialOutcome::Granted { ends_at }) => Some(ends_at),
        _ => None,
    };
    let over_devices = [admitted.seat, admitted.window].contains(&Some(Capacity::Tolerance));
    let state = match trial_ends {
        Some(_) => LicenseState::Trial,
        None if grant.tolerance || over_devices => LicenseState::Tolerance,
        None => LicenseState::Valid,
    };
    let active_until = in_force.end().min(trial_ends.unwrap_or(u64::MAX));
    let grace =
        in_force.items.iter().map(|i| i.file.offline_grace_ms).min().unwrap_or(license::DEFAULT_OFFLINE_GRACE_MS);
    let offline_until = now.saturating_add(grace).min(active_until).min(admitted.seat_until.unwrap_or(u64::MAX));
    Terms { state, active_until, offline_until }
}

#[cfg(test)]
mod tests {
    use licet_protocol::license::{LicenseType, Module, DAY_MS};

    use super::*;
    use crate::licensing::rules::tests::item_with;
    use crate::licensing::rules::LicenseItem;

    const NOW: u64 = 100 * DAY_MS;
    const MINUTE: u64 = 60_000;

    /// A per-domain item expiring at `expires_at` with an offline grace of `offline_grace_ms`.
    fn item(id: &str, expires_at: u64, offline_grace_ms: u64) -> LicenseItem {
        item_with(id, LicenseType::PerDomain, &[Module::Core], None, |file| {
            file.expires_at = expires_at;
            file.offline_grace_ms = offline_grace_ms;
        })
    }

    fn terms_of(items: &[LicenseItem], tolerance: bool, admitted: Admitted) -> Terms {
        let in_force = InForce::at(items, NOW).expect("items in force");
        terms(&in_force, &Grant { modules: vec![Module::Core], tolerance }, &admitted, NOW)
    }

    /// Every row of the terms: the state, `active_until` and `offline_until` with their numbers.
    #[test]
    fn terms_row_by_row() {
        let year = NOW + 365 * DAY_MS;
        let granted = |ends_at| Admitted { trial: Some(TrialOutcome::Granted { ends_at }), ..Admitted::default() };
        let over = Admitted { seat: Some(Capacity::Tolerance), ..Admitted::default() };
        type Row<'a> = (&'a str, Vec<LicenseItem>, bool, Admitted, LicenseState, u64, u64);
        let rows: Vec<Row> = vec![
            (
                "one item: its grace from now",
                vec![item("A", year, 7 * DAY_MS)],
                false,
                Admitted::default(),
                LicenseState::Valid,
                year,
                NOW + 7 * DAY_MS,
            ),
            (
                "several items: the shortest grace, the latest end",
                vec![item("A", year, 7 * DAY_MS), item("B", year + DAY_MS, 3 * MINUTE)],
                false,
                Admitted::default(),
                LicenseState::Valid,
                year + DAY_MS,
                NOW + 3 * MINUTE,
            ),
            (
                "the grace never reaches past the end",
                vec![item("A", NOW + DAY_MS, 7 * DAY_MS)],
                false,
                Admitted::default(),
                LicenseState::Valid,
                NOW + DAY_MS,
                NOW + DAY_MS,
            ),
            (
                "a trial ends the activity and the grace at its own end",
                vec![item("A", year, 7 * DAY_MS)],
                false,
                granted(NOW + 2 * DAY_MS),
                LicenseState::Trial,
                NOW + 2 * DAY_MS,
                NOW + 2 * DAY_MS,
            ),
            (
                "a quota or the expiry in tolerance",
                vec![item("A", year, 7 * DAY_MS)],
                true,
                Admitted::default(),
                LicenseState::Tolerance,
                year,
                NOW + 7 * DAY_MS,
            ),
            (
                "a seat ends the offline period before a longer grace (per device)",
                vec![item("A", year, 365 * DAY_MS)],
                false,
                Admitted { seat: Some(Capacity::Within), seat_until: Some(NOW + DAY_MS), ..Admitted::default() },
                LicenseState::Valid,
                year,
                NOW + DAY_MS,
            ),
            (
                "a grace the file sets shorter than the seat applies (per device)",
                vec![item("A", year, 7 * DAY_MS)],
                false,
                Admitted { seat: Some(Capacity::Within), seat_until: Some(NOW + 90 * DAY_MS), ..Admitted::default() },
                LicenseState::Valid,
                year,
                NOW + 7 * DAY_MS,
            ),
            (
                "a concurrent license's default: 6 minutes",
                vec![item("A", year, license::CONCURRENT_OFFLINE_GRACE_MS)],
                false,
                Admitted { window: Some(Capacity::Within), ..Admitted::default() },
                LicenseState::Valid,
                year,
                NOW + 6 * MINUTE,
            ),
            (
                "a seat granted within the device tolerance",
                vec![item("A", year, 7 * DAY_MS)],
                false,
                over,
                LicenseState::Tolerance,
                year,
                NOW + 7 * DAY_MS,
            ),
        ];
        for (name, items, tolerance, admitted, state, active_until, offline_until) in rows {
            assert_eq!(terms_of(&items, tolerance, admitted), Terms { state, active_until, offline_until }, "{name}");
        }
    }
}
