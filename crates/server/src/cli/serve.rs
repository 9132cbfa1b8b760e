//! `licet-server serve`: gathers its settings (flags, `LICET_...` variables, the `--config`
//! TOML file, defaults: `settings`), starts the log, binds the address, prints one
//! `licet-server listening on http[s]://...` line once bound (scripts wait for it), serves until
//! Ctrl-C or SIGTERM, then lets open requests finish and closes the store. It logs to stderr and
//! never prints anything else.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tokio::net::TcpListener;

use super::{with_config, DataArgs};
use crate::error::ServerError;
use crate::http::{self, Listeners};
use crate::settings::Settings;
use crate::{alerts, housekeeping, logging, tls};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// A TOML file of settings (keys as the flags, with `_` for `-`); flags and LICET_ variables override it.
    #[arg(long, value_name = "FILE", env = "LICET_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
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

async fn bind(address: &str) -> Result<(TcpListener, SocketAddr), ServerError> {
    let listen_error = |source| ServerError::Listen { address: address.to_owned(), source };
    let listener = TcpListener::bind(address).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    Ok((listener, bound))
}

pub async fn run(args: ServeArgs) -> Result<(), ServerError> {
    let file = match &args.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    let settings = args.settings.over(file);
    let store = args.data.or(settings.data.clone(), settings.database.clone());
    let settings = settings.resolve()?;
    logging::init(settings.log.as_deref(), "info", settings.log_format)?;
    // The certificate is read before the store is opened: a bad file fails fast.
    let tls = settings.tls.as_ref().map(|(cert, key)| tls::load(cert, key)).transpose()?;
    with_config(&store, async |config| {
        let mut config = config.clone().with_failure_window(settings.alerts.failure_window).with_rate_limit(settings.rate_limit).with_trust_forwarded_for(settings.trust_forwarded_for);
        if let Some(dir) = settings.www.clone() {
            config = config.with_www(dir);
        }
        let (public, address) = bind(&settings.listen).await?;
        let metrics = match &settings.metrics_listen {
            Some(metrics_address) => Some(bind(metrics_address).await?),
            None => None,
        };
        let shutdown = shutdown_signal().map_err(ServerError::Signals)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut stdout = std::io::stdout();
        // A closed stdout must not stop the server: the line is for whoever is listening.
        let _ = writeln!(stdout, "licet-server listening on {scheme}://{address}").and_then(|()| stdout.flush());
        let metrics_address = metrics.as_ref().map(|(_, bound)| tracing::field::display(bound));
        tracing::info!(%address, store = %store, scheme, metrics = metrics_address, rate_limit = settings.rate_limit.per_second, burst = settings.rate_limit.burst, "serving");
        let listeners = Listeners { public, tls: tls.clone(), metrics: metrics.map(|(listener, _)| listener) };
        let housekeeping = tokio::spawn(housekeeping::run(config.clone(), settings.housekeeping_interval));
        let alerts = tokio::spawn(alerts::run(config.clone(), settings.alerts.clone()));
        let served = http::serve(config, listeners, shutdown).await;
        housekeeping.abort();
        alerts.abort();
        served
    })
    .await
}
