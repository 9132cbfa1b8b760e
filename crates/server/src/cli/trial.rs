//! `licet-server trial set | off | show`: the public trial that a device gets when its license
//! key names neither an organization nor a handshake code, once per device the server has never
//! seen. The trial is served by an ordinary project and its licenses; this only points at it.

use clap::Subcommand;

use super::project::ServerUrls;
use super::{with_config, DataArgs, Outcome};
use crate::admin;
use crate::error::ServerError;
use crate::views;

#[derive(Subcommand)]
pub enum TrialCommand {
    /// Serve trials from a project's licenses and print the trial license key.
    Set {
        #[command(flatten)]
        data: DataArgs,
        /// The project whose licenses serve trial devices.
        #[arg(long, value_name = "CODE")]
        handshake_code: String,
        /// How long each device's trial lasts, from its first request (1 to 365).
        #[arg(long, value_name = "N", default_value_t = admin::DEFAULT_TRIAL_DAYS, value_parser = clap::value_parser!(u32).range(i64::from(*admin::TRIAL_DAYS.start())..=i64::from(*admin::TRIAL_DAYS.end())))]
        days: u32,
        #[command(flatten)]
        servers: ServerUrls,
    },
    /// Offer no more trials; trials already running go on until they end.
    Off {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Show the trial setting.
    Show {
        #[command(flatten)]
        data: DataArgs,
    },
}

pub async fn run(command: TrialCommand) -> Result<Outcome, ServerError> {
    match command {
        TrialCommand::Set { data, handshake_code, days, servers } => {
            let servers = servers.checked()?;
            let (setting, key) = with_config(&data, async |config| {
                let setting = admin::set_trial(config.storage.as_ref(), &handshake_code, days).await?;
                Ok((setting, admin::server_key(servers, &config.keys.public())))
            })
            .await?;
            Ok(Outcome {
                text: format!(
                    "devices whose license key names no project get a {days}-day trial on {}\ntrial license key: {key}",
                    setting.handshake_code
                ),
                json: serde_json::json!({ "handshakeCode": setting.handshake_code, "days": days, "licenseKey": key }),
            })
        }
        TrialCommand::Off { data } => {
            let closed = with_config(&data, async |config| admin::close_trial(config.storage.as_ref()).await).await?;
            let text = if closed {
                "no new trials start; running ones go on to their end"
            } else {
                "no public trial was set up"
            };
            Ok(Outcome { text: text.into(), json: serde_json::json!({ "open": false }) })
        }
        TrialCommand::Show { data } => {
            let setting =
                with_config(&data, async |config| Ok::<_, ServerError>(config.storage.trial_setting().await?)).await?;
            Ok(match setting {
                Some(s) => Outcome {
                    text: format!(
                        "a {}-day trial on {}{}",
                        s.days,
                        s.handshake_code,
                        if s.open { "" } else { " (off: no new trials start)" }
                    ),
                    json: serde_json::json!({ "trial": views::trial(&s) }),
                },
                None => {
                    Outcome { text: "no public trial is offered".into(), json: serde_json::json!({ "trial": null }) }
                }
            })
        }
    }
}
