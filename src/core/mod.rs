//! Pure licensing logic of the browser module: no I/O, no clock reads, no browser. Every
//! function that needs the time is handed `now` (Unix ms), so all of it runs under plain
//! `cargo test` and, unchanged, in the browser under wasm-bindgen-test.

pub mod clock;
pub mod dedup;
pub mod error;
pub mod failover;
pub mod frame;
pub mod ledger;
pub mod schedule;
pub mod session;
pub mod status;

#[cfg(test)]
mod tests;

// Property tests: native only, as proptest is not built for the browser.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests;
