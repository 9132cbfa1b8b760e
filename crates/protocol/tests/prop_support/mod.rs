//! Shared by the `prop_*` tests: their proptest configuration, strategies for every message of
//! `wire`, a deterministic RNG for sealing, and the byte mutations the properties apply.
//! Each test file uses only part of it.
#![allow(dead_code)]

use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::license::{ActivePeriod, LicenseFile, LicenseType, Module, Tolerance};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    Authorization, AuthorizeRequest, LicenseState, Receipt, Renewal, ReportsRequest, ReportsResponse, SlotUsage,
    UsageReport,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use rand_core::{CryptoRng, RngCore};

/// `cases` cases, and no failure persistence: nothing is written into the source tree. A
/// failure prints its minimal failing input (proptest prints no RNG seed); to replay a run,
/// set `PROPTEST_RNG_SEED` to a u64, which `Config::default()` reads from the environment.
pub fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// SplitMix64 behind the `CryptoRng` marker, so that a case that seals with HPKE or generates
/// keys replays from its seed. Deterministic and not cryptographic: for tests only.
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

impl CryptoRng for SeededRng {}

// ---------------------------------------------------------------------------------------------
// Strategies for the wire types. Fields take values from the whole of their type, strings
// mix short ASCII with arbitrary Unicode, and sequences stay short so that cases stay fast.

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z0-9 ._-]{0,12}", 1 => "\\PC{0,8}", 1 => any::<String>()]
}

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

pub fn device_id() -> impl Strategy<Value = DeviceId> {
    any::<[u8; 16]>().prop_map(DeviceId)
}

pub fn nonce() -> impl Strategy<Value = Nonce> {
    any::<[u8; 16]>().prop_map(Nonce)
}

pub fn report_id() -> impl Strategy<Value = ReportId> {
    any::<[u8; 16]>().prop_map(ReportId)
}

pub fn module() -> impl Strategy<Value = Module> {
    proptest::sample::select(Module::ALL.to_vec())
}

pub fn license_state() -> impl Strategy<Value = LicenseState> {
    prop_oneof![Just(LicenseState::Valid), Just(LicenseState::Trial), Just(LicenseState::Tolerance)]
}

pub fn signed() -> impl Strategy<Value = Signed> {
    (bytes(48), bytes(70)).prop_map(|(payload, signature)| Signed { payload, signature })
}

pub fn authorize_request() -> impl Strategy<Value = AuthorizeRequest> {
    (
        (device_id(), proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(text())),
        (text(), text(), text(), proptest::option::of(text())),
        (nonce(), any::<u64>()),
    )
        .prop_map(
            |(
                (device_id, organization_id, handshake_code, session_password),
                (product, sdk_version, domain, device_name),
                (nonce, client_time),
            )| AuthorizeRequest {
                device_id,
                organization_id,
                handshake_code,
                session_password,
                product,
                sdk_version,
                domain,
                device_name,
                nonce,
                client_time,
            },
        )
}

pub fn slot_usage() -> impl Strategy<Value = SlotUsage> {
    (
        any::<u64>(),
        proptest::collection::vec((module(), any::<u64>()), 0..4),
        proptest::collection::vec((text(), any::<u64>()), 0..4),
    )
        .prop_map(|(slot, pages, scans)| SlotUsage { slot, pages, scans })
}

pub fn usage_report() -> impl Strategy<Value = UsageReport> {
    (report_id(), proptest::collection::vec(slot_usage(), 0..3))
        .prop_map(|(report_id, slots)| UsageReport { report_id, slots })
}

pub fn reports_request() -> impl Strategy<Value = ReportsRequest> {
    (device_id(), text(), text(), proptest::collection::vec(usage_report(), 0..3), nonce(), any::<u64>()).prop_map(
        |(device_id, handshake_code, domain, reports, nonce, client_time)| ReportsRequest {
            device_id,
            handshake_code,
            domain,
            reports,
            nonce,
            client_time,
        },
    )
}

pub fn authorization() -> impl Strategy<Value = Authorization> {
    (
        (device_id(), text(), proptest::collection::vec(signed(), 0..3), proptest::collection::vec(module(), 0..5)),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        (license_state(), nonce()),
    )
        .prop_map(
            |(
                (device_id, handshake_code, licenses, modules),
                (offline_until, active_until, report_interval_ms, server_time),
                (state, nonce),
            )| Authorization {
                device_id,
                handshake_code,
                licenses,
                modules,
                offline_until,
                active_until,
                report_interval_ms,
                server_time,
                state,
                nonce,
            },
        )
}

