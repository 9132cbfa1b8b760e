//! Adapters of the ports: the browser ones (IndexedDB through `idb`, `fetch`, `Date.now`,
//! gloo-timers, the page's location) compiled for wasm32, and their in-memory twins that the
//! native tests drive the engine with.

#[cfg(test)]
pub mod memory;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod idb_store;
#[cfg(target_arch = "wasm32")]
pub mod lifecycle;
#[cfg(target_arch = "wasm32")]
pub mod lock;
#[cfg(target_arch = "wasm32")]
pub mod timer;
