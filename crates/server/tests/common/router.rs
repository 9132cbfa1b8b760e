//! The test double of a device for the protocol tests (`api.rs`, `rules.rs`): a router over a
//! fresh store with a clock the test moves, a vendor key to issue licenses with, and requests
//! sealed and answers opened with the protocol crate, as the browser module does.
// Each test target uses part of this file.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use licet_protocol::envelope::{self, ResponseKey, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{self, ServerPublicKeys, VendorKey, VerifyingKey};
use licet_protocol::license::{self, LicenseFile, LicenseType, Module, Tolerance, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, ErrorBody, Receipt, Renewal, ReportsRequest, ReportsResponse,
    SealedResponse, SlotUsage, UsageReport,
};
use licet_server::storage::{Storage, UsageItem, UsageTotal};
use licet_server::{admin, router, Config};
use rand_core::{OsRng, RngCore, TryRngCore};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::ServiceExt;

use super::open_store;

/// The server's time in these tests: 2027-01-15.
pub const NOW: u64 = 1_800_000_000_000;
pub const ORG: &str = "acme";
pub const CODE: &str = "acme-web";

pub fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    OsRng.unwrap_err().fill_bytes(&mut bytes);
    bytes
}

/// A router over a fresh store, with a clock the test moves.
pub struct Server {
    pub router: Router,
    /// What the router serves: for the tasks beside it (housekeeping, alerts) and tests that
    /// serve it on a socket.
    pub config: Config,
    pub storage: Arc<dyn Storage>,
    pub public: ServerPublicKeys,
    pub vendor: VendorKey,
    pub now: Arc<AtomicU64>,
}

/// A test's answer: the decrypted response, or the HTTP status and error body.
pub type Answer<T> = Result<T, (StatusCode, ErrorBody)>;

impl Server {
    pub async fn new(name: &str) -> Server {
        let storage = open_store(name).await;
        let vendor = VendorKey::generate(&mut OsRng.unwrap_err());
        admin::initialize(storage.as_ref(), &vendor.public_text()).await.unwrap();
        let now = Arc::new(AtomicU64::new(NOW));
        let clock = now.clone();
        let config = Config::load(storage.clone())
            .await
            .unwrap()
            .unwrap()
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
        let public = config.keys.public();
        Server { router: router(config.clone()), config, storage, public, vendor, now }
    }

    pub fn vendor_public(&self) -> VerifyingKey {
        self.vendor.0.verifying_key()
    }

    /// Issues a license with the vendor key and imports it.
    pub async fn license(&self, id: &str, license_type: LicenseType, modules: &[Module], expires_at: u64) -> Signed {
        self.import(&license_file(id, license_type, modules, expires_at)).await
    }

    /// Imports a per-domain license that binds `domains`, valid for a year.
    pub async fn domain_license(&self, id: &str, domains: &[&str], allow_dev_hosts: bool) -> Signed {
        let mut file = license_file(id, LicenseType::PerDomain, &[Module::Core], NOW + 365 * DAY_MS);
        file.quota = None;
        file.domains = domains.iter().map(|d| (*d).to_owned()).collect();
        file.allow_dev_hosts = allow_dev_hosts;
        self.import(&file).await
    }

    /// Signs a license file with the vendor key and imports it.
    pub async fn import(&self, file: &LicenseFile) -> Signed {
        let signed = file.sign(&self.vendor.0);
        admin::import_license(self.storage.as_ref(), &self.vendor_public(), &signed, NOW).await.unwrap();
        signed
    }

    /// Creates a project and assigns it these licenses, in order.
    pub async fn project(&self, code: &str, password: Option<&str>, licenses: &[&str]) {
        admin::create_project(self.storage.as_ref(), ORG, Some(code), password, NOW).await.unwrap();
        for id in licenses {
            self.storage.assign_license(code, id, NOW).await.unwrap();
        }
    }

