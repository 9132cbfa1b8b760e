//! The log subscriber: `tracing` events to stderr, as text or JSON lines, filtered by the
//! `log` setting, else `RUST_LOG`, else the command's default level. What is logged is decided
//! where events are written (`http::observe`, `api::ApiError`), never here; this only formats.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::error::ServerError;
use crate::settings::LogFormat;

/// Installs the subscriber; `filter` overrides `RUST_LOG`, and `default` applies when neither
/// is given. A second call changes nothing (the first subscriber stays).
pub fn init(filter: Option<&str>, default: &str, format: LogFormat) -> Result<(), ServerError> {
    let filter = match filter {
        Some(directives) => EnvFilter::try_new(directives).map_err(|e| {
            ServerError::Invalid(format!(
                "--log {directives:?} is not a log filter ({e}): give a level like info or debug, or directives like info,licet_server=debug"
            ))
        })?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second subscriber is refused by tracing; the first keeps logging, which is what matters.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).with_span_list(false).try_init(),
    };
    Ok(())
}
