//! In-memory twins of the ports for native tests: a store in a `RefCell`, a settable clock, and
//! a license server twin that speaks protocol v1 with real keys. The twin counts reports by
//! ID and refuses a replayed nonce like the real server, but knows nothing of storage, projects
//! beyond those it is told of, or HTTP.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use licet_protocol::envelope::{open_request, seal_response, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{ServerKeys, VendorKey};
use licet_protocol::license::{LicenseFile, LicenseType, Module, Tolerance, DAY_MS};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, ErrorBody, LicenseState, Receipt, Renewal, ReportsRequest, ReportsResponse,
    SealedRequest, UsageReport,
};
use licet_protocol::ErrorCode;
use rand_core::{OsRng, TryRngCore};

use crate::core::error::LicetError;
use crate::ports::{Clock, OutboxEntry, Reply, Store, Transport};

#[derive(Default)]
pub struct MemoryStore {
    pub device_id: RefCell<Option<DeviceId>>,
    pub authorization: RefCell<Option<Vec<u8>>>,
    pub pending: RefCell<Vec<Vec<u8>>>,
    pub outbox: RefCell<Vec<OutboxEntry>>,
    /// When set, every write fails and changes nothing, as a full or closed IndexedDB does.
    pub failing: Cell<bool>,
}

impl MemoryStore {
    fn write(&self) -> Result<(), LicetError> {
        if self.failing.get() {
            return Err(ErrorCode::StorageError.into());
        }
        Ok(())
    }
}

impl Store for &MemoryStore {
    async fn device_id(&self, fresh: DeviceId) -> Result<DeviceId, LicetError> {
        Ok(*self.device_id.borrow_mut().get_or_insert(fresh))
    }
    async fn load_authorization(&self) -> Result<Option<Vec<u8>>, LicetError> {
        Ok(self.authorization.borrow().clone())
    }
    async fn save_authorization(&self, bytes: &[u8]) -> Result<(), LicetError> {
        self.write()?;
        *self.authorization.borrow_mut() = Some(bytes.to_vec());
        Ok(())
    }
    async fn append_usage(&self, records: &[Vec<u8>]) -> Result<(), LicetError> {
        self.write()?;
        self.pending.borrow_mut().extend_from_slice(records);
        Ok(())
    }
    async fn seal_pending(
        &self,
        seal: impl FnOnce(Vec<Vec<u8>>) -> (Vec<OutboxEntry>, Vec<Vec<u8>>),
    ) -> Result<(), LicetError> {
        self.write()?;
        let records = std::mem::take(&mut *self.pending.borrow_mut());
        let (sealed, kept) = seal(records);
        self.outbox.borrow_mut().extend(sealed);
        *self.pending.borrow_mut() = kept;
        Ok(())
    }
    async fn outbox(&self) -> Result<Vec<OutboxEntry>, LicetError> {
        Ok(self.outbox.borrow().clone())
    }
    async fn outbox_len(&self) -> Result<usize, LicetError> {
        Ok(self.outbox.borrow().len())
    }
    async fn remove_reports(&self, ids: &[ReportId]) -> Result<(), LicetError> {
        self.write()?;
        self.outbox.borrow_mut().retain(|entry| !ids.contains(&entry.report_id));
        Ok(())
    }
}

pub struct MemoryClock(pub Cell<u64>);

impl Clock for &MemoryClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

