//! What an operator does to a store: initialize it, import licenses, create projects and assign
//! licenses to them, set up the public trial, read usage, create and revoke admin API tokens;
//! and the domain patterns a license may bind (checked when it is issued, imported and
//! assigned). The CLI and the admin API (`admin_api`) format these results; none of it is
//! reachable from the protocol routes, and none of it can create license content.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::RwLock;

use licet_protocol::b64;
use licet_protocol::domain::{self, DomainRule};
use licet_protocol::keys::{self, ServerKeys, ServerPublicKeys, VerifyingKey};
use licet_protocol::license::{self, LicenseFile, LicenseType, Module};
use licet_protocol::license_key::LicenseKey;
use licet_protocol::sign::Signed;
use rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ServerError;
use crate::licensing::rules::{self, QuotaUse};
use crate::password;
use crate::random::{self, rng};
use crate::storage::{
    AdminToken, Imported, LicenseRecord, Project, Settings, Storage, StorageError, TrialSetting, UsageItem, UsageTotal,
};

/// The longest organization ID, handshake code or license ID.
const MAX_NAME_LEN: usize = 64;

/// Refuses names that would not survive a license key, a URL or a shell unquoted: 1 to 64 of
/// ASCII letters, digits, `.`, `_` and `-`.
pub fn check_name(what: &str, name: &str) -> Result<(), ServerError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "{what} {name:?} is not valid: use 1 to {MAX_NAME_LEN} letters, digits, '.', '_' or '-'"
        )))
    }
}

/// Refuses a pattern that would bind sites of unrelated owners (`domain::covers_public_suffix`);
/// `of` names where an imported pattern comes from, for the message.
fn check_not_public_suffix(rule: &DomainRule, of: &str) -> Result<(), ServerError> {
    if domain::covers_public_suffix(rule) {
        return Err(ServerError::PublicSuffixDomain {
            pattern: rule.as_str().to_owned(),
            of: of.to_owned(),
            suffix: rule.base().to_owned(),
        });
    }
    Ok(())
}

/// The canonical form of a `--domain` pattern of a license to issue: international names in
/// punycode, lowercase. Refused: what is no pattern, a development host (the license allows
/// those with `--allow-dev-hosts`, never by listing them), and a pattern over a public suffix.
pub fn domain_pattern(pattern: &str) -> Result<String, ServerError> {
    let rule = domain::normalize_pattern(pattern).map_err(|e| ServerError::InvalidDomain(pattern.to_owned(), e))?;
    if domain::is_dev_host(rule.base()) {
        return Err(ServerError::DevHostDomain(pattern.to_owned()));
    }
    check_not_public_suffix(&rule, "")?;
    Ok(rule.as_str().to_owned())
}

/// Refuses a license whose patterns this server would not issue: one that does not parse, or
/// covers a public suffix. A vendor may have signed it with an older tool; it is refused all the
/// same, since the browser matches patterns without the Public Suffix List.
fn check_license_domains(file: &LicenseFile) -> Result<(), ServerError> {
    for pattern in &file.domains {
        let rule = DomainRule::parse(pattern)
            .map_err(|e| ServerError::BadLicenseDomain(file.id.clone(), pattern.clone(), e))?;
        check_not_public_suffix(&rule, &format!(" of license {}", file.id))?;
    }
    Ok(())
}

/// The result of `initialize`.
pub struct Initialized {
    /// The public halves of the server's keys, as license keys carry them.
    pub keys: ServerPublicKeys,
    /// False when the store was already initialized (with the same vendor key).
    pub created: bool,
}

/// Stores the vendor public key and fresh server keys, unless the store already has keys for
/// the same vendor key, in which case it changes nothing. Another vendor key is refused.
pub async fn initialize(storage: &dyn Storage, vendor_public_key: &str) -> Result<Initialized, ServerError> {
    let vendor = keys::verifying_key_from_text(vendor_public_key)
        .map_err(|e| ServerError::BadVendorPublicKey(vendor_public_key.to_owned(), e))?;
    let vendor_public_key = b64::encode(vendor.as_bytes());
    let fresh = ServerKeys::generate(&mut rng()).to_text();
    let stored = storage
        .initialize(&Settings { vendor_public_key: vendor_public_key.clone(), server_keys: fresh.clone() })
        .await?;
    if stored.vendor_public_key != vendor_public_key {
        return Err(ServerError::VendorKeyMismatch);
    }
    let keys = ServerKeys::from_text(&stored.server_keys).map_err(ServerError::BadStoredSettings)?;
    Ok(Initialized { keys: keys.public(), created: stored.server_keys == fresh })
}

