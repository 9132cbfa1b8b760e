//! `licet-server backup`: a copy of an SQLite store taken while a server writes to it holds
//! whole transactions only, and a store restored from it serves the same keys and licenses.

mod common;

use std::process::Command;

use common::process::{authorize_request, call, instance, licet, pages_report, send, sqlite_world};
use common::router::random16;
use licet_protocol::envelope::Route;
use licet_protocol::ids::DeviceId;
use licet_protocol::sign::Signed;
use sqlx::{Connection, SqliteConnection};

/// The reports a store holds and the pages its usage counts.
async fn reports_and_pages(file: &std::path::Path) -> (i64, i64) {
    let mut db = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
    let reports: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reports").fetch_one(&mut db).await.unwrap();
    let pages: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(count), 0) FROM usage").fetch_one(&mut db).await.unwrap();
    db.close().await.unwrap();
    (reports, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_reports_arrive_is_consistent_and_restores_to_a_working_server() {
    let world = sqlite_world("backup", &["--type", "per-page", "--quota", "1000000", "--days", "30"]);
    let server = instance(&world.store);
    let device = DeviceId::from_random(random16());
    call::<_, Signed>(
        server.address(),
        &world.keys,
        Route::Authorize,
        &authorize_request(device, &world.handshake_code),
    )
    .await
    .unwrap();

    // 40 reports of 10 pages, one request each, one after the other; the backup starts once
    // 5 are acknowledged and runs while the rest arrive.
    let (five_in, mut after_five) = tokio::sync::mpsc::channel::<()>(1);
    let writer = {
        let (address, keys, code) = (server.address().to_owned(), world.keys, world.handshake_code.clone());
        tokio::spawn(async move {
            for i in 0..40 {
                let (accepted, _) = send(&address, &keys, &code, device, vec![pages_report(10)]).await;
                assert_eq!(accepted.len(), 1);
                if i == 4 {
                    five_in.send(()).await.unwrap();
                }
            }
        })
    };
    after_five.recv().await.unwrap();
    let out = world.dir.join("backup.db");
    let (data, out_arg) = (world.store[1].clone(), out.display().to_string());
    let backed_up =
        tokio::task::spawn_blocking(move || licet(&["backup", "--data", &data, "--out", &out_arg])).await.unwrap();
    assert_eq!(backed_up["bytes"], std::fs::metadata(&out).unwrap().len());
    writer.await.unwrap();

    // Whole transactions only: every report in the copy has its usage, and nothing else.
    let (reports, pages) = reports_and_pages(&out).await;
    assert!((5..=40).contains(&reports), "{reports} reports in the copy");
    assert_eq!(pages, reports * 10);
    let live = std::path::Path::new(&world.store[1]).join("licet.db");
    assert_eq!(reports_and_pages(&live).await, (40, 400));

    // Never over an existing file.
    let again = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["backup", "--data", &world.store[1], "--out", &out.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Restored as docs/server.md says: the copy becomes licet.db of an empty data directory.
    drop(server);
    let restored = world.dir.join("restored");
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&out, restored.join("licet.db")).unwrap();
    let store = ["--data".to_owned(), restored.display().to_string()];
    let server = instance(&store);
    // The same license key (server keys), the same project and device, the usage so far.
    call::<_, Signed>(
        server.address(),
        &world.keys,
        Route::Authorize,
        &authorize_request(device, &world.handshake_code),
    )
    .await
    .unwrap();
    let (accepted, renewal) =
        send(server.address(), &world.keys, &world.handshake_code, device, vec![pages_report(10)]).await;
    assert_eq!((accepted.len(), renewal), (1, Ok(())));
    drop(server);
    assert_eq!(reports_and_pages(&restored.join("licet.db")).await, (reports + 1, pages + 10));
}
