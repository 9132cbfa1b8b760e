//! Devices that talk to real `licet-server serve` processes over TCP, for the tests that run
//! several of them (`instances.rs`) or one they copy while it serves (`backup.rs`): a store made
//! with the CLI, the processes, and sealed requests and opened answers.
// Each test target uses part of this file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use licet_protocol::envelope::{self, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{self, ServerPublicKeys};
use licet_protocol::license::Module;
use licet_protocol::license_key::LicenseKey;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, ErrorBody, Receipt, Renewal, ReportsRequest, ReportsResponse,
    SealedResponse, SlotUsage, UsageReport,
};
use licet_server::storage::{PostgresStorage, SqliteStorage, Storage};
use rand_core::{OsRng, TryRngCore};
use serde_json::Value;

use super::router::random16;

pub const ORIGIN_DOMAIN: &str = "app.example.com";

pub fn licet(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_licet-server")).args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "licet-server {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A running `licet-server serve`: the process, the address its one stdout line names (scheme
/// included), and its stderr, read on a thread so that a chatty log never blocks the server.
/// Killed when dropped, unless `stop` ended it.
pub struct Serving {
    child: Child,
    pub url: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// Starts `licet-server serve ARGS` with the variables `env`; returns once it listens.
pub fn start_serve(args: &[&str], env: &[(&str, &str)]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url =
        line.trim_end().strip_prefix("licet-server listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
    Serving { child, url, stderr: Some(stderr) }
}

/// A `serve` on `store` at a free port, its rate limit off (the tests' devices share 127.0.0.1).
pub fn instance(store: &[String; 2]) -> Serving {
    start_serve(&[&store[0], &store[1], "--listen", "127.0.0.1:0", "--rate-limit", "0"], &[])
}

impl Serving {
    /// The `IP:PORT` of a plain HTTP server.
    pub fn address(&self) -> &str {
        self.url.strip_prefix("http://").unwrap_or_else(|| panic!("{}", self.url))
    }

    /// Sends SIGTERM, expects exit code 0, and returns everything the server logged.
    pub fn stop(mut self) -> String {
        assert!(Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success());
        assert!(self.child.wait().unwrap().success(), "exit code 0 after SIGTERM");
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        // After `stop` the process is reaped already, and both calls change nothing.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `body` over a new HTTP/1.1 connection; the status and the body of the answer.
pub async fn post(address: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = super::http::post(path, body, &format!("Origin: https://{ORIGIN_DOMAIN}\r\n"));
    let (status, _, body) = super::http::exchange(stream, &request).await;
    (status, body)
}

/// Seals `message` for `route`, posts it, and opens the answer: the message or the error code.
pub async fn call<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    address: &str,
    keys: &ServerPublicKeys,
    route: Route,
    message: &T,
) -> Result<R, String> {
    let (sealed, key) =
        envelope::seal_request(&keys.hpke, route, &wire::encode(message), &mut OsRng.unwrap_err()).unwrap();
    let (status, body) = post(address, route.path(), &serde_json::to_vec(&sealed).unwrap()).await;
    if status != 200 {
        return Err(serde_json::from_slice::<ErrorBody>(&body).unwrap_or_else(|_| panic!("{status}: {body:?}")).code);
    }
    let sealed: SealedResponse = serde_json::from_slice(&body).unwrap();
    Ok(wire::decode(&envelope::open_response(&key, &sealed).unwrap()).unwrap())
}

/// An authorization request of `device` for `handshake_code`, from a page on `ORIGIN_DOMAIN`.
pub fn authorize_request(device_id: DeviceId, handshake_code: &str) -> AuthorizeRequest {
    super::router::authorize_request(device_id, None, Some(handshake_code))
}

/// A store with one license of `license_args`, on a project whose key the test decodes.
pub struct World {
    /// The test's own directory (the vendor key and license file are there).
    pub dir: std::path::PathBuf,
    pub store: [String; 2],
    pub keys: ServerPublicKeys,
    pub license_id: String,
    pub handshake_code: String,
}

pub fn world(name: &str, license_args: &[&str]) -> World {
    let dir = super::temp_dir(name);
    let store = super::store_args(&dir, name);
    world_in(dir, store, license_args)
}

/// `world` on an SQLite store whatever the backend under test (for what only SQLite has).
pub fn sqlite_world(name: &str, license_args: &[&str]) -> World {
    let dir = super::temp_dir(name);
    let store = ["--data".to_owned(), dir.join("data").display().to_string()];
    world_in(dir, store, license_args)
}

fn world_in(dir: std::path::PathBuf, store: [String; 2], license_args: &[&str]) -> World {
    let vendor_key = dir.join("vendor.key").display().to_string();
    let vendor_public = licet(&["vendor", "keygen", "--out", &vendor_key])["publicKey"].as_str().unwrap().to_owned();
    licet(&["init", &store[0], &store[1], "--vendor-public-key", &vendor_public]);
    let file = dir.join("license.txt").display().to_string();
    let mut issue =
        vec!["license", "issue", "--vendor-key", &vendor_key, "--org", "acme", "--product", "scanner", "--out", &file];
    issue.extend_from_slice(license_args);
    let license_id = licet(&issue)["id"].as_str().unwrap().to_owned();
    licet(&["license", "import", &store[0], &store[1], &file]);
    let project = licet(&["project", "create", &store[0], &store[1], "--org", "acme", "--handshake-code", "acme-web"]);
    licet(&["project", "assign", &store[0], &store[1], "--handshake-code", "acme-web", "--license", &license_id]);
    let key = LicenseKey::decode(project["licenseKey"].as_str().unwrap()).unwrap();
    World { dir, keys: key.server_keys().unwrap(), store, license_id, handshake_code: "acme-web".into() }
}

/// The store behind `store`, opened by the test itself to read what the instances wrote.
pub async fn open(store: &[String; 2]) -> Box<dyn Storage> {
    match store[0].as_str() {
        "--database" => Box::new(PostgresStorage::open(&store[1]).await.unwrap()),
        _ => Box::new(SqliteStorage::open(std::path::Path::new(&store[1]), false).await.unwrap()),
    }
}

pub fn pages_report(pages: u64) -> UsageReport {
    let slot = licet_server::system_clock()() / licet_protocol::SLOT_MS - 1;
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage { slot, pages: vec![(Module::Core, pages)], scans: vec![] }],
    }
}

pub async fn send(
    address: &str,
    keys: &ServerPublicKeys,
    handshake_code: &str,
    device: DeviceId,
    reports: Vec<UsageReport>,
) -> (Vec<ReportId>, Result<(), String>) {
    let request = ReportsRequest {
        device_id: device,
        handshake_code: handshake_code.into(),
        domain: ORIGIN_DOMAIN.into(),
        reports,
        nonce: Nonce(random16()),
        client_time: 0,
    };
    let answer: ReportsResponse =
        call(address, keys, Route::Reports, &request).await.expect("reports are always acknowledged");
    let signing = keys::verifying_key(&keys.signing).unwrap();
    let receipt: Receipt = answer.receipt.verify(&signing).expect("a signed receipt");
    let renewal = match answer.renewal {
        Renewal::Renewed(signed) => signed.verify::<Authorization>(&signing).map(|_| ()).map_err(|e| format!("{e:?}")),
        Renewal::Refused(code) => Err(code),
    };
    (receipt.accepted, renewal)
}
