//! `licet-server vendor keygen | public-key`: the vendor's Ed25519 signing key file. It never
//! overwrites a key file (a lost vendor key cannot sign again for licenses already shipped).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use licet_protocol::keys::VendorKey;

use super::{read_text, write_new_secret, Outcome};
use crate::error::ServerError;
use crate::random::rng;

#[derive(Subcommand)]
pub enum VendorCommand {
    /// Create a vendor signing key file and print its public key.
    Keygen {
        /// Where to write the secret key; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the public key of a vendor key file.
    PublicKey {
        #[arg(long, value_name = "FILE")]
        vendor_key: PathBuf,
    },
}

/// Reads a vendor key file.
pub fn load(path: &Path) -> Result<VendorKey, ServerError> {
    VendorKey::from_text(&read_text(path)?).map_err(|e| ServerError::BadVendorKeyFile(path.to_owned(), e))
}

fn public_key(key: &VendorKey, text: String) -> Outcome {
    Outcome { text, json: serde_json::json!({ "publicKey": key.public_text() }) }
}

pub fn run(command: VendorCommand) -> Result<Outcome, ServerError> {
    match command {
        VendorCommand::Keygen { out } => {
            let key = VendorKey::generate(&mut rng());
            write_new_secret(&out, &key.to_text())?;
            let text = format!(
                "wrote the vendor key to {} (keep it secret: it is what creates licenses)\nvendor public key: {}",
                out.display(),
                key.public_text()
            );
            Ok(public_key(&key, text))
        }
        VendorCommand::PublicKey { vendor_key } => {
            let key = load(&vendor_key)?;
            let text = key.public_text();
            Ok(public_key(&key, text))
        }
    }
}
