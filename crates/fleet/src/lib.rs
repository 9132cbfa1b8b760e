//! The Licet fleet simulator: a load generator that plays many devices against a license
//! server, each authorizing once and then reporting its usage slot after slot in compressed
//! time (slots are simulated, never waited for), verifying every signed answer as the browser
//! module does, and a check that the server counted exactly what the devices recorded. Its
//! clocks hold only the HTTP exchanges: the devices' sealing and verifying, which run in their
//! browsers and not on the server's machine, are done before and after. It also
//! serves a bare baseline that answers 200 and does nothing else, so that the same run measures
//! what the HTTP stack alone costs on the same machine.
//!
//! It is a measuring tool, not a client library: it does not persist anything, and it talks to
//! the server only through the public protocol routes and the `licet-server usage` command.

pub mod bare;
mod client;
mod error;
pub mod play;
pub mod totals;

pub use client::{Target, TargetOptions};
pub use error::FleetError;
