//! The `licet-server` command line: parses the arguments (clap), runs one command, prints its
//! result as text or, with `--json`, as one JSON line on stdout, and any error as one line on
//! stderr with exit code 1. Usage errors are clap's (exit code 2). It holds no licensing logic
//! of its own: commands call `admin`, `storage` and `http`.

mod alerts;
mod backup;
mod inspect;
mod license;
mod project;
mod serve;
mod token;
mod trial;
mod vendor;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::http::{system_clock, Config};
use crate::storage::{PostgresStorage, SqliteStorage, Storage};
use crate::views::rfc3339;

/// Licet license server: issues and imports licenses, serves devices, counts their usage.
#[derive(Parser)]
#[command(name = "licet-server", version)]
struct Cli {
    /// Print the result as one line of JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The vendor's signing key: the only thing that creates licenses.
    #[command(subcommand)]
    Vendor(vendor::VendorCommand),
    /// Issue (vendor), import and list license files.
    #[command(subcommand)]
    License(license::LicenseCommand),
    /// Create a data directory: the store and this server's keys.
    Init(InitArgs),
    /// Create projects (handshake codes) and assign licenses to them.
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// The public trial for devices whose license key names no project.
    #[command(subcommand)]
    Trial(trial::TrialCommand),
    /// Usage totals per license, module and symbology.
    Usage(DataArgs),
    /// The devices authorized so far.
    Devices(DataArgs),
    /// The alerts raised so far (usage, expiry, failed authorizations) and their webhook deliveries.
    Alerts(DataArgs),
    /// The admin API's bearer tokens.
    #[command(subcommand)]
    Admin(token::AdminCommand),
    /// Serve the protocol routes (and static files) until Ctrl-C or SIGTERM.
    Serve(Box<serve::ServeArgs>),
    /// Show a license file or license key as readable JSON.
    Decode(inspect::DecodeArgs),
    /// Copy an SQLite store to a file while the server may be serving from it.
    Backup(backup::BackupArgs),
}

/// Where the store of every store command is: a data directory (SQLite) or a PostgreSQL
/// database, one of them, by flag or environment variable (and for `serve`, its TOML file).
#[derive(Args)]
#[group(multiple = false)]
struct DataArgs {
    /// The data directory made by `licet-server init`: an SQLite store, for one server.
    #[arg(long, value_name = "DIR", env = "LICET_DATA")]
    data: Option<PathBuf>,
    /// A PostgreSQL database (postgres://USER:PASSWORD@HOST/DATABASE), which several server
    /// instances can share.
    #[arg(long, value_name = "URL", env = "LICET_DATABASE", hide_env_values = true)]
    database: Option<String>,
}

impl DataArgs {
    /// These options, or when they name no store, the `data` or `database` of a config file.
    fn or(self, data: Option<PathBuf>, database: Option<String>) -> DataArgs {
        if self.data.is_some() || self.database.is_some() {
            self
        } else {
            DataArgs { data, database }
        }
    }

    /// Opens the store; an SQLite store must exist unless `create` is set (the database of a
    /// PostgreSQL URL must exist in any case: its tables are created at the first open).
    async fn open(&self, create: bool) -> Result<Arc<dyn Storage>, ServerError> {
        match (&self.data, &self.database) {
            (_, Some(url)) if !PostgresStorage::accepts(url) => Err(ServerError::NotADatabaseUrl(redacted(url))),
            (_, Some(url)) => Ok(Arc::new(PostgresStorage::open(url).await?)),
            (Some(dir), None) if !create && !SqliteStorage::path(dir).is_file() => Err(self.not_initialized()),
            (Some(dir), None) => {
                if create {
                    std::fs::create_dir_all(dir).map_err(|source| ServerError::Io { action: "create", path: dir.clone(), source })?;
                }
                Ok(Arc::new(SqliteStorage::open(dir, create).await?))
            }
            (None, None) => Err(ServerError::Invalid(
                "no store given: pass --data DIR (SQLite) or --database URL (PostgreSQL), or set LICET_DATA or LICET_DATABASE".into(),
            )),
        }
    }

    fn not_initialized(&self) -> ServerError {
        let flag = if self.database.is_some() { "--database" } else { "--data" };
        ServerError::NotInitialized { store: self.to_string(), flag }
    }
}

/// The store as logs and messages name it: a database URL without its password.
impl std::fmt::Display for DataArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.database, &self.data) {
            (Some(url), _) => f.write_str(&redacted(url)),
            (None, Some(dir)) => write!(f, "{}", dir.display()),
            (None, None) => Ok(()),
        }
    }
}

