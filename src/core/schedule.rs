//! When to send reports: just after each 3-minute slot closes (so a report carries whole slots),
//! shifted by a random jitter so a fleet of devices does not reach the server in one burst, and
//! after a failure, again after a capped exponential backoff. It only computes times.

use licet_protocol::{slot_of, SLOT_MS};

/// The delay after a slot boundary before its report is sealed: longer than the ~1 s in which
/// every tab writes its counts, so the closed slot is complete in storage.
pub const SETTLE_MS: u64 = 5_000;
/// The widest random shift added to each scheduled send.
pub const JITTER_MS: u64 = 30_000;
/// The first retry delay after a failure; it doubles per failure up to `MAX_BACKOFF_MS`.
pub const FIRST_BACKOFF_MS: u64 = 5_000;
pub const MAX_BACKOFF_MS: u64 = SLOT_MS;

/// How long before the end of the offline grace the reporter renews the authorization.
pub const RENEW_BEFORE_GRACE_ENDS_MS: u64 = 30_000;
/// The shortest wait between two sends, however short the grace.
pub const MIN_WAIT_MS: u64 = 5_000;

/// The next send time `next`, brought forward so that a reporter in contact renews its
/// authorization before the grace runs out: with a short grace (a license may set 3 minutes)
/// the slot schedule alone would let it lapse between two sends. Times are in the same clock.
pub fn before_grace_ends(next: u64, now: u64, offline_until: u64) -> u64 {
    next.min(offline_until.saturating_sub(RENEW_BEFORE_GRACE_ENDS_MS)).max(now + MIN_WAIT_MS)
}

/// The send schedule of one reporting tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    failures: u32,
}

impl Schedule {
    /// When to send next, after a send at `now` that succeeded (`ok`) or failed. `random` is
    /// any random number; it picks the jitter.
    pub fn next(&mut self, now: u64, ok: bool, random: u64) -> u64 {
        if ok {
            self.failures = 0;
            let next_boundary = (slot_of(now) + 1) * SLOT_MS;
            next_boundary + SETTLE_MS + random % JITTER_MS
        } else {
            self.failures = self.failures.saturating_add(1);
            let backoff = FIRST_BACKOFF_MS.saturating_mul(1 << (self.failures - 1).min(16)).min(MAX_BACKOFF_MS);
            // Jitter of up to half the backoff, so retries of many devices spread out too.
            now + backoff + random % (backoff / 2 + 1)
        }
    }

    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}