/// A license server twin with one project (`HANDSHAKE`, the default code of organization
/// `ORGANIZATION`, and any of `other_projects`) and one per-page license, and no public trial.
pub struct ServerTwin {
    pub keys: ServerKeys,
    pub vendor: VendorKey,
    pub license: Signed,
    pub now: Cell<u64>,
    /// When set, every post fails as if the network were down.
    pub offline: Cell<bool>,
    /// The state the authorizations it signs carry.
    pub state: Cell<LicenseState>,
    /// When set, reports are counted and receipted but the authorization is not renewed, for
    /// the reason of this wire code.
    pub refuse_renewals: Cell<Option<&'static str>>,
    /// When set, every authorize request is refused with this code.
    pub refuse_authorizations: Cell<Option<ErrorCode>>,
    /// Counted pages per module; each report ID counts once.
    pub pages: RefCell<BTreeMap<Module, u64>>,
    /// Counted scans per symbology.
    pub scans: RefCell<BTreeMap<String, u64>>,
    /// Every report counted, with the project its request named, in the order counted.
    pub counted: RefCell<Vec<(String, UsageReport)>>,
    /// More handshake codes of `ORGANIZATION` that it authorizes, on the same license.
    pub other_projects: RefCell<Vec<String>>,
    /// When set, a receipt names at most this many of the request's reports (it counts all).
    pub receipt_limit: Cell<Option<usize>>,
    /// Report IDs that every receipt names besides the request's own, which a client must not
    /// take as receipted.
    pub receipt_extra: RefCell<Vec<ReportId>>,
    /// Every opened request plaintext, for privacy tests.
    pub plaintexts: RefCell<Vec<Vec<u8>>>,
    seen_reports: RefCell<BTreeSet<ReportId>>,
    /// The nonces of the requests it answered, as the real server stores them.
    seen_nonces: RefCell<BTreeSet<Nonce>>,
    devices: RefCell<BTreeSet<DeviceId>>,
    /// Every sealed request received, for replay tests.
    pub received: RefCell<Vec<SealedRequest>>,
}

pub const HANDSHAKE: &str = "demo-project";
pub const ORGANIZATION: &str = "org";
pub const SERVER_URL: &str = "https://licet.test";

impl ServerTwin {
    pub fn new(now: u64) -> Self {
        Self::bound_to(now, &[])
    }

    /// A twin whose license binds these domain patterns.
    pub fn bound_to(now: u64, domains: &[&str]) -> Self {
        let vendor = VendorKey::generate(&mut OsRng.unwrap_err());
        let file = LicenseFile {
            id: "L-twin".into(),
            organization_id: ORGANIZATION.into(),
            product: "sdk".into(),
            license_type: LicenseType::PerPage,
            modules: vec![Module::Core],
            quota: Some(1000),
            devices: None,
            active: None,
            domains: domains.iter().map(|d| d.to_string()).collect(),
            allow_dev_hosts: false,
            issued_at: now,
            expires_at: now + 30 * DAY_MS,
            offline_grace_ms: 7 * DAY_MS,
            tolerance: Tolerance::default(),
        };
        ServerTwin {
            keys: ServerKeys::generate(&mut OsRng.unwrap_err()),
            license: file.sign(&vendor.0),
            vendor,
            now: Cell::new(now),
            offline: Cell::new(false),
            state: Cell::new(LicenseState::Valid),
            refuse_renewals: Cell::new(None),
            refuse_authorizations: Cell::new(None),
            pages: RefCell::default(),
            scans: RefCell::default(),
            counted: RefCell::default(),
            other_projects: RefCell::default(),
            receipt_limit: Cell::new(None),
            receipt_extra: RefCell::default(),
            plaintexts: RefCell::default(),
            seen_reports: RefCell::default(),
            seen_nonces: RefCell::default(),
            devices: RefCell::default(),
            received: RefCell::default(),
        }
    }

    fn authorization(&self, device_id: DeviceId, nonce: Nonce, handshake_code: &str) -> Signed {
        let now = self.now.get();
        Signed::sign(
            &self.keys.signing,
            &Authorization {
                device_id,
                handshake_code: handshake_code.into(),
                licenses: vec![self.license.clone()],
                modules: vec![Module::Core],
                offline_until: now + 7 * DAY_MS,
                active_until: now + 30 * DAY_MS,
                report_interval_ms: 180_000,
                server_time: now,
                state: self.state.get(),
                nonce,
            },
        )
    }

