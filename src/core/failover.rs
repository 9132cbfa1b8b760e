//! Which license server to ask first. A license key lists a main server, then standbys. While
//! the main answers, every request goes to it. Once it does not and a standby does, requests go
//! first to the server that answered last, so a main that hangs until the request deadline
//! costs one request that deadline, not every request; the main is tried first again after a
//! back-off (5 minutes, doubling while it stays down, at most an hour), and once it answers the
//! client is back on it. It orders servers and learns from outcomes; it sends nothing and reads
//! no clock: it is handed `now`, the device clock, as the report schedule is. Nothing here is a
//! licensing decision, so an untrusted clock can only make the main be tried sooner or later.

/// The main server's index in the license key's list.
pub const MAIN: usize = 0;
/// How long after the main was first found down it is tried first again.
pub const FIRST_RETRY_MS: u64 = 5 * 60 * 1000;
/// The longest wait between two tries of a main that stays down: a main back after a long
/// outage is in use again within the hour.
pub const MAX_RETRY_MS: u64 = 60 * 60 * 1000;

/// What one client knows of its servers. It starts on the main; knowledge is kept in memory
/// only, so a page that loads tries the main first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failover {
    /// The server that answered last.
    preferred: usize,
    /// While a standby is preferred: when the main was last found down, and how long after that
    /// it is tried first again.
    main_down_at: u64,
    retry_ms: u64,
}

impl Default for Failover {
    fn default() -> Self {
        Failover { preferred: MAIN, main_down_at: 0, retry_ms: FIRST_RETRY_MS }
    }
}

impl Failover {
    /// The order in which to try the `servers` of the license key for a request sent at `now`:
    /// each once, the preferred server first and the others in the key's order, except that
    /// the main goes first again once its back-off has passed.
    pub fn order(&self, servers: usize, now: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..servers).collect();
        if self.preferred != MAIN && self.preferred < servers {
            order[..=self.preferred].rotate_right(1);
            if self.main_due(now) {
                order.swap(0, 1);
            }
        }
        order
    }

    /// Whether the main's back-off has passed at `now`. A clock that went back before the main
    /// was found down makes it due at once, rather than keep the client off the main for as
    /// long as the clock was set back.
    fn main_due(&self, now: u64) -> bool {
        now < self.main_down_at || now >= self.main_down_at.saturating_add(self.retry_ms)
    }

    /// Learns from a request sent in `order`: `server` answered it (a refusal is an answer too)
    /// at `now`, after the main, when `main_failed`, was tried and did not answer. A request no
    /// server answered teaches nothing: the device may be offline, which says nothing of which
    /// server is up.
    pub fn answered(&mut self, server: usize, main_failed: bool, now: u64) {
        if server == MAIN {
            *self = Failover::default();
            return;
        }
        if main_failed {
            // Found down for the first time: the first wait; found down again: twice the last.
            self.retry_ms =
                if self.preferred == MAIN { FIRST_RETRY_MS } else { self.retry_ms.saturating_mul(2).min(MAX_RETRY_MS) };
            self.main_down_at = now;
        }
        self.preferred = server;
    }
}
