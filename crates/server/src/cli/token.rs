//! `licet-server admin token create | list | revoke`: the bearer tokens of the admin API. `create`
//! prints the new token once; the store keeps only its SHA-256, so a lost token is revoked and
//! replaced, never shown again. `list` shows names and ages, never a token or its hash.

use clap::Subcommand;

use super::{now, rfc3339, with_config, DataArgs, Outcome};
use crate::admin;
use crate::error::ServerError;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// The bearer tokens that open the admin API (`/admin/v1/`) and the dashboard.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, this once (only its hash is stored).
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// A name to list and revoke it by (default: admin- and 6 random hex digits).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// List the tokens by name and creation time.
    List(DataArgs),
    /// Revoke a token: it opens nothing from then on.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        #[arg(value_name = "NAME")]
        name: String,
    },
}

pub async fn run(command: AdminCommand) -> Result<Outcome, ServerError> {
    let AdminCommand::Token(command) = command;
    match command {
        TokenCommand::Create { data, name } => {
            let (stored, token) = with_config(&data, async |config| {
                admin::create_admin_token(config.storage.as_ref(), name.as_deref(), now()).await
            })
            .await?;
            Ok(Outcome {
                text: format!("created admin token {} (shown this once: keep it secret)\n{token}", stored.name),
                json: serde_json::json!({ "name": stored.name, "createdAt": stored.created_at, "token": token }),
            })
        }
        TokenCommand::List(data) => {
            let tokens = with_config(&data, async |config| Ok(config.storage.admin_tokens().await?)).await?;
            let lines: Vec<String> =
                tokens.iter().map(|t| format!("{}  created {}", t.name, rfc3339(t.created_at))).collect();
            let json: Vec<_> =
                tokens.iter().map(|t| serde_json::json!({ "name": t.name, "createdAt": t.created_at })).collect();
            Ok(Outcome {
                text: if lines.is_empty() { "no admin token yet".to_owned() } else { lines.join("\n") },
                json: serde_json::json!({ "tokens": json }),
            })
        }
        TokenCommand::Revoke { data, name } => {
            with_config(&data, async |config| Ok(config.storage.revoke_admin_token(&name).await?)).await?;
            Ok(Outcome { text: format!("revoked admin token {name}"), json: serde_json::json!({ "revoked": name }) })
        }
    }
}
