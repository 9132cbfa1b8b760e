//! Two `licet-server serve` processes on one store (one PostgreSQL database, or one SQLite file
//! when the suite runs on SQLite) serving the same licenses at once: seats and quotas hold
//! across both, and no report is counted twice or lost. Devices talk to them over real TCP.

mod common;

use common::process::{
    authorize_request, call, instance, open, pages_report, send, world, Serving, World, ORIGIN_DOMAIN,
};
use common::router::{random16, total};
use licet_protocol::envelope::Route;
use licet_protocol::ids::{DeviceId, Nonce};
use licet_protocol::license::{Module, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::UsageReport;
use licet_server::storage::{Admission, Capacity, DeviceContact, SeatClaim, SeatPool, Storage, UsageItem};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_give_a_100_device_license_exactly_110_seats_among_200_devices() {
    let world = world("instances-seats", &["--type", "per-device", "--devices", "100", "--days", "30"]);
    let instances = [instance(&world.store), instance(&world.store)];

    let mut tasks = Vec::new();
    for i in 0..200 {
        let address = instances[i % 2].address().to_owned();
        let (keys, code) = (world.keys, world.handshake_code.clone());
        tasks.push(tokio::spawn(async move {
            let device = DeviceId::from_random(random16());
            call::<_, Signed>(&address, &keys, Route::Authorize, &authorize_request(device, &code))
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
    assert!(refused.iter().all(|code| code == "DEVICE_LIMIT_REACHED"), "{refused:?}");
    let storage = open(&world.store).await;
    assert_eq!(storage.devices().await.unwrap().len(), 110, "a refused device is not stored");
    // A seated device keeps its seat at either instance; a refused one still finds none.
    for (i, device) in seated.iter().take(10).enumerate() {
        let answer = call::<_, Signed>(
            instances[i % 2].address(),
            &world.keys,
            Route::Authorize,
            &authorize_request(*device, &world.handshake_code),
        )
        .await;
        assert!(answer.is_ok(), "{answer:?}");
    }
    let newcomer = DeviceId::from_random(random16());
    let answer = call::<_, Signed>(
        instances[1].address(),
        &world.keys,
        Route::Authorize,
        &authorize_request(newcomer, &world.handshake_code),
    )
    .await;
    assert_eq!(answer.err().as_deref(), Some("DEVICE_LIMIT_REACHED"));
    storage.close().await;
}

/// Sends each report in its own request, all at once, to the instance its index picks (plus
/// `shift`s of it); checks every copy is acknowledged; the renewals granted and the refusals.
async fn send_all(
    instances: &[Serving; 2],
    world: &World,
    reports: &[(DeviceId, UsageReport)],
    shifts: &[usize],
) -> (usize, Vec<String>) {
    let mut tasks = Vec::new();
    for (i, (device, report)) in reports.iter().enumerate() {
        for shift in shifts {
            let address = instances[(i + shift) % 2].address().to_owned();
            let (keys, code, device, report) = (world.keys, world.handshake_code.clone(), *device, report.clone());
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
async fn concurrent_reports_at_two_instances_are_counted_once_and_renewed_only_within_the_tolerance() {
    let world = world("instances-quota", &["--type", "per-page", "--quota", "1000", "--days", "30"]);
    let instances = [instance(&world.store), instance(&world.store)];
    let devices: Vec<DeviceId> = (0..20).map(|_| DeviceId::from_random(random16())).collect();
    for device in &devices {
        call::<_, Signed>(
            instances[0].address(),
            &world.keys,
            Route::Authorize,
            &authorize_request(*device, &world.handshake_code),
        )
        .await
        .unwrap();
    }

    // 120 reports of 10 pages from 20 devices, sent at once, half to each instance.
    let reports: Vec<(DeviceId, UsageReport)> = (0..120).map(|i| (devices[i % 20], pages_report(10))).collect();
    let (renewed, refused) = send_all(&instances, &world, &reports, &[0]).await;
    // Quota 1000 and 5% tolerance: each batch is judged on the totals with itself counted, one
    // after the other whichever instance took it, so exactly the first 105 renew.
    assert_eq!((renewed, refused.len()), (105, 15), "{refused:?}");
    assert!(refused.iter().all(|code| code == "QUOTA_EXHAUSTED"), "{refused:?}");

    // A third of the reports again, each to both instances at once (a retry after a lost
    // receipt): each copy is acknowledged and none counts again.
    let (renewed, refused) = send_all(&instances, &world, &reports[..40], &[0, 1]).await;
    assert_eq!((renewed, refused.len()), (0, 80));

    let storage = open(&world.store).await;
    let usage = storage.usage().await.unwrap();
    assert_eq!(total(&usage, &world.license_id, UsageItem::Pages(Module::Core)), 1200, "every report counted once");
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
