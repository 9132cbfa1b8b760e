//! The server's one source of randomness, the operating system's CSPRNG: for keys, salts and
//! generated names. Nothing here is seeded or reproducible, on purpose.

use rand_core::{OsRng, RngCore, TryRngCore, UnwrapErr};

/// The OS CSPRNG, in the infallible form the key generators take. An OS that cannot give
/// randomness cannot run a license server, so its failure is a panic, not an error path.
pub fn rng() -> UnwrapErr<OsRng> {
    OsRng.unwrap_err()
}

/// `bytes` random bytes as lowercase hex (twice as many characters).
pub fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
