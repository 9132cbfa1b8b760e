//! The admin HTTP API under `/admin/v1/`, for the dashboard and for scripts: licenses with their
//! quotas used and left, projects with their license keys and domains, devices, usage over time,
//! alerts, and the CLI's project, license and trial actions (import, create, assign, trial set
//! and off). Every route but its OpenAPI document (`openapi.json`, served as written) needs
//! `Authorization: Bearer <admin token>`, looked up by its hash. The actions call the same
//! `admin` functions as the CLI, and the listings answer the CLI's JSON shapes (`views`).
//! It never creates license content (issuing needs the vendor key, which no server holds),
//! manages no admin tokens (that is the CLI's, on the machine that holds the store), and answers
//! no CORS preflight: the dashboard is served from the same origin.

mod error;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection, StringRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use licet_protocol::license::{self, Module, DAY_MS};
use licet_protocol::SLOT_MS;
use serde::Deserialize;
use serde_json::{json, Value};

pub use error::AdminError;

use crate::admin;
use crate::http::Config;
use crate::storage::{Imported, UsageItem};
use crate::views;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/admin/v1";

/// The OpenAPI 3.1 document of every route below, written by hand and held to the routes served
/// by `tests/admin_api.rs`.
const OPENAPI: &str = include_str!("openapi.json");

/// The largest body an admin route reads: a license file is about a kilobyte of text.
const BODY_LIMIT: usize = 64 * 1024;

/// The routes of the admin API, each recorded with its method as it is added: the router and
/// the list `served_routes` gives come from this one place, so a route cannot be served without
/// being listed (and the test holds the OpenAPI document to the list).
struct Routes {
    router: Router<Arc<Config>>,
    served: Vec<(Method, String)>,
}

impl Routes {
    fn new() -> Routes {
        Routes { router: Router::new(), served: Vec::new() }
    }

    fn add<H: Handler<T, Arc<Config>>, T: 'static>(mut self, method: Method, path: &str, handler: H) -> Routes {
        // The methods are the constants of `protected` and `public`, each of which has a filter:
        // this fails on every start (and in every test) or never.
        let filter = MethodFilter::try_from(method.clone()).expect("an admin route's method has a method filter");
        self.router = self.router.route(path, on(filter, handler));
        self.served.push((method, format!("{PREFIX}{path}")));
        self
    }
}

/// The routes that need an admin token.
fn protected() -> Routes {
    Routes::new()
        .add(Method::GET, "/licenses", licenses)
        .add(Method::POST, "/licenses", import_license)
        .add(Method::GET, "/projects", projects)
        .add(Method::POST, "/projects", create_project)
        .add(Method::POST, "/projects/{code}/licenses", assign_license)
        .add(Method::GET, "/trial", trial)
        .add(Method::PUT, "/trial", set_trial)
        .add(Method::DELETE, "/trial", close_trial)
        .add(Method::GET, "/devices", devices)
        .add(Method::GET, "/usage", usage)
        .add(Method::GET, "/alerts", alerts)
}

/// The routes anyone may read.
fn public() -> Routes {
    Routes::new().add(Method::GET, "/openapi.json", openapi)
}

/// Every method and full path the admin API serves.
pub fn served_routes() -> Vec<(Method, String)> {
    [protected().served, public().served].concat()
}

/// The admin API's router, to nest at `PREFIX`.
pub(crate) fn router(config: Arc<Config>) -> Router<Arc<Config>> {
    protected()
        .router
        .route_layer(middleware::from_fn_with_state(config, require_token))
        .merge(public().router)
        .layer(middleware::from_fn(no_store))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

/// Lets a request through only with the token of an admin token that is not revoked.
async fn require_token(State(config): State<Arc<Config>>, request: Request, next: Next) -> Response {
    let Some(token) = bearer(request.headers()) else { return AdminError::TokenRequired.into_response() };
    match config.storage.admin_token(&admin::admin_token_hash(token)).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => AdminError::TokenInvalid.into_response(),
        Err(e) => AdminError::internal(e).into_response(),
    }
}

/// No admin answer is kept by a browser or a proxy: they hold what only a token may read.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /licenses`: every imported license with its content, the projects it is assigned to,
/// what it has counted, the use of each quota (used and left), and for a per-device license
/// the seats held now.
async fn licenses(State(config): State<Arc<Config>>) -> Result<Json<Value>, AdminError> {
    let storage = config.storage.as_ref();
    let now = config.now();
    let totals = storage.usage().await?;
    let usage = admin::usage_by_license(storage.licenses().await?, &totals);
    let mut assigned: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for project in storage.projects().await? {
        for record in storage.project_licenses(&project.handshake_code).await? {
            assigned.entry(record.id).or_default().push(project.handshake_code.clone());
        }
    }
    let files = usage
        .iter()
        .map(|entry| {
            let (_, file) = config
                .verify_license(&entry.license)
                .map_err(|e| AdminError::internal(format!("stored license {}: {e}", entry.license.id)))?;
            Ok(file)
        })
        .collect::<Result<Vec<_>, AdminError>>()?;
    let used = admin::license_use(storage, &files, &totals, now).await?;
    let mut views = Vec::with_capacity(usage.len());
    for ((entry, file), used) in usage.iter().zip(files).zip(used) {
        let quotas: Vec<Value> = used
            .quotas
            .iter()
            .map(
                |q| json!({ "item": q.item, "quota": q.quota, "used": q.used, "left": q.quota.saturating_sub(q.used) }),
            )
            .collect();
        let seats_held = used.seats_held;
        let (pages, scans) =
            views::counts(entry.pages.iter().copied(), entry.scans.iter().map(|(name, n)| (name.as_str(), *n)));
        views.push(json!({
            "id": file.id,
            "type": file.license_type.as_str(),
            "organizationId": file.organization_id,
            "expiresAt": file.expires_at,
            "expired": file.expires_at < now,
            "license": views::license_file(&file),
            "projects": assigned.get(&file.id).cloned().unwrap_or_default(),
            "quotas": quotas,
            "seatsHeld": seats_held,
            "pages": pages,
            "scans": scans,
        }));
    }
    Ok(Json(json!({ "licenses": views })))
}