/// `url` with its password (in the user part, or a `password` query parameter, both of which
/// sqlx reads) replaced by `***`; a text that is no URL at all is not shown.
fn redacted(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else { return "(an unreadable URL)".to_owned() };
    if parsed.password().is_some() {
        // Fails only for URLs that cannot have a user part, which then has no password.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" { "***".to_owned() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[derive(Args)]
struct InitArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The vendor public key (from `licet-server vendor public-key`) whose licenses this server accepts.
    // One base64url key in 64 starts with `-`: it is still the value, not an option.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    vendor_public_key: String,
}

/// What a command prints: text for people, JSON for scripts.
struct Outcome {
    text: String,
    json: serde_json::Value,
}

/// Parses the command line, runs the command, prints its outcome, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` starts its log itself, once its settings (format, filter) are read.
    if !matches!(cli.command, Command::Serve(_)) {
        let _ = crate::logging::init(None, "warn", crate::settings::LogFormat::Text);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(Some(outcome)) => {
            // A reader that closed the pipe early (`| head`) is not this command's failure.
            let printed = if cli.json { outcome.json.to_string() } else { outcome.text };
            let _ = writeln!(std::io::stdout(), "{printed}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; `None` for a command that printed as it went (`serve`).
async fn run(command: Command) -> Result<Option<Outcome>, ServerError> {
    let outcome = match command {
        Command::Vendor(command) => vendor::run(command)?,
        Command::License(command) => license::run(command).await?,
        Command::Init(args) => init(args).await?,
        Command::Project(command) => project::run(command).await?,
        Command::Trial(command) => trial::run(command).await?,
        Command::Usage(args) => inspect::usage(&args).await?,
        Command::Devices(args) => inspect::devices(&args).await?,
        Command::Alerts(args) => alerts::list(&args).await?,
        Command::Admin(command) => token::run(command).await?,
        Command::Serve(args) => {
            serve::run(*args).await?;
            return Ok(None);
        }
        Command::Decode(args) => inspect::decode(&args)?,
        Command::Backup(args) => backup::run(args).await?,
    };
    Ok(Some(outcome))
}

async fn init(args: InitArgs) -> Result<Outcome, ServerError> {
    let storage = args.data.open(true).await?;
    let result = crate::admin::initialize(storage.as_ref(), &args.vendor_public_key).await;
    storage.close().await;
    let initialized = result?;
    let signing = licet_protocol::b64::encode(&initialized.keys.signing);
    let hpke = licet_protocol::b64::encode(&initialized.keys.hpke);
    let status = if initialized.created { "initialized" } else { "already initialized" };
    Ok(Outcome {
        text: format!("{status} {}\nserver signing key: {signing}\nserver hpke key: {hpke}", args.data),
        json: serde_json::json!({ "store": args.data.to_string(), "created": initialized.created, "signingKey": signing, "hpkeKey": hpke }),
    })
}

/// Runs `f` on the store of an initialized data directory, with the configuration `init`
/// stored, and closes the store after it.
async fn with_config<T>(
    args: &DataArgs,
    f: impl AsyncFnOnce(&Config) -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let storage = args.open(false).await?;
    let result = match Config::load(storage.clone()).await {
        Ok(Some(config)) => f(&config).await,
        Ok(None) => Err(args.not_initialized()),
        Err(e) => Err(e),
    };
    storage.close().await;
    result
}

/// The current time for commands (the server takes its clock from its `Config`).
fn now() -> u64 {
    system_clock()()
}

/// Parses an RFC 3339 time into Unix milliseconds (clap value parser).
fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time like 2030-01-31T00:00:00Z ({e})"))?;
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).map_err(|_| "a time before 1970".to_owned())
}

fn read_text(path: &Path) -> Result<String, ServerError> {
    std::fs::read_to_string(path).map_err(|source| ServerError::Io { action: "read", path: path.to_owned(), source })
}

/// Writes `text` and a newline to a file that must not exist yet; readable by its owner only,
/// since the files written this way hold secrets.
fn write_new_secret(path: &Path, text: &str) -> Result<(), ServerError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => ServerError::WouldOverwrite(path.to_owned()),
        _ => ServerError::Io { action: "create", path: path.to_owned(), source },
    })?;
    writeln!(file, "{text}").and_then(|()| file.sync_all()).map_err(|source| ServerError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_round_trip_through_unix_milliseconds() {
        assert_eq!(parse_rfc3339("2031-01-01T00:00:00Z"), Ok(1_924_992_000_000));
        assert_eq!(parse_rfc3339("2031-01-01T01:00:00.250+01:00"), Ok(1_924_992_000_250));
        assert_eq!(rfc3339(1_924_992_000_250), "2031-01-01T00:00:00.25Z");
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        assert!(parse_rfc3339("next tuesday").is_err());
        assert_eq!(rfc3339(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        let url = "postgres://licet:s3cret@db.example:5432/licet?sslmode=require";
        assert_eq!(redacted(url), "postgres://licet:***@db.example:5432/licet?sslmode=require");
        assert_eq!(redacted("postgres://licet@db/licet"), "postgres://licet@db/licet");
        assert_eq!(redacted("postgres://db/licet"), "postgres://db/licet");
        assert_eq!(redacted("postgresql://u:p:q@h/d"), "postgresql://u:***@h/d");
        assert_eq!(
            redacted("postgres://u@h/d?sslmode=disable&password=s3cret"),
            "postgres://u@h/d?sslmode=disable&password=***"
        );
        assert_eq!(redacted("not a url, s3cret"), "(an unreadable URL)");
    }
}