    fn refuse(code: ErrorCode) -> Reply {
        Reply::Refused(ErrorBody { code: code.as_str().into(), message: code.message().into() })
    }

    fn answer(&self, route: Route, body: &SealedRequest) -> Reply {
        let Ok((plain, key)) = open_request(&self.keys.hpke, route, body) else {
            return Self::refuse(ErrorCode::DecryptionFailed);
        };
        self.plaintexts.borrow_mut().push(plain.clone());
        let answer = match route {
            Route::Authorize => {
                let Ok(request) = wire::decode::<AuthorizeRequest>(&plain) else {
                    return Self::refuse(ErrorCode::MalformedRequest);
                };
                if let Some(code) = self.refuse_authorizations.get() {
                    return Self::refuse(code);
                }
                match (request.organization_id.as_deref(), request.handshake_code.as_deref()) {
                    (None | Some(ORGANIZATION), Some(HANDSHAKE)) | (Some(ORGANIZATION), None) => {}
                    (None | Some(ORGANIZATION), Some(code))
                        if self.other_projects.borrow().iter().any(|p| p == code) => {}
                    (None, None) => return Self::refuse(ErrorCode::TrialUnavailable),
                    _ => return Self::refuse(ErrorCode::UnknownProject),
                }
                if !self.seen_nonces.borrow_mut().insert(request.nonce) {
                    return Self::refuse(ErrorCode::ReplayedNonce);
                }
                self.devices.borrow_mut().insert(request.device_id);
                let project = request.handshake_code.as_deref().unwrap_or(HANDSHAKE);
                wire::encode(&self.authorization(request.device_id, request.nonce, project))
            }
            Route::Reports => {
                let Ok(request) = wire::decode::<ReportsRequest>(&plain) else {
                    return Self::refuse(ErrorCode::MalformedRequest);
                };
                if !self.devices.borrow().contains(&request.device_id) {
                    return Self::refuse(ErrorCode::UnknownDevice);
                }
                if !self.seen_nonces.borrow_mut().insert(request.nonce) {
                    return Self::refuse(ErrorCode::ReplayedNonce);
                }
                for report in &request.reports {
                    if self.seen_reports.borrow_mut().insert(report.report_id) {
                        for slot in &report.slots {
                            for (module, count) in &slot.pages {
                                *self.pages.borrow_mut().entry(*module).or_default() += count;
                            }
                            for (symbology, count) in &slot.scans {
                                *self.scans.borrow_mut().entry(symbology.clone()).or_default() += count;
                            }
                        }
                        self.counted.borrow_mut().push((request.handshake_code.clone(), report.clone()));
                    }
                }
                let mut accepted: Vec<ReportId> = request.reports.iter().map(|r| r.report_id).collect();
                accepted.truncate(self.receipt_limit.get().unwrap_or(usize::MAX));
                accepted.extend_from_slice(&self.receipt_extra.borrow());
                let receipt = Receipt {
                    device_id: request.device_id,
                    accepted,
                    server_time: self.now.get(),
                    nonce: request.nonce,
                };
                let renewal = match self.refuse_renewals.get() {
                    Some(code) => Renewal::Refused(code.into()),
                    None => {
                        Renewal::Renewed(self.authorization(request.device_id, request.nonce, &request.handshake_code))
                    }
                };
                wire::encode(&ReportsResponse { receipt: Signed::sign(&self.keys.signing, &receipt), renewal })
            }
        };
        Reply::Sealed(seal_response(&key, &answer))
    }
}

impl Transport for &ServerTwin {
    async fn post(&self, url: &str, body: &SealedRequest) -> Result<Reply, LicetError> {
        if self.offline.get() {
            return Err(ErrorCode::NetworkError.into());
        }
        self.received.borrow_mut().push(body.clone());
        let route = if url.ends_with(Route::Authorize.path()) { Route::Authorize } else { Route::Reports };
        Ok(self.answer(route, body))
    }
}
