//! Two `licet-server serve` processes on one store (one PostgreSQL database, or one SQLite file
//! when the suite runs on SQLite) serving the same licenses at once: seats and quotas hold
//! across both, and no report is counted twice or lost. Devices talk to them over real TCP.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::router::{random16, total};
use licet_protocol::envelope::{self, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{self, ServerPublicKeys};
use licet_protocol::license::{Module, DAY_MS};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, ErrorBody, Receipt, Renewal, ReportsRequest, ReportsResponse, SealedResponse,
    SlotUsage, UsageReport,
};
use licet_server::storage::{
    Admission, Capacity, DeviceContact, PostgresStorage, SeatClaim, SeatPool, SqliteStorage, Storage, UsageItem,
};
use rand_core::{OsRng, TryRngCore};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ORIGIN_DOMAIN: &str = "app.example.com";

fn licet(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "licet-server {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// One `licet-server serve` on a free port; killed when dropped.
struct Instance {
    child: Child,
    address: String,
}

impl Instance {
    fn start(store: &[String; 2]) -> Instance {
        let mut child = Command::new(env!("CARGO_BIN_EXE_licet-server"))
            .args(["serve", &store[0], &store[1], "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim_end()
            .strip_prefix("licet-server listening on http://")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        Instance { child, address }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `body` over a new HTTP/1.1 connection; the status and the body of the answer.
async fn post(address: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nOrigin: https://{ORIGIN_DOMAIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP answer")
        + 4;
    let status = std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap();
    // Bodies here are small and sent whole (axum's JSON answers carry a Content-Length).
    (status, response[split..].to_vec())
}

/// Seals `message` for `route`, posts it, and opens the answer: the message or the error code.
async fn call<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    address: &str,
    keys: &ServerPublicKeys,
    route: Route,
    message: &T,
) -> Result<R, String> {
    let (sealed, key) = envelope::seal_request(
        &keys.hpke,
        route,
        &wire::encode(message),
        &mut OsRng.unwrap_err(),
    )
    .unwrap();
    let (status, body) = post(address, route.path(), &serde_json::to_vec(&sealed).unwrap()).await;
    if status != 200 {
        return Err(serde_json::from_slice::<ErrorBody>(&body)
            .unwrap_or_else(|_| panic!("{status}: {body:?}"))
            .code);
    }
    let sealed: SealedResponse = serde_json::from_slice(&body).unwrap();
    Ok(wire::decode(&envelope::open_response(&key, &sealed).unwrap()).unwrap())
}

fn authorize_request(device_id: DeviceId, handshake_code: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        device_id,
        organization_id: None,
        handshake_code: Some(handshake_code.into()),
        session_password: None,
        product: "scanner".into(),
        sdk_version: "1.0.0".into(),
        domain: ORIGIN_DOMAIN.into(),
        device_name: None,
        nonce: Nonce(random16()),
        client_time: 0,
    }
}

/// A store with one license of `license_args`, on a project whose key the test decodes.
struct World {
    store: [String; 2],
    keys: ServerPublicKeys,
    license_id: String,
    handshake_code: String,
}

fn world(name: &str, license_args: &[&str]) -> World {
    let dir = common::temp_dir(name);
    let vendor_key = dir.join("vendor.key").display().to_string();
    let vendor_public = licet(&["vendor", "keygen", "--out", &vendor_key])["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = common::store_args(&dir, name);
    licet(&[
        "init",
        &store[0],
        &store[1],
        "--vendor-public-key",
        &vendor_public,
    ]);
    let file = dir.join("license.txt").display().to_string();
    let mut issue = vec![
        "license",
        "issue",
        "--vendor-key",
        &vendor_key,
        "--org",
        "acme",
        "--product",
        "scanner",
        "--out",
        &file,
    ];
    issue.extend_from_slice(license_args);
    let license_id = licet(&issue)["id"].as_str().unwrap().to_owned();
    licet(&["license", "import", &store[0], &store[1], &file]);
    let project = licet(&[
        "project",
        "create",
        &store[0],
        &store[1],
        "--org",
        "acme",
        "--handshake-code",
        "acme-web",
    ]);
    licet(&[
        "project",
        "assign",
        &store[0],
        &store[1],
        "--handshake-code",
        "acme-web",
        "--license",
        &license_id,
    ]);
    let key = LicenseKey::decode(project["licenseKey"].as_str().unwrap()).unwrap();
    World {
        keys: key.server_keys().unwrap(),
        store,
        license_id,
        handshake_code: "acme-web".into(),
    }
}

/// The store behind `store`, opened by the test itself to read what the instances wrote.
async fn open(store: &[String; 2]) -> Box<dyn Storage> {
    match store[0].as_str() {
        "--database" => Box::new(PostgresStorage::open(&store[1]).await.unwrap()),
        _ => Box::new(
            SqliteStorage::open(std::path::Path::new(&store[1]), false)
                .await
                .unwrap(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_give_a_100_device_license_exactly_110_seats_among_200_devices() {
    let world = world(
        "instances-seats",
        &["--type", "per-device", "--devices", "100", "--days", "30"],
    );
    let instances = [Instance::start(&world.store), Instance::start(&world.store)];

    let mut tasks = Vec::new();
    for i in 0..200 {
        let address = instances[i % 2].address.clone();
        let (keys, code) = (world.keys.clone(), world.handshake_code.clone());
        tasks.push(tokio::spawn(async move {
            let device = DeviceId::from_random(random16());
            call::<_, Signed>(
                &address,
                &keys,
                Route::Authorize,
                &authorize_request(device, &code),
            )
            .await
            .map(|_| device)
        }));
    }
    let mut seated = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(device) => seated.push(device),
            Err(code) => refused.push(code),
        }
    }

    // 100 seats and 10% of them as tolerance, whichever instance each device reached.
    assert_eq!((seated.len(), refused.len()), (110, 90));
    assert!(
        refused.iter().all(|code| code == "DEVICE_LIMIT_REACHED"),
        "{refused:?}"
    );
    let storage = open(&world.store).await;
    assert_eq!(
        storage.devices().await.unwrap().len(),
        110,
        "a refused device is not stored"
    );
    // A seated device keeps its seat at either instance; a refused one still finds none.
    for (i, device) in seated.iter().take(10).enumerate() {
        let answer = call::<_, Signed>(
            &instances[i % 2].address,
            &world.keys,
            Route::Authorize,
            &authorize_request(*device, &world.handshake_code),
        )
        .await;
        assert!(answer.is_ok(), "{answer:?}");
    }
    let newcomer = DeviceId::from_random(random16());
    let answer = call::<_, Signed>(
        &instances[1].address,
        &world.keys,
        Route::Authorize,
        &authorize_request(newcomer, &world.handshake_code),
    )
    .await;
    assert_eq!(answer.err().as_deref(), Some("DEVICE_LIMIT_REACHED"));
    storage.close().await;
}

fn pages_report(pages: u64) -> UsageReport {
    let slot = licet_server::system_clock()() / licet_protocol::SLOT_MS - 1;
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage {
            slot,
            pages: vec![(Module::Core, pages)],
            scans: vec![],
        }],
    }
}

async fn send(
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
    let answer: ReportsResponse = call(address, keys, Route::Reports, &request)
        .await
        .expect("reports are always acknowledged");
    let signing = keys::verifying_key(&keys.signing).unwrap();
    let receipt: Receipt = answer.receipt.verify(&signing).expect("a signed receipt");
    let renewal = match answer.renewal {
        Renewal::Renewed(signed) => signed
            .verify::<Authorization>(&signing)
            .map(|_| ())
            .map_err(|e| format!("{e:?}")),
        Renewal::Refused(code) => Err(code),
    };
    (receipt.accepted, renewal)
}

/// Sends each report in its own request, all at once, to the instance its index picks (plus
/// `shift`s of it); checks every copy is acknowledged; the renewals granted and the refusals.
async fn send_all(
    instances: &[Instance; 2],
    world: &World,
    reports: &[(DeviceId, UsageReport)],
    shifts: &[usize],
) -> (usize, Vec<String>) {
    let mut tasks = Vec::new();
    for (i, (device, report)) in reports.iter().enumerate() {
        for shift in shifts {
            let address = instances[(i + shift) % 2].address.clone();
            let (keys, code, device, report) = (
                world.keys.clone(),
                world.handshake_code.clone(),
                *device,
                report.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let id = report.report_id;
                let (accepted, renewal) = send(&address, &keys, &code, device, vec![report]).await;
                assert_eq!(accepted, vec![id], "each copy is acknowledged");
                renewal
            }));
        }
    }
    let mut renewed = 0;
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => renewed += 1,
            Err(code) => refused.push(code),
        }
    }
    (renewed, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reports_at_two_instances_are_counted_once_and_renewed_only_within_the_tolerance(
) {
    let world = world(
        "instances-quota",
        &["--type", "per-page", "--quota", "1000", "--days", "30"],
    );
    let instances = [Instance::start(&world.store), Instance::start(&world.store)];
    let devices: Vec<DeviceId> = (0..20).map(|_| DeviceId::from_random(random16())).collect();
    for device in &devices {
        call::<_, Signed>(
            &instances[0].address,
            &world.keys,
            Route::Authorize,
            &authorize_request(*device, &world.handshake_code),
        )
        .await
        .unwrap();
    }

    // 120 reports of 10 pages from 20 devices, sent at once, half to each instance.
    let reports: Vec<(DeviceId, UsageReport)> = (0..120)
        .map(|i| (devices[i % 20], pages_report(10)))
        .collect();
    let (renewed, refused) = send_all(&instances, &world, &reports, &[0]).await;
    // Quota 1000 and 5% tolerance: each batch is judged on the totals with itself counted, one
    // after the other whichever instance took it, so exactly the first 105 renew.
    assert_eq!((renewed, refused.len()), (105, 15), "{refused:?}");
    assert!(
        refused.iter().all(|code| code == "QUOTA_EXHAUSTED"),
        "{refused:?}"
    );

    // Every report again, to both instances at once (a retry after a lost receipt): each copy
    // is acknowledged and none counts again.
    let (renewed, refused) = send_all(&instances, &world, &reports, &[0, 1]).await;
    assert_eq!((renewed, refused.len()), (0, 240));

    let storage = open(&world.store).await;
    let usage = storage.usage().await.unwrap();
    assert_eq!(
        total(&usage, &world.license_id, UsageItem::Pages(Module::Core)),
        1200,
        "every report counted once"
    );
    storage.close().await;
}

/// The same race at the storage level, where nothing but the database stands between two
/// claims: 200 seat claims at once through two stores (two connection pools) on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_database_grant_exactly_the_seats_and_their_tolerance() {
    let world = world("instances-claims", &["--type", "per-device", "--devices", "100", "--days", "30"]);
    let stores: [std::sync::Arc<dyn Storage>; 2] = [open(&world.store).await.into(), open(&world.store).await.into()];
    let now = licet_server::system_clock()();
    let admission = Admission {
        seat: Some(SeatClaim {
            pools: vec![SeatPool { license_id: world.license_id.clone(), seats: 100, held_until: now + 30 * DAY_MS }],
            tolerance: 10,
        }),
        ..Admission::default()
    };
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (store, admission, code) = (stores[i % 2].clone(), admission.clone(), world.handshake_code.clone());
        tasks.push(tokio::spawn(async move {
            let contact = DeviceContact {
                device_id: DeviceId::from_random(random16()),
                handshake_code: code,
                domain: ORIGIN_DOMAIN.into(),
                name: None,
                product: "scanner".into(),
                sdk_version: "1.0.0".into(),
            };
            store.record_authorization(&contact, &Nonce(random16()), now, &admission).await.unwrap()
        }));
    }
    let mut capacities = Vec::new();
    for task in tasks {
        capacities.push(task.await.unwrap().seat.unwrap());
    }
    let count = |capacity| capacities.iter().filter(|c| **c == capacity).count();
    assert_eq!((count(Capacity::Within), count(Capacity::Tolerance), count(Capacity::Full)), (100, 10, 90));
    assert_eq!(stores[0].devices().await.unwrap().len(), 110);
    for store in stores {
        store.close().await;
    }
}
