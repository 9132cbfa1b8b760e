//! Housekeeping: a task beside the server that, at a fixed interval, releases the device seats
//! whose active time has passed and forgets devices in contact in slots long closed, so that
//! `devices` shows who holds a seat and the tables stay small. It decides no license rule (a
//! lapsed seat already counts as free in every claim; releasing it only removes the record) and
//! never touches usage, reports or nonces.

use std::time::Duration;

use crate::http::Config;
use crate::storage::{StorageError, Swept};

/// How often `serve` sweeps unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// One sweep at the configuration's current time.
pub async fn sweep(config: &Config) -> Result<Swept, StorageError> {
    let swept = config.storage.sweep(config.now()).await?;
    if swept.seats > 0 {
        tracing::info!(seats = swept.seats, "housekeeping released device seats past their active time");
    }
    Ok(swept)
}

/// Sweeps at once and then every `interval`, for as long as the task runs (`serve` aborts it
/// when it stops). A failed sweep is logged and tried again at the next tick.
pub async fn run(config: Config, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    // A sweep that overran its interval is not made up for with a burst of them.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = sweep(&config).await {
            tracing::warn!(%error, "housekeeping failed: it is tried again at the next interval");
        }
    }
}
