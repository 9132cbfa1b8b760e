//! Usage alerts: a task beside the server that, at an interval, checks each license's quotas
//! (and a per-device license's seats) against thresholds (60%, 80%, 100% by default), each license's expiry against reminder days
//! (30, 7 and 1 by default), and each project's ratio of failed authorizations; stores each
//! alert once (its key names what crossed what), logs it, and delivers it to the configured
//! webhooks as JSON signed with HMAC-SHA256, retried with exponential backoff. It runs apart from
//! the request handlers, which only count authorization outcomes in memory: no request waits for
//! an alert or a webhook. It changes no license rule and never sends usage detail beyond the
//! alert's one line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use licet_protocol::license::DAY_MS;
use sha2::Sha256;

use crate::admin;
use crate::http::Config;
use crate::storage::{Alert, Attempt, NewAlert, StorageError};

/// The header that carries `sha256=` and the hex HMAC-SHA256 of the body under the shared secret.
pub const SIGNATURE_HEADER: &str = "licet-signature";

/// When alerts fire and where they go.
#[derive(Clone)]
pub struct AlertSettings {
    /// Percentages of a quota at which a usage alert fires, once each.
    pub thresholds: Vec<u32>,
    /// Days before expiry at which a reminder fires: the nearest one that has come, once each.
    pub expiry_days: Vec<u32>,
    /// The share of failed authorizations of a project in one window, in percent, at which an
    /// alarm fires (once per window).
    pub failure_percent: u32,
    /// Fewer authorizations than this in a window never make an alarm.
    pub failure_min_attempts: u64,
    /// The length of a window of authorization outcomes.
    pub failure_window: Duration,
    /// URLs each alert is posted to.
    pub webhooks: Vec<String>,
    /// The HMAC key of the signature header; required when there are webhooks.
    pub webhook_secret: Option<String>,
    /// How often the checks run.
    pub interval: Duration,
    /// How often due deliveries are looked for.
    pub delivery_poll: Duration,
    /// How long one delivery attempt may take.
    pub delivery_timeout: Duration,
    /// The wait after the first failed attempt; it doubles at each further one, up to an hour.
    pub retry_base: Duration,
    /// Attempts after which a delivery is given up (and said so in `alerts`).
    pub max_attempts: u64,
}

