//! Decoding what comes from outside never panics nor allocates absurdly, and what decodes
//! re-encodes to itself. Covered, from arbitrary bytes (0 to 2048) and from mutations of valid
//! encodings (which get past the first field): every message read from the network or from
//! storage with `wire::decode` (postcard): `AuthorizeRequest`, `ReportsRequest` (server),
//! `Signed`, `ReportsResponse` with its `Renewal` (browser), the signed payloads `Authorization`,
//! `Receipt`, `LicenseFile`, and the `UsageReport` and `SlotUsage` the browser's outbox keeps
//! (inside its own `OutboxReport`); the JSON envelopes `SealedRequest`, `SealedResponse` and
//! `ErrorBody` (serde_json, as the server and the fleet client read them); and, from arbitrary
//! text and from mutated valid text, the text parsers: `license::from_text`, the license key
//! (`LicenseKey::unwrap_json`, `decode`, `server_keys`), base64url (`b64::decode`,
//! `decode_array`), key texts (`keys::verifying_key_from_text`, `VendorKey::from_text`,
//! `ServerKeys::from_text`), IDs (`DeviceId::parse` and its kin) and the names parsed from the
//! wire (`ErrorCode::parse`, `Module::parse`, `LicenseType::parse`, `ActivePeriod::parse`).
//! "Absurdly" is measured by a counting global allocator: no single allocation over 2 MiB
//! while a decoder runs, measured around each decoder call on the thread that makes it. Not
//! covered here: the browser module's own stored types (`Cached`, `OutboxReport`,
//! `UsageRecord` in the root crate), and whether decoded values make sense (the server's and
//! the module's checks).

mod prop_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;

use licet_protocol::b64;
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{self, ServerKeys, VendorKey};
use licet_protocol::license::{self, ActivePeriod, LicenseFile, LicenseType, Module};
use licet_protocol::license_key::{self, LicenseKey};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, ErrorBody, Receipt, Renewal, ReportsRequest, ReportsResponse, SealedRequest,
    SealedResponse, SlotUsage, UsageReport,
};
use licet_protocol::ErrorCode;
use prop_support::{mutated, mutation, Mutation, SeededRng};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// The largest single allocation of one decoder call. Per thread: the tests run in parallel,
// and a case runs on its test's thread, so other tests' (and libtest's) allocations do not
// count; `bounded` resets it right before the call and reads it right after.

struct Counting;

thread_local! {
    /// The largest allocation or reallocation on this thread since `bounded` last reset it.
    /// A const-initialized `Cell` needs no allocation and no destructor, so the allocator can
    /// touch it at any time.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: a thread being torn down still allocates, and must not panic here.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// No decoder may allocate more than this at once for an input of at most 2 KiB. serde caps
/// what a sequence's claimed length preallocates at 1 MiB; anything past 2 MiB would be a
/// length taken on trust.
const MAX_ALLOCATION: usize = 2 << 20;

/// Runs one decoder call, `decoder` naming it, and fails the case if the call made a single
/// allocation over `MAX_ALLOCATION`.
fn bounded<R>(decoder: &str, call: impl FnOnce() -> R) -> Result<R, TestCaseError> {
    LARGEST.with(|largest| largest.set(0));
    let result = call();
    let largest = LARGEST.with(Cell::get);
    prop_assert!(largest <= MAX_ALLOCATION, "{} allocated {} bytes at once", decoder, largest);
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// Every postcard message read from outside, decoded as the crate reads it.

/// Decodes `bytes` as `T` with `wire::decode` and with `postcard::from_bytes` (which allows
/// trailing bytes): whatever decodes re-encodes to bytes that decode to the same value, the two
/// agree where the strict one decodes, and the strict one's refusal is `MALFORMED_REQUEST`.
fn decodes_cleanly<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let name = std::any::type_name::<T>();
    let strict = bounded(name, || wire::decode::<T>(bytes))?;
    let lenient = bounded(name, || postcard::from_bytes::<T>(bytes))?;
    if let Ok(value) = &strict {
        let again = wire::decode::<T>(&wire::encode(value));
        prop_assert_eq!(again.as_ref(), Ok(value), "re-encoding {:?}", value);
        prop_assert_eq!(lenient.as_ref().ok(), Some(value), "postcard and wire::decode disagree");
    }
    if let Ok(value) = &lenient {
        let again = wire::decode::<T>(&wire::encode(value));
        prop_assert_eq!(again.as_ref(), Ok(value), "re-encoding {:?}", value);
    }
    if let Err(e) = strict {
        prop_assert_eq!(e.code(), ErrorCode::MalformedRequest);
    }
    Ok(())
}

/// `decodes_cleanly` for every message type.
fn every_message_decodes_cleanly(bytes: &[u8]) -> Result<(), TestCaseError> {
    decodes_cleanly::<AuthorizeRequest>(bytes)?;
    decodes_cleanly::<ReportsRequest>(bytes)?;
    decodes_cleanly::<Signed>(bytes)?;
    decodes_cleanly::<ReportsResponse>(bytes)?;
    decodes_cleanly::<Renewal>(bytes)?;
    decodes_cleanly::<Authorization>(bytes)?;
    decodes_cleanly::<Receipt>(bytes)?;
    decodes_cleanly::<LicenseFile>(bytes)?;
    decodes_cleanly::<UsageReport>(bytes)?;
    decodes_cleanly::<SlotUsage>(bytes)
}

/// One valid message of any type, encoded, and the mutations to apply to it.
fn valid_encoding() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop_support::authorize_request().prop_map(|v| wire::encode(&v)),
        prop_support::reports_request().prop_map(|v| wire::encode(&v)),
        prop_support::signed().prop_map(|v| wire::encode(&v)),
        prop_support::reports_response().prop_map(|v| wire::encode(&v)),
        prop_support::renewal().prop_map(|v| wire::encode(&v)),
        prop_support::authorization().prop_map(|v| wire::encode(&v)),
        prop_support::receipt().prop_map(|v| wire::encode(&v)),
        prop_support::license_file().prop_map(|v| wire::encode(&v)),
        prop_support::usage_report().prop_map(|v| wire::encode(&v)),
        prop_support::slot_usage().prop_map(|v| wire::encode(&v)),
    ]
}

