//! `licet-server alerts`: the alerts stored so far, with where each delivery stands. It fires
//! nothing itself: the checks run beside `serve` (their settings are `serve`'s).

use serde_json::json;

use super::{rfc3339, with_config, DataArgs, Outcome};
use crate::alerts::webhook_label;
use crate::error::ServerError;
use crate::views;

pub async fn list(args: &DataArgs) -> Result<Outcome, ServerError> {
    let alerts = with_config(args, async |config| Ok(config.storage.alerts().await?)).await?;
    let mut lines = Vec::new();
    for alert in &alerts {
        lines.push(format!("{}  {}  {}", rfc3339(alert.fired_at), alert.kind, alert.message));
        for d in &alert.deliveries {
            let state = match (d.delivered_at, d.gave_up) {
                (Some(at), _) => format!("delivered {}", rfc3339(at)),
                (None, true) => "given up".to_owned(),
                (None, false) => format!("next attempt {}", rfc3339(d.next_attempt_at)),
            };
            lines.push(format!("    {}  {state}  after {} attempts", webhook_label(&d.url), d.attempts));
        }
    }
    Ok(Outcome {
        text: if lines.is_empty() { "no alert so far".to_owned() } else { lines.join("\n") },
        json: json!({ "alerts": alerts.iter().map(views::alert).collect::<Vec<_>>() }),
    })
}
