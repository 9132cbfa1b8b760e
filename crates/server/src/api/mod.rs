//! The two protocol routes, `POST /v1/authorize` and `POST /v1/reports`: open the sealed
//! request, check it, store its effect and its nonce in one transaction, and answer with a
//! sealed, signed response. A refused request changes no stored state; every refusal is an
//! `ApiError` with a code of the shared list, never axum's own text rejections.

mod error;
mod guards;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use licet_protocol::envelope::{self, ResponseKey, Route};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, AuthorizeRequest, Receipt, Renewal, ReportsRequest, ReportsResponse, SealedRequest, SealedResponse,
    UsageReport,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{ApiError, Refused};
pub(crate) use guards::origin_host;

use crate::http::Config;
use crate::licensing::rules::{InForce, LicenseItem};
use crate::storage::{Admission, Charging, DeviceContact, ReportBatch, TrialClaim, TrialSetting, UsageRow, UsageTotal};
use guards::Grantee;

/// The longest text field a request may carry (domain, product, device name, ...).
const MAX_TEXT_LEN: usize = 256;
/// The largest count one slot may report for one module or symbology. Far above any real
/// 3-minute slot, and low enough that no sum of stored counts can overflow.
const MAX_COUNT: u64 = u32::MAX as u64;

/// Reads the body, parses the JSON envelope and opens it for `route`.
fn open<T: DeserializeOwned>(
    config: &Config,
    route: Route,
    body: Result<Bytes, BytesRejection>,
) -> Result<(T, ResponseKey), ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::Malformed
        }
    })?;
    let sealed: SealedRequest = serde_json::from_slice(&body).map_err(|_| ApiError::Malformed)?;
    let (plaintext, key) = envelope::open_request(&config.keys.hpke, route, &sealed).map_err(ApiError::Protocol)?;
    let request = wire::decode(&plaintext).map_err(ApiError::Protocol)?;
    Ok((request, key))
}

/// Encodes and seals the answer to the request that gave `key`.
fn seal<T: Serialize>(key: &ResponseKey, answer: &T) -> Json<SealedResponse> {
    Json(envelope::seal_response(key, &wire::encode(answer)))
}

/// Refuses absurdly long text fields. Empty ones are the client's to send (an SDK may name
/// no product; a page may have no host name, which domain binding refuses by its own code).
fn check_text<'a>(texts: impl IntoIterator<Item = &'a String>) -> Result<(), ApiError> {
    if texts.into_iter().any(|text| text.len() > MAX_TEXT_LEN) {
        return Err(ApiError::Malformed);
    }
    Ok(())
}

/// An optional field the client left empty counts as absent.
fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|text| !text.is_empty())
}

/// The trial claim of a contact with `handshake_code`: every device of the trial's project is a
/// trial device, however its request named the project, and whether new trials start or not.
fn trial_claim(trial: Option<&TrialSetting>, handshake_code: &str, now: u64) -> Option<TrialClaim> {
    trial.filter(|t| t.handshake_code == handshake_code).map(|t| TrialClaim {
        ends_at: now.saturating_add(u64::from(t.days) * licet_protocol::license::DAY_MS),
        open: t.open,
    })
}

/// `POST /v1/authorize`: a signed authorization for one device of one project. The outcome of
/// each request that named a project is counted for the alert on failed authorizations.
pub(crate) async fn authorize(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SealedResponse>, ApiError> {
    let mut project = None;
    let answer = authorize_device(&config, &headers, body, &mut project).await;
    if let Some(handshake_code) = project {
        config.auth_stats.record(&handshake_code, config.now(), answer.is_ok());
    }
    answer
}

/// `authorize`, which sets `resolved` to the project's handshake code once it is known.
async fn authorize_device(
    config: &Config,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    resolved: &mut Option<String>,
) -> Result<Json<SealedResponse>, ApiError> {
    let (request, key): (AuthorizeRequest, _) = open(config, Route::Authorize, body)?;
    if !request.device_id.is_v4() {
        return Err(ApiError::Malformed);
    }
    check_text([&request.product, &request.sdk_version, &request.domain])?;
    check_text([&request.organization_id, &request.handshake_code, &request.device_name].into_iter().flatten())?;
    let now = config.now();
    let trial = config.storage.trial_setting().await?;
    let project = guards::resolve_project(
        config.storage.as_ref(),
        trial.as_ref(),
        present(&request.organization_id),
        present(&request.handshake_code),
    )
    .await?;
    *resolved = Some(project.handshake_code.clone());
    guards::check_session_password(&project, request.session_password.as_deref()).await?;
    let items = guards::license_items(config, &project.handshake_code).await?;
    let in_force = InForce::at(&items, now)?;
    guards::check_domain(in_force.items.iter().copied(), &request.domain)?;
    guards::check_origin(in_force.items.iter().copied(), &request.domain, headers.get(header::ORIGIN))?;
    let grant = in_force.assess(&config.storage.license_usage(&in_force.quota_ids()).await?)?;
    let admission = in_force.claims(now, trial_claim(trial.as_ref(), &project.handshake_code, now));
    let contact = DeviceContact {
        device_id: request.device_id,
        handshake_code: project.handshake_code.clone(),
        domain: request.domain,
        name: present(&request.device_name).map(str::to_owned),
        product: request.product,
        sdk_version: request.sdk_version,
    };
    let admitted = config.storage.record_authorization(&contact, &request.nonce, now, &admission).await?;
    if let Some(refusal) = guards::refusal(&admitted) {
        return Err(refusal);
    }
    let grantee =
        Grantee { device_id: request.device_id, handshake_code: &project.handshake_code, now, nonce: request.nonce };
    Ok(seal(&key, &guards::authorization(&config.keys.signing, &grantee, &in_force, &grant, &admitted)))
}

/// The charging of one batch, owning its items in force so that the store may run it in a task
/// of its own, and noting how many reports it was given: the store hands `charge` exactly the
/// batch's new reports (`Charging`), so this is the count of reports counted now, for the
/// metrics. Should a store run its transaction again, the last run's count is the one kept.
struct Counted {
    items: Vec<LicenseItem>,
    past_expiry: bool,
    new: AtomicUsize,
}

impl Counted {
    fn new(charged: &InForce) -> Counted {
        Counted {
            items: charged.items.iter().map(|&item| item.clone()).collect(),
            past_expiry: charged.past_expiry,
            new: AtomicUsize::new(0),
        }
    }

    fn charged(&self) -> InForce<'_> {
        InForce { items: self.items.iter().collect(), past_expiry: self.past_expiry }
    }
}

