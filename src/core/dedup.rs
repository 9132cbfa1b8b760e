//! Barcode de-duplication: decides which results of a decoded frame are new scans. The key is
//! (format, text); a barcode counts again only once the gap since its last sighting reaches
//! `duplicateForgetTime`, and the window slides while it stays in view. Barcode text is not
//! even kept here: each (format, text) is reduced at once to a 128-bit SipHash key, and only
//! keys and times are remembered, bounded in number and for at most `MAX_FORGET_MS`. Nothing
//! here is stored or sent.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};

use crate::core::error::{whole_number, LicetError};

/// `duplicateForgetTime` when the app does not set one.
pub const DEFAULT_FORGET_MS: u64 = 3_000;
/// The longest `duplicateForgetTime`: one report slot, longer than any SDK needs to suppress a
/// barcode that stays in view. Every session keeps a barcode's key (never its text) this long
/// after its last sighting, whatever its window, because the window may be lengthened to this.
pub const MAX_FORGET_MS: u64 = licet_protocol::SLOT_MS;
/// How many distinct barcodes are remembered at once. Past it the least recently seen one is
/// forgotten, and counts again if it comes back inside its window.
pub const MAX_TRACKED: usize = 4_096;

/// Checks a `duplicateForgetTime` from JS: a whole number of milliseconds from 0 to
/// `MAX_FORGET_MS`.
pub fn forget_time(ms: f64) -> Result<u64, LicetError> {
    whole_number(ms, MAX_FORGET_MS)
}

/// The sighting state of one scan session.
#[derive(Debug)]
pub struct Deduplicator {
    forget_ms: u64,
    /// The latest timestamp seen: a frame stamped earlier is taken as stamped now.
    latest: u64,
    /// Key → (last sighting, its sequence number in `by_age`).
    seen: BTreeMap<u128, (u64, u64)>,
    /// (last sighting, sequence) → key, oldest first, for expiry and eviction.
    by_age: BTreeMap<(u64, u64), u128>,
    sequence: u64,
}

/// The 128-bit key of a (format, text) pair: two SipHash-1-3 values over domain-separated
/// input. 0xFF never occurs in UTF-8, so it separates format from text unambiguously. The
/// chance that two of the at most `MAX_TRACKED` remembered barcodes share a key is below 2^-100.
fn key(format: &str, text: &str) -> u128 {
    let half = |domain: u8| {
        let mut hasher = DefaultHasher::new();
        hasher.write_u8(domain);
        hasher.write(format.as_bytes());
        hasher.write_u8(0xFF);
        hasher.write(text.as_bytes());
        hasher.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

impl Deduplicator {
    /// `forget_ms` must be at most `MAX_FORGET_MS`; the API checks it before calling.
    pub fn new(forget_ms: u64) -> Self {
        Deduplicator { forget_ms, latest: 0, seen: BTreeMap::new(), by_age: BTreeMap::new(), sequence: 0 }
    }

    pub fn forget_ms(&self) -> u64 {
        self.forget_ms
    }

    /// Changes the window from the next frame on: a remembered barcode is then judged by the new
    /// window against its last sighting, which keeps its time.
    pub fn set_forget_ms(&mut self, forget_ms: u64) {
        self.forget_ms = forget_ms;
    }

    /// How many distinct barcodes are remembered now.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    /// Records one frame's `(format, text)` results at `timestamp_ms` and returns its new scans
    /// per format. Identical results within the frame count once.
    pub fn record_frame<'a>(
        &mut self,
        results: impl IntoIterator<Item = (&'a str, &'a str)>,
        timestamp_ms: u64,
    ) -> Vec<(&'a str, u64)> {
        let now = timestamp_ms.max(self.latest);
        self.latest = now;
        self.expire(now);
        let mut scans: Vec<(&'a str, u64)> = Vec::new();
        // Every sighting touched in this frame gets a sequence number above `start`, and none is
        // forgotten before the frame ends (eviction comes after it), so such a number marks a
        // result already seen in this frame.
        let start = self.sequence;
        for (format, text) in results {
            let key = key(format, text);
            let new_scan = match self.seen.get(&key) {
                Some(&(_, sequence)) if sequence > start => continue,
                Some(&(last, _)) => now - last >= self.forget_ms,
                None => true,
            };
            self.touch(key, now);
            if new_scan {
                match scans.iter_mut().find(|(seen, _)| *seen == format) {
                    Some((_, count)) => *count += 1,
                    None => scans.push((format, 1)),
                }
            }
        }
        self.evict();
        scans
    }

    /// Forgets sightings that no window can reach any more: those not seen for `MAX_FORGET_MS`,
    /// which count again under any window. One whose current window has closed is kept until
    /// then, because `set_forget_ms` may lengthen the window before it comes back, and it must
    /// then be judged by its last sighting like any other. (Dropped at once, it would count
    /// again or not depending on whether some other frame had come in between.)
    fn expire(&mut self, now: u64) {
        while let Some((&(last, sequence), _)) = self.by_age.first_key_value() {
            if now - last < MAX_FORGET_MS {
                break;
            }
            if let Some(key) = self.by_age.remove(&(last, sequence)) {
                self.seen.remove(&key);
            }
        }
    }

    fn touch(&mut self, key: u128, now: u64) {
        self.sequence += 1;
        if let Some(old) = self.seen.insert(key, (now, self.sequence)) {
            self.by_age.remove(&old);
        }
        self.by_age.insert((now, self.sequence), key);
    }

    fn evict(&mut self) {
        while self.seen.len() > MAX_TRACKED {
            match self.by_age.pop_first() {
                Some((_, key)) => self.seen.remove(&key),
                None => break,
            };
        }
    }
}
