//! The admin API as the dashboard and scripts use it: nothing without a valid admin token; with
//! one, every route answers what the store holds (licenses with quotas used and left, projects
//! with keys and domains, devices, usage per day and per slot, alerts, the trial) and does what
//! the CLI does; the OpenAPI document lists exactly the routes served; tokens are stored hashed.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::router::*;
use licet_protocol::ids::ReportId;
use licet_protocol::keys::VendorKey;
use licet_protocol::license::{self, LicenseType, Module, DAY_MS};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::wire::{SlotUsage, UsageReport};
use licet_protocol::SLOT_MS;
use licet_server::admin;
use licet_server::admin_api;
use licet_server::alerts::{self, AlertSettings};
use licet_server::storage::{PostgresStorage, SqliteStorage, Storage};
use rand_core::{OsRng, TryRngCore};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use tower::ServiceExt;

const YEAR: u64 = 365 * DAY_MS;

impl Server {
    /// One request to the router: the status and the body as JSON (`null` when empty).
    async fn admin(&self, method: Method, path: &str, token: Option<&str>, body: Option<Body>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(body),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") })
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.admin(Method::GET, path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn send_json(&self, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.admin(method, path, Some(token), Some(Body::from(body.to_string()))).await
    }

    async fn import_text(&self, token: &str, text: String) -> (StatusCode, Value) {
        self.admin(Method::POST, "/admin/v1/licenses", Some(token), Some(Body::from(text))).await
    }

    async fn token(&self, name: &str) -> String {
        admin::create_admin_token(self.storage.as_ref(), Some(name), NOW).await.unwrap().1
    }
}

/// A refusal's status and body: exactly the shared error JSON, with this code.
fn assert_error((status, body): (StatusCode, Value), want_status: StatusCode, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "nothing but the code and message: {body}");
}

/// Every served route with its path parameters filled in.
fn concrete_routes() -> Vec<(Method, String)> {
    admin_api::served_routes().into_iter().map(|(method, path)| (method, path.replace("{code}", CODE))).collect()
}

/// A report of one slot: core and ocr pages, and scans per symbology.
fn slot_report(slot: u64, pages: &[(Module, u64)], scans: &[(&str, u64)]) -> UsageReport {
    UsageReport {
        report_id: ReportId(random16()),
        slots: vec![SlotUsage {
            slot,
            pages: pages.to_vec(),
            scans: scans.iter().map(|(name, n)| ((*name).to_owned(), *n)).collect(),
        }],
    }
}

#[tokio::test]
async fn without_a_valid_token_every_route_but_the_document_answers_401_and_nothing_else() {
    let server = Server::new("admin-api-401").await;
    server.license("L-pages", LicenseType::PerPage, &[Module::Core], NOW + YEAR).await;
    server.project(CODE, None, &["L-pages"]).await;
    let token = server.token("ops").await;
    let body = || {
        Some(Body::from(
            json!({ "organizationId": "intruder", "handshakeCode": "intruder-web", "licenseId": "L-pages" })
                .to_string(),
        ))
    };

    for (method, path) in concrete_routes() {
        if path.ends_with("/openapi.json") {
            continue;
        }
        let refused = server.admin(method.clone(), &path, None, body()).await;
        assert_error(refused, StatusCode::UNAUTHORIZED, "ADMIN_TOKEN_REQUIRED");
        let wrong = format!("{}{}", admin::ADMIN_TOKEN_PREFIX, "A".repeat(43));
        assert_error(
            server.admin(method.clone(), &path, Some(&wrong), body()).await,
            StatusCode::UNAUTHORIZED,
            "ADMIN_TOKEN_INVALID",
        );
        // A token is only taken as a bearer token.
        let mut basic = Request::builder()
            .method(method.clone())
            .uri(&path)
            .header(header::AUTHORIZATION, format!("Basic {token}"));
        basic = basic.header(header::CONTENT_TYPE, "application/json");
        let response = server.router.clone().oneshot(basic.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with a Basic header");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
    // Nothing the refused requests carried was stored, and the trial was never set up.
    assert_eq!(server.storage.projects().await.unwrap().len(), 1);
    assert_eq!(server.storage.project_licenses(CODE).await.unwrap().len(), 1);
    assert_eq!(server.storage.licenses().await.unwrap().len(), 1);
    assert!(server.storage.trial_setting().await.unwrap().is_none());

    // The token opens the API until it is revoked.
    assert_eq!(server.get("/admin/v1/projects", &token).await["projects"][0]["handshakeCode"], CODE);
    server.storage.revoke_admin_token("ops").await.unwrap();
    for (method, path) in concrete_routes() {
        if !path.ends_with("/openapi.json") {
            assert_error(
                server.admin(method, &path, Some(&token), body()).await,
                StatusCode::UNAUTHORIZED,
                "ADMIN_TOKEN_INVALID",
            );
        }
    }
    assert_eq!(server.storage.projects().await.unwrap().len(), 1);
}

#[tokio::test]
async fn with_a_token_every_route_answers_what_the_store_holds() {
    let server = Server::new("admin-api-routes").await;
    let token = server.token("dashboard").await;

    // Licenses are imported as the CLI imports them: the file's text; again, nothing changes.
    let mut pages = license_file("L-pages", LicenseType::PerPage, &[Module::Core, Module::Ocr], NOW + YEAR);
    pages.domains = vec!["app.example.com".into()];
    let pages_text = license::to_text(&pages.sign(&server.vendor.0));
    let (status, imported) = server.import_text(&token, format!("{pages_text}\n")).await;
    assert_eq!(
        (status, &imported),
        (
            StatusCode::CREATED,
            &json!({ "id": "L-pages", "type": "per-page", "expiresAt": NOW + YEAR, "imported": true })
        )
    );
    let (status, again) = server.import_text(&token, pages_text.clone()).await;
    assert_eq!((status, again["imported"].as_bool()), (StatusCode::OK, Some(false)));
    let scans =
        license::LicenseFile { quota: Some(10), ..license_file("L-scans", LicenseType::PerScan, &[], NOW + YEAR) };
    let (status, _) = server.import_text(&token, license::to_text(&scans.sign(&server.vendor.0))).await;
    assert_eq!(status, StatusCode::CREATED);
    let seats = license::LicenseFile {
        quota: None,
        devices: Some(5),
        ..license_file("L-seats", LicenseType::PerDevice, &[Module::Core], NOW + YEAR)
    };
    server.import(&seats).await;

    // What the import refuses, with its code; nothing of it is stored.
    let other_vendor = VendorKey::generate(&mut OsRng.unwrap_err());
    let forged = license_file("L-forged", LicenseType::PerPage, &[Module::Core], NOW + YEAR);
    assert_error(
        server.import_text(&token, license::to_text(&forged.sign(&other_vendor.0))).await,
        StatusCode::BAD_REQUEST,
        "LICENSE_SIGNATURE_INVALID",
    );
    assert_error(server.import_text(&token, "not a license".into()).await, StatusCode::BAD_REQUEST, "NOT_A_LICENSE");
    let same_id = license::LicenseFile { quota: Some(5), ..pages.clone() };
    assert_error(
        server.import_text(&token, license::to_text(&same_id.sign(&server.vendor.0))).await,
        StatusCode::CONFLICT,
        "LICENSE_ID_TAKEN",
    );
    assert_eq!(server.storage.licenses().await.unwrap().len(), 3);

    // Projects are created and licenses assigned as `project create` and `project assign` do.
    let create =
        json!({ "organizationId": ORG, "handshakeCode": CODE, "serverUrls": ["https://licenses.example.com/"] });
    let (status, created) = server.send_json(Method::POST, "/admin/v1/projects", &token, create.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["handshakeCode"].as_str(), created["isDefault"].as_bool()), (Some(CODE), Some(true)));
    let key = LicenseKey::decode(created["licenseKey"].as_str().unwrap()).unwrap();
    assert_eq!(
        (key.servers, key.handshake_code.as_deref()),
        (vec!["https://licenses.example.com".to_owned()], Some(CODE))
    );
    assert_error(
        server.send_json(Method::POST, "/admin/v1/projects", &token, create).await,
        StatusCode::CONFLICT,
        "HANDSHAKE_CODE_TAKEN",
    );
    assert_error(
        server.send_json(Method::POST, "/admin/v1/projects", &token, json!({ "organizationId": "no spaces" })).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_error(
        server.send_json(Method::POST, "/admin/v1/projects", &token, json!({ "org": ORG })).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    let (status, _) = server
        .send_json(
            Method::POST,
            "/admin/v1/projects",
            &token,
            json!({ "organizationId": ORG, "handshakeCode": "acme-seats" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let assign =
        |code: &str, license: &str| (format!("/admin/v1/projects/{code}/licenses"), json!({ "licenseId": license }));
    for (code, license) in [(CODE, "L-pages"), (CODE, "L-scans"), ("acme-seats", "L-seats")] {
        let (path, body) = assign(code, license);
        let (status, assigned) = server.send_json(Method::POST, &path, &token, body).await;
        assert_eq!((status, assigned), (StatusCode::OK, json!({ "handshakeCode": code, "license": license })));
    }
    let (path, body) = assign(CODE, "L-none");
    assert_error(server.send_json(Method::POST, &path, &token, body).await, StatusCode::NOT_FOUND, "UNKNOWN_LICENSE");
    let (path, body) = assign("no-such-code", "L-pages");
    assert_error(server.send_json(Method::POST, &path, &token, body).await, StatusCode::NOT_FOUND, "UNKNOWN_PROJECT");

    // Two devices at work: one on the quota licenses, reporting a slot of yesterday and the
    // last slot; one holding a seat of the per-device license.
    let device = new_device();
    server.authorize(&authorize_request(device, None, Some(CODE))).await.unwrap();
    let yesterday = (NOW - DAY_MS) / SLOT_MS;
    let last = NOW / SLOT_MS - 1;
    assert!(server
        .report(device, vec![slot_report(yesterday, &[(Module::Core, 5), (Module::Ocr, 2)], &[("EAN_13", 3)])])
        .await
        .1
        .is_ok());
    assert!(server.report(device, vec![slot_report(last, &[(Module::Core, 30)], &[("QR_CODE", 7)])]).await.1.is_ok());
    let seated = new_device();
    server.authorize(&authorize_request(seated, None, Some("acme-seats"))).await.unwrap();

    let licenses = server.get("/admin/v1/licenses", &token).await["licenses"].clone();
    let ids: Vec<&str> = licenses.as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["L-pages", "L-scans", "L-seats"]);
    assert_eq!(
        licenses[0]["quotas"],
        json!([{ "item": "core", "quota": 1000, "used": 35, "left": 965 }, { "item": "ocr", "quota": 1000, "used": 2, "left": 998 }])
    );
    assert_eq!((&licenses[0]["pages"], &licenses[0]["scans"]), (&json!({ "core": 35, "ocr": 2 }), &json!({})));
    assert_eq!(licenses[0]["projects"], json!([CODE]));
    assert_eq!(licenses[0]["license"]["domains"], json!(["app.example.com"]));
    assert_eq!((licenses[0]["expired"].as_bool(), licenses[0]["seatsHeld"].is_null()), (Some(false), true));
    assert_eq!(licenses[1]["quotas"], json!([{ "item": "scans", "quota": 10, "used": 10, "left": 0 }]));
    assert_eq!(licenses[1]["scans"], json!({ "EAN_13": 3, "QR_CODE": 7 }));
    assert_eq!((licenses[2]["quotas"].clone(), licenses[2]["seatsHeld"].as_u64()), (json!([]), Some(1)));

    let projects = server.get("/admin/v1/projects?serverUrls=https://a.example,https://b.example", &token).await
        ["projects"]
        .clone();
    // By organization, then age: both were made at NOW, so then by handshake code.
    assert_eq!(projects.as_array().unwrap().len(), 2);
    let web = &projects[1];
    assert_eq!(
        (&web["handshakeCode"], &web["licenses"], &web["domains"], &web["hasSessionPassword"]),
        (&json!(CODE), &json!(["L-pages", "L-scans"]), &json!(["app.example.com"]), &json!(false))
    );
    let key = LicenseKey::decode(web["licenseKey"].as_str().unwrap()).unwrap();
    assert_eq!(key.servers, ["https://a.example", "https://b.example"]);
    assert_eq!((key.organization_id.as_deref(), key.handshake_code.as_deref()), (Some(ORG), Some(CODE)));
    assert_eq!((&projects[0]["handshakeCode"], &projects[0]["domains"]), (&json!("acme-seats"), &json!([])));
    assert_error(
        server.admin(Method::GET, "/admin/v1/projects?serverUrls=ftp://x", Some(&token), None).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );

    let devices = server.get("/admin/v1/devices", &token).await["devices"].clone();
    assert_eq!(devices.as_array().unwrap().len(), 2);
    // Both first seen at NOW: listed in the order of their random ids.
    let find = |id: String| devices.as_array().unwrap().iter().find(|d| d["deviceId"] == id).cloned().unwrap();
    let (working, holding) = (find(device.to_hyphenated()), find(seated.to_hyphenated()));
    assert_eq!(
        (&working["handshakeCode"], &working["lastSeen"], &working["seatHeldUntil"]),
        (&json!(CODE), &json!(NOW), &Value::Null)
    );
    assert_eq!(holding["handshakeCode"], "acme-seats");
    assert_eq!(holding["seatHeldUntil"], json!(NOW + YEAR), "a yearly seat, up to the license's expiry");

    // Usage per UTC day (NOW is 08:00, so the two slots fall on two days) and per slot.
    let day = |slot: u64| slot * SLOT_MS / DAY_MS * DAY_MS;
    let by_day = server.get(&format!("/admin/v1/usage?bucket=day&from={}&to={NOW}", NOW - 2 * DAY_MS), &token).await;
    assert_eq!(
        by_day,
        json!({ "bucket": "day", "bucketMs": DAY_MS, "from": NOW - 2 * DAY_MS, "to": NOW, "series": [
            { "start": day(yesterday), "licenseId": "L-pages", "pages": { "core": 5, "ocr": 2 }, "scans": {} },
            { "start": day(yesterday), "licenseId": "L-scans", "pages": {}, "scans": { "EAN_13": 3 } },
            { "start": day(last), "licenseId": "L-pages", "pages": { "core": 30 }, "scans": {} },
            { "start": day(last), "licenseId": "L-scans", "pages": {}, "scans": { "QR_CODE": 7 } },
        ] })
    );
    assert_eq!(
        server.get("/admin/v1/usage", &token).await["series"],
        by_day["series"],
        "by default the last 30 days, per day"
    );
    let by_slot = server.get(&format!("/admin/v1/usage?bucket=slot&from={}&to={NOW}", NOW - SLOT_MS), &token).await;
    assert_eq!(
        by_slot["series"],
        json!([
            { "start": last * SLOT_MS, "licenseId": "L-pages", "pages": { "core": 30 }, "scans": {} },
            { "start": last * SLOT_MS, "licenseId": "L-scans", "pages": {}, "scans": { "QR_CODE": 7 } },
        ])
    );
    // `to` is exclusive: a range that ends where the last slot starts leaves it out.
    let before_last =
        server.get(&format!("/admin/v1/usage?bucket=slot&from={}&to={}", NOW - DAY_MS, last * SLOT_MS), &token).await;
    let starts: Vec<u64> =
        before_last["series"].as_array().unwrap().iter().map(|b| b["start"].as_u64().unwrap()).collect();
    assert_eq!(starts, [yesterday * SLOT_MS, yesterday * SLOT_MS]);
    for bad in ["bucket=week", "from=10&to=5", "from=yesterday"] {
        assert_error(
            server.admin(Method::GET, &format!("/admin/v1/usage?{bad}"), Some(&token), None).await,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        );
    }

    // Alerts as `alerts --json` shows them: L-scans used its whole quota.
    assert_eq!(server.get("/admin/v1/alerts", &token).await, json!({ "alerts": [] }));
    alerts::check(&server.config, &AlertSettings::default(), NOW).await.unwrap();
    let listed = server.get("/admin/v1/alerts", &token).await["alerts"].clone();
    let messages: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"license L-scans has used 100% of its scans quota: 10 of 10"), "{messages:?}");
    let stored: Vec<Value> = server.storage.alerts().await.unwrap().iter().map(licet_server::views::alert).collect();
    assert_eq!(listed, json!(stored));

    // The trial, as `trial set | show | off`.
    assert_eq!(server.get("/admin/v1/trial", &token).await, json!({ "trial": null }));
    let (status, set) = server
        .send_json(Method::PUT, "/admin/v1/trial", &token, json!({ "handshakeCode": "acme-seats", "days": 3 }))
        .await;
    assert_eq!((status, &set["days"]), (StatusCode::OK, &json!(3)), "{set}");
    let key = LicenseKey::decode(set["licenseKey"].as_str().unwrap()).unwrap();
    assert_eq!((key.organization_id, key.handshake_code), (None, None));
    assert_eq!(
        server.get("/admin/v1/trial", &token).await,
        json!({ "trial": { "handshakeCode": "acme-seats", "days": 3, "open": true } })
    );
    assert_error(
        server
            .send_json(Method::PUT, "/admin/v1/trial", &token, json!({ "handshakeCode": "acme-seats", "days": 0 }))
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_error(
        server.send_json(Method::PUT, "/admin/v1/trial", &token, json!({ "handshakeCode": "nope" })).await,
        StatusCode::NOT_FOUND,
        "UNKNOWN_PROJECT",
    );
    let (status, closed) = server.admin(Method::DELETE, "/admin/v1/trial", Some(&token), None).await;
    assert_eq!((status, closed), (StatusCode::OK, json!({ "open": false, "wasSetUp": true })));
    assert_eq!(server.get("/admin/v1/trial", &token).await["trial"]["open"], false);
}

/// Every `$ref` in `value` points at something in `doc`.
fn check_refs(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("a local $ref: {target}"));
                assert!(doc.pointer(pointer).is_some(), "{target} points at nothing");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served_and_their_bearer_scheme() {
    let server = Server::new("admin-api-openapi").await;
    let (status, doc) = server.admin(Method::GET, "/admin/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "the document needs no token");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"],
        json!({ "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"] })
    );
    assert_eq!(
        doc["security"],
        json!([{ "bearerAuth": [] }]),
        "every operation needs the token unless it says otherwise"
    );

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(operation["operationId"].is_string() && operation["summary"].is_string(), "{method} {path}");
            let responses =
                operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} documents no response"));
            let public = path.ends_with("/openapi.json");
            assert_eq!(
                operation.get("security") == Some(&json!([])),
                public,
                "{method} {path}: only the document is public"
            );
            if !public {
                assert!(responses.contains_key("401"), "{method} {path} documents its 401");
            }
            if ["post", "put"].contains(&method.as_str()) {
                assert!(operation["requestBody"].is_object(), "{method} {path} documents its body");
            }
        }
    }
    let served: BTreeSet<(String, String)> =
        admin_api::served_routes().into_iter().map(|(m, p)| (m.to_string(), p)).collect();
    assert_eq!(documented, served, "the document and the router list the same routes");
    check_refs(&doc, &doc);
}

