//! Building sealed requests and checking the answers: the client half of protocol v1. An
//! answer is accepted only if it opens with the request's response key, is signed by the
//! server key in the license key, echoes the request's nonce, names this device, and every
//! license in it carries the vendor's signature. The target of the requests comes from what
//! `initLicense` names: a license key, or a project on a server. Nothing here sends or stores
//! anything.

use licet_protocol::domain;
use licet_protocol::envelope::{open_response, seal_request, ResponseKey, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::VerifyingKey;
use licet_protocol::keys::{verifying_key, verifying_key_from_text, ServerPublicKeys};
use licet_protocol::license::{self, LicenseFile};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, LicenseState, Receipt, ReportsRequest, ReportsResponse, SealedRequest,
    SealedResponse, UsageReport,
};
use licet_protocol::ErrorCode;
use rand_core::{CryptoRng, RngCore};

use crate::core::error::LicetError;
use crate::ports::Reply;

/// Where to send requests and whom to believe, from a license key and the built-in vendor key.
#[derive(Debug, Clone)]
pub struct Target {
    pub servers: Vec<String>,
    pub organization_id: Option<String>,
    pub handshake_code: Option<String>,
    pub server_keys: ServerPublicKeys,
    server: VerifyingKey,
    vendor: VerifyingKey,
}

impl Target {
    /// Checks the license key's server keys and the vendor key text. An empty organization ID
    /// or handshake code counts as absent; a key naming neither asks for the public trial,
    /// which the server grants or refuses.
    pub fn new(key: LicenseKey, vendor_public_key: &str) -> Result<Target, LicetError> {
        if key.servers.is_empty() {
            return Err(ErrorCode::InvalidLicenseKey.into());
        }
        let server_keys = key.server_keys().map_err(|_| LicetError::from(ErrorCode::InvalidLicenseKey))?;
        Ok(Target {
            server: verifying_key(&server_keys.signing)?,
            vendor: verifying_key_from_text(vendor_public_key)?,
            servers: key.servers,
            organization_id: key.organization_id.filter(|id| !id.is_empty()),
            handshake_code: key.handshake_code.filter(|code| !code.is_empty()),
            server_keys,
        })
    }

    /// The URL of `route` on the license key's server `server` (0 is the main server, then
    /// the standbys in the key's order; `core::failover` picks which); `None` past the list.
    pub fn url(&self, server: usize, route: Route) -> Option<String> {
        self.servers.get(server).map(|base| format!("{}{}", base.trim_end_matches('/'), route.path()))
    }
}

/// The object form of `initLicense`'s first argument, `{ organizationID, handshakeCode,
/// licenseServer }`: a project, and the license key of the server that holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub organization_id: Option<String>,
    pub handshake_code: Option<String>,
    /// A license key (`LICET1.`...) used only for its server URLs and public keys.
    pub license_server: Option<String>,
}

impl Project {
    /// The license key this names: the servers and keys of `licenseServer` or, when it is
    /// absent or empty, of the build's default `built_in`, read with `parse`; the project is
    /// this object's, whatever the key names.
    pub fn license_key(
        self,
        built_in: Option<&str>,
        parse: impl FnOnce(&str) -> Result<LicenseKey, LicetError>,
    ) -> Result<LicenseKey, LicetError> {
        const NO_SERVER: &str =
            "no license server: pass licenseServer (a license key) to initLicense, or build the sdk with LICET_LICENSE_SERVER set to one";
        let present = |key: &&str| !key.is_empty();
        let server = self.license_server.as_deref().filter(present).or(built_in.filter(present));
        let server =
            server.ok_or_else(|| LicetError { code: ErrorCode::InvalidLicenseKey, detail: Some(NO_SERVER.into()) })?;
        Ok(LicenseKey { organization_id: self.organization_id, handshake_code: self.handshake_code, ..parse(server)? })
    }
}

/// What the page tells the server about itself when it asks for an authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub session_password: Option<String>,
    pub device_name: Option<String>,
    pub product: String,
    /// The page's host name.
    pub domain: String,
}

