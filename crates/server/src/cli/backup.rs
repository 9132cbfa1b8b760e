//! `licet-server backup --data DIR --out FILE`: a consistent copy of an SQLite store, taken while
//! a server may be serving from it (SQLite's `VACUUM INTO` reads one snapshot, so the copy holds
//! every transaction committed before it began and none after). It never overwrites a file and
//! never copies a PostgreSQL database: that is `pg_dump`'s job.

use std::path::PathBuf;

use clap::Args;

use super::Outcome;
use crate::error::ServerError;
use crate::storage::SqliteStorage;

#[derive(Args)]
pub struct BackupArgs {
    /// The data directory to copy (it may be in use by `serve`).
    #[arg(long, value_name = "DIR", env = "LICET_DATA")]
    data: PathBuf,
    /// The file to write: a complete SQLite database, restored by copying it to `licet.db` in an
    /// empty data directory.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub async fn run(args: BackupArgs) -> Result<Outcome, ServerError> {
    if !SqliteStorage::path(&args.data).is_file() {
        return Err(ServerError::NotInitialized { store: args.data.display().to_string(), flag: "--data" });
    }
    if args.out.exists() {
        return Err(ServerError::WouldOverwrite(args.out));
    }
    // SQLite takes the file name as text.
    let Some(out) = args.out.to_str() else {
        return Err(ServerError::Invalid(format!(
            "--out {} is not a UTF-8 path: choose a plainer file name",
            args.out.display()
        )));
    };
    SqliteStorage::backup(&args.data, out).await?;
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).map_err(|source| ServerError::Io {
        action: "read",
        path: args.out.clone(),
        source,
    })?;
    Ok(Outcome {
        text: format!("backed up {} to {} ({bytes} bytes)", args.data.display(), args.out.display()),
        json: serde_json::json!({ "data": args.data, "out": args.out, "bytes": bytes }),
    })
}