/// A fresh store on the backend under test, and the URL to read its tables with plain SQL.
async fn store_and_url(name: &str) -> (Arc<dyn Storage>, String) {
    match common::postgres() {
        Some(base) => {
            let url = common::create_database(&base, name).await;
            (Arc::new(PostgresStorage::open(&url).await.unwrap()), url)
        }
        None => {
            let dir = common::temp_dir(name);
            let storage = SqliteStorage::open(&dir, true).await.unwrap();
            (Arc::new(storage), format!("sqlite://{}", SqliteStorage::path(&dir).display()))
        }
    }
}

/// The name and hash columns of every row of `admin_tokens`.
async fn token_rows(url: &str) -> Vec<(String, String)> {
    let sql = "SELECT name, token_hash FROM admin_tokens ORDER BY name";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        let found = sqlx::query(sql).fetch_all(&mut connection).await.unwrap();
        found.iter().map(|r| (r.get("name"), r.get("token_hash"))).collect()
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        let found = sqlx::query(sql).fetch_all(&mut connection).await.unwrap();
        found.iter().map(|r| (r.get("name"), r.get("token_hash"))).collect()
    }
}

#[tokio::test]
async fn the_token_table_holds_a_hash_and_never_the_token() {
    let (storage, url) = store_and_url("admin-api-hash").await;
    let (stored, token) = admin::create_admin_token(storage.as_ref(), Some("ops"), NOW).await.unwrap();
    assert_eq!((stored.name.as_str(), stored.created_at), ("ops", NOW));
    let secret = token.strip_prefix(admin::ADMIN_TOKEN_PREFIX).expect("the token names what it is");
    assert_eq!(licet_protocol::b64::decode(secret).unwrap().len(), 32, "256 random bits");
    let (_, other) = admin::create_admin_token(storage.as_ref(), None, NOW).await.unwrap();
    assert_ne!(token, other);

    let found = token_rows(&url).await;
    assert_eq!(found.len(), 2);
    for (name, hash) in &found {
        for text in [name, hash] {
            assert!(!text.contains(secret) && !text.contains(&other[admin::ADMIN_TOKEN_PREFIX.len()..]), "{text}");
        }
    }
    assert_eq!(found.iter().find(|(name, ..)| name == "ops").unwrap().1, admin::admin_token_hash(&token));
    // Looked up by its hash, listed by name, and gone once revoked.
    assert_eq!(
        storage.admin_token(&admin::admin_token_hash(&token)).await.unwrap().map(|t| t.name),
        Some("ops".into())
    );
    assert!(storage.admin_token(&admin::admin_token_hash(secret)).await.unwrap().is_none());
    assert!(matches!(
        admin::create_admin_token(storage.as_ref(), Some("ops"), NOW).await,
        Err(licet_server::ServerError::Storage(licet_server::storage::StorageError::AdminTokenNameTaken(_)))
    ));
    storage.revoke_admin_token("ops").await.unwrap();
    assert!(storage.admin_token(&admin::admin_token_hash(&token)).await.unwrap().is_none());
    assert!(storage.revoke_admin_token("ops").await.is_err(), "a revoked token is unknown");
    assert_eq!(storage.admin_tokens().await.unwrap().len(), 1);
    storage.close().await;
}