    /// Posts raw bytes, with an `Origin` header when one is given; returns the status and the body.
    pub async fn post(&self, path: &str, body: Vec<u8>, origin: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let request = request.body(Body::from(body)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        (status, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
    }

    /// Seals a message for `route`: the JSON body and the key to its response.
    pub fn seal<T: Serialize>(&self, route: Route, message: &T) -> (Vec<u8>, ResponseKey) {
        let (sealed, key) =
            envelope::seal_request(&self.public.hpke, route, &wire::encode(message), &mut OsRng.unwrap_err()).unwrap();
        (serde_json::to_vec(&sealed).unwrap(), key)
    }

    /// Posts a sealed body and opens the answer with `key`.
    pub async fn send<R: DeserializeOwned>(&self, route: Route, body: Vec<u8>, key: &ResponseKey) -> Answer<R> {
        self.send_from(route, body, key, None).await
    }

    /// `send` with an `Origin` header, as a browser sends it.
    pub async fn send_from<R: DeserializeOwned>(
        &self,
        route: Route,
        body: Vec<u8>,
        key: &ResponseKey,
        origin: Option<&str>,
    ) -> Answer<R> {
        let (status, body) = self.post(route.path(), body, origin).await;
        if status != StatusCode::OK {
            return Err((status, serde_json::from_slice(&body).expect("an error body in the shared JSON shape")));
        }
        let sealed: SealedResponse = serde_json::from_slice(&body).unwrap();
        Ok(wire::decode(&envelope::open_response(key, &sealed).unwrap()).unwrap())
    }

    pub async fn call<T: Serialize, R: DeserializeOwned>(&self, route: Route, message: &T) -> Answer<R> {
        self.call_from(route, message, None).await
    }

    pub async fn call_from<T: Serialize, R: DeserializeOwned>(
        &self,
        route: Route,
        message: &T,
        origin: Option<&str>,
    ) -> Answer<R> {
        let (body, key) = self.seal(route, message);
        self.send_from(route, body, &key, origin).await
    }

    /// Authorizes a device and checks the server's signature on the answer.
    pub async fn authorize(&self, request: &AuthorizeRequest) -> Answer<Authorization> {
        self.authorize_from(request, None).await
    }

    /// `authorize` with an `Origin` header.
    pub async fn authorize_from(&self, request: &AuthorizeRequest, origin: Option<&str>) -> Answer<Authorization> {
        let signed: Signed = self.call_from(Route::Authorize, request, origin).await?;
        Ok(signed.verify(&self.server_signing()).expect("the authorization verifies with the server's key"))
    }

    pub fn server_signing(&self) -> VerifyingKey {
        keys::verifying_key(&self.public.signing).unwrap()
    }

    pub async fn usage(&self) -> Vec<UsageTotal> {
        self.storage.usage().await.unwrap()
    }
}

/// A license file of `ORG` that binds no domain.
pub fn license_file(id: &str, license_type: LicenseType, modules: &[Module], expires_at: u64) -> LicenseFile {
    LicenseFile {
        id: id.into(),
        organization_id: ORG.into(),
        product: "scanner".into(),
        license_type,
        modules: modules.to_vec(),
        quota: Some(1000),
        devices: None,
        active: None,
        domains: vec![],
        allow_dev_hosts: false,
        issued_at: NOW - DAY_MS,
        expires_at,
        offline_grace_ms: license::DEFAULT_OFFLINE_GRACE_MS,
        tolerance: Tolerance::default(),
    }
}

pub fn authorize_request(
    device_id: DeviceId,
    organization_id: Option<&str>,
    handshake_code: Option<&str>,
) -> AuthorizeRequest {
    AuthorizeRequest {
        device_id,
        organization_id: organization_id.map(Into::into),
        handshake_code: handshake_code.map(Into::into),
        session_password: None,
        // What the SDK sends when the application names no product.
        product: String::new(),
        sdk_version: "1.0.0".into(),
        domain: "app.example.com".into(),
        device_name: Some("test browser".into()),
        nonce: Nonce(random16()),
        client_time: NOW,
    }
}

/// A device the server has never seen.
pub fn new_device() -> DeviceId {
    DeviceId::from_random(random16())
}

/// An authorization request of a new device for `CODE` from a page on `domain`.
pub fn from_domain(domain: &str) -> AuthorizeRequest {
    let mut request = authorize_request(new_device(), None, Some(CODE));
    request.domain = domain.into();
    request
}

pub fn reports_request(device_id: DeviceId, reports: Vec<UsageReport>) -> ReportsRequest {
    ReportsRequest {
        device_id,
        handshake_code: CODE.into(),
        domain: "app.example.com".into(),
        reports,
        nonce: Nonce(random16()),
        client_time: NOW,
    }
}

/// A report of `pages` core pages and `scans` QR codes in one slot.
pub fn report(pages: u64, scans: u64) -> UsageReport {
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage {
            slot: NOW / licet_protocol::SLOT_MS - 1,
            pages: vec![(Module::Core, pages)],
            scans: vec![("QR_CODE".into(), scans)],
        }],
    }
}

pub fn total(usage: &[UsageTotal], license_id: &str, item: UsageItem) -> u64 {
    usage.iter().filter(|t| t.license_id == license_id && t.item == item).map(|t| t.count).sum()
}

pub fn assert_refused<T: std::fmt::Debug>(answer: Answer<T>, status: StatusCode, code: &str) {
    let (got_status, body) = answer.expect_err("the request is refused");
    assert_eq!((got_status, body.code.as_str()), (status, code), "{}", body.message);
    assert_eq!(body.message, licet_protocol::ErrorCode::parse(code).unwrap().message());
}

/// A server with one valid per-page license (core, ocr) on `CODE` and one authorized device.
pub async fn licensed_server(name: &str) -> (Server, DeviceId) {
    let server = Server::new(name).await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core, Module::Ocr], NOW + 365 * DAY_MS).await;
    server.project(CODE, None, &["L-pages"]).await;
    let device = DeviceId::from_random(random16());
    server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    (server, device)
}

impl Server {
    /// Sends reports of `device` and returns the verified receipt and what the renewal says:
    /// the verified authorization, or the refusal's code.
    pub async fn report(
        &self,
        device: DeviceId,
        reports: Vec<UsageReport>,
    ) -> (Receipt, Result<Authorization, String>) {
        self.send_reports(&reports_request(device, reports)).await
    }

    /// `report` with a request the caller made.
    pub async fn send_reports(&self, request: &ReportsRequest) -> (Receipt, Result<Authorization, String>) {
        let answer: ReportsResponse = self.call(Route::Reports, request).await.unwrap();
        let receipt =
            answer.receipt.verify(&self.server_signing()).expect("the receipt verifies with the server's key");
        let renewal = match answer.renewal {
            Renewal::Renewed(signed) => Ok(signed.verify(&self.server_signing()).expect("the renewal verifies")),
            Renewal::Refused(code) => Err(code),
        };
        (receipt, renewal)
    }
}
