//! The clock guard: which time the licensing decisions use, and when the device clock is not
//! to be believed. The device keeps the offset between the server's signed time and its own
//! clock at the last contact, and the latest time it has trusted. Decisions (the offline grace)
//! use the server-corrected time, never earlier than the latest trusted one, so setting the
//! clock back or forward does not stretch the grace. It reads no clock: it is handed `now`.

use serde::{Deserialize, Serialize};

/// How far the device clock may differ from the server's before the difference is reported.
pub const SKEW_TOLERANCE_MS: u64 = 5 * 60 * 1000;
/// How far the device clock may go back between two readings before it counts as set back
/// (a small step back is a clock sync, not a manipulation).
pub const ROLLBACK_TOLERANCE_MS: u64 = 60 * 1000;

/// What the device remembers about time; kept with the cached authorization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeGuard {
    /// Server time minus device time at the last signed answer, in ms.
    pub offset_ms: i64,
    /// The latest trusted time seen (server-corrected), in Unix ms.
    pub latest_ms: u64,
    /// The latest raw device clock reading, in Unix ms.
    pub last_reading_ms: u64,
}

/// What a reading of the device clock says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Normal,
    /// The device clock went back by more than the tolerance since the last reading.
    SetBack,
}

/// What a signed server time says about the device clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    Agrees,
    /// Server and device disagree by more than `SKEW_TOLERANCE_MS`.
    Skewed,
}

/// `a - b` in ms, held to what an `i64` can say.
fn difference(a: u64, b: u64) -> i64 {
    (a as i128 - b as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn corrected(now: u64, offset_ms: i64) -> u64 {
    now.saturating_add_signed(offset_ms)
}

impl TimeGuard {
    /// Takes a signed server time received at device time `now`. The server is the authority:
    /// its time replaces the trusted time even when that is earlier (a device clock that ran
    /// ahead is corrected). Only fresh answers, whose nonce matched, may be passed here, so an
    /// old signed time cannot be replayed to turn trusted time back.
    pub fn server_time(&mut self, server_time: u64, now: u64) -> Agreement {
        self.offset_ms = difference(server_time, now);
        self.latest_ms = server_time;
        self.last_reading_ms = now;
        if server_time.abs_diff(now) > SKEW_TOLERANCE_MS {
            Agreement::Skewed
        } else {
            Agreement::Agrees
        }
    }

    /// Takes a reading of the device clock and returns the time to decide with: the
    /// server-corrected reading, never earlier than the latest trusted time. When the reading
    /// falls behind that time (the clock was set back), the offset is rebased so that trusted
    /// time goes on from where it was at the device clock's pace: setting the clock back gains
    /// nothing, however often it is done.
    pub fn read(&mut self, now: u64) -> (u64, Reading) {
        let reading = if now.saturating_add(ROLLBACK_TOLERANCE_MS) < self.last_reading_ms {
            Reading::SetBack
        } else {
            Reading::Normal
        };
        self.last_reading_ms = now;
        if corrected(now, self.offset_ms) < self.latest_ms {
            self.offset_ms = difference(self.latest_ms, now);
        }
        let trusted = corrected(now, self.offset_ms).max(self.latest_ms);
        self.latest_ms = trusted;
        (trusted, reading)
    }
}
