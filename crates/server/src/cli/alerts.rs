//! `licet-server alerts`: the alerts stored so far, with where each delivery stands. It fires
//! nothing itself: the checks run beside `serve` (their settings are `serve`'s).

use serde_json::{json, Value};

use super::{rfc3339, with_config, DataArgs, Outcome};
use crate::alerts::webhook_label;
use crate::error::ServerError;

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
                let webhook = webhook_label(&d.url);
                lines.push(format!("    {webhook}  {state}  after {} attempts", d.attempts));
                json!({
                    "webhook": webhook, "attempts": d.attempts, "deliveredAt": d.delivered_at, "nextAttemptAt": d.next_attempt_at,
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
