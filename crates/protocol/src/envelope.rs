//! The request envelope of protocol v1. A request body is sealed with HPKE (RFC 9180 base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) to the server's X25519 key, with
//! the route in the HPKE `info` so a body sealed for one route cannot be posted to another. The
//! response is encrypted with a one-time key exported from the same HPKE context, so only the
//! sender of the request can read it. Signing the response is `sign`'s job, not this module's.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use hpke::aead::ChaCha20Poly1305 as HpkeAead;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};

use crate::keys::Kem;
use crate::wire::{SealedRequest, SealedResponse};
use crate::ProtocolError;

/// The endpoint a request is sealed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Authorize,
    Reports,
}

impl Route {
    /// The HPKE `info` of requests to this route.
    pub fn info(self) -> &'static [u8] {
        match self {
            Route::Authorize => b"licet/v1/authorize",
            Route::Reports => b"licet/v1/reports",
        }
    }

    /// The HTTP path of this route.
    pub fn path(self) -> &'static str {
        match self {
            Route::Authorize => "/v1/authorize",
            Route::Reports => "/v1/reports",
        }
    }
}

const RESPONSE_LABEL: &[u8] = b"licet/v1/response";

/// The one-time key that encrypts the response to one request. It is used for exactly one
/// message, which is why a fixed nonce is safe.
pub struct ResponseKey([u8; 32]);

impl ResponseKey {
    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new((&self.0).into())
    }
}

fn export_response_key<Ctx>(
    export: impl FnOnce(&mut [u8; 32]) -> Result<(), Ctx>,
) -> Result<ResponseKey, ProtocolError> {
    let mut key = [0u8; 32];
    export(&mut key).map_err(|_| ProtocolError::DecryptFailed)?;
    Ok(ResponseKey(key))
}

/// Seals `plaintext` for `route` to the server's HPKE public key. Returns the request and the
/// key that will open its response.
pub fn seal_request<R: RngCore + CryptoRng>(
    server_hpke_public: &[u8; 32],
    route: Route,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<(SealedRequest, ResponseKey), ProtocolError> {
    let public = <Kem as hpke::Kem>::PublicKey::from_bytes(server_hpke_public).map_err(|_| ProtocolError::BadKey)?;
    let (enc, mut ctx) = hpke::setup_sender::<HpkeAead, HkdfSha256, Kem, _>(&OpModeS::Base, &public, route.info(), rng)
        .map_err(|_| ProtocolError::BadKey)?;
    let ct = ctx.seal(plaintext, b"").map_err(|_| ProtocolError::BadKey)?;
    let key = export_response_key(|out| ctx.export(RESPONSE_LABEL, out))?;
    Ok((SealedRequest { enc: enc.to_bytes().to_vec(), ct }, key))
}

/// Opens a request sealed for `route`. Any altered byte of `enc` or `ct` gives `DecryptFailed`.
pub fn open_request(
    server_hpke_secret: &<Kem as hpke::Kem>::PrivateKey,
    route: Route,
    request: &SealedRequest,
) -> Result<(Vec<u8>, ResponseKey), ProtocolError> {
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&request.enc).map_err(|_| ProtocolError::Malformed)?;
    let mut ctx =
        hpke::setup_receiver::<HpkeAead, HkdfSha256, Kem>(&OpModeR::Base, server_hpke_secret, &enc, route.info())
            .map_err(|_| ProtocolError::DecryptFailed)?;
    let plaintext = ctx.open(&request.ct, b"").map_err(|_| ProtocolError::DecryptFailed)?;
    let key = export_response_key(|out| ctx.export(RESPONSE_LABEL, out))?;
    Ok((plaintext, key))
}

/// Encrypts the response to the request that produced `key`.
pub fn seal_response(key: &ResponseKey, plaintext: &[u8]) -> SealedResponse {
    let ct = key
        .cipher()
        .encrypt(&Default::default(), Payload { msg: plaintext, aad: RESPONSE_LABEL })
        .expect("chacha20poly1305 encrypts any message that fits in memory");
    SealedResponse { ct }
}

/// Decrypts a response with the key of its request.
pub fn open_response(key: &ResponseKey, response: &SealedResponse) -> Result<Vec<u8>, ProtocolError> {
    key.cipher()
        .decrypt(&Default::default(), Payload { msg: &response.ct, aad: RESPONSE_LABEL })
        .map_err(|_| ProtocolError::DecryptFailed)
}