/// Verifies a license file against the trusted vendor key and stores it. Nothing is stored
/// for a file that does not verify, binds a pattern over a public suffix, or whose id another
/// license already has.
pub async fn import_license(
    storage: &dyn Storage,
    vendor: &VerifyingKey,
    signed: &Signed,
    now: u64,
) -> Result<(LicenseFile, Imported), ServerError> {
    let file = license::verify(signed, vendor).map_err(|_| ServerError::LicenseSignature)?;
    check_license_domains(&file)?;
    let record = LicenseRecord {
        id: file.id.clone(),
        text: license::to_text(signed),
        organization_id: file.organization_id.clone(),
        product: file.product.clone(),
        license_type: file.license_type.as_str().to_owned(),
        expires_at: file.expires_at,
    };
    match storage.import_license(&record, now).await? {
        Imported::IdTaken => Err(ServerError::LicenseIdTaken(file.id)),
        imported => Ok((file, imported)),
    }
}

/// Creates a project of `organization_id`: with `handshake_code`, or a generated one
/// (`ORG-` and 6 random hex digits); with a session password when one is given.
pub async fn create_project(
    storage: &dyn Storage,
    organization_id: &str,
    handshake_code: Option<&str>,
    session_password: Option<&str>,
    now: u64,
) -> Result<Project, ServerError> {
    check_name("organization id", organization_id)?;
    let handshake_code = match handshake_code {
        Some(code) => code.to_owned(),
        None => format!("{organization_id}-{}", random::hex(3)),
    };
    check_name("handshake code", &handshake_code)?;
    let hash = match session_password {
        Some("") => {
            return Err(ServerError::Invalid("the session password is empty: give a non-empty one, or none".into()))
        }
        Some(password) => Some(password::hash(password)?),
        None => None,
    };
    Ok(storage.create_project(&handshake_code, organization_id, hash.as_deref(), now).await?)
}

/// Assigns an imported license to a project, after checking its domain patterns again: the
/// store may hold a license imported by an older server that did not check them.
pub async fn assign_license(
    storage: &dyn Storage,
    vendor: &VerifyingKey,
    handshake_code: &str,
    license_id: &str,
    now: u64,
) -> Result<(), ServerError> {
    let record =
        storage.license(license_id).await?.ok_or_else(|| StorageError::UnknownLicense(license_id.to_owned()))?;
    let (_, file) = verify_record(&record, vendor)?;
    check_license_domains(&file)?;
    Ok(storage.assign_license(handshake_code, license_id, now).await?)
}

/// A stored license's text parsed and verified against the vendor key again: the database is
/// not where license content is trusted.
pub fn verify_record(record: &LicenseRecord, vendor: &VerifyingKey) -> Result<(Signed, LicenseFile), ServerError> {
    let signed = license::from_text(&record.text)
        .map_err(|_| StorageError::Corrupt(format!("the text of license {}", record.id)))?;
    let file = license::verify(&signed, vendor).map_err(|_| ServerError::LicenseSignature)?;
    Ok((signed, file))
}

/// How many verified license texts `VerifiedLicenses` keeps: more than a store holds licenses.
/// Past it, the cache starts over, so that texts edited in the store cannot grow it for ever.
const MAX_VERIFIED: usize = 1024;

/// `verify_record` once per stored license text: a request reads the licenses of its project
/// from the store each time, and a text seen and verified before is not decoded and verified
/// again. The text is the key, so a license edited in the store is verified anew (and refused,
/// unless the vendor signed it); only texts that verified are kept, each with the key that
/// verified it.
#[derive(Default)]
pub struct VerifiedLicenses {
    by_text: RwLock<HashMap<String, Verified>>,
}

struct Verified {
    vendor: [u8; 32],
    signed: Signed,
    file: LicenseFile,
}

impl VerifiedLicenses {
    /// `verify_record(record, vendor)`, from the cache when this text verified with this key.
    pub fn verify(&self, record: &LicenseRecord, vendor: &VerifyingKey) -> Result<(Signed, LicenseFile), ServerError> {
        {
            let cache = self.by_text.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(hit) = cache.get(&record.text).filter(|hit| hit.vendor == *vendor.as_bytes()) {
                return Ok((hit.signed.clone(), hit.file.clone()));
            }
        }
        let (signed, file) = verify_record(record, vendor)?;
        let mut cache = self.by_text.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_VERIFIED {
            cache.clear();
        }
        cache.insert(
            record.text.clone(),
            Verified { vendor: *vendor.as_bytes(), signed: signed.clone(), file: file.clone() },
        );
        Ok((signed, file))
    }
}

