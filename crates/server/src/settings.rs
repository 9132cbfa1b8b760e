//! The settings of `licet-server serve`, each one given by a flag, an environment variable
//! (`LICET_...`) or a key of a TOML file (`--config FILE`), in that order of precedence, then
//! the default. One struct lists them all, so a flag and its key cannot drift apart; the file
//! refuses a key it does not know, naming it. docs/configuration.md documents every one. It
//! checks values, but opens no file but the TOML one and binds nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::alerts::AlertSettings;
use crate::error::ServerError;
use crate::housekeeping;
use crate::limits::{RateLimit, DEFAULT_BURST, DEFAULT_PER_SECOND};

/// The default address of `serve` (`admin::DEFAULT_SERVER_URL`, the default `--server-url` of
/// `project create`, names the same place).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8710";

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every `serve` setting, each absent unless given. Flags and environment variables fill one
/// (clap), the TOML file another (serde); `over` layers them.
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The data directory (TOML only: the flag and variable are every store command's).
    #[arg(skip)]
    pub data: Option<PathBuf>,
    /// The PostgreSQL database URL (TOML only, like `data`).
    #[arg(skip)]
    pub database: Option<String>,
    /// The address to listen on; port 0 picks a free port [default: 127.0.0.1:8710].
    #[arg(long, value_name = "ADDR", env = "LICET_LISTEN")]
    pub listen: Option<String>,
    /// A directory to serve as static files at `/`.
    #[arg(long, value_name = "DIR", env = "LICET_WWW")]
    pub www: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs --tls-key.
    #[arg(long, value_name = "FILE", env = "LICET_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", env = "LICET_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Requests per second one client address may send to /v1/*, sustained; 0 turns the limit off [default: 20].
    #[arg(long, value_name = "N", env = "LICET_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Requests one client address may send at once before the rate applies [default: 100].
    #[arg(long, value_name = "N", env = "LICET_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// The server is behind a proxy: take the client address from the last X-Forwarded-For entry [default: false].
    #[arg(
        long,
        value_name = "BOOL",
        env = "LICET_TRUST_FORWARDED_FOR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub trust_forwarded_for: Option<bool>,
    /// Serve /metrics on this separate address (plain HTTP) instead of on the public listener.
    #[arg(long, value_name = "ADDR", env = "LICET_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Which log lines to write, as RUST_LOG takes them (`debug`, `info,licet_server=debug`) [default: RUST_LOG, else info].
    #[arg(long, value_name = "FILTER", env = "LICET_LOG")]
    pub log: Option<String>,
    /// Log lines as text or as JSON objects [default: text].
    #[arg(long, value_name = "FORMAT", env = "LICET_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// How often to release device seats past their active time, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS", env = "LICET_HOUSEKEEPING_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub housekeeping_interval: Option<u64>,
    /// Percentages of a quota at which a usage alert fires, comma-separated [default: 60,80,100].
    #[arg(long, value_name = "LIST", env = "LICET_ALERT_THRESHOLDS", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub alert_thresholds: Option<Vec<u32>>,
    /// Days before a license expires at which a reminder fires, comma-separated [default: 30,7,1].
    #[arg(long, value_name = "LIST", env = "LICET_EXPIRY_REMINDER_DAYS", value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub expiry_reminder_days: Option<Vec<u32>>,
    /// The percentage of a project's authorizations in one window that, failed, raises an alarm [default: 50].
    #[arg(long, value_name = "PERCENT", env = "LICET_AUTH_FAILURE_PERCENT", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub auth_failure_percent: Option<u32>,
    /// Windows with fewer authorizations than this raise no alarm [default: 20].
    #[arg(long, value_name = "N", env = "LICET_AUTH_FAILURE_MIN_ATTEMPTS")]
    pub auth_failure_min_attempts: Option<u64>,
    /// The length of a window of authorization outcomes, in minutes [default: 15].
    #[arg(long, value_name = "MINUTES", env = "LICET_AUTH_FAILURE_WINDOW", value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub auth_failure_window: Option<u64>,
    /// A URL each alert is posted to as JSON; repeat for more (comma-separated in LICET_WEBHOOK).
    #[arg(long, value_name = "URL", env = "LICET_WEBHOOK", value_delimiter = ',')]
    pub webhook: Option<Vec<String>>,
    /// The key of the HMAC-SHA256 signature in each webhook's Licet-Signature header; needed with --webhook.
    #[arg(long, value_name = "SECRET", env = "LICET_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// How often the alert checks run, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS", env = "LICET_ALERT_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub alert_interval: Option<u64>,
}

/// The settings of a running server, every default applied and every value checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub listen: String,
    pub www: Option<PathBuf>,
    /// The certificate chain and key files, both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub rate_limit: RateLimit,
    pub trust_forwarded_for: bool,
    pub metrics_listen: Option<String>,
    /// `None`: `RUST_LOG`, else `info`.
    pub log: Option<String>,
    pub log_format: LogFormat,
    pub housekeeping_interval: Duration,
    pub alerts: AlertSettings,
}

