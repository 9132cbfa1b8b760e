//! Helpers shared by the server's integration tests, and the choice of the backend they run on:
//! SQLite in a fresh data directory, or, when `LICET_TEST_POSTGRES` names a PostgreSQL server
//! (`npm test` starts one and runs the whole suite a second time), a fresh database there.
// Each test target uses part of this file.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use licet_server::storage::{PostgresStorage, SqliteStorage, Storage};
use sqlx::Connection;

/// A fresh, empty directory under cargo's target tmpdir, unique to `name` and this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

/// The PostgreSQL server under test: a postgres:// URL of a database in which the tests may
/// create databases of their own; `None` runs the tests on SQLite.
pub fn postgres() -> Option<String> {
    std::env::var("LICET_TEST_POSTGRES").ok().filter(|url| !url.is_empty())
}

/// Creates the empty database `name` (made unique to this process) on the server of `base`,
/// and returns its URL.
pub async fn create_database(base: &str, name: &str) -> String {
    let db: String = format!("t_{name}_{}", std::process::id())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let mut connection = sqlx::PgConnection::connect(base).await.expect("connect to LICET_TEST_POSTGRES");
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\"")).execute(&mut connection).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{db}\"")).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    let (server, _) = base.rsplit_once('/').expect("a URL with a database path");
    format!("{server}/{db}")
}

/// The CLI options that name a fresh store for the test `name`: `--data` with a directory
/// inside the test's `dir` (which `init` creates), or `--database URL` (an empty database).
pub fn store_args(dir: &std::path::Path, name: &str) -> [String; 2] {
    match postgres() {
        Some(base) => {
            // A thread of its own, so that sync and async tests alike can call this.
            let name = name.to_owned();
            let url = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(create_database(&base, &name))
            });
            ["--database".into(), url.join().unwrap()]
        }
        None => ["--data".into(), dir.join("data").display().to_string()],
    }
}

/// A fresh, empty store for the test `name` on the backend under test.
pub async fn open_store(name: &str) -> Arc<dyn Storage> {
    match postgres() {
        Some(base) => Arc::new(PostgresStorage::open(&create_database(&base, name).await).await.unwrap()),
        None => Arc::new(SqliteStorage::open(&temp_dir(name), true).await.unwrap()),
    }
}

pub mod http;
pub mod process;
pub mod router;