/// Where a license key sends devices when no server URL is given: `serve`'s default address.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8710";

/// The server URLs a license key names, main first, each one a URL a browser can post to,
/// without a trailing slash.
pub fn server_urls(urls: &[String]) -> Result<Vec<String>, ServerError> {
    urls.iter()
        .map(|url| {
            let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            match host {
                Some(host) if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace) => {
                    Ok(url.trim_end_matches('/').to_owned())
                }
                _ => Err(ServerError::Invalid(format!(
                    "server url {url:?} is not an http:// or https:// URL: give it like https://licenses.example.com"
                ))),
            }
        })
        .collect()
}

/// How long a public trial may last, in days.
pub const TRIAL_DAYS: RangeInclusive<u32> = 1..=365;

/// How long a trial lasts when no length is given.
pub const DEFAULT_TRIAL_DAYS: u32 = 7;

/// Serves public trials of `days` days from the licenses of the project `handshake_code`.
pub async fn set_trial(storage: &dyn Storage, handshake_code: &str, days: u32) -> Result<TrialSetting, ServerError> {
    if !TRIAL_DAYS.contains(&days) {
        return Err(ServerError::Invalid(format!(
            "a trial of {days} days is out of range: give {} to {} days",
            TRIAL_DAYS.start(),
            TRIAL_DAYS.end()
        )));
    }
    let setting = TrialSetting { handshake_code: handshake_code.to_owned(), days, open: true };
    storage.set_trial_setting(&setting).await?;
    Ok(setting)
}

/// Starts no new trials (running ones go on to their end); false when no trial was set up.
pub async fn close_trial(storage: &dyn Storage) -> Result<bool, ServerError> {
    let Some(setting) = storage.trial_setting().await? else { return Ok(false) };
    storage.set_trial_setting(&TrialSetting { open: false, ..setting }).await?;
    Ok(true)
}

/// What every admin token starts with, so that a leaked one says what it opens (and secret
/// scanners can find it).
pub const ADMIN_TOKEN_PREFIX: &str = "licet_admin_";

/// The hash an admin token is stored and looked up by: SHA-256, in hex. A token holds 256
/// random bits, so a fast hash suffices: there is nothing to guess from it, unlike a password.
pub fn admin_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates an admin token named `name` (default: `admin-` and 6 random hex digits) and returns
/// it with its secret, `ADMIN_TOKEN_PREFIX` and 32 random bytes in base64url: shown this once,
/// and never stored (only its hash is).
pub async fn create_admin_token(
    storage: &dyn Storage,
    name: Option<&str>,
    now: u64,
) -> Result<(AdminToken, String), ServerError> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => format!("admin-{}", random::hex(3)),
    };
    check_name("token name", &name)?;
    let mut secret = [0u8; 32];
    rng().fill_bytes(&mut secret);
    let token = format!("{ADMIN_TOKEN_PREFIX}{}", b64::encode(&secret));
    let stored = storage.create_admin_token(&name, &admin_token_hash(&token), now).await?;
    Ok((stored, token))
}

/// The license key `initLicense` takes for `project`, naming the organization and the code.
pub fn license_key(project: &Project, servers: Vec<String>, keys: &ServerPublicKeys) -> String {
    LicenseKey::new(servers, Some(project.organization_id.clone()), Some(project.handshake_code.clone()), keys).encode()
}

/// The license key that names no project: devices using it ask for the public trial. It also
/// serves as `licenseServer` in the `{ organizationID, handshakeCode }` form of `initLicense`.
pub fn server_key(servers: Vec<String>, keys: &ServerPublicKeys) -> String {
    LicenseKey::new(servers, None, None, keys).encode()
}

/// What one license has counted.
pub struct LicenseUsage {
    pub license: LicenseRecord,
    /// Pages per module, in module order; modules never counted are absent.
    pub pages: Vec<(Module, u64)>,
    /// Scans per symbology, by name; symbologies never counted are absent.
    pub scans: Vec<(String, u64)>,
}