impl Settings {
    /// Reads a TOML file of settings. Relative paths in it are relative to the file's folder,
    /// so the file means the same wherever the server is started from.
    pub fn from_file(path: &Path) -> Result<Settings, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let mut settings: Settings = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|span| format!(" line {}:", 1 + text[..span.start].matches('\n').count())).unwrap_or_default();
            // toml's own text spans several lines with a caret; one line is what the CLI prints.
            let message = e.message().trim().replace('\n', " ");
            ServerError::Invalid(format!(
                "config file {}:{line} {message}: fix the value or remove the key (docs/configuration.md lists every key)",
                path.display()
            ))
        })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        for file in
            [&mut settings.data, &mut settings.www, &mut settings.tls_cert, &mut settings.tls_key].into_iter().flatten()
        {
            *file = folder.join(&*file);
        }
        Ok(settings)
    }

    /// These settings, with those they leave absent taken from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            data: self.data.or(lower.data),
            database: self.database.or(lower.database),
            listen: self.listen.or(lower.listen),
            www: self.www.or(lower.www),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            rate_limit: self.rate_limit.or(lower.rate_limit),
            rate_limit_burst: self.rate_limit_burst.or(lower.rate_limit_burst),
            trust_forwarded_for: self.trust_forwarded_for.or(lower.trust_forwarded_for),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            housekeeping_interval: self.housekeeping_interval.or(lower.housekeeping_interval),
            alert_thresholds: self.alert_thresholds.or(lower.alert_thresholds),
            expiry_reminder_days: self.expiry_reminder_days.or(lower.expiry_reminder_days),
            auth_failure_percent: self.auth_failure_percent.or(lower.auth_failure_percent),
            auth_failure_min_attempts: self.auth_failure_min_attempts.or(lower.auth_failure_min_attempts),
            auth_failure_window: self.auth_failure_window.or(lower.auth_failure_window),
            webhook: self.webhook.or(lower.webhook),
            webhook_secret: self.webhook_secret.or(lower.webhook_secret),
            alert_interval: self.alert_interval.or(lower.alert_interval),
        }
    }

    /// Applies the defaults and checks what the settings say together.
    pub fn resolve(self) -> Result<Resolved, ServerError> {
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ServerError::Invalid(
                    "--tls-cert and --tls-key go together: give both for https, or neither for plain http".to_owned(),
                ))
            }
        };
        if let Some(dir) = &self.www {
            if !dir.is_dir() {
                return Err(ServerError::Invalid(format!(
                    "--www {} is not a directory: give the directory to serve",
                    dir.display()
                )));
            }
        }
        let webhooks = self.webhook.unwrap_or_default();
        if !webhooks.is_empty() && self.webhook_secret.as_deref().is_none_or(str::is_empty) {
            return Err(ServerError::Invalid(
                "--webhook needs --webhook-secret (or LICET_WEBHOOK_SECRET): receivers check each alert's signature with it".into(),
            ));
        }
        for url in &webhooks {
            if reqwest::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return Err(ServerError::Invalid(format!("--webhook {url} is not an http:// or https:// URL")));
            }
        }
        let defaults = AlertSettings::default();
        let alerts = AlertSettings {
            thresholds: self.alert_thresholds.unwrap_or(defaults.thresholds),
            expiry_days: self.expiry_reminder_days.unwrap_or(defaults.expiry_days),
            failure_percent: self.auth_failure_percent.unwrap_or(defaults.failure_percent),
            failure_min_attempts: self.auth_failure_min_attempts.unwrap_or(defaults.failure_min_attempts),
            failure_window: self
                .auth_failure_window
                .map_or(defaults.failure_window, |minutes| Duration::from_secs(minutes * 60)),
            webhooks,
            webhook_secret: self.webhook_secret,
            interval: self.alert_interval.map_or(defaults.interval, Duration::from_secs),
            ..defaults
        };
        Ok(Resolved {
            housekeeping_interval: self
                .housekeeping_interval
                .map_or(housekeeping::DEFAULT_INTERVAL, Duration::from_secs),
            alerts,
            listen: self.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            www: self.www,
            tls,
            rate_limit: RateLimit {
                per_second: self.rate_limit.unwrap_or(DEFAULT_PER_SECOND),
                burst: self.rate_limit_burst.unwrap_or(DEFAULT_BURST),
            },
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
            metrics_listen: self.metrics_listen,
            log: self.log,
            log_format: self.log_format.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_address_of_serve_is_the_one_project_keys_name_by_default() {
        assert_eq!(crate::admin::DEFAULT_SERVER_URL, format!("http://{DEFAULT_LISTEN}"));
    }

    #[test]
    fn a_setting_given_higher_up_wins_and_absent_ones_fall_through() {
        let file: Settings = toml::from_str("listen = \"127.0.0.1:1\"\nrate_limit = 5\nlog_format = \"json\"").unwrap();
        let flags = Settings { rate_limit: Some(0), ..Settings::default() };

        let resolved = flags.over(file).resolve().unwrap();

        assert_eq!(resolved.listen, "127.0.0.1:1");
        assert_eq!(resolved.rate_limit, RateLimit { per_second: 0, burst: DEFAULT_BURST });
        assert_eq!(resolved.log_format, LogFormat::Json);
        assert!(!resolved.trust_forwarded_for);
        assert_eq!(Settings::default().resolve().unwrap().listen, DEFAULT_LISTEN);
    }

    #[test]
    fn a_certificate_without_its_key_is_refused() {
        let half = Settings { tls_cert: Some("cert.pem".into()), ..Settings::default() };
        assert!(half.resolve().unwrap_err().to_string().contains("--tls-cert and --tls-key go together"));
    }
}
