//! The license key that `initLicense` takes: `LICET1.` and base64url JSON naming the servers
//! (main first, then standbys), the organization ID and/or handshake code, and the server's
//! public keys. It says how to reach the license, it is not the license: it grants nothing.
//! Parsing its JSON is left to the caller (serde_json on the server, the platform's `JSON`
//! in the browser), so this module holds only the shape and the prefix.

use serde::{Deserialize, Serialize};

use crate::keys::ServerPublicKeys;
use crate::{b64, ProtocolError};

pub const PREFIX: &str = "LICET1.";

/// The decoded license key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseKey {
    pub servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_code: Option<String>,
    /// The server's Ed25519 public key, base64url.
    pub signing_key: String,
    /// The server's X25519 HPKE public key, base64url.
    pub hpke_key: String,
}

impl LicenseKey {
    pub fn new(
        servers: Vec<String>,
        organization_id: Option<String>,
        handshake_code: Option<String>,
        keys: &ServerPublicKeys,
    ) -> Self {
        LicenseKey {
            servers,
            organization_id,
            handshake_code,
            signing_key: b64::encode(&keys.signing),
            hpke_key: b64::encode(&keys.hpke),
        }
    }

    /// The server keys, checked for length.
    pub fn server_keys(&self) -> Result<ServerPublicKeys, ProtocolError> {
        Ok(ServerPublicKeys {
            signing: b64::decode_array(&self.signing_key)?,
            hpke: b64::decode_array(&self.hpke_key)?,
        })
    }

    /// Wraps the JSON text of a key into the key string.
    pub fn wrap(json: &str) -> String {
        format!("{PREFIX}{}", b64::encode(json.as_bytes()))
    }

    /// The JSON text inside a key string.
    pub fn unwrap_json(key: &str) -> Result<String, ProtocolError> {
        let body = key.trim().strip_prefix(PREFIX).ok_or(ProtocolError::UnsupportedVersion)?;
        String::from_utf8(b64::decode(body)?).map_err(|_| ProtocolError::Malformed)
    }

    #[cfg(feature = "json")]
    pub fn encode(&self) -> String {
        Self::wrap(&serde_json::to_string(self).expect("a license key always serializes"))
    }

    #[cfg(feature = "json")]
    pub fn decode(key: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(&Self::unwrap_json(key)?).map_err(|_| ProtocolError::Malformed)
    }
}
