//! Helpers shared by the server's integration tests.

use std::path::PathBuf;

/// A fresh, empty directory under cargo's target tmpdir, unique to `name` and this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

pub mod router;
