//! The operator's operations on a store, for what the command line cannot produce: license files
//! that a vendor signed with an older tool, and a store that an older server filled. A pattern
//! over a public suffix is refused on import and on assignment all the same.

mod common;

use std::sync::Arc;

use licet_protocol::keys::VendorKey;
use licet_protocol::license::{self, LicenseFile, LicenseType, Module, Tolerance, DAY_MS};
use licet_server::storage::{LicenseRecord, Storage};
use licet_server::{admin, ServerError};
use rand_core::{OsRng, TryRngCore};

const NOW: u64 = 1_800_000_000_000;

struct Store {
    storage: Arc<dyn Storage>,
    vendor: VendorKey,
}

async fn store(name: &str) -> Store {
    let storage = common::open_store(name).await;
    let vendor = VendorKey::generate(&mut OsRng.unwrap_err());
    admin::initialize(storage.as_ref(), &vendor.public_text()).await.unwrap();
    admin::create_project(storage.as_ref(), "acme", Some("acme-web"), None, NOW).await.unwrap();
    Store { storage, vendor }
}

/// A per-domain license binding `domains`, as any tool could have signed it.
fn bound(id: &str, domains: &[&str]) -> LicenseFile {
    LicenseFile {
        id: id.into(),
        organization_id: "acme".into(),
        product: "scanner".into(),
        license_type: LicenseType::PerDomain,
        modules: vec![Module::Core],
        quota: None,
        devices: None,
        active: None,
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        allow_dev_hosts: false,
        issued_at: NOW,
        expires_at: NOW + 365 * DAY_MS,
        offline_grace_ms: license::DEFAULT_OFFLINE_GRACE_MS,
        tolerance: Tolerance::default(),
    }
}

#[tokio::test]
async fn a_signed_license_over_a_public_suffix_is_not_imported() {
    let s = store("admin-import-suffix").await;
    let vendor = s.vendor.0.verifying_key();

    for (file, says) in [
        (
            bound("L-wide", &["acme.example", "*.github.io"]),
            "the domain pattern \"*.github.io\" of license L-wide covers the public suffix github.io",
        ),
        (bound("L-com", &["*.com"]), "exact tenant subdomain"),
        (
            bound("L-port", &["acme.example:8080"]),
            "license L-port binds \"acme.example:8080\", which is not a domain pattern",
        ),
    ] {
        let error = admin::import_license(s.storage.as_ref(), &vendor, &file.sign(&s.vendor.0), NOW).await.unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
    }

    assert!(s.storage.licenses().await.unwrap().is_empty());
    let fine = bound("L-tenant", &["acme.github.io", "*.acme.example"]);
    admin::import_license(s.storage.as_ref(), &vendor, &fine.sign(&s.vendor.0), NOW).await.unwrap();
}

#[tokio::test]
async fn a_stored_license_over_a_public_suffix_is_not_assigned() {
    let s = store("admin-assign-suffix").await;
    let vendor = s.vendor.0.verifying_key();
    // What a server that did not check patterns left in its store.
    let wide = bound("L-wide", &["*.herokuapp.com"]);
    let record = LicenseRecord {
        id: wide.id.clone(),
        text: license::to_text(&wide.sign(&s.vendor.0)),
        organization_id: wide.organization_id.clone(),
        product: wide.product.clone(),
        license_type: wide.license_type.as_str().to_owned(),
        expires_at: wide.expires_at,
    };
    s.storage.import_license(&record, NOW).await.unwrap();

    let error = admin::assign_license(s.storage.as_ref(), &vendor, "acme-web", "L-wide", NOW).await.unwrap_err();

    assert!(matches!(error, ServerError::PublicSuffixDomain { .. }), "{error}");
    assert!(error.to_string().contains("(like acme.herokuapp.com)"), "{error}");
    assert!(s.storage.project_licenses("acme-web").await.unwrap().is_empty());
    let unknown = admin::assign_license(s.storage.as_ref(), &vendor, "acme-web", "L-none", NOW).await.unwrap_err();
    assert!(unknown.to_string().contains("L-none"), "{unknown}");
    let fine = bound("L-tenant", &["acme.herokuapp.com"]);
    admin::import_license(s.storage.as_ref(), &vendor, &fine.sign(&s.vendor.0), NOW).await.unwrap();
    admin::assign_license(s.storage.as_ref(), &vendor, "acme-web", "L-tenant", NOW).await.unwrap();
    assert_eq!(s.storage.project_licenses("acme-web").await.unwrap().len(), 1);
}