/// Arbitrary bytes, 0 to 2048 of them, short ones more often: a message refuses most garbage
/// within its first bytes, and long inputs are slow to generate in a debug build.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => prop_support::bytes(64), 1 => prop_support::bytes(2048)]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..5)
}

// ---------------------------------------------------------------------------------------------
// JSON envelopes.

fn json_decodes_cleanly<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    if let Ok(value) = bounded(std::any::type_name::<T>(), || serde_json::from_slice::<T>(bytes))? {
        let again = serde_json::to_vec(&value).expect("the envelope serializes");
        prop_assert_eq!(serde_json::from_slice::<T>(&again).ok(), Some(value));
    }
    Ok(())
}

fn every_envelope_decodes_cleanly(bytes: &[u8]) -> Result<(), TestCaseError> {
    json_decodes_cleanly::<SealedRequest>(bytes)?;
    json_decodes_cleanly::<SealedResponse>(bytes)?;
    json_decodes_cleanly::<ErrorBody>(bytes)
}

fn valid_envelope() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (prop_support::bytes(40), prop_support::bytes(80)).prop_map(|(enc, ct)| serde_json::to_vec(&SealedRequest {
            enc,
            ct
        })
        .unwrap()),
        prop_support::bytes(80).prop_map(|ct| serde_json::to_vec(&SealedResponse { ct }).unwrap()),
        (prop_support::text(), prop_support::text()).prop_map(|(code, message)| serde_json::to_vec(&ErrorBody {
            code,
            message
        })
        .unwrap()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Text parsers.

/// Every text parser on `text`: none panics; what parses re-encodes to what was parsed.
fn every_text_parser_is_clean(text: &str) -> Result<(), TestCaseError> {
    if let Ok(signed) = bounded("license::from_text", || license::from_text(text))? {
        let again = license::to_text(&signed);
        prop_assert_eq!(license::from_text(&again), Ok(signed.clone()));
        decodes_cleanly::<LicenseFile>(&signed.payload)?;
    }
    if let Ok(json) = bounded("LicenseKey::unwrap_json", || LicenseKey::unwrap_json(text))? {
        prop_assert_eq!(LicenseKey::unwrap_json(&LicenseKey::wrap(&json)), Ok(json));
    }
    if let Ok(key) = bounded("LicenseKey::decode", || LicenseKey::decode(text))? {
        prop_assert_eq!(LicenseKey::decode(&key.encode()), Ok(key.clone()));
        if let Ok(keys) = bounded("LicenseKey::server_keys", || key.server_keys())? {
            let rebuilt =
                LicenseKey::new(key.servers.clone(), key.organization_id.clone(), key.handshake_code.clone(), &keys);
            prop_assert_eq!(rebuilt, key);
        }
    }
    // Base64url: only the canonical text of some bytes decodes (no padding, no stray bits).
    if let Ok(bytes) = bounded("b64::decode", || b64::decode(text))? {
        prop_assert_eq!(b64::encode(&bytes), text);
    }
    let _ = bounded("b64::decode_array", || {
        (b64::decode_array::<16>(text), b64::decode_array::<32>(text), b64::decode_array::<64>(text))
    })?;
    if let Ok(key) = bounded("keys::verifying_key_from_text", || keys::verifying_key_from_text(text))? {
        prop_assert_eq!(keys::verifying_key_from_text(&b64::encode(key.as_bytes())).ok(), Some(key));
    }
    if let Ok(key) = bounded("VendorKey::from_text", || VendorKey::from_text(text))? {
        prop_assert_eq!(VendorKey::from_text(&key.to_text()).map(|k| k.public_text()).ok(), Some(key.public_text()));
    }
    if let Ok(keys) = bounded("ServerKeys::from_text", || ServerKeys::from_text(text))? {
        prop_assert_eq!(ServerKeys::from_text(&keys.to_text()).map(|k| k.public()).ok(), Some(keys.public()));
    }
    if let Some(id) = bounded("DeviceId::parse", || DeviceId::parse(text))? {
        prop_assert_eq!(DeviceId::parse(&id.to_hyphenated()), Some(id));
    }
    if let Some(id) = bounded("ReportId::parse", || ReportId::parse(text))? {
        prop_assert_eq!(ReportId::parse(&id.to_hyphenated()), Some(id));
    }
    if let Some(nonce) = bounded("Nonce::parse", || Nonce::parse(text))? {
        prop_assert_eq!(Nonce::parse(&nonce.to_hyphenated()), Some(nonce));
    }
    if let Some(code) = bounded("ErrorCode::parse", || ErrorCode::parse(text))? {
        prop_assert_eq!(code.as_str(), text);
    }
    if let Some(module) = bounded("Module::parse", || Module::parse(text))? {
        prop_assert_eq!(module.as_str(), text);
    }
    if let Some(license_type) = bounded("LicenseType::parse", || LicenseType::parse(text))? {
        prop_assert_eq!(license_type.as_str(), text);
    }
    if let Some(period) = bounded("ActivePeriod::parse", || ActivePeriod::parse(text))? {
        prop_assert_eq!(period.as_str(), text);
    }
    Ok(())
}

/// Texts close to the formats: a prefix the parsers know (or nearly), then base64url and
/// dots, so that the parsers get past their first check.
fn format_like_text() -> impl Strategy<Value = String> {
    let prefix = proptest::sample::select(vec![
        "",
        license::TEXT_PREFIX,
        license_key::PREFIX,
        "licet-vendor-secret-v1.",
        "licet-server-secret-v1.",
        "licet-license-v2.",
        "LICET2.",
        " ",
    ]);
    (prefix, "[A-Za-z0-9_=+/.\\- ]{0,120}").prop_map(|(prefix, body)| format!("{prefix}{body}"))
}

/// Valid texts of every format, made from generated values and fresh keys.
fn valid_text() -> impl Strategy<Value = String> {
    let servers = proptest::collection::vec("https://[a-z]{1,8}\\.example(:[0-9]{2,4})?", 0..3);
    prop_oneof![
        (prop_support::signed()).prop_map(|signed| license::to_text(&signed)),
        (prop_support::license_file(), any::<u64>()).prop_map(|(file, seed)| {
            license::to_text(&file.sign(&VendorKey::generate(&mut SeededRng::new(seed)).0))
        }),
        (servers, proptest::option::of(prop_support::text()), proptest::option::of(prop_support::text()), any::<u64>())
            .prop_map(|(servers, organization_id, handshake_code, seed)| {
                let keys = ServerKeys::generate(&mut SeededRng::new(seed)).public();
                LicenseKey::new(servers, organization_id, handshake_code, &keys).encode()
            }),
        any::<u64>().prop_map(|seed| VendorKey::generate(&mut SeededRng::new(seed)).to_text()),
        any::<u64>().prop_map(|seed| VendorKey::generate(&mut SeededRng::new(seed)).public_text()),
        any::<u64>().prop_map(|seed| ServerKeys::generate(&mut SeededRng::new(seed)).to_text()),
        prop_support::bytes(64).prop_map(|bytes| b64::encode(&bytes)),
        any::<[u8; 16]>().prop_map(|bytes| DeviceId(bytes).to_hyphenated()),
        proptest::sample::select(ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()).prop_map(String::from),
    ]
}

// Decoding garbage is microseconds; a case runs ten decoders (or every text parser), so 2048
// cases per property keep the file within a few seconds of a debug build.
const CASES: u32 = 2048;

proptest! {
    #![proptest_config(prop_support::config(CASES))]

    /// Arbitrary bytes, as every postcard message.
    #[test]
    fn arbitrary_bytes_decode_cleanly_as_every_message(bytes in garbage()) {
        every_message_decodes_cleanly(&bytes)?;
    }

    /// Mutations of valid encodings (of any message type), as every postcard message: they get
    /// past lengths and tags into the deeper fields.
    #[test]
    fn mutated_encodings_decode_cleanly_as_every_message(valid in valid_encoding(), mutations in mutations()) {
        every_message_decodes_cleanly(&mutated(&valid, &mutations))?;
    }

    /// Arbitrary and mutated JSON, as every JSON envelope.
    #[test]
    fn arbitrary_and_mutated_json_decodes_cleanly_as_every_envelope(
        bytes in garbage(),
        valid in valid_envelope(),
        mutations in mutations(),
    ) {
        every_envelope_decodes_cleanly(&bytes)?;
        every_envelope_decodes_cleanly(&mutated(&valid, &mutations))?;
    }

    /// Arbitrary text, text shaped like the formats, and mutated valid text, through every
    /// text parser.
    #[test]
    fn arbitrary_and_mutated_text_parses_cleanly(
        text in any::<String>(),
        shaped in format_like_text(),
        valid in valid_text(),
        mutations in mutations(),
    ) {
        every_text_parser_is_clean(&text)?;
        every_text_parser_is_clean(&shaped)?;
        every_text_parser_is_clean(&valid)?;
        let altered = mutated(valid.as_bytes(), &mutations);
        every_text_parser_is_clean(&String::from_utf8_lossy(&altered))?;
    }
}
