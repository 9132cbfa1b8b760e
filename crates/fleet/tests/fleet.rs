//! The fleet simulator end to end: `licet-fleet run` against a real `licet-server serve` (the
//! workspace's debug build, on port 0 over a temp store) must get every answer verified and
//! leave the server holding exactly what the devices recorded; pointed at another store, its
//! check must fail and say which counts differ; against the bare baseline it runs only when told
//! that the target is bare, since the baseline's answers verify as nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use licet_fleet::totals::{self, Store};
use licet_protocol::keys::ServerKeys;
use licet_protocol::license_key::LicenseKey;
use rand_core::{OsRng, TryRngCore};
use serde_json::Value;

const FLEET: &str = env!("CARGO_BIN_EXE_licet-fleet");
const DOMAIN: &str = "fleet.example.com";

/// The licet-server binary: LICET_SERVER_BIN, else the workspace's debug build, brought up to
/// date once per test run (cargo releases its build lock before it runs the tests).
fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("LICET_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "-p", "licet-server", "--bin", "licet-server", "--message-format", "json"])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "cargo build -p licet-server failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|message| Some(PathBuf::from(message.get("executable")?.as_str()?)))
            .expect("cargo names the licet-server executable")
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("licet-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// Runs the server CLI with `--json`, insisting on success.
fn cli(args: &[&str]) -> Value {
    let output = Command::new(server_bin()).args(args).arg("--json").output().expect("licet-server runs");
    assert!(output.status.success(), "licet-server {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("licet-server --json prints JSON")
}

/// A vendor key and a per-page license bound to `DOMAIN`, signed with it, in `dir`.
fn license(dir: &Path) -> (String, PathBuf) {
    let vendor = dir.join("vendor.txt");
    let public =
        cli(&["vendor", "keygen", "--out", vendor.to_str().unwrap()])["publicKey"].as_str().unwrap().to_owned();
    let file = dir.join("license.txt");
    cli(&[
        "license",
        "issue",
        "--vendor-key",
        vendor.to_str().unwrap(),
        "--org",
        "fleet",
        "--type",
        "per-page",
        "--quota",
        "1000000",
        "--modules",
        "core,webcam,ocr",
        "--days",
        "30",
        "--domain",
        DOMAIN,
        "--out",
        file.to_str().unwrap(),
    ]);
    (public, file)
}

/// A data directory `dir`/`name` holding the license; returns it and the license ID.
fn store(dir: &Path, name: &str, (vendor_public, license): &(String, PathBuf)) -> (PathBuf, String) {
    let data = dir.join(name);
    cli(&["init", "--data", data.to_str().unwrap(), "--vendor-public-key", vendor_public]);
    let imported = cli(&["license", "import", "--data", data.to_str().unwrap(), license.to_str().unwrap()]);
    (data, imported["id"].as_str().unwrap().to_owned())
}

/// A child process that prints `... listening on http://ADDR` once bound; killed on drop.
struct Listening {
    child: Child,
    url: String,
}

impl Listening {
    fn start(command: &mut Command) -> Listening {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("the server starts");
        let mut line = String::new();
        // Blocks until the line is printed, or returns at EOF if the process exits first.
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the server's stdout");
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_owned);
        let Some(url) = url else {
            let _ = child.kill();
            panic!("no listening line, got {line:?}");
        };
        Listening { child, url }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A licet-server serving `data`, and the license key of a new project there that holds `license_id`.
fn serve(data: &Path, license_id: &str) -> (Listening, String) {
    let server = Listening::start(Command::new(server_bin()).args([
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]));
    let data = data.to_str().unwrap();
    let key = cli(&[
        "project",
        "create",
        "--data",
        data,
        "--org",
        "fleet",
        "--handshake-code",
        "fleet-test",
        "--server-url",
        &server.url,
    ])["licenseKey"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(&["project", "assign", "--data", data, "--handshake-code", "fleet-test", "--license", license_id]);
    (server, key)
}

fn fleet(args: &[&str]) -> Output {
    Command::new(FLEET).arg("run").args(args).output().expect("licet-fleet runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_server_holds_exactly_what_the_fleet_recorded() {
    let dir = temp_dir("exact");
    let (data, license_id) = store(&dir, "data", &license(&dir));
    let (_server, key) = serve(&data, &license_id);
    let output = fleet(&[
        "--key",
        &key,
        "--devices",
        "6",
        "--slots",
        "2",
        "--concurrency",
        "3",
        "--domain",
        DOMAIN,
        "--data",
        data.to_str().unwrap(),
        "--server-bin",
        server_bin().to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let figures: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(figures["checked"], true);
    assert_eq!(figures["authorize"]["requests"], 6);
    assert_eq!(figures["reports"]["requests"], 12);
    // The load generator's CPU within each clock and its sealing and verifying outside are measured.
    for phase in ["authorize", "reports"] {
        for figure in ["fleetCpuSeconds", "prepareSeconds", "verifySeconds"] {
            assert!(figures[phase][figure].as_f64().is_some_and(|s| s > 0.0), "{phase} {figure}: {figures}");
        }
    }
    // Each authorization and each renewal verified and valid.
    assert_eq!(figures["states"], serde_json::json!({ "valid": 18 }));
    // Independently of the fleet's own check: the store holds what the devices say they recorded.
    let recorded = &figures["recorded"];
    let held = totals::server_totals(server_bin(), &Store::Data(data.clone())).unwrap();
    assert_eq!(serde_json::to_value(&held).unwrap(), *recorded);
    // Every report has at least one core page.
    assert!(recorded["pages"]["core"].as_u64().unwrap() >= 12, "{recorded}");
    let devices = cli(&["devices", "--data", data.to_str().unwrap()]);
    assert_eq!(devices["devices"].as_array().unwrap().len(), 6);
}

#[test]
fn the_check_catches_a_server_that_did_not_count_the_fleet() {
    let dir = temp_dir("mismatch");
    let license = license(&dir);
    let (data, license_id) = store(&dir, "served", &license);
    // Same license, same vendor, but not the store the server writes to: it counts nothing.
    let (elsewhere, _) = store(&dir, "elsewhere", &license);
    let (_server, key) = serve(&data, &license_id);
    let output = fleet(&[
        "--key",
        &key,
        "--devices",
        "3",
        "--slots",
        "1",
        "--concurrency",
        "3",
        "--domain",
        DOMAIN,
        "--data",
        elsewhere.to_str().unwrap(),
        "--server-bin",
        server_bin().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("the server's totals differ from what the devices recorded"), "{message}");
    assert!(message.contains("core pages: the server holds 0, expected 0 from before the run + "), "{message}");
}

#[test]
fn the_bare_baseline_is_measured_only_as_bare() {
    let bare = Listening::start(Command::new(FLEET).args(["bare", "--listen", "127.0.0.1:0"]));
    let keys = ServerKeys::generate(&mut OsRng.unwrap_err()).public();
    let key = LicenseKey::new(vec![bare.url.clone()], None, Some("fleet-test".into()), &keys).encode();
    let output = fleet(&["--key", &key, "--devices", "4", "--slots", "2", "--concurrency", "2", "--bare", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let figures: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (figures["authorize"]["requests"].as_u64(), figures["reports"]["requests"].as_u64()),
        (Some(4), Some(8))
    );
    assert_eq!(figures["checked"], false);
    // Verifying, the same run stops at the first answer: `{}` is no sealed authorization.
    let output = fleet(&["--key", &key, "--devices", "4", "--slots", "2", "--concurrency", "2"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/v1/authorize: the answer does not verify"), "{}", stderr(&output));
}
