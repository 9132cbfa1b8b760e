//! Round trips of the v1 envelope and signatures, and what every altered byte turns into.

use licet_protocol::envelope::{open_request, open_response, seal_request, seal_response, Route};
use licet_protocol::ids::{DeviceId, Nonce, ReportId};
use licet_protocol::keys::{verifying_key, ServerKeys, VendorKey};
use licet_protocol::license::{self, LicenseFile, LicenseType, Module, Tolerance};
use licet_protocol::sign::Signed;
use licet_protocol::wire::{self, Authorization, LicenseState, Receipt};
use licet_protocol::ProtocolError;
use rand_core::{OsRng, TryRngCore, UnwrapErr};

fn rng() -> UnwrapErr<OsRng> {
    OsRng.unwrap_err()
}

fn authorization() -> Authorization {
    Authorization {
        device_id: DeviceId::from_random([7; 16]),
        handshake_code: "demo-code".into(),
        licenses: vec![],
        modules: vec![Module::Core],
        offline_until: 2_000,
        active_until: 3_000,
        report_interval_ms: 180_000,
        server_time: 1_000,
        state: LicenseState::Valid,
        nonce: Nonce([9; 16]),
    }
}

fn license_file() -> LicenseFile {
    LicenseFile {
        id: "L-1".into(),
        organization_id: "org".into(),
        product: "scanner".into(),
        license_type: LicenseType::PerPage,
        modules: vec![Module::Core, Module::Ocr],
        quota: Some(1000),
        devices: None,
        active: None,
        domains: vec!["*.example.com".into()],
        allow_dev_hosts: false,
        issued_at: 1,
        expires_at: 2,
        offline_grace_ms: license::DEFAULT_OFFLINE_GRACE_MS,
        tolerance: Tolerance::default(),
    }
}

#[test]
fn request_and_response_round_trip() {
    let server = ServerKeys::generate(&mut rng());
    let public = server.public();
    let (sealed, client_key) = seal_request(&public.hpke, Route::Authorize, b"hello", &mut rng()).unwrap();
    let (plain, server_key) = open_request(&server.hpke, Route::Authorize, &sealed).unwrap();
    assert_eq!(plain, b"hello");
    let response = seal_response(&server_key, b"answer");
    assert_eq!(open_response(&client_key, &response).unwrap(), b"answer");
}

#[test]
fn a_request_sealed_for_one_route_does_not_open_on_another() {
    let server = ServerKeys::generate(&mut rng());
    let (sealed, _) = seal_request(&server.public().hpke, Route::Authorize, b"hello", &mut rng()).unwrap();
    assert_eq!(open_request(&server.hpke, Route::Reports, &sealed).err(), Some(ProtocolError::DecryptFailed));
}

#[test]
fn every_flipped_byte_of_a_request_is_refused() {
    let server = ServerKeys::generate(&mut rng());
    let (sealed, _) = seal_request(&server.public().hpke, Route::Reports, b"usage", &mut rng()).unwrap();
    for i in 0..sealed.ct.len() {
        let mut bad = sealed.clone();
        bad.ct[i] ^= 0x01;
        assert_eq!(
            open_request(&server.hpke, Route::Reports, &bad).err(),
            Some(ProtocolError::DecryptFailed),
            "ct byte {i}"
        );
    }
    for i in 0..sealed.enc.len() {
        let mut bad = sealed.clone();
        bad.enc[i] ^= 0x01;
        assert_eq!(
            open_request(&server.hpke, Route::Reports, &bad).err(),
            Some(ProtocolError::DecryptFailed),
            "enc byte {i}"
        );
    }
    let mut short = sealed.clone();
    short.enc.pop();
    assert_eq!(open_request(&server.hpke, Route::Reports, &short).err(), Some(ProtocolError::Malformed));
}

#[test]
fn a_request_sealed_to_another_server_key_is_refused() {
    let server = ServerKeys::generate(&mut rng());
    let mut key = server.public().hpke;
    key[5] ^= 0x01;
    let (sealed, _) = seal_request(&key, Route::Authorize, b"hello", &mut rng()).unwrap();
    assert_eq!(open_request(&server.hpke, Route::Authorize, &sealed).err(), Some(ProtocolError::DecryptFailed));
}

