//! `licet-server alerts` (the alerts stored so far, with where each delivery stands) and the
//! alert options of `serve`. It fires nothing itself: the checks run beside `serve`.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use super::{rfc3339, with_config, DataArgs, Outcome};
use crate::alerts::AlertSettings;
use crate::error::ServerError;

/// When `serve` raises alerts and where it sends them.
#[derive(Args)]
pub struct AlertArgs {
    /// Percentages of a quota at which a usage alert fires, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "60,80,100", value_parser = clap::value_parser!(u32).range(1..=1000))]
    alert_thresholds: Vec<u32>,
    /// Days before a license expires at which a reminder fires, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "30,7,1", value_parser = clap::value_parser!(u32).range(1..=3650))]
    expiry_reminder_days: Vec<u32>,
    /// The percentage of failed authorizations of a project, in one window, that raises an alarm.
    #[arg(long, value_name = "PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    auth_failure_percent: u32,
    /// Windows with fewer authorizations than this raise no alarm.
    #[arg(long, value_name = "N", default_value_t = 20)]
    auth_failure_min_attempts: u64,
    /// The length of a window of authorization outcomes, in minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
    auth_failure_window: u64,
    /// A URL each alert is posted to as JSON; repeat for more.
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
    /// The key of the HMAC-SHA256 signature in each webhook's `Licet-Signature` header.
    #[arg(long, value_name = "SECRET", env = "LICET_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// How often the alert checks run, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    alert_interval: u64,
}

impl AlertArgs {
    pub fn settings(&self) -> Result<AlertSettings, ServerError> {
        if !self.webhooks.is_empty() && self.webhook_secret.as_deref().is_none_or(str::is_empty) {
            return Err(ServerError::Invalid(
                "--webhook needs --webhook-secret (or LICET_WEBHOOK_SECRET): receivers check each alert's signature with it".into(),
            ));
        }
        for url in &self.webhooks {
            if reqwest::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                return Err(ServerError::Invalid(format!("--webhook {url} is not an http:// or https:// URL")));
            }
        }
        Ok(AlertSettings {
            thresholds: self.alert_thresholds.clone(),
            expiry_days: self.expiry_reminder_days.clone(),
            failure_percent: self.auth_failure_percent,
            failure_min_attempts: self.auth_failure_min_attempts,
            failure_window: Duration::from_secs(self.auth_failure_window * 60),
            webhooks: self.webhooks.clone(),
            webhook_secret: self.webhook_secret.clone(),
            interval: Duration::from_secs(self.alert_interval),
            ..AlertSettings::default()
        })
    }
}

pub async fn list(args: &DataArgs) -> Result<Outcome, ServerError> {
    let alerts = with_config(args, async |config| Ok(config.storage.alerts().await?)).await?;
    let mut lines = Vec::new();
    let mut views = Vec::new();
    for alert in &alerts {
        lines.push(format!("{}  {}  {}", rfc3339(alert.fired_at), alert.kind, alert.message));
        let deliveries: Vec<Value> = alert
            .deliveries
            .iter()
            .map(|d| {
                let state = match (d.delivered_at, d.gave_up) {
                    (Some(at), _) => format!("delivered {}", rfc3339(at)),
                    (None, true) => "given up".to_owned(),
                    (None, false) => format!("next attempt {}", rfc3339(d.next_attempt_at)),
                };
                lines.push(format!("    {}  {state}  after {} attempts", d.url, d.attempts));
                json!({
                    "url": d.url, "attempts": d.attempts, "deliveredAt": d.delivered_at, "nextAttemptAt": d.next_attempt_at,
                    "gaveUp": d.gave_up, "lastError": d.last_error,
                })
            })
            .collect();
        views.push(json!({
            "id": alert.id, "kind": alert.kind, "subject": alert.subject, "message": alert.message,
            "firedAt": alert.fired_at, "deliveries": deliveries,
        }));
    }
    Ok(Outcome {
        text: if lines.is_empty() { "no alert so far".to_owned() } else { lines.join("\n") },
        json: json!({ "alerts": views }),
    })
}