/// The usage totals of every imported license, counted or not.
pub async fn usage(storage: &dyn Storage) -> Result<Vec<LicenseUsage>, ServerError> {
    Ok(usage_by_license(storage.licenses().await?, &storage.usage().await?))
}

/// `totals` (of `Storage::usage`) grouped by each of `licenses`, counted or not.
pub fn usage_by_license(licenses: Vec<LicenseRecord>, totals: &[UsageTotal]) -> Vec<LicenseUsage> {
    let mut usage: Vec<LicenseUsage> =
        licenses.into_iter().map(|license| LicenseUsage { license, pages: Vec::new(), scans: Vec::new() }).collect();
    for total in totals {
        let Some(entry) = usage.iter_mut().find(|u| u.license.id == total.license_id) else { continue };
        match &total.item {
            UsageItem::Pages(module) => entry.pages.push((*module, total.count)),
            UsageItem::Scans(symbology) => entry.scans.push((symbology.clone(), total.count)),
        }
    }
    for entry in &mut usage {
        entry.pages.sort();
        entry.scans.sort();
    }
    usage
}

/// What a license has used: the use of each of its quotas and, for a per-device license, how
/// many seats are held (0 when none is).
pub struct LicenseUse {
    pub quotas: Vec<QuotaUse>,
    pub seats_held: Option<u64>,
}

/// What each of `files` has used, in their order: quotas from `usage` (the totals of at least
/// these licenses), seats as held at `now`, read once for all of them.
pub async fn license_use(
    storage: &dyn Storage,
    files: &[LicenseFile],
    usage: &[UsageTotal],
    now: u64,
) -> Result<Vec<LicenseUse>, StorageError> {
    let per_device = |file: &LicenseFile| file.license_type == LicenseType::PerDevice;
    let ids: Vec<String> = files.iter().filter(|file| per_device(file)).map(|file| file.id.clone()).collect();
    // A per-device license whose seats are all free is absent from what the store lists.
    let held: HashMap<String, u64> = storage.seats_held(&ids, now).await?.into_iter().collect();
    Ok(rules::quota_uses(files, usage)
        .into_iter()
        .zip(files)
        .map(|(quotas, file)| LicenseUse {
            quotas,
            seats_held: per_device(file).then(|| held.get(&file.id).copied().unwrap_or(0)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use licet_protocol::keys::VendorKey;
    use licet_protocol::license::{self, LicenseFile, LicenseType, Module, Tolerance};

    use super::VerifiedLicenses;
    use crate::error::ServerError;
    use crate::random::rng;
    use crate::storage::LicenseRecord;

    fn record(id: &str, vendor: &VendorKey) -> LicenseRecord {
        let file = LicenseFile {
            id: id.into(),
            organization_id: "acme".into(),
            product: "scanner".into(),
            license_type: LicenseType::PerPage,
            modules: vec![Module::Core],
            quota: Some(1000),
            devices: None,
            active: None,
            domains: vec![],
            allow_dev_hosts: false,
            issued_at: 1_700_000_000_000,
            expires_at: 1_900_000_000_000,
            offline_grace_ms: license::DEFAULT_OFFLINE_GRACE_MS,
            tolerance: Tolerance::default(),
        };
        LicenseRecord {
            id: id.into(),
            text: license::to_text(&file.sign(&vendor.0)),
            organization_id: file.organization_id,
            product: file.product,
            license_type: file.license_type.as_str().into(),
            expires_at: file.expires_at,
        }
    }

    #[test]
    fn a_cached_license_is_served_only_for_its_text_and_its_vendor_key() {
        let (vendor, other) = (VendorKey::generate(&mut rng()), VendorKey::generate(&mut rng()));
        let key = vendor.0.verifying_key();
        let cache = VerifiedLicenses::default();
        let stored = record("L-1", &vendor);

        let (_, file) = cache.verify(&stored, &key).unwrap();
        assert_eq!(file.id, "L-1");
        assert_eq!(cache.verify(&stored, &key).unwrap().1, file);
        // The same id with a text the vendor did not sign (the store edited) is verified anew.
        let edited = LicenseRecord { text: record("L-1", &other).text, ..stored.clone() };
        assert!(matches!(cache.verify(&edited, &key), Err(ServerError::LicenseSignature)));
        // A text verified with one key proves nothing to another.
        assert!(matches!(cache.verify(&stored, &other.0.verifying_key()), Err(ServerError::LicenseSignature)));
        assert_eq!(cache.verify(&stored, &key).unwrap().1, file);
    }
}