/// A request on its way: what its answer must match.
pub struct Pending {
    key: ResponseKey,
    nonce: Nonce,
    device_id: DeviceId,
    /// The host the request was made from; the answer's licenses must allow it.
    host: String,
}

fn nonce(rng: &mut impl RngCore) -> Nonce {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    Nonce(bytes)
}

fn seal<T: serde::Serialize, R: RngCore + CryptoRng>(
    target: &Target,
    route: Route,
    message: &T,
    pending: (Nonce, DeviceId, &str),
    rng: &mut R,
) -> Result<(SealedRequest, Pending), LicetError> {
    let (sealed, key) = seal_request(&target.server_keys.hpke, route, &wire::encode(message), rng)?;
    let (nonce, device_id, host) = pending;
    Ok((sealed, Pending { key, nonce, device_id, host: host.into() }))
}

/// Seals `POST /v1/authorize`.
pub fn authorize_request<R: RngCore + CryptoRng>(
    target: &Target,
    device_id: DeviceId,
    params: &AuthorizeParams,
    now: u64,
    rng: &mut R,
) -> Result<(SealedRequest, Pending), LicetError> {
    let nonce = nonce(rng);
    let request = AuthorizeRequest {
        device_id,
        organization_id: target.organization_id.clone(),
        handshake_code: target.handshake_code.clone(),
        session_password: params.session_password.clone(),
        product: params.product.clone(),
        sdk_version: env!("CARGO_PKG_VERSION").into(),
        domain: params.domain.clone(),
        device_name: params.device_name.clone(),
        nonce,
        client_time: now,
    };
    seal(target, Route::Authorize, &request, (nonce, device_id, &params.domain), rng)
}

/// `POST /v1/reports` for one project's reports, before `reports_request` seals it.
pub fn reports_message(
    device_id: DeviceId,
    handshake_code: &str,
    domain: &str,
    reports: Vec<UsageReport>,
) -> ReportsRequest {
    ReportsRequest {
        device_id,
        handshake_code: handshake_code.into(),
        domain: domain.into(),
        reports,
        nonce: Nonce([0; 16]),
        client_time: 0,
    }
}

/// Seals `message` (from `reports_message`) with a fresh nonce and the client time `now`: for
/// each server tried, the same reports in a request of its own.
pub fn reports_request<R: RngCore + CryptoRng>(
    target: &Target,
    message: &mut ReportsRequest,
    now: u64,
    rng: &mut R,
) -> Result<(SealedRequest, Pending), LicetError> {
    message.nonce = nonce(rng);
    message.client_time = now;
    seal(target, Route::Reports, message, (message.nonce, message.device_id, &message.domain), rng)
}

/// The sealed body of a successful answer, or the server's refusal as an error.
pub fn sealed_body(reply: Reply) -> Result<SealedResponse, LicetError> {
    match reply {
        Reply::Sealed(body) => Ok(body),
        Reply::Refused(body) => Err(match ErrorCode::parse(&body.code) {
            Some(code) => LicetError { code, detail: Some(body.message) },
            None => ErrorCode::BadResponse.into(),
        }),
    }
}

/// Verifies a signed authorization (fresh or cached) for this device on this host: the
/// server's signature, the vendor's signature on every license in it, and that one of those
/// licenses allows the host (`DOMAIN_MISMATCH` otherwise), by the same rule as the server's.
/// Returns it with its licenses, verified and decoded.
pub fn verify_authorization(
    signed: &Signed,
    target: &Target,
    device_id: DeviceId,
    host: &str,
) -> Result<(Authorization, Vec<LicenseFile>), LicetError> {
    let authorization: Authorization = signed.verify(&target.server)?;
    if authorization.device_id != device_id {
        return Err(ErrorCode::BadResponse.into());
    }
    let licenses = authorization
        .licenses
        .iter()
        .map(|signed| license::verify(signed, &target.vendor))
        .collect::<Result<Vec<LicenseFile>, _>>()?;
    domain::licenses_allow_host(&licenses, host).map_err(|refusal| LicetError::from(refusal.code()))?;
    Ok((within_licenses(authorization, &licenses), licenses))
}