/// `POST /licenses`: imports a license file (its text as the body), as `license import` does.
/// 201 when it is new, 200 when the identical file was imported before.
async fn import_license(
    State(config): State<Arc<Config>>,
    body: Result<String, StringRejection>,
) -> Result<Response, AdminError> {
    let text = body?;
    let signed = license::from_text(text.trim()).map_err(|e| {
        AdminError::NotALicense(format!(
            "the body is not a licet license file ({e:?}): send the text of the file, licet-license-v1.…"
        ))
    })?;
    let (file, imported) =
        admin::import_license(config.storage.as_ref(), &config.vendor_public, &signed, config.now()).await?;
    let new = imported == Imported::New;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    let answer =
        json!({ "id": file.id, "type": file.license_type.as_str(), "expiresAt": file.expires_at, "imported": new });
    Ok((status, Json(answer)).into_response())
}

/// The server URLs of license keys: given, or `serve`'s default address as the CLI's.
fn server_urls(given: Option<Vec<String>>) -> Result<Vec<String>, AdminError> {
    Ok(admin::server_urls(&given.unwrap_or_else(|| vec![admin::DEFAULT_SERVER_URL.to_owned()]))?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProjectsQuery {
    /// Comma-separated server URLs for the license keys, main first.
    server_urls: Option<String>,
}

/// `GET /projects`: every project with its license key (naming `serverUrls`, by default
/// `serve`'s default address), its licenses in assignment order and the domains they bind.
async fn projects(
    State(config): State<Arc<Config>>,
    query: Result<Query<ProjectsQuery>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(query) = query?;
    let servers = server_urls(query.server_urls.map(|urls| urls.split(',').map(str::to_owned).collect()))?;
    let keys = config.keys.public();
    let mut views = Vec::new();
    for project in config.storage.projects().await? {
        let mut licenses = Vec::new();
        let mut domains: Vec<String> = Vec::new();
        let mut allow_dev_hosts = false;
        for record in config.storage.project_licenses(&project.handshake_code).await? {
            let (_, file) = config
                .verify_license(&record)
                .map_err(|e| AdminError::internal(format!("stored license {}: {e}", record.id)))?;
            for domain in &file.domains {
                if !domains.contains(domain) {
                    domains.push(domain.clone());
                }
            }
            allow_dev_hosts |= file.allow_dev_hosts;
            licenses.push(file.id);
        }
        views.push(json!({
            "handshakeCode": project.handshake_code,
            "organizationId": project.organization_id,
            "isDefault": project.is_default,
            "hasSessionPassword": project.session_password_hash.is_some(),
            "createdAt": project.created_at,
            "licenseKey": admin::license_key(&project, servers.clone(), &keys),
            "licenses": licenses,
            "domains": domains,
            "allowDevHosts": allow_dev_hosts,
        }));
    }
    Ok(Json(json!({ "projects": views })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateProject {
    organization_id: String,
    handshake_code: Option<String>,
    session_password: Option<String>,
    server_urls: Option<Vec<String>>,
}

/// `POST /projects`: creates a project as `project create` does; 201 with its license key.
async fn create_project(
    State(config): State<Arc<Config>>,
    body: Result<Json<CreateProject>, JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(body) = body?;
    let servers = server_urls(body.server_urls)?;
    let storage = config.storage.as_ref();
    let project = admin::create_project(
        storage,
        &body.organization_id,
        body.handshake_code.as_deref(),
        body.session_password.as_deref(),
        config.now(),
    )
    .await?;
    let key = admin::license_key(&project, servers, &config.keys.public());
    let answer = json!({
        "handshakeCode": project.handshake_code, "organizationId": project.organization_id,
        "isDefault": project.is_default, "licenseKey": key,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Assign {
    license_id: String,
}

/// `POST /projects/{code}/licenses`: assigns an imported license to the project, as `project
/// assign` does; assigning it again changes nothing.
async fn assign_license(
    State(config): State<Arc<Config>>,
    Path(code): Path<String>,
    body: Result<Json<Assign>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(body) = body?;
    admin::assign_license(config.storage.as_ref(), &config.vendor_public, &code, &body.license_id, config.now())
        .await?;
    Ok(Json(json!({ "handshakeCode": code, "license": body.license_id })))
}

/// `GET /trial`: the public trial setting, as `trial show --json` prints it.
async fn trial(State(config): State<Arc<Config>>) -> Result<Json<Value>, AdminError> {
    let setting = config.storage.trial_setting().await?;
    Ok(Json(json!({ "trial": setting.as_ref().map(views::trial) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetTrial {
    handshake_code: String,
    days: Option<u32>,
    server_urls: Option<Vec<String>>,
}

/// `PUT /trial`: serves public trials from a project's licenses, as `trial set` does, and
/// answers the trial license key.
async fn set_trial(
    State(config): State<Arc<Config>>,
    body: Result<Json<SetTrial>, JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(body) = body?;
    let servers = server_urls(body.server_urls)?;
    let days = body.days.unwrap_or(admin::DEFAULT_TRIAL_DAYS);
    let setting = admin::set_trial(config.storage.as_ref(), &body.handshake_code, days).await?;
    let key = admin::server_key(servers, &config.keys.public());
    Ok(Json(json!({ "handshakeCode": setting.handshake_code, "days": setting.days, "licenseKey": key })))
}

/// `DELETE /trial`: starts no new trials, as `trial off` does; running ones go on to their end.
async fn close_trial(State(config): State<Arc<Config>>) -> Result<Json<Value>, AdminError> {
    let closed = admin::close_trial(config.storage.as_ref()).await?;
    Ok(Json(json!({ "open": false, "wasSetUp": closed })))
}

/// `GET /devices`: every device with its last contact and seat, as `devices --json` prints them.
async fn devices(State(config): State<Arc<Config>>) -> Result<Json<Value>, AdminError> {
    let devices = config.storage.devices().await?;
    Ok(Json(json!({ "devices": devices.iter().map(views::device).collect::<Vec<_>>() })))
}

/// `GET /alerts`: every alert with its deliveries, as `alerts --json` prints them.
async fn alerts(State(config): State<Arc<Config>>) -> Result<Json<Value>, AdminError> {
    let alerts = config.storage.alerts().await?;
    Ok(Json(json!({ "alerts": alerts.iter().map(views::alert).collect::<Vec<_>>() })))
}

/// The usage of one license in one bucket of the series.
struct Bucket {
    start: u64,
    license_id: String,
    pages: Vec<(Module, u64)>,
    scans: Vec<(String, u64)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageQuery {
    bucket: Option<String>,
    from: Option<u64>,
    to: Option<u64>,
}

/// `GET /usage?bucket=day|slot&from=&to=`: the usage of the slots that start from `from` to
/// before `to` (Unix ms; by default the last 30 days, or the last day in slots), summed per
/// bucket (a UTC day, or one 3-minute slot) and license, with pages per module and scans per
/// symbology. Buckets without usage are absent.
async fn usage(
    State(config): State<Arc<Config>>,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(query) = query?;
    let (bucket, bucket_ms) = match query.bucket.as_deref() {
        None | Some("day") => ("day", DAY_MS),
        Some("slot") => ("slot", SLOT_MS),
        Some(other) => return Err(AdminError::Invalid(format!("bucket {other:?} is not day or slot"))),
    };
    let to = query.to.unwrap_or_else(|| config.now());
    let span = if bucket == "day" { 30 * DAY_MS } else { DAY_MS };
    let from = query.from.unwrap_or_else(|| to.saturating_sub(span));
    if from > to {
        return Err(AdminError::Invalid(format!(
            "from ({from}) is after to ({to}): give from <= to, in Unix milliseconds"
        )));
    }
    // A slot is in range when its start is: from the first slot starting at or after `from`,
    // to the last one starting before `to`.
    let rows = config.storage.usage_series(bucket_ms / SLOT_MS, from.div_ceil(SLOT_MS), to.div_ceil(SLOT_MS)).await?;
    let mut series: Vec<Bucket> = Vec::new();
    for row in rows {
        let start = row.first_slot * SLOT_MS;
        // The rows come ordered by bucket and license: the rows of one pair are consecutive.
        if !series.last().is_some_and(|b| b.start == start && b.license_id == row.license_id) {
            series.push(Bucket { start, license_id: row.license_id, pages: Vec::new(), scans: Vec::new() });
        }
        let Some(bucket) = series.last_mut() else { continue };
        match row.item {
            UsageItem::Pages(module) => bucket.pages.push((module, row.count)),
            UsageItem::Scans(symbology) => bucket.scans.push((symbology, row.count)),
        }
    }
    let series: Vec<Value> = series
        .iter()
        .map(|b| {
            let (pages, scans) =
                views::counts(b.pages.iter().copied(), b.scans.iter().map(|(name, n)| (name.as_str(), *n)));
            json!({ "start": b.start, "licenseId": b.license_id, "pages": pages, "scans": scans })
        })
        .collect();
    Ok(Json(json!({ "bucket": bucket, "bucketMs": bucket_ms, "from": from, "to": to, "series": series })))
}
