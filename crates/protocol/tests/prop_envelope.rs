//! Every single alteration of an exchange is refused with an error code, never a panic and
//! never accepted: a flipped bit, a truncation or an extension of the sealed request (`enc`,
//! `ct`), its JSON body, the sealed response, its JSON body, the signed answer's postcard
//! encoding, and the signed payloads and signatures in it (authorization, receipt, renewal),
//! for generated requests and answers of both routes, each case under fresh keys; and the same
//! for a vendor-signed license file's payload, signature and one-line text form. The pipelines
//! follow the same steps as the server's `api::open` and the browser module's
//! `session::accept_*`, re-stated here because those functions live in crates that depend on
//! this one: a change to them is not tested here. An alteration of a text or JSON encoding
//! that decodes to the very same value (insignificant JSON whitespace, say) may be accepted,
//! since nothing was altered; so may an altered refusal reason inside a validly sealed reports
//! answer, which is not signed. Not checked here: nonce, device and domain checks of the
//! answer (the browser module's own tests), replay.

mod prop_support;

use licet_protocol::envelope::{open_request, open_response, seal_request, seal_response, ResponseKey, Route};
use licet_protocol::keys::{ServerKeys, VendorKey, VerifyingKey};
use licet_protocol::license;
use licet_protocol::sign::Signed;
use licet_protocol::wire::{
    self, Authorization, AuthorizeRequest, Receipt, Renewal, ReportsRequest, ReportsResponse, SealedRequest,
    SealedResponse,
};
use licet_protocol::ErrorCode;
use prop_support::{apply, mutated, tamper, Mutation, SeededRng};
use proptest::prelude::*;
use serde::de::DeserializeOwned;

/// The server's reading of a request body, in the steps of its `api::open`: JSON, HPKE,
/// postcard.
fn server_opens<T: DeserializeOwned>(
    server: &ServerKeys,
    route: Route,
    body: &[u8],
) -> Result<(T, ResponseKey), ErrorCode> {
    let sealed: SealedRequest = serde_json::from_slice(body).map_err(|_| ErrorCode::MalformedRequest)?;
    let (plaintext, key) = open_request(&server.hpke, route, &sealed).map_err(|e| e.code())?;
    Ok((wire::decode(&plaintext).map_err(|e| e.code())?, key))
}

/// The browser's reading of an answer body up to the signed message, in the steps of its
/// fetch adapter (JSON) and `session::accept_*` (the response key, postcard).
fn client_opens<T: DeserializeOwned>(key: &ResponseKey, body: &[u8]) -> Result<T, ErrorCode> {
    let sealed: SealedResponse = serde_json::from_slice(body).map_err(|_| ErrorCode::BadResponse)?;
    wire::decode(&open_response(key, &sealed).map_err(|e| e.code())?).map_err(|e| e.code())
}

/// The answer to an authorize request, read and verified.
fn client_reads_authorization(
    key: &ResponseKey,
    body: &[u8],
    server: &VerifyingKey,
) -> Result<Authorization, ErrorCode> {
    let signed: Signed = client_opens(key, body)?;
    signed.verify(server).map_err(|e| e.code())
}

/// The answer to a reports request, read and verified: the receipt, and the renewed
/// authorization if there is one.
fn client_reads_receipt(
    key: &ResponseKey,
    body: &[u8],
    server: &VerifyingKey,
) -> Result<(Receipt, Option<Authorization>), ErrorCode> {
    let answer: ReportsResponse = client_opens(key, body)?;
    let receipt = answer.receipt.verify(server).map_err(|e| e.code())?;
    let renewed = match &answer.renewal {
        Renewal::Renewed(signed) => Some(signed.verify(server).map_err(|e| e.code())?),
        Renewal::Refused(_) => None,
    };
    Ok((receipt, renewed))
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("the envelope serializes")
}

/// `bytes` with one alteration.
fn altered(bytes: &[u8], mutation: &Mutation) -> Vec<u8> {
    let out = mutated(bytes, std::slice::from_ref(mutation));
    assert_ne!(out, bytes, "a tamper always alters its input");
    out
}

/// Seals `plaintext` as an answer, as the server does.
fn answer_body(key: &ResponseKey, plaintext: &[u8]) -> Vec<u8> {
    json(&seal_response(key, plaintext))
}

