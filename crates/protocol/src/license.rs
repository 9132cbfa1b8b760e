//! The vendor-signed license file: what a license sells (type, modules, quota, devices,
//! domains, validity, offline grace, tolerance), and its one-line text form
//! `licet-license-v1.<payload>.<signature>`. Only the vendor key creates one; a license server
//! can carry it and count against it, never change it.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::sign::{Signed, SignedKind, SignedPayload};
use crate::{b64, ProtocolError};

/// What the one-line text form of a signed license file starts with.
pub const TEXT_PREFIX: &str = "licet-license-v1.";

/// What a per-page license counts, one quota per module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Module {
    /// Pages acquired or imported.
    Core,
    /// Frames captured from a camera.
    Webcam,
    /// PDF pages rasterized.
    Pdfr,
    /// Pages recognized.
    Ocr,
}

impl Module {
    pub const ALL: [Module; 4] = [Module::Core, Module::Webcam, Module::Pdfr, Module::Ocr];

    pub fn as_str(self) -> &'static str {
        match self {
            Module::Core => "core",
            Module::Webcam => "webcam",
            Module::Pdfr => "pdfr",
            Module::Ocr => "ocr",
        }
    }

    pub fn parse(name: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// How a license is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseType {
    PerScan,
    PerPage,
    PerDevice,
    Concurrent,
    PerDomain,
}

impl LicenseType {
    pub const ALL: [LicenseType; 5] = [
        LicenseType::PerScan,
        LicenseType::PerPage,
        LicenseType::PerDevice,
        LicenseType::Concurrent,
        LicenseType::PerDomain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LicenseType::PerScan => "per-scan",
            LicenseType::PerPage => "per-page",
            LicenseType::PerDevice => "per-device",
            LicenseType::Concurrent => "concurrent",
            LicenseType::PerDomain => "per-domain",
        }
    }

    pub fn parse(name: &str) -> Option<LicenseType> {
        LicenseType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the type sells a quota (`LicenseFile::quota`): scans, or pages per module.
    pub fn has_quota(self) -> bool {
        matches!(self, LicenseType::PerScan | LicenseType::PerPage)
    }

    /// Whether the type limits devices (`LicenseFile::devices`): seats, or devices per slot.
    pub fn limits_devices(self) -> bool {
        matches!(self, LicenseType::PerDevice | LicenseType::Concurrent)
    }

    /// The offline grace an issuer writes into a license of this type (with this active period,
    /// for per-device ones) when it is not told one. Per device, the seat's period (365, 90, 30
    /// or 1 days; yearly when none is given): a device then works offline as long as its seat
    /// lasts, which the server also never signs past. Concurrent, two report slots
    /// (`CONCURRENT_OFFLINE_GRACE_MS`), so a device that stops reporting soon stops counting.
    /// The others, `DEFAULT_OFFLINE_GRACE_MS`.
    pub fn default_offline_grace_ms(self, active: Option<ActivePeriod>) -> u64 {
        match self {
            LicenseType::PerDevice => active.unwrap_or(ActivePeriod::Yearly).length_ms(),
            LicenseType::Concurrent => CONCURRENT_OFFLINE_GRACE_MS,
            LicenseType::PerScan | LicenseType::PerPage | LicenseType::PerDomain => DEFAULT_OFFLINE_GRACE_MS,
        }
    }
}

/// How long a per-device license keeps a seat after each contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivePeriod {
    Yearly,
    Quarterly,
    Monthly,
    Daily,
}

impl ActivePeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivePeriod::Yearly => "yearly",
            ActivePeriod::Quarterly => "quarterly",
            ActivePeriod::Monthly => "monthly",
            ActivePeriod::Daily => "daily",
        }
    }

    pub fn parse(name: &str) -> Option<ActivePeriod> {
        [ActivePeriod::Yearly, ActivePeriod::Quarterly, ActivePeriod::Monthly, ActivePeriod::Daily]
            .into_iter()
            .find(|p| p.as_str() == name)
    }

    /// How long a seat is held after a contact: 365, 90, 30 or 1 days.
    pub fn length_ms(self) -> u64 {
        DAY_MS
            * match self {
                ActivePeriod::Yearly => 365,
                ActivePeriod::Quarterly => 90,
                ActivePeriod::Monthly => 30,
                ActivePeriod::Daily => 1,
            }
    }
}

/// How far past its limits a license keeps working, with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Extra scans or pages, in per mille of the quota (50 = +5%).
    pub quota_permille: u32,
    /// Extra devices, in per mille of the device limit (100 = +10%).
    pub devices_permille: u32,
    /// How long past expiry, in milliseconds.
    pub expiry_ms: u64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { quota_permille: 50, devices_permille: 100, expiry_ms: 7 * DAY_MS }
    }
}

pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// The offline grace of per-scan, per-page and per-domain licenses unless the issuer sets one.
pub const DEFAULT_OFFLINE_GRACE_MS: u64 = 7 * DAY_MS;
/// The offline grace of concurrent licenses unless the issuer sets one: 6 minutes, two report
/// slots, above the documented floor of 3 minutes.
pub const CONCURRENT_OFFLINE_GRACE_MS: u64 = 2 * crate::SLOT_MS;
/// The shortest and longest offline grace a license may set.
pub const OFFLINE_GRACE_RANGE_MS: (u64, u64) = (3 * 60 * 1000, 365 * DAY_MS);

/// The content of a license, as the vendor signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseFile {
    pub id: String,
    pub organization_id: String,
    pub product: String,
    pub license_type: LicenseType,
    pub modules: Vec<Module>,
    /// Scans (per-scan) or pages per module (per-page); `None` for types without a quota.
    pub quota: Option<u64>,
    pub devices: Option<u32>,
    pub active: Option<ActivePeriod>,
    /// Domain patterns the license is bound to (`domain::DomainRule`); empty binds none.
    pub domains: Vec<String>,
    /// Whether `localhost`, `*.localhost` and loopback addresses may use the license even though
    /// `domains` binds it (`domain::host_allowed`).
    pub allow_dev_hosts: bool,
    pub issued_at: u64,
    pub expires_at: u64,
    pub offline_grace_ms: u64,
    pub tolerance: Tolerance,
}

impl SignedPayload for LicenseFile {
    const KIND: SignedKind = SignedKind::License;
}

impl LicenseFile {
    /// Signs this license with the vendor key.
    pub fn sign(&self, vendor: &SigningKey) -> Signed {
        Signed::sign(vendor, self)
    }
}

/// The one-line text form of a signed license file.
pub fn to_text(signed: &Signed) -> String {
    format!("{TEXT_PREFIX}{}.{}", b64::encode(&signed.payload), b64::encode(&signed.signature))
}

/// Parses the text form. It does not verify: call `verify` with the vendor key you trust.
pub fn from_text(text: &str) -> Result<Signed, ProtocolError> {
    let body = text.trim().strip_prefix(TEXT_PREFIX).ok_or(ProtocolError::UnsupportedVersion)?;
    let (payload, signature) = body.split_once('.').ok_or(ProtocolError::Malformed)?;
    Ok(Signed { payload: b64::decode(payload)?, signature: b64::decode(signature)? })
}

/// Verifies a signed license file against the vendor's public key.
pub fn verify(signed: &Signed, vendor: &VerifyingKey) -> Result<LicenseFile, ProtocolError> {
    signed.verify::<LicenseFile>(vendor)
}
