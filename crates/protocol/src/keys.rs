//! Key material: the vendor's Ed25519 signing key, and each license server's Ed25519 signing
//! key and X25519 HPKE key. Text forms are versioned base64url so a key pasted in the wrong
//! place is refused by its prefix. Generating keys takes the caller's CSPRNG.

pub use ed25519_dalek::{SigningKey, VerifyingKey};
use hpke::{Deserializable, Kem as _, Serializable};
use rand_core::{CryptoRng, RngCore};

use crate::{b64, ProtocolError};

/// The HPKE KEM of protocol v1: DHKEM(X25519, HKDF-SHA256).
pub type Kem = hpke::kem::X25519HkdfSha256;

const VENDOR_SECRET_PREFIX: &str = "licet-vendor-secret-v1.";
const SERVER_SECRET_PREFIX: &str = "licet-server-secret-v1.";

/// Parses a 32-byte Ed25519 public key, refusing points that are not valid keys.
pub fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, ProtocolError> {
    VerifyingKey::from_bytes(bytes).map_err(|_| ProtocolError::BadKey)
}

/// Parses a base64url Ed25519 public key (the form the CLI prints).
pub fn verifying_key_from_text(text: &str) -> Result<VerifyingKey, ProtocolError> {
    verifying_key(&b64::decode_array(text.trim())?)
}

fn signing_key<R: RngCore + CryptoRng>(rng: &mut R) -> SigningKey {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    SigningKey::from_bytes(&secret)
}

/// The vendor's signing key: the only thing that can create a license.
pub struct VendorKey(pub SigningKey);

impl VendorKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        VendorKey(signing_key(rng))
    }

    /// The text kept in the vendor key file.
    pub fn to_text(&self) -> String {
        format!("{VENDOR_SECRET_PREFIX}{}", b64::encode(&self.0.to_bytes()))
    }

    pub fn from_text(text: &str) -> Result<Self, ProtocolError> {
        let body = text.trim().strip_prefix(VENDOR_SECRET_PREFIX).ok_or(ProtocolError::UnsupportedVersion)?;
        Ok(VendorKey(SigningKey::from_bytes(&b64::decode_array(body)?)))
    }

    /// The public half, base64url: what the browser module is built with.
    pub fn public_text(&self) -> String {
        b64::encode(self.0.verifying_key().as_bytes())
    }
}

/// The public halves of a server's keys, as carried in a license key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPublicKeys {
    pub signing: [u8; 32],
    pub hpke: [u8; 32],
}

/// One license server's secret keys.
pub struct ServerKeys {
    pub signing: SigningKey,
    pub hpke: <Kem as hpke::Kem>::PrivateKey,
}

impl ServerKeys {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let (hpke, _) = Kem::gen_keypair(rng);
        ServerKeys { signing: signing_key(rng), hpke }
    }

    pub fn public(&self) -> ServerPublicKeys {
        let hpke_public = Kem::sk_to_pk(&self.hpke).to_bytes();
        ServerPublicKeys { signing: self.signing.verifying_key().to_bytes(), hpke: hpke_public.into() }
    }

    /// The text stored by the server: signing secret then HPKE secret.
    pub fn to_text(&self) -> String {
        let mut bytes = self.signing.to_bytes().to_vec();
        bytes.extend_from_slice(&self.hpke.to_bytes());
        format!("{SERVER_SECRET_PREFIX}{}", b64::encode(&bytes))
    }

    pub fn from_text(text: &str) -> Result<Self, ProtocolError> {
        let body = text.trim().strip_prefix(SERVER_SECRET_PREFIX).ok_or(ProtocolError::UnsupportedVersion)?;
        let bytes: [u8; 64] = b64::decode_array(body)?;
        let signing = SigningKey::from_bytes(bytes[..32].try_into().map_err(|_| ProtocolError::Malformed)?);
        let hpke = <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes[32..]).map_err(|_| ProtocolError::BadKey)?;
        Ok(ServerKeys { signing, hpke })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{OsRng, TryRngCore};

    #[test]
    fn key_texts_round_trip_and_refuse_the_wrong_kind() {
        let vendor = VendorKey::generate(&mut OsRng.unwrap_err());
        let again = VendorKey::from_text(&vendor.to_text()).unwrap();
        assert_eq!(again.public_text(), vendor.public_text());
        let server = ServerKeys::generate(&mut OsRng.unwrap_err());
        let again = ServerKeys::from_text(&server.to_text()).unwrap();
        assert_eq!(again.public(), server.public());
        assert_eq!(VendorKey::from_text(&server.to_text()).err(), Some(ProtocolError::UnsupportedVersion));
        assert_eq!(ServerKeys::from_text(&vendor.to_text()).err(), Some(ProtocolError::UnsupportedVersion));
        assert!(verifying_key_from_text(&vendor.public_text()).is_ok());
        assert_eq!(verifying_key_from_text("AAAA").err(), Some(ProtocolError::Malformed));
    }
}