/// Checks one altered request, whatever the route: refused with the codes the server answers
/// a broken envelope with, or (for an altered JSON body) accepted only when it still carries
/// the original envelope.
fn check_altered_requests<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    server: &ServerKeys,
    route: Route,
    sealed: &SealedRequest,
    original: &T,
    [json_tamper, enc_tamper, ct_tamper]: [&Mutation; 3],
) -> Result<(), TestCaseError> {
    let body = altered(&json(sealed), json_tamper);
    match server_opens::<T>(server, route, &body) {
        Ok((request, _)) => {
            let again: SealedRequest = serde_json::from_slice(&body).expect("it was read once");
            prop_assert_eq!(&again, sealed, "an altered envelope was accepted");
            prop_assert_eq!(&request, original);
        }
        Err(code) => prop_assert!(
            matches!(code, ErrorCode::MalformedRequest | ErrorCode::DecryptionFailed),
            "request JSON: {:?}",
            code
        ),
    }

    let enc = SealedRequest { enc: altered(&sealed.enc, enc_tamper), ct: sealed.ct.clone() };
    let expected = match enc_tamper {
        // Any 32 bytes are an X25519 key: one flipped bit opens to another secret, and the
        // encapsulated key is bound into the key schedule (even bit 255, which X25519 ignores).
        Mutation::Flip(..) => ErrorCode::DecryptionFailed,
        _ => ErrorCode::MalformedRequest,
    };
    prop_assert_eq!(server_opens::<T>(server, route, &json(&enc)).err(), Some(expected), "enc {:?}", enc_tamper);

    let ct = SealedRequest { enc: sealed.enc.clone(), ct: altered(&sealed.ct, ct_tamper) };
    prop_assert_eq!(
        server_opens::<T>(server, route, &json(&ct)).err(),
        Some(ErrorCode::DecryptionFailed),
        "ct {:?}",
        ct_tamper
    );
    Ok(())
}

/// Checks the alterations of an answer's envelope: its JSON body and its ciphertext.
fn check_altered_answer_envelope<T: PartialEq + std::fmt::Debug>(
    read: impl Fn(&[u8]) -> Result<T, ErrorCode>,
    response: &SealedResponse,
    original: &T,
    [json_tamper, ct_tamper]: [&Mutation; 2],
) -> Result<(), TestCaseError> {
    let body = altered(&json(response), json_tamper);
    match read(&body) {
        Ok(value) => {
            let again: SealedResponse = serde_json::from_slice(&body).expect("it was read once");
            prop_assert_eq!(&again, response, "an altered answer was accepted");
            prop_assert_eq!(&value, original);
        }
        Err(code) => prop_assert!(
            matches!(code, ErrorCode::BadResponse | ErrorCode::DecryptionFailed),
            "answer JSON: {:?}",
            code
        ),
    }
    let ct = SealedResponse { ct: altered(&response.ct, ct_tamper) };
    prop_assert_eq!(read(&json(&ct)).err(), Some(ErrorCode::DecryptionFailed), "answer ct {:?}", ct_tamper);
    Ok(())
}

/// `signed` with its payload, then its signature, altered: each refused as `BAD_SIGNATURE` by
/// `read`, which reads an answer that carries the altered copy.
fn check_altered_signed<T>(
    read: impl Fn(Signed) -> Result<T, ErrorCode>,
    signed: &Signed,
    [payload_tamper, signature_tamper]: [&Mutation; 2],
) -> Result<(), TestCaseError> {
    let payload = Signed { payload: altered(&signed.payload, payload_tamper), signature: signed.signature.clone() };
    prop_assert_eq!(read(payload).err(), Some(ErrorCode::BadSignature), "payload {:?}", payload_tamper);
    let signature = Signed { payload: signed.payload.clone(), signature: altered(&signed.signature, signature_tamper) };
    prop_assert_eq!(read(signature).err(), Some(ErrorCode::BadSignature), "signature {:?}", signature_tamper);
    Ok(())
}

// A raw-payload or license case takes about 2 ms in a debug build (the crypto is optimized
// even there, the generators and serde are not): 512 cases each.
const CASES: u32 = 512;
// An exchange case seals, opens, signs and verifies a dozen times, altering each of its 8 to 10
// layers once: about 4 ms, so 256 cases (2,000 to 2,500 altered messages) per route.
const EXCHANGE_CASES: u32 = 256;