#[test]
fn every_flipped_byte_of_a_response_is_refused() {
    let server = ServerKeys::generate(&mut rng());
    let (sealed, client_key) = seal_request(&server.public().hpke, Route::Authorize, b"x", &mut rng()).unwrap();
    let (_, server_key) = open_request(&server.hpke, Route::Authorize, &sealed).unwrap();
    let response = seal_response(&server_key, b"signed authorization");
    for i in 0..response.ct.len() {
        let mut bad = response.clone();
        bad.ct[i] ^= 0x01;
        assert_eq!(open_response(&client_key, &bad).err(), Some(ProtocolError::DecryptFailed), "byte {i}");
    }
}

#[test]
fn signatures_round_trip_and_refuse_altered_signature_payload_or_key() {
    let server = ServerKeys::generate(&mut rng());
    let key = server.signing.verifying_key();
    let signed = Signed::sign(&server.signing, &authorization());
    assert_eq!(signed.verify::<Authorization>(&key).unwrap(), authorization());
    for i in 0..signed.signature.len() {
        let mut bad = signed.clone();
        bad.signature[i] ^= 0x01;
        assert_eq!(bad.verify::<Authorization>(&key).err(), Some(ProtocolError::BadSignature), "signature byte {i}");
    }
    for i in 0..signed.payload.len() {
        let mut bad = signed.clone();
        bad.payload[i] ^= 0x01;
        assert_eq!(bad.verify::<Authorization>(&key).err(), Some(ProtocolError::BadSignature), "payload byte {i}");
    }
    for i in 0..32 {
        let mut bytes = key.to_bytes();
        bytes[i] ^= 0x01;
        match verifying_key(&bytes) {
            Err(e) => assert_eq!(e, ProtocolError::BadKey),
            Ok(bad_key) => {
                assert_eq!(
                    signed.verify::<Authorization>(&bad_key).err(),
                    Some(ProtocolError::BadSignature),
                    "key byte {i}"
                )
            }
        }
    }
    let mut short = signed.clone();
    short.signature.pop();
    assert_eq!(short.verify::<Authorization>(&key).err(), Some(ProtocolError::BadSignature));
}

#[test]
fn a_signature_for_one_kind_does_not_verify_as_another() {
    let server = ServerKeys::generate(&mut rng());
    let key = server.signing.verifying_key();
    let receipt = Receipt {
        device_id: DeviceId([1; 16]),
        accepted: vec![ReportId([2; 16])],
        server_time: 5,
        nonce: Nonce([3; 16]),
    };
    let signed_receipt = Signed::sign(&server.signing, &receipt);
    assert_eq!(signed_receipt.verify::<Receipt>(&key).unwrap(), receipt);
    assert_eq!(signed_receipt.verify::<Authorization>(&key).err(), Some(ProtocolError::BadSignature));
    assert_eq!(signed_receipt.verify::<LicenseFile>(&key).err(), Some(ProtocolError::BadSignature));
    let signed_auth = Signed::sign(&server.signing, &authorization());
    assert_eq!(signed_auth.verify::<Receipt>(&key).err(), Some(ProtocolError::BadSignature));
    // A server key is not a vendor key: a license it signs does not verify as the vendor's.
    let vendor = VendorKey::generate(&mut rng());
    let forged = license_file().sign(&server.signing);
    assert_eq!(license::verify(&forged, &vendor.0.verifying_key()).err(), Some(ProtocolError::BadSignature));
}

#[test]
fn license_files_round_trip_through_text_and_refuse_edits() {
    let vendor = VendorKey::generate(&mut rng());
    let text = license::to_text(&license_file().sign(&vendor.0));
    let parsed = license::from_text(&text).unwrap();
    assert_eq!(license::verify(&parsed, &vendor.0.verifying_key()).unwrap(), license_file());
    let mut edited = license_file();
    edited.quota = Some(1_000_000);
    let tampered = Signed { payload: wire::encode(&edited), signature: parsed.signature.clone() };
    assert_eq!(license::verify(&tampered, &vendor.0.verifying_key()).err(), Some(ProtocolError::BadSignature));
    assert_eq!(license::from_text("licet-license-v9.a.b").err(), Some(ProtocolError::UnsupportedVersion));
    assert_eq!(license::from_text("licet-license-v1.nodot").err(), Some(ProtocolError::Malformed));
}

#[test]
fn decoding_refuses_truncated_and_trailing_bytes() {
    let bytes = wire::encode(&authorization());
    assert_eq!(wire::decode::<Authorization>(&bytes).unwrap(), authorization());
    for len in 0..bytes.len() {
        assert!(wire::decode::<Authorization>(&bytes[..len]).is_err());
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(wire::decode::<Authorization>(&long).err(), Some(ProtocolError::Malformed));
}
