//! `ServerError`: why a CLI command or the server itself failed, as one lowercase line that
//! says what to do next. Errors answered to HTTP clients are `api::ApiError`, not these.

use std::path::PathBuf;

use licet_protocol::domain::DomainError;
use licet_protocol::ProtocolError;

use crate::storage::StorageError;

/// Why a command, or the server, failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A command-line value that is out of range or does not fit the other options.
    #[error("{0}")]
    Invalid(String),
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists: choose another path, the file is never overwritten", .0.display())]
    WouldOverwrite(PathBuf),
    #[error("{} is not a licet vendor key file ({:?}): pass the file written by `licet-server vendor keygen`", .0.display(), .1)]
    BadVendorKeyFile(PathBuf, ProtocolError),
    #[error("{0:?} is not a vendor public key ({1:?}): pass the key printed by `licet-server vendor public-key`")]
    BadVendorPublicKey(String, ProtocolError),
    /// `store` names the data directory or database as `DataArgs` shows it; `flag` its option.
    #[error("{store} is not an initialized licet store: run `licet-server init {flag} {store} --vendor-public-key KEY` first")]
    NotInitialized { store: String, flag: &'static str },
    #[error("--database {0} is not a PostgreSQL URL: give postgres://USER:PASSWORD@HOST/DATABASE, or --data DIR for an SQLite store")]
    NotADatabaseUrl(String),
    #[error("this data directory was initialized with another vendor public key: use a new data directory, or the vendor key it was made with")]
    VendorKeyMismatch,
    #[error("{0} is not a licet license file ({1:?}): check that the whole file was copied")]
    NotALicense(String, ProtocolError),
    #[error("the license file's vendor signature does not verify: it was altered, or signed by another vendor key than the one this server trusts")]
    LicenseSignature,
    #[error(
        "another license with the id {0} is already imported: licenses are never replaced, issue the new one with another --id"
    )]
    LicenseIdTaken(String),
    #[error("--domain {0:?} is not a domain pattern: {1}")]
    InvalidDomain(String, DomainError),
    #[error(
        "--domain {0:?} is a development host: leave it out and pass --allow-dev-hosts, which allows localhost and loopback addresses"
    )]
    DevHostDomain(String),
    #[error("license {0} binds {1:?}, which is not a domain pattern ({2}): ask the vendor for a license issued by a current licet-server")]
    BadLicenseDomain(String, String, DomainError),
    /// `of` names the license an imported pattern comes from (` of license ID`), or is empty.
    #[error(
        "the domain pattern {pattern:?}{of} covers the public suffix {suffix}, which sites of unrelated owners share: bind a domain of your own, or on a multi-tenant platform only the exact tenant subdomain (like acme.{suffix})"
    )]
    PublicSuffixDomain { pattern: String, of: String, suffix: String },
    #[error(
        "the text is neither a license file (licet-license-v1.) nor a license key (LICET1.): pass the file or its text"
    )]
    UndecodableText,
    #[error("the license key cannot be read ({0:?}): copy it again from `licet-server project create`")]
    BadLicenseKey(ProtocolError),
    #[error("the stored server settings cannot be read ({0:?}): restore the data directory from a backup")]
    BadStoredSettings(ProtocolError),
    #[error("the session password could not be hashed ({0}): try again")]
    PasswordHash(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("could not listen on {address} ({source}): choose another --listen address, or stop what holds it")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not catch ctrl-c and sigterm ({0}): run the server where signals can be handled")]
    Signals(std::io::Error),
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
}
