//! What one request's cryptography costs on this machine: the server's share (open a sealed
//! request, sign an answer) and the device's (seal, verify). It measures only; the figures are
//! the floor under any server throughput, recorded in BENCHMARKS.md. Run it with the native
//! binaries' feature: `cargo run --release -p licet-protocol --features fast --example crypto_costs`.

use std::hint::black_box;
use std::time::Instant;

use licet_protocol::envelope::{self, Route};
use licet_protocol::keys::ServerKeys;
use licet_protocol::sign::Signed;
use licet_protocol::wire::Receipt;
use rand_core::{OsRng, TryRngCore};

/// Runs `op` a tenth of `n` times to warm up, then `n` times; prints microseconds per run.
fn time(name: &str, n: u32, mut op: impl FnMut()) {
    for _ in 0..n / 10 {
        op();
    }
    let started = Instant::now();
    for _ in 0..n {
        op();
    }
    println!("{name}: {:.1} µs", started.elapsed().as_secs_f64() * 1e6 / f64::from(n));
}

fn main() {
    let mut rng = OsRng.unwrap_err();
    let keys = ServerKeys::generate(&mut rng);
    let public = keys.public();
    // About the size of a sealed report of one slot.
    let plaintext = vec![7u8; 200];
    let (sealed, _) =
        envelope::seal_request(&public.hpke, Route::Reports, &plaintext, &mut rng).expect("the server's key is valid");
    let receipt = Receipt {
        device_id: licet_protocol::ids::DeviceId::from_random([1; 16]),
        accepted: vec![licet_protocol::ids::ReportId([2; 16])],
        server_time: 1_800_000_000_000,
        nonce: licet_protocol::ids::Nonce([3; 16]),
    };
    let signed = Signed::sign(&keys.signing, &receipt);
    let verifying = keys.signing.verifying_key();
    const N: u32 = 2000;
    println!("server, per request:");
    time(
        "  open a sealed request (HPKE: X25519 + the receiver's public key again + HKDF + ChaCha20-Poly1305)",
        N,
        || {
            black_box(envelope::open_request(&keys.hpke, Route::Reports, &sealed).expect("sealed for this route"));
        },
    );
    time("  sign an answer (Ed25519)", N, || {
        black_box(Signed::sign(&keys.signing, &receipt));
    });
    println!("device, per request (in the browser, not on the server's machine):");
    time("  seal a request (HPKE)", N, || {
        black_box(
            envelope::seal_request(&public.hpke, Route::Reports, &plaintext, &mut rng)
                .expect("the server's key is valid"),
        );
    });
    time("  verify an answer's signature (Ed25519)", N, || {
        black_box(signed.verify::<Receipt>(&verifying).expect("signed by this key"));
    });
}