/// Whether a verified authorization (a cached one) with its `licenses`, as
/// `verify_authorization` returns them, serves the project `target` asks for: the same
/// handshake code when it names one; else a license of the organization it names; else, for a
/// target that asks for the public trial, a trial authorization. So an offline start never
/// passes one project's authorization off as another's.
pub fn serves(target: &Target, authorization: &Authorization, licenses: &[LicenseFile]) -> bool {
    match (&target.handshake_code, &target.organization_id) {
        (Some(code), _) => *code == authorization.handshake_code,
        (None, Some(org)) => licenses.iter().any(|file| file.organization_id == *org),
        (None, None) => authorization.state == LicenseState::Trial,
    }
}

/// Holds an authorization to what its vendor-signed licenses allow, whatever the server signed:
/// no offline grace past the longest license grace from the server's time or past the last
/// expiry and its tolerance, and no module that no license sells. A license server can count,
/// but cannot extend a license.
pub fn within_licenses(mut authorization: Authorization, licenses: &[LicenseFile]) -> Authorization {
    let longest_grace = licenses.iter().map(|l| l.offline_grace_ms).max().unwrap_or(0);
    let last_expiry = licenses.iter().map(|l| l.expires_at.saturating_add(l.tolerance.expiry_ms)).max().unwrap_or(0);
    let limit = authorization.server_time.saturating_add(longest_grace).min(last_expiry);
    authorization.offline_until = authorization.offline_until.min(limit);
    authorization.modules.retain(|module| licenses.iter().any(|l| l.modules.contains(module)));
    authorization
}

fn checked(pending: &Pending, signed: &Signed, target: &Target) -> Result<Authorization, LicetError> {
    let (authorization, _) = verify_authorization(signed, target, pending.device_id, &pending.host)?;
    if authorization.nonce != pending.nonce {
        return Err(ErrorCode::NonceMismatch.into());
    }
    Ok(authorization)
}

/// Opens and checks the answer to an authorize request.
pub fn accept_authorization(
    pending: &Pending,
    response: &SealedResponse,
    target: &Target,
) -> Result<(Signed, Authorization), LicetError> {
    let signed: Signed = wire::decode(&open_response(&pending.key, response)?)?;
    let authorization = checked(pending, &signed, target)?;
    Ok((signed, authorization))
}

/// What the answer to a reports request says about the device's authorization, checked.
pub enum Renewal {
    /// A fresh authorization, verified as the answer to an authorize request is.
    Renewed(Signed, Authorization),
    /// No new authorization, for the reason of this code (`BAD_RESPONSE` for one this build
    /// does not know), as of the receipt's server time: the device keeps the one it holds.
    Refused(ErrorCode, u64),
}

/// Opens and checks the answer to a reports request: the IDs the receipt accepts, and what
/// became of the authorization. A refused renewal does not void the receipt: the reports are
/// counted either way.
pub fn accept_receipt(
    pending: &Pending,
    response: &SealedResponse,
    target: &Target,
) -> Result<(Vec<ReportId>, Renewal), LicetError> {
    let answer: ReportsResponse = wire::decode(&open_response(&pending.key, response)?)?;
    let receipt: Receipt = answer.receipt.verify(&target.server)?;
    if receipt.nonce != pending.nonce {
        return Err(ErrorCode::NonceMismatch.into());
    }
    if receipt.device_id != pending.device_id {
        return Err(ErrorCode::BadResponse.into());
    }
    let renewal = match answer.renewal {
        wire::Renewal::Renewed(signed) => {
            let authorization = checked(pending, &signed, target)?;
            Renewal::Renewed(signed, authorization)
        }
        wire::Renewal::Refused(code) => {
            Renewal::Refused(ErrorCode::parse(&code).unwrap_or(ErrorCode::BadResponse), receipt.server_time)
        }
    };
    Ok((receipt.accepted, renewal))
}
