//! SQLite called directly (rusqlite) on the path of every request: connections opened the way
//! the store needs them (the writer thread's too), rows read through the mappers both backends
//! share, and the few reads by key that each request makes, run on the calling thread. Its
//! reads open no transaction and write nothing; the writer thread (`writer`) writes.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a thread of its own, so every
//! statement is a message to that thread and back. A request's reads are a few rows by key, far
//! cheaper in SQLite than the two thread wake-ups around each of them, and on a busy 2-core
//! server those hops were most of the time a request spent in the store.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use licet_protocol::ids::DeviceId;
use rusqlite::{params_from_iter, Connection, OpenFlags, OptionalExtension};

use super::{placeholders, BUSY_TIMEOUT};
use crate::storage::rows::{by_key, license_record, project, usage_total, StoredRow, PROJECT_COLUMNS};
use crate::storage::{LicenseRecord, Project, StorageError, UsageTotal};

/// The most page cache a connection keeps, in KiB: allocated as pages are read, so a small
/// store never holds it all.
#[derive(Clone, Copy)]
pub(super) enum Cache {
    /// The writer's: every request inserts at a random place in the indexes of nonces and
    /// report IDs, so their pages must stay in memory. With SQLite's 2 MiB the writer read
    /// them back from the file again and again, and slowed as the store grew (measured: about
    /// 30% fewer reports per second from the first tenth of a 24,000-request run to its last).
    Writer = 64 * 1024,
    /// A reader's: projects, licenses, device keys and totals, read by key.
    Reader = 16 * 1024,
}

/// Opens the store's file for the path of requests: WAL (set by the migrations' connection and
/// kept in the file), `synchronous = FULL` as everywhere in this store (a receipt lets a device
/// delete its usage, so a committed report must survive a power cut), foreign keys on, and a
/// wait for a lock that a CLI command of another process holds rather than a failure; a page
/// cache of at most `cache` (SQLite's default is 2 MiB).
pub(super) fn connect(path: &Path, cache: Cache) -> Result<Connection, StorageError> {
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // The writer alone prepares about twenty statements, some in a few sizes of `IN (...)`:
    // rusqlite's default of 16 cached would prepare some again for every request.
    connection.set_prepared_statement_cache_capacity(64);
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    // Negative: a size in KiB rather than a number of pages.
    connection.pragma_update(None, "cache_size", -(cache as i64))?;
    Ok(connection)
}

/// A row from rusqlite, read by the mappers both backends share (`rows`).
pub(super) struct RusqliteRow<'a, 'r>(pub &'a rusqlite::Row<'r>);

impl StoredRow for RusqliteRow<'_, '_> {
    fn text(&self, column: &str) -> Result<String, StorageError> {
        Ok(self.0.get(column)?)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StorageError> {
        Ok(self.0.get(column)?)
    }

    fn flag(&self, column: &str) -> Result<bool, StorageError> {
        Ok(self.0.get(column)?)
    }

    fn integer(&self, column: &str) -> Result<i64, StorageError> {
        Ok(self.0.get(column)?)
    }

    fn optional_integer(&self, column: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.0.get(column)?)
    }
}

/// The rows `sql` selects with `values` bound, each mapped by `map`.
fn rows<T>(
    connection: &Connection,
    sql: &str,
    values: impl IntoIterator<Item: rusqlite::ToSql>,
    map: impl Fn(&RusqliteRow) -> Result<T, StorageError>,
) -> Result<Vec<T>, StorageError> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut found = statement.query(params_from_iter(values))?;
    let mut mapped = Vec::new();
    while let Some(row) = found.next()? {
        mapped.push(map(&RusqliteRow(row))?);
    }
    Ok(mapped)
}

/// The usage totals of these licenses per item, in the writer's transaction or on a reader: a
/// few rows of `usage_totals`, whatever the number of usage rows stored.
pub(super) fn usage_of(connection: &Connection, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
    if license_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT license_id, kind, name, count FROM usage_totals WHERE license_id IN ({}) ORDER BY license_id, kind, name",
        placeholders(license_ids.len())
    );
    rows(connection, &sql, license_ids, |row| usage_total(row))
}

/// Idle connections for the reads of requests, each run on the thread that asks: WAL readers
/// wait neither for each other nor for the writer.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()) }
    }

    /// Runs `read` on an idle connection, or a new one when none is idle.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StorageError>) -> Result<T, StorageError> {
        // A reader holds no state between reads, so one left by a panicking thread is sound.
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => connect(&self.path, Cache::Reader)?,
        };
        let result = read(&connection);
        // Every one is kept: a read runs on the thread that asks, so there are never more
        // connections than threads that read at once.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(connection);
        result
    }

    /// Closes the idle connections (one in use is closed when its read returns it: never, once
    /// the store is closed).
    pub(super) fn close(&self) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The projects `condition` (on `projects`, with one `?`) selects for `value`: at most one.
    fn project_where(&self, condition: &str, value: &str) -> Result<Option<Project>, StorageError> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE {condition}");
        self.read(|connection| Ok(rows(connection, &sql, [value], |row| project(row))?.into_iter().next()))
    }

    pub(super) fn project(&self, handshake_code: &str) -> Result<Option<Project>, StorageError> {
        self.project_where("handshake_code = ?", handshake_code)
    }

    pub(super) fn default_project(&self, organization_id: &str) -> Result<Option<Project>, StorageError> {
        self.project_where("organization_id = ? AND is_default = 1", organization_id)
    }

    pub(super) fn project_licenses(&self, handshake_code: &str) -> Result<Vec<LicenseRecord>, StorageError> {
        self.read(|connection| {
            rows(
                connection,
                "SELECT l.* FROM project_licenses pl JOIN licenses l ON l.id = pl.license_id
                 WHERE pl.handshake_code = ? ORDER BY pl.assigned_at, pl.rowid",
                [handshake_code],
                |row| license_record(row),
            )
        })
    }

    pub(super) fn device_known(&self, device_id: &DeviceId, handshake_code: &str) -> Result<bool, StorageError> {
        self.read(|connection| {
            let mut statement =
                connection.prepare_cached("SELECT 1 FROM devices WHERE device_id = ? AND handshake_code = ?")?;
            Ok(statement
                .query_row([device_id.to_hyphenated().as_str(), handshake_code], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    pub(super) fn usage_of(&self, license_ids: &[String]) -> Result<Vec<UsageTotal>, StorageError> {
        self.read(|connection| usage_of(connection, license_ids))
    }

    /// The values of these settings keys, in their order; `None` for a key not set.
    pub(super) fn setting_values<const N: usize>(&self, keys: [&str; N]) -> Result<[Option<String>; N], StorageError> {
        let sql = format!("SELECT key, value FROM settings WHERE key IN ({})", placeholders(N));
        let found =
            self.read(|connection| rows(connection, &sql, keys, |row| Ok((row.text("key")?, row.text("value")?))))?;
        Ok(by_key(keys, found))
    }
}
