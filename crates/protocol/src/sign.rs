//! Domain-separated Ed25519 signatures. Every signed object names its kind in a prefix that
//! the signature covers, so a receipt can never verify as an authorization or a license. It
//! does not decide whom to trust: callers pass the verifying key they trust for that kind.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// What a signed payload is; its prefix is part of the signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedKind {
    License,
    Authorization,
    Receipt,
}

impl SignedKind {
    fn prefix(self) -> &'static [u8] {
        match self {
            SignedKind::License => b"licet/v1/license",
            SignedKind::Authorization => b"licet/v1/authorization",
            SignedKind::Receipt => b"licet/v1/receipt",
        }
    }
}

/// A type that travels signed, and the one kind it is signed as.
pub trait SignedPayload: Serialize + DeserializeOwned {
    const KIND: SignedKind;
}

/// A postcard payload and an Ed25519 signature over `prefix || 0x00 || payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

fn message(kind: SignedKind, payload: &[u8]) -> Vec<u8> {
    let prefix = kind.prefix();
    let mut message = Vec::with_capacity(prefix.len() + 1 + payload.len());
    message.extend_from_slice(prefix);
    message.push(0);
    message.extend_from_slice(payload);
    message
}

impl Signed {
    /// Encodes `value` with postcard and signs it as its kind.
    pub fn sign<T: SignedPayload>(key: &SigningKey, value: &T) -> Signed {
        let payload = crate::wire::encode(value);
        let signature = key.sign(&message(T::KIND, &payload)).to_bytes().to_vec();
        Signed { payload, signature }
    }

    /// Verifies the signature for `T`'s kind, then decodes the payload.
    pub fn verify<T: SignedPayload>(&self, key: &VerifyingKey) -> Result<T, ProtocolError> {
        let signature: [u8; 64] = self.signature.as_slice().try_into().map_err(|_| ProtocolError::BadSignature)?;
        key.verify_strict(&message(T::KIND, &self.payload), &Signature::from_bytes(&signature))
            .map_err(|_| ProtocolError::BadSignature)?;
        crate::wire::decode(&self.payload)
    }
}