proptest! {
    #![proptest_config(prop_support::config(CASES))]

    /// Raw payloads of any bytes on either route: sealed, opened, answered; every altered
    /// `enc`, `ct` and answer `ct` is refused. A request never opens on the other route.
    #[test]
    fn any_payload_round_trips_and_no_altered_byte_opens(
        seed in any::<u64>(),
        reports in any::<bool>(),
        request in prop_support::bytes(1024),
        answer in prop_support::bytes(1024),
        tampers in proptest::array::uniform3(tamper()),
    ) {
        let (route, other) = if reports { (Route::Reports, Route::Authorize) } else { (Route::Authorize, Route::Reports) };
        let mut rng = SeededRng::new(seed);
        let server = ServerKeys::generate(&mut rng);
        let (sealed, client_key) = seal_request(&server.public().hpke, route, &request, &mut rng).unwrap();
        let (opened, server_key) = open_request(&server.hpke, route, &sealed).unwrap();
        prop_assert_eq!(&opened, &request);
        prop_assert_eq!(open_request(&server.hpke, other, &sealed).err().map(|e| e.code()), Some(ErrorCode::DecryptionFailed));
        let response = seal_response(&server_key, &answer);
        prop_assert_eq!(open_response(&client_key, &response).unwrap(), answer);

        let mut enc = sealed.clone();
        apply(&mut enc.enc, &tampers[0]);
        prop_assert!(open_request(&server.hpke, route, &enc).is_err_and(|e| matches!(e.code(), ErrorCode::DecryptionFailed | ErrorCode::MalformedRequest)));
        let mut ct = sealed.clone();
        apply(&mut ct.ct, &tampers[1]);
        prop_assert_eq!(open_request(&server.hpke, route, &ct).err().map(|e| e.code()), Some(ErrorCode::DecryptionFailed));
        let mut bad = response.clone();
        apply(&mut bad.ct, &tampers[2]);
        prop_assert_eq!(open_response(&client_key, &bad).err().map(|e| e.code()), Some(ErrorCode::DecryptionFailed));
    }

    /// A vendor-signed license file: its payload, its signature and its one-line text form,
    /// each altered once, never verify (the text form may only lose or gain surrounding
    /// whitespace, which it ignores).
    #[test]
    fn every_altered_license_file_is_refused(
        seed in any::<u64>(),
        file in prop_support::license_file(),
        tampers in proptest::array::uniform3(tamper()),
    ) {
        let vendor = VendorKey::generate(&mut SeededRng::new(seed));
        let key = vendor.0.verifying_key();
        let signed = file.sign(&vendor.0);
        let text = license::to_text(&signed);
        prop_assert_eq!(license::verify(&license::from_text(&text).unwrap(), &key), Ok(file.clone()));
        check_altered_signed(|s| license::verify(&s, &key).map_err(|e| e.code()), &signed, [&tampers[0], &tampers[1]])?;

        let bytes = altered(text.as_bytes(), &tampers[2]);
        // Bytes that are no UTF-8 are refused before they are text at all.
        if let Ok(altered_text) = std::str::from_utf8(&bytes) {
            match license::from_text(altered_text).and_then(|s| license::verify(&s, &key).map(|file| (s, file))) {
                Ok((again, value)) => {
                    prop_assert_eq!(&again, &signed, "an altered license text was accepted: {:?}", altered_text);
                    prop_assert_eq!(&value, &file);
                    prop_assert_eq!(altered_text.trim(), text.as_str());
                }
                Err(e) => prop_assert!(
                    matches!(e.code(), ErrorCode::MalformedRequest | ErrorCode::UnsupportedVersion | ErrorCode::BadSignature),
                    "{:?}",
                    e
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(prop_support::config(EXCHANGE_CASES))]

    /// The authorize exchange: an `AuthorizeRequest` and the signed `Authorization` answering
    /// it, each layer altered once.
    #[test]
    fn every_altered_layer_of_an_authorize_exchange_is_refused(
        seed in any::<u64>(),
        request in prop_support::authorize_request(),
        authorization in prop_support::authorization(),
        tampers in proptest::array::uniform8(tamper()),
    ) {
        let mut rng = SeededRng::new(seed);
        let server = ServerKeys::generate(&mut rng);
        let verifying = server.signing.verifying_key();
        let (sealed, client_key) = seal_request(&server.public().hpke, Route::Authorize, &wire::encode(&request), &mut rng).unwrap();
        let (opened, server_key) = server_opens::<AuthorizeRequest>(&server, Route::Authorize, &json(&sealed)).unwrap();
        prop_assert_eq!(&opened, &request);
        let signed = Signed::sign(&server.signing, &authorization);
        let response = seal_response(&server_key, &wire::encode(&signed));
        let read = |body: &[u8]| client_reads_authorization(&client_key, body, &verifying);
        prop_assert_eq!(read(&json(&response)), Ok(authorization.clone()));

        let t = &tampers;
        check_altered_requests(&server, Route::Authorize, &sealed, &request, [&t[0], &t[1], &t[2]])?;
        check_altered_answer_envelope(read, &response, &authorization, [&t[3], &t[4]])?;
        // The answer's postcard encoding, sealed as it is: refused, or the same `Signed`.
        let encoding = altered(&wire::encode(&signed), &t[5]);
        match read(&answer_body(&server_key, &encoding)) {
            Ok(value) => {
                prop_assert_eq!(wire::decode::<Signed>(&encoding).ok(), Some(signed.clone()), "an altered answer was accepted");
                prop_assert_eq!(&value, &authorization);
            }
            Err(code) => prop_assert!(matches!(code, ErrorCode::MalformedRequest | ErrorCode::BadSignature), "{:?}", code),
        }
        check_altered_signed(|s| read(&answer_body(&server_key, &wire::encode(&s))), &signed, [&t[6], &t[7]])?;
    }

    /// The reports exchange: a `ReportsRequest` and the `ReportsResponse` answering it (a signed
    /// receipt, and a signed renewal or a refusal), each layer altered once.
    #[test]
    fn every_altered_layer_of_a_reports_exchange_is_refused(
        seed in any::<u64>(),
        request in prop_support::reports_request(),
        receipt in prop_support::receipt(),
        renewal in proptest::option::of(prop_support::authorization()),
        refusal in prop_support::text(),
        tampers in proptest::array::uniform10(tamper()),
    ) {
        let mut rng = SeededRng::new(seed);
        let server = ServerKeys::generate(&mut rng);
        let verifying = server.signing.verifying_key();
        let (sealed, client_key) = seal_request(&server.public().hpke, Route::Reports, &wire::encode(&request), &mut rng).unwrap();
        let (opened, server_key) = server_opens::<ReportsRequest>(&server, Route::Reports, &json(&sealed)).unwrap();
        prop_assert_eq!(&opened, &request);
        let signed_receipt = Signed::sign(&server.signing, &receipt);
        let signed_renewal = renewal.as_ref().map(|a| Signed::sign(&server.signing, a));
        let answer = ReportsResponse {
            receipt: signed_receipt.clone(),
            renewal: match &signed_renewal {
                Some(signed) => Renewal::Renewed(signed.clone()),
                None => Renewal::Refused(refusal),
            },
        };
        let response = seal_response(&server_key, &wire::encode(&answer));
        let read = |body: &[u8]| client_reads_receipt(&client_key, body, &verifying);
        let expected = (receipt, renewal);
        prop_assert_eq!(read(&json(&response)), Ok(expected.clone()));

        let t = &tampers;
        check_altered_requests(&server, Route::Reports, &sealed, &request, [&t[0], &t[1], &t[2]])?;
        check_altered_answer_envelope(read, &response, &expected, [&t[3], &t[4]])?;
        // The answer's postcard encoding, sealed as it is: refused, or the same signed parts.
        // A refusal's reason is not signed (docs/protocol.md): only the response key, which
        // nobody but the server holds, guards it, so inside a sealed answer it may change.
        let encoding = altered(&wire::encode(&answer), &t[5]);
        match read(&answer_body(&server_key, &encoding)) {
            Ok(value) => {
                let again = wire::decode::<ReportsResponse>(&encoding).expect("it was read once");
                prop_assert_eq!(&again.receipt, &signed_receipt, "an altered receipt was accepted");
                match (&again.renewal, &answer.renewal) {
                    (Renewal::Refused(_), Renewal::Refused(_)) => {}
                    (again, renewal) => prop_assert_eq!(again, renewal, "an altered renewal was accepted"),
                }
                prop_assert_eq!(&value, &expected);
            }
            Err(code) => prop_assert!(matches!(code, ErrorCode::MalformedRequest | ErrorCode::BadSignature), "{:?}", code),
        }
        let with_receipt = |receipt: Signed| {
            let answer = ReportsResponse { receipt, renewal: answer.renewal.clone() };
            read(&answer_body(&server_key, &wire::encode(&answer)))
        };
        check_altered_signed(with_receipt, &signed_receipt, [&t[6], &t[7]])?;
        if let Some(signed) = &signed_renewal {
            let with_renewal = |renewal: Signed| {
                let answer = ReportsResponse { receipt: signed_receipt.clone(), renewal: Renewal::Renewed(renewal) };
                read(&answer_body(&server_key, &wire::encode(&answer)))
            };
            check_altered_signed(with_renewal, signed, [&t[8], &t[9]])?;
        }
    }
}