impl Charging for Counted {
    fn license_ids(&self) -> Vec<String> {
        self.charged().license_ids()
    }

    fn charge(&self, usage: &[UsageTotal], reports: &[&UsageReport]) -> Vec<UsageRow> {
        self.new.store(reports.len(), Ordering::Relaxed);
        self.charged().charge(usage, reports)
    }
}

/// Refuses counts and symbology names no real report holds.
fn check_reports(request: &ReportsRequest) -> Result<(), ApiError> {
    check_text([&request.handshake_code, &request.domain])?;
    let slots = request.reports.iter().flat_map(|r| &r.slots);
    for slot in slots {
        let symbologies_ok = slot.scans.iter().all(|(name, _)| wire::is_valid_symbology(name));
        let counts_ok =
            slot.pages.iter().map(|(_, n)| n).chain(slot.scans.iter().map(|(_, n)| n)).all(|&n| n <= MAX_COUNT);
        // Slots are stored as signed 64-bit integers, like every time.
        if !symbologies_ok || !counts_ok || i64::try_from(slot.slot).is_err() {
            return Err(ApiError::Malformed);
        }
    }
    Ok(())
}

/// `POST /v1/reports`: stores the reports it has not counted yet, signs a receipt for all of
/// them, and renews the device's authorization when the license rules still admit it. Usage is
/// never refused for the state of the license: reports of a license past its tolerance, over its
/// quota or of a device without a seat are counted and acknowledged, and only the renewal is
/// refused, with the code that says why.
pub(crate) async fn reports(
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SealedResponse>, ApiError> {
    let (request, key): (ReportsRequest, _) = open(&config, Route::Reports, body)?;
    check_reports(&request)?;
    let now = config.now();
    let project = config.storage.project(&request.handshake_code).await?.ok_or(ApiError::UnknownProject)?;
    if !config.storage.device_known(&request.device_id, &project.handshake_code).await? {
        return Err(ApiError::UnknownDevice);
    }
    let items = guards::license_items(&config, &project.handshake_code).await?;
    // The usage may be older than the items in force: any assigned item's binding admits it.
    guards::check_domain(&items, &request.domain)?;
    guards::check_origin(items.iter(), &request.domain, headers.get(header::ORIGIN))?;
    let live = InForce::at(&items, now);
    let counted = Arc::new(Counted::new(&InForce::charging(&items, now)?));
    // One ID listed twice in a request is one report: the first copy is the one counted.
    let mut seen = HashSet::with_capacity(request.reports.len());
    let reports: Vec<UsageReport> = request.reports.into_iter().filter(|r| seen.insert(r.report_id)).collect();
    let accepted: Vec<_> = reports.iter().map(|r| r.report_id).collect();
    let batch = ReportBatch {
        device_id: request.device_id,
        handshake_code: project.handshake_code.clone(),
        nonce: request.nonce,
        received_at: now,
        reports,
    };
    // A request that carries no usage (an idle page renewing its authorization) takes no place
    // among the devices of the slot: a concurrent license counts the devices that use it.
    let uses = batch
        .reports
        .iter()
        .flat_map(|r| &r.slots)
        .any(|s| s.pages.iter().any(|p| p.1 > 0) || s.scans.iter().any(|c| c.1 > 0));
    let admission = match &live {
        Ok(in_force) => {
            let trial = config.storage.trial_setting().await?;
            let claims = in_force.claims(now, trial_claim(trial.as_ref(), &project.handshake_code, now));
            Admission { window: claims.window.filter(|_| uses), ..claims }
        }
        Err(_) => Admission::default(),
    };
    let recorded = config.storage.record_reports(batch, counted.clone(), admission).await?;
    let new = counted.new.load(Ordering::Relaxed);
    config.metrics.reports_ingested(new as u64, accepted.len().saturating_sub(new) as u64);
    let refused = |refusal: ApiError| Renewal::Refused(refusal.code().as_str().to_owned());
    let renewal = match (live, guards::refusal(&recorded.admitted)) {
        // The renewal is judged on the usage with this batch counted.
        (Ok(in_force), None) => match in_force.assess(&recorded.usage) {
            Ok(grant) => {
                let grantee = Grantee {
                    device_id: request.device_id,
                    handshake_code: &project.handshake_code,
                    now,
                    nonce: request.nonce,
                };
                Renewal::Renewed(guards::authorization(
                    &config.keys.signing,
                    &grantee,
                    &in_force,
                    &grant,
                    &recorded.admitted,
                ))
            }
            Err(lapse) => refused(lapse.into()),
        },
        (Err(lapse), _) => refused(lapse.into()),
        (Ok(_), Some(refusal)) => refused(refusal),
    };
    let receipt = Receipt { device_id: request.device_id, accepted, server_time: now, nonce: request.nonce };
    Ok(seal(&key, &ReportsResponse { receipt: Signed::sign(&config.keys.signing, &receipt), renewal }))
}
