//! Base64url without padding, the one text encoding of every binary field outside postcard:
//! keys, license files, license keys and the JSON envelope fields. Also a serde adapter for
//! those JSON fields. It accepts nothing else (no padding, no standard alphabet).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::ProtocolError;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn decode(text: &str) -> Result<Vec<u8>, ProtocolError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| ProtocolError::Malformed)
}

/// Decodes unpadded base64url into exactly `N` bytes.
pub fn decode_array<const N: usize>(text: &str) -> Result<[u8; N], ProtocolError> {
    decode(text)?.try_into().map_err(|_| ProtocolError::Malformed)
}

/// `#[serde(with = "licet_protocol::b64::serde")]` for `Vec<u8>` fields carried as base64url text.
pub mod serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        // An owned string: the browser's JSON values cannot lend out their text.
        let text = String::deserialize(d)?;
        super::decode(&text).map_err(|_| serde::de::Error::custom("invalid base64url"))
    }
}
