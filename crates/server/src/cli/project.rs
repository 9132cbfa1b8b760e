//! `licet-server project create | assign`: projects are handshake codes of an organization;
//! creating one prints the license key that applications pass to `initLicense`. Licenses
//! are assigned to projects, never edited through them.

use clap::{Args, Subcommand};

use super::{now, with_config, DataArgs, Outcome};
use crate::admin;
use crate::error::ServerError;

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its license key.
    Create(CreateArgs),
    /// Assign an imported license to a project.
    Assign {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_name = "CODE")]
        handshake_code: String,
        /// The license ID (see `licet-server license list`).
        #[arg(long, value_name = "ID")]
        license: String,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The organization the project belongs to; its first project is its default.
    #[arg(long, value_name = "ORG")]
    org: String,
    /// The handshake code (default: ORG- and 6 random hex digits).
    #[arg(long, value_name = "CODE")]
    handshake_code: Option<String>,
    #[command(flatten)]
    servers: ServerUrls,
    /// A password devices must send to be authorized (stored hashed).
    #[arg(long, value_name = "PW")]
    session_password: Option<String>,
}

/// The server URLs a printed license key names.
#[derive(Args)]
pub(super) struct ServerUrls {
    /// A URL devices reach this server at; repeat for standbys, main first.
    #[arg(long = "server-url", value_name = "URL", default_value = admin::DEFAULT_SERVER_URL)]
    server_urls: Vec<String>,
}

impl ServerUrls {
    /// The URLs, each checked by `admin::server_urls`.
    pub(super) fn checked(&self) -> Result<Vec<String>, ServerError> {
        admin::server_urls(&self.server_urls)
    }
}

async fn create(args: CreateArgs) -> Result<Outcome, ServerError> {
    let servers = args.servers.checked()?;
    let (project, key) = with_config(&args.data, async |config| {
        let storage = config.storage.as_ref();
        let project = admin::create_project(
            storage,
            &args.org,
            args.handshake_code.as_deref(),
            args.session_password.as_deref(),
            now(),
        )
        .await?;
        let key = admin::license_key(&project, servers, &config.keys.public());
        Ok((project, key))
    })
    .await?;
    let default = if project.is_default { " (the organization's default)" } else { "" };
    Ok(Outcome {
        text: format!(
            "created project {} for {}{default}\nlicense key: {key}",
            project.handshake_code, project.organization_id
        ),
        json: serde_json::json!({ "handshakeCode": project.handshake_code, "licenseKey": key }),
    })
}

pub async fn run(command: ProjectCommand) -> Result<Outcome, ServerError> {
    match command {
        ProjectCommand::Create(args) => create(args).await,
        ProjectCommand::Assign { data, handshake_code, license } => {
            with_config(&data, async |config| {
                admin::assign_license(config.storage.as_ref(), &config.vendor_public, &handshake_code, &license, now())
                    .await
            })
            .await?;
            Ok(Outcome {
                text: format!("assigned license {license} to {handshake_code}"),
                json: serde_json::json!({ "handshakeCode": handshake_code, "license": license }),
            })
        }
    }
}
