//! The `licet-fleet` command line: `run` plays a fleet against a server and, given the server's
//! store, checks its totals; `bare` serves the baseline. It prints figures as text or, with
//! `--json`, as one JSON line on stdout; any error goes to stderr as one message with exit
//! code 1 (a totals mismatch included). Usage errors are clap's (exit code 2).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use licet_fleet::play::{self, Outcome, Phase, Plan};
use licet_fleet::totals::{self, Store, Totals};
use licet_fleet::{bare, FleetError, Target, TargetOptions};

/// Licet fleet simulator: plays many devices against a license server.
#[derive(Parser)]
#[command(name = "licet-fleet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play N devices: each authorizes, then reports S slots of usage in compressed time.
    Run(RunArgs),
    /// Serve the bare baseline: the protocol routes answering 200 and doing nothing else.
    Bare {
        /// The address to listen on; port 0 picks a free port.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: String,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The project's license key (LICET1...): its server keys seal and verify every message.
    #[arg(long, value_name = "KEY")]
    key: String,
    /// The base URL to post to, instead of the license key's first server.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The page's host the devices report; their `Origin` is https:// and this host.
    #[arg(long, value_name = "HOST", default_value = "fleet.example.com")]
    domain: String,
    #[arg(long, value_name = "N", default_value_t = 100)]
    devices: usize,
    /// Slots of 3 minutes each device reports, one report per slot.
    #[arg(long, value_name = "S", default_value_t = 3)]
    slots: u64,
    /// Requests in flight at once.
    #[arg(long, value_name = "C", default_value_t = 32)]
    concurrency: usize,
    /// Attempts per request before the run gives up.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_attempts: u32,
    /// The target is the bare baseline (`licet-fleet bare`): requests are sealed as for a
    /// server, but answers are not opened or verified.
    #[arg(long, conflicts_with_all = ["data", "database"])]
    bare: bool,
    /// Check the totals of this SQLite data directory against what the devices recorded.
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    data: Option<PathBuf>,
    /// Check the totals of this database against what the devices recorded.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// The licet-server binary that reads the totals (default: LICET_SERVER_BIN, else the
    /// licet-server next to this binary, else the one on PATH).
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Print the figures as one line of JSON.
    #[arg(long)]
    json: bool,
}

fn server_bin(given: Option<PathBuf>) -> PathBuf {
    if let Some(bin) = given.or_else(|| std::env::var_os("LICET_SERVER_BIN").map(PathBuf::from)) {
        return bin;
    }
    let sibling = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("licet-server")));
    sibling.filter(|path| path.is_file()).unwrap_or_else(|| PathBuf::from("licet-server"))
}

fn phase_line(name: &str, phase: &Phase) -> String {
    format!(
        "{name}: {} in {:.2} s = {:.0}/s ({:.0}/s over the first tenth, {:.0}/s over the last); round trip p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         the load generator's CPU {:.2} s within the clock; outside it, {:.2} s sealing before, {:.2} s verifying after",
        phase.requests,
        phase.seconds,
        phase.per_second,
        phase.first_tenth_per_second,
        phase.last_tenth_per_second,
        phase.p50_ms,
        phase.p99_ms,
        phase.max_ms,
        phase.fleet_cpu_seconds,
        phase.prepare_seconds,
        phase.verify_seconds
    )
}

fn report_text(target: &Target, args: &RunArgs, outcome: &Outcome, checked: bool) -> String {
    let mut lines = vec![
        format!(
            "licet-fleet: {} devices x {} slots, {} in flight, against {}",
            args.devices,
            args.slots,
            args.concurrency,
            target.base()
        ),
        phase_line("authorize", &outcome.authorize),
        phase_line("reports", &outcome.reports),
        format!("retries: {}", outcome.retries),
    ];
    if !outcome.states.is_empty() {
        let states: Vec<String> = outcome.states.iter().map(|(s, n)| format!("{s} {n}")).collect();
        lines.push(format!("authorization states: {}", states.join(", ")));
    }
    if !outcome.refused_renewals.is_empty() {
        let refused: Vec<String> = outcome.refused_renewals.iter().map(|(c, n)| format!("{c} {n}")).collect();
        lines.push(format!("renewals refused: {}", refused.join(", ")));
    }
    lines.push(format!("the devices recorded: {}", outcome.recorded.lines().join(", ")));
    if checked {
        lines.push("check: the server counted exactly what the devices recorded".to_owned());
    }
    lines.join("\n")
}

async fn run(args: RunArgs) -> Result<String, FleetError> {
    let target = Target::new(&TargetOptions {
        key: args.key.clone(),
        server: args.server.clone(),
        domain: args.domain.clone(),
        verify: !args.bare,
        connections: args.concurrency,
    })?;
    let store = match (&args.data, &args.database) {
        (Some(dir), _) => Some(Store::Data(dir.clone())),
        (None, Some(url)) => Some(Store::Database(url.clone())),
        (None, None) => None,
    };
    let check = store.map(|store| (server_bin(args.server_bin.clone()), store));
    let before: Option<Totals> = match &check {
        Some((bin, store)) => Some(totals::server_totals(bin, store)?),
        None => None,
    };
    let plan = Plan {
        devices: args.devices,
        slots: args.slots,
        concurrency: args.concurrency,
        max_attempts: args.max_attempts,
    };
    let outcome = play::run(&target, &plan).await?;
    if let (Some((bin, store)), Some(before)) = (&check, &before) {
        let after = totals::server_totals(bin, store)?;
        totals::check(&outcome.recorded, before, &after)?;
    }
    if args.json {
        let mut json = serde_json::to_value(&outcome).map_err(|e| FleetError::Usage(e.to_string()))?;
        json["checked"] = serde_json::Value::Bool(check.is_some());
        json["target"] = serde_json::Value::String(target.base().to_owned());
        Ok(json.to_string())
    } else {
        Ok(report_text(&target, &args, &outcome, check.is_some()))
    }
}

async fn serve_bare(listen: String) -> Result<(), FleetError> {
    let (listener, address) = bare::bind(&listen).await?;
    let mut stdout = std::io::stdout();
    // Scripts wait for this line; a closed stdout must not stop the server.
    let _ = writeln!(stdout, "licet-fleet bare listening on http://{address}").and_then(|()| stdout.flush());
    bare::serve(listener).await
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await.map(Some),
            Command::Bare { listen } => serve_bare(listen).await.map(|()| None),
        }
    });
    match result {
        Ok(Some(text)) => {
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