/// Shows the webhooks by `webhook_label` and never the secret: settings may be logged.
impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("thresholds", &self.thresholds)
            .field("expiry_days", &self.expiry_days)
            .field("failure_percent", &self.failure_percent)
            .field("failure_min_attempts", &self.failure_min_attempts)
            .field("failure_window", &self.failure_window)
            .field("webhooks", &self.webhooks.iter().map(|url| webhook_label(url)).collect::<Vec<_>>())
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "***"))
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A webhook URL as logs and listings show it: its scheme and host only, since the path or
/// query of many webhook URLs (chat services') is itself the secret that lets one post.
pub fn webhook_label(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}/…", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}/…", parsed.scheme()),
            (None, _) => "(a webhook without a host)".to_owned(),
        },
        Err(_) => "(an unreadable webhook URL)".to_owned(),
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            thresholds: vec![60, 80, 100],
            expiry_days: vec![30, 7, 1],
            failure_percent: 50,
            failure_min_attempts: 20,
            failure_window: Duration::from_secs(15 * 60),
            webhooks: Vec::new(),
            webhook_secret: None,
            interval: Duration::from_secs(60),
            delivery_poll: Duration::from_secs(2),
            delivery_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            max_attempts: 10,
        }
    }
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The outcomes of authorizations per project in the current window, counted by the handler
/// (a map under one lock, touched once per request) and read by the checks.
#[derive(Debug)]
pub struct AuthStats {
    window_ms: u64,
    counts: Mutex<HashMap<String, ProjectCounts>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct WindowCounts {
    window: u64,
    succeeded: u64,
    failed: u64,
}

/// A project's counts in its latest window and the one before: a crossing late in a window is
/// still seen by the check after the window closed.
#[derive(Debug, Clone, Copy, Default)]
struct ProjectCounts {
    latest: WindowCounts,
    previous: Option<WindowCounts>,
}

impl AuthStats {
    pub fn new(window: Duration) -> Self {
        AuthStats { window_ms: ms(window).max(1), counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one authorization of `handshake_code` at `now`.
    pub fn record(&self, handshake_code: &str, now: u64, succeeded: bool) {
        let window = now / self.window_ms;
        // A poisoned lock only means another request panicked mid-count: the counts are still
        // numbers, so keep counting.
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // The key is copied only for a project not counted yet: this runs on every authorization.
        if !counts.contains_key(handshake_code) {
            counts.insert(handshake_code.to_owned(), ProjectCounts::default());
        }
        let Some(entry) = counts.get_mut(handshake_code) else { return };
        if entry.latest.window != window {
            entry.previous = Some(entry.latest).filter(|latest| latest.window + 1 == window);
            entry.latest = WindowCounts { window, ..WindowCounts::default() };
        }
        if succeeded {
            entry.latest.succeeded += 1;
        } else {
            entry.latest.failed += 1;
        }
    }

    /// The projects' counts in the window of `now` and the one before it: (code, window,
    /// succeeded, failed).
    fn recent(&self, now: u64) -> Vec<(String, u64, u64, u64)> {
        let window = now / self.window_ms;
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .flat_map(|(code, c)| [Some(c.latest), c.previous].into_iter().flatten().map(move |w| (code, w)))
            .filter(|(_, w)| w.window == window || w.window + 1 == window)
            .map(|(code, w)| (code.clone(), w.window, w.succeeded, w.failed))
            .collect()
    }
}

impl Default for AuthStats {
    fn default() -> Self {
        AuthStats::new(AlertSettings::default().failure_window)
    }
}

/// The alerts that are due at `now`, before the store decides which of them are new.
async fn due(config: &Config, settings: &AlertSettings, now: u64) -> Result<Vec<NewAlert>, StorageError> {
    let mut due = Vec::new();
    let mut files = Vec::new();
    for record in config.storage.licenses().await? {
        // A stored license that no longer verifies is refused at every request already; it
        // raises no alert either.
        match config.verify_license(&record) {
            Ok((_, file)) => files.push(file),
            Err(error) => {
                tracing::warn!(license = %record.id, %error, "a stored license does not verify: no alert for it")
            }
        }
    }
    let with_quota: Vec<String> = files.iter().filter(|f| f.license_type.has_quota()).map(|f| f.id.clone()).collect();
    let usage = config.storage.license_usage(&with_quota).await?;
    let used = admin::license_use(config.storage.as_ref(), &files, &usage, now).await?;
    for (file, used) in files.iter().zip(used) {
        for quota in used.quotas {
            for &threshold in &settings.thresholds {
                if quota.used.saturating_mul(100) >= quota.quota.saturating_mul(u64::from(threshold)) {
                    due.push(NewAlert {
                        key: format!("usage:{}:{}:{threshold}", file.id, quota.item),
                        kind: "usage",
                        subject: file.id.clone(),
                        message: format!(
                            "license {} has used {threshold}% of its {} quota: {} of {}",
                            file.id, quota.item, quota.used, quota.quota
                        ),
                        fired_at: now,
                    });
                }
            }
        }
        // No seat held, no seat alert.
        if let (Some(limit), Some(held)) = (file.devices, used.seats_held.filter(|&held| held > 0)) {
            for &threshold in &settings.thresholds {
                if held.saturating_mul(100) >= u64::from(limit).saturating_mul(u64::from(threshold)) {
                    due.push(NewAlert {
                        key: format!("seats:{}:{threshold}", file.id),
                        kind: "usage",
                        subject: file.id.clone(),
                        message: format!(
                            "license {} has {threshold}% of its device seats taken: {held} of {limit}",
                            file.id
                        ),
                        fired_at: now,
                    });
                }
            }
        }
        // Only the nearest reminder that has come: a license imported 5 days before expiry
        // gets the 7-day reminder, not the 30-day one as well.
        let left = file.expires_at.saturating_sub(now);
        let nearest = settings
            .expiry_days
            .iter()
            .filter(|&&days| now < file.expires_at && left <= u64::from(days) * DAY_MS)
            .min();
        if let Some(days) = nearest {
            due.push(NewAlert {
                key: format!("expiry:{}:{days}", file.id),
                kind: "expiry",
                subject: file.id.clone(),
                message: format!("license {} expires within {days} days, at {} (Unix ms)", file.id, file.expires_at),
                fired_at: now,
            });
        }
    }
    for (code, window, succeeded, failed) in config.auth_stats.recent(now) {
        let attempts = succeeded + failed;
        if attempts >= settings.failure_min_attempts && failed * 100 >= attempts * u64::from(settings.failure_percent) {
            due.push(NewAlert {
                key: format!("authorization-failures:{code}:{window}"),
                kind: "authorization-failures",
                subject: code.clone(),
                message: format!("project {code}: {failed} of {attempts} authorizations failed in one window"),
                fired_at: now,
            });
        }
    }
    Ok(due)
}

/// Runs the checks once at `now`: stores and logs every alert that is new, with a delivery due
/// to each webhook, and returns them.
pub async fn check(config: &Config, settings: &AlertSettings, now: u64) -> Result<Vec<Alert>, StorageError> {
    let mut fired = Vec::new();
    for alert in due(config, settings, now).await? {
        if let Some(stored) = config.storage.fire_alert(&alert, &settings.webhooks).await? {
            config.metrics.alert_fired(alert.kind);
            tracing::warn!(kind = %stored.kind, subject = %stored.subject, "alert: {}", stored.message);
            fired.push(stored);
        }
    }
    Ok(fired)
}

/// The JSON body a webhook receives for `alert`.
pub fn webhook_body(alert: &Alert) -> Vec<u8> {
    serde_json::json!({
        "id": alert.id,
        "kind": alert.kind,
        "subject": alert.subject,
        "message": alert.message,
        "firedAt": alert.fired_at,
    })
    .to_string()
    .into_bytes()
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Attempts the deliveries due at `now`, each in a task of its own, and records how each ended.
pub async fn deliver_due(
    config: &Config,
    settings: &AlertSettings,
    client: &reqwest::Client,
    now: u64,
) -> Result<usize, StorageError> {
    // Held for one attempt's time and a margin: a server that dies mid-attempt lets another
    // take the delivery after that.
    let held_until = now.saturating_add(2 * ms(settings.delivery_timeout));
    let taken = config.storage.take_due_deliveries(now, held_until, 16).await?;
    let count = taken.len();
    let mut attempts = tokio::task::JoinSet::new();
    for alert in taken {
        let Some(delivery) = alert.deliveries.first().cloned() else { continue };
        let body = webhook_body(&alert);
        let mut request = client.post(&delivery.url).header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &settings.webhook_secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        let request = request.timeout(settings.delivery_timeout).body(body);
        attempts.spawn(async move {
            let outcome = match request.send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("the webhook answered {}", response.status())),
                // reqwest names the URL in its errors: it may hold the webhook's secret.
                Err(error) => Err(format!("the webhook could not be reached: {}", error.without_url())),
            };
            (alert.id, delivery, outcome)
        });
    }
    while let Some(joined) = attempts.join_next().await {
        let Ok((alert_id, delivery, outcome)) = joined else { continue };
        let now = config.now();
        let attempt = match outcome {
            Ok(()) => Attempt::Delivered { at: now },
            Err(error) => {
                let made = delivery.attempts + 1;
                let retry_at = (made < settings.max_attempts).then(|| {
                    let wait = ms(settings.retry_base).saturating_mul(1 << (made - 1).min(20)).min(3_600_000);
                    now.saturating_add(wait)
                });
                tracing::warn!(alert = alert_id, webhook = %webhook_label(&delivery.url), attempts = made, %error, retrying = retry_at.is_some(), "webhook delivery failed");
                Attempt::Failed { error, retry_at }
            }
        };
        config.storage.finish_delivery(alert_id, &delivery.url, &attempt).await?;
    }
    Ok(count)
}

/// Checks every `settings.interval` and delivers every `settings.delivery_poll`, for as long as
/// the task runs (`serve` aborts it when it stops). Failures are logged and tried again.
pub async fn run(config: Config, settings: AlertSettings) {
    // A redirect would turn the POST into a GET whose 2xx looks like a delivery: none followed.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
    let mut checks = tokio::time::interval(settings.interval);
    let mut deliveries = tokio::time::interval(settings.delivery_poll);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    deliveries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = checks.tick() => {
                if let Err(error) = check(&config, &settings, config.now()).await {
                    tracing::warn!(%error, "the alert checks failed: they run again at the next interval");
                }
            }
            _ = deliveries.tick() => {
                if let Err(error) = deliver_due(&config, &settings, &client, config.now()).await {
                    tracing::warn!(%error, "webhook deliveries failed: they are tried again");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_is_shown_by_its_scheme_and_host_only() {
        assert_eq!(webhook_label("https://hooks.slack.com/services/T0/B0/s3cret"), "https://hooks.slack.com/…");
        assert_eq!(webhook_label("http://127.0.0.1:9000/hook?token=s3cret"), "http://127.0.0.1:9000/…");
        assert_eq!(webhook_label("not a url s3cret"), "(an unreadable webhook URL)");
        let settings = AlertSettings {
            webhooks: vec!["https://example.com/s3cret".into()],
            webhook_secret: Some("hunter2".into()),
            ..AlertSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
