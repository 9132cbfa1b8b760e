//! RFC 9180 known-answer test (Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305, base mode): the exact suite protocol v1 seals requests with. It drives
//! the `hpke` crate with the suite types `licet_protocol` uses, both as receiver (opening the
//! RFC's ciphertexts) and as sender (the RFC's ephemeral key fed in as the randomness).

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use licet_protocol::keys::Kem;
use rand_core::{CryptoRng, RngCore};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
const IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
const PK_EM: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
const IKM_R: &str = "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df";
const PK_RM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
const SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
/// (aad, ct) of sequence numbers 0 and 1.
const SEALED: [(&str, &str); 2] = [
    ("436f756e742d30", "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"),
    ("436f756e742d31", "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c"),
];
/// (exporter_context, exported_value) with L = 32.
const EXPORTS: [(&str, &str); 3] = [
    ("", "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e"),
    ("00", "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69"),
    ("54657374436f6e74657874", "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53"),
];

/// Hands out the RFC's ephemeral key material as the sender's "randomness".
struct Replay(Vec<u8>);

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        unreachable!("hpke draws key material with fill_bytes")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("hpke draws key material with fill_bytes")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(dest.len() <= self.0.len(), "the vector holds only {} bytes of ikmE", self.0.len());
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
}

impl CryptoRng for Replay {}

#[test]
fn receiver_derives_the_rfc_key_pair_and_opens_the_rfc_ciphertexts() {
    let (sk, pk) = Kem::derive_keypair(&hex(IKM_R));
    assert_eq!(sk.to_bytes().to_vec(), hex(SK_RM));
    assert_eq!(pk.to_bytes().to_vec(), hex(PK_RM));

    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&hex(PK_EM)).unwrap();
    let mut ctx =
        hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, Kem>(&OpModeR::Base, &sk, &enc, &hex(INFO)).unwrap();
    for (aad, ct) in SEALED {
        assert_eq!(ctx.open(&hex(ct), &hex(aad)).unwrap(), hex(PT));
    }
    for (context, value) in EXPORTS {
        let mut out = [0u8; 32];
        ctx.export(&hex(context), &mut out).unwrap();
        assert_eq!(out.to_vec(), hex(value));
    }
}

#[test]
fn sender_with_the_rfc_ephemeral_key_produces_the_rfc_enc_and_ciphertexts() {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&hex(PK_RM)).unwrap();
    let mut rng = Replay(hex(IKM_E));
    let (enc, mut ctx) =
        hpke::setup_sender::<ChaCha20Poly1305, HkdfSha256, Kem, _>(&OpModeS::Base, &pk, &hex(INFO), &mut rng).unwrap();
    assert_eq!(enc.to_bytes().to_vec(), hex(PK_EM));
    for (aad, ct) in SEALED {
        assert_eq!(ctx.seal(&hex(PT), &hex(aad)).unwrap(), hex(ct));
    }
    for (context, value) in EXPORTS {
        let mut out = [0u8; 32];
        ctx.export(&hex(context), &mut out).unwrap();
        assert_eq!(out.to_vec(), hex(value));
    }
}