pub fn receipt() -> impl Strategy<Value = Receipt> {
    (device_id(), proptest::collection::vec(report_id(), 0..5), any::<u64>(), nonce())
        .prop_map(|(device_id, accepted, server_time, nonce)| Receipt { device_id, accepted, server_time, nonce })
}

pub fn renewal() -> impl Strategy<Value = Renewal> {
    prop_oneof![signed().prop_map(Renewal::Renewed), text().prop_map(Renewal::Refused)]
}

pub fn reports_response() -> impl Strategy<Value = ReportsResponse> {
    (signed(), renewal()).prop_map(|(receipt, renewal)| ReportsResponse { receipt, renewal })
}

pub fn license_type() -> impl Strategy<Value = LicenseType> {
    proptest::sample::select(LicenseType::ALL.to_vec())
}

pub fn active_period() -> impl Strategy<Value = ActivePeriod> {
    prop_oneof![
        Just(ActivePeriod::Yearly),
        Just(ActivePeriod::Quarterly),
        Just(ActivePeriod::Monthly),
        Just(ActivePeriod::Daily)
    ]
}

pub fn license_file() -> impl Strategy<Value = LicenseFile> {
    (
        (text(), text(), text(), license_type(), proptest::collection::vec(module(), 0..5)),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(active_period()),
            proptest::collection::vec(text(), 0..4),
            any::<bool>(),
        ),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>()),
    )
        .prop_map(
            |(
                (id, organization_id, product, license_type, modules),
                (quota, devices, active, domains, allow_dev_hosts),
                (issued_at, expires_at, offline_grace_ms, quota_permille, devices_permille, expiry_ms),
            )| LicenseFile {
                id,
                organization_id,
                product,
                license_type,
                modules,
                quota,
                devices,
                active,
                domains,
                allow_dev_hosts,
                issued_at,
                expires_at,
                offline_grace_ms,
                tolerance: Tolerance { quota_permille, devices_permille, expiry_ms },
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Mutations of byte strings.

/// One alteration of a byte string. `Flip`, `Truncate` and `Extend` always change a non-empty
/// input; the others may leave it as it was (setting a byte to its own value, say).
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips bit `bit` (0..8) of one byte.
    Flip(Index, u8),
    /// Keeps a strict prefix.
    Truncate(Index),
    /// Appends these (non-empty) bytes.
    Extend(Vec<u8>),
    /// Sets one byte.
    Set(Index, u8),
    /// Inserts one byte before the indexed position (or at the end).
    Insert(Index, u8),
    /// Removes one byte.
    Remove(Index),
    /// Copies a range of the input over another place (postcard lengths and tags meet other
    /// fields' bytes).
    Splice(Index, Index, Index),
}

/// The single alterations the envelope properties apply: one flipped bit, a truncation, an
/// extension.
pub fn tamper() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::Extend),
    ]
}

/// Every kind of mutation, with interesting byte values favoured (varint continuation bits,
/// zero, ones, small lengths).
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), Just(0u8), Just(1u8), Just(0x7f), Just(0x80), Just(0xff)];
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::Extend),
        3 => (any::<Index>(), byte.clone()).prop_map(|(at, b)| Mutation::Set(at, b)),
        2 => (any::<Index>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        2 => any::<Index>().prop_map(Mutation::Remove),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(a, b, c)| Mutation::Splice(a, b, c)),
    ]
}

/// Applies `mutation` to `bytes`. A mutation that needs a byte to act on leaves an empty input
/// empty.
pub fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Flip(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << bit,
        Mutation::Truncate(at) if len > 0 => bytes.truncate(at.index(len)),
        Mutation::Extend(more) => bytes.extend_from_slice(more),
        Mutation::Set(at, b) if len > 0 => bytes[at.index(len)] = *b,
        Mutation::Insert(at, b) => bytes.insert(at.index(len + 1), *b),
        Mutation::Remove(at) if len > 0 => {
            bytes.remove(at.index(len));
        }
        Mutation::Splice(from, to, n) if len > 0 => {
            let (from, to) = (from.index(len), to.index(len));
            let n = n.index(len - from.max(to)) + 1;
            let chunk = bytes[from..from + n].to_vec();
            bytes[to..to + n].copy_from_slice(&chunk);
        }
        _ => {}
    }
}

/// `bytes` after every mutation of `mutations`, in order.
pub fn mutated(bytes: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for mutation in mutations {
        apply(&mut out, mutation);
    }
    out
}
