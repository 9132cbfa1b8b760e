//! Session passwords: hashed with argon2id (default parameters, random salt) when a project is
//! created, checked when a device asks for authorization. The plain text is never stored or
//! logged; comparing is argon2's constant-time check, never string equality.

use argon2::password_hash::{Error as HashError, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::RngCore;

use crate::error::ServerError;
use crate::random::rng;

/// The PHC string (`$argon2id$...`) of `password`.
pub fn hash(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServerError::PasswordHash(e.to_string()))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::PasswordHash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string; an error when that string is unreadable.
pub fn verify(password: &str, stored: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(stored)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(HashError::Password) => Ok(false),
        Err(e) => Err(e),
    }
}
