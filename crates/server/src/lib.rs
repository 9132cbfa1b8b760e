//! The Licet license server: the protocol routes that authorize devices and count their usage
//! exactly once (`api`, served by `http`), the store behind them (`storage`), the operator's
//! operations (`admin`) and the command line (`cli`). License content is created only by the
//! vendor key (`licet-server license issue`); this server verifies, carries and counts it.

pub mod admin;
pub mod admin_api;
pub mod alerts;
pub mod api;
pub mod cli;
mod cors;
mod error;
pub mod housekeeping;
pub mod http;
pub mod licensing;
pub mod limits;
mod logging;
pub mod metrics;
mod password;
mod random;
pub mod settings;
pub mod storage;
pub mod tls;
pub mod views;

pub use error::ServerError;
pub use http::{router, serve, system_clock, Clock, Config, Listeners};
