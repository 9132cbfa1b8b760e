//! `licet-server serve`: binds the address, prints one `licet-server listening on http://...`
//! line once bound (scripts wait for it), serves until Ctrl-C or SIGTERM, then lets open
//! requests finish and closes the store. It logs to stderr and never prints anything else.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use super::{with_config, DataArgs};
use crate::error::ServerError;
use super::alerts::AlertArgs;
use crate::{alerts, housekeeping, http};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8710")]
    listen: String,
    /// A directory to serve as static files at `/`.
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// How often to release device seats past their active time, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = housekeeping::DEFAULT_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    housekeeping_interval: u64,
    #[command(flatten)]
    alerts: AlertArgs,
}

/// A future that completes at the first Ctrl-C or SIGTERM. The handlers are registered now,
/// not at its first poll: a script may send SIGTERM as soon as it reads the listening line.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down: finishing open requests");
    })
}

/// A future that completes at the first Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing open requests");
    })
}

pub async fn run(args: ServeArgs) -> Result<(), ServerError> {
    if let Some(dir) = &args.www {
        if !dir.is_dir() {
            return Err(ServerError::Invalid(format!("--www {} is not a directory: give the directory to serve", dir.display())));
        }
    }
    let alert_settings = args.alerts.settings()?;
    with_config(&args.data, async |config| {
        let mut config = config.clone().with_failure_window(alert_settings.failure_window);
        if let Some(dir) = args.www.clone() {
            config = config.with_www(dir);
        }
        let listen_error = |source| ServerError::Listen { address: args.listen.clone(), source };
        let listener = TcpListener::bind(&args.listen).await.map_err(listen_error)?;
        let address: SocketAddr = listener.local_addr().map_err(listen_error)?;
        let shutdown = shutdown_signal().map_err(ServerError::Signals)?;
        let mut stdout = std::io::stdout();
        // A closed stdout must not stop the server: the line is for whoever is listening.
        let _ = writeln!(stdout, "licet-server listening on http://{address}").and_then(|()| stdout.flush());
        tracing::info!(%address, store = %args.data, "serving");
        let housekeeping = tokio::spawn(housekeeping::run(config.clone(), Duration::from_secs(args.housekeeping_interval)));
        let alerts = tokio::spawn(alerts::run(config.clone(), alert_settings.clone()));
        let served = http::serve(config, listener, shutdown).await;
        housekeeping.abort();
        alerts.abort();
        served
    })
    .await
}
