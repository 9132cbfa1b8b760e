//! The `licet-server` binary as an operator and a script use it: the set-up path from a vendor
//! key to a project with a license, what it prints with `--json`, and what it refuses.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use licet_protocol::b64;
// `json(args)`: the command with `--json`, expected to succeed, its one line parsed.
use common::process::{licet as json, start_serve};
use licet_protocol::license_key::LicenseKey;
use serde_json::{json, Value};

fn licet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_licet-server")).args(args).output().expect("run licet-server")
}

/// Runs a command that must fail with exit code 1; returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = licet(args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "licet-server {args:?}: {stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// A vendor key, an initialized store (the options that name it), and the test's directory.
struct Setup {
    dir: PathBuf,
    store: [String; 2],
    vendor_key: String,
    vendor_public: String,
}

fn setup(name: &str) -> Setup {
    let dir = common::temp_dir(name);
    let vendor_key = path(&dir, "vendor.key");
    let vendor_public = json(&["vendor", "keygen", "--out", &vendor_key])["publicKey"].as_str().unwrap().to_owned();
    let store = common::store_args(&dir, name);
    json(&["init", &store[0], &store[1], "--vendor-public-key", &vendor_public]);
    Setup { dir, store, vendor_key, vendor_public }
}

impl Setup {
    /// Issues a per-page license signed with `vendor_key` into `file`; returns its id.
    fn issue(&self, vendor_key: &str, file: &str) -> String {
        let out = path(&self.dir, file);
        let issued = json(&[
            "license",
            "issue",
            "--vendor-key",
            vendor_key,
            "--org",
            "acme",
            "--type",
            "per-page",
            "--quota",
            "100",
            "--out",
            &out,
        ]);
        issued["id"].as_str().unwrap().to_owned()
    }

    fn licenses(&self) -> Value {
        json(&["license", "list", &self.store[0], &self.store[1]])["licenses"].clone()
    }
}

#[test]
fn from_a_vendor_key_to_a_project_with_a_license() {
    let s = setup("cli-flow");
    assert_eq!(json(&["vendor", "public-key", "--vendor-key", &s.vendor_key]), json!({ "publicKey": s.vendor_public }));

    let out = path(&s.dir, "license.txt");
    let issued = json(&[
        "license",
        "issue",
        "--vendor-key",
        &s.vendor_key,
        "--org",
        "acme",
        "--type",
        "per-page",
        "--quota",
        "1000",
        "--modules",
        "core,ocr",
        "--days",
        "30",
        "--offline-grace",
        "12h",
        "--out",
        &out,
    ]);
    let id = issued["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("L-") && id.len() == 14, "{id}");
    assert_eq!(issued["type"], "per-page");

    let init_again = json(&["init", &s.store[0], &s.store[1], "--vendor-public-key", &s.vendor_public]);
    assert_eq!(init_again["created"], false);

    let imported = json(&["license", "import", &s.store[0], &s.store[1], &out]);
    assert_eq!((imported["id"].as_str(), imported["imported"].as_bool()), (Some(id.as_str()), Some(true)));
    assert_eq!(imported["expiresAt"], issued["expiresAt"]);
    // The identical file again changes nothing.
    assert_eq!(json(&["license", "import", &s.store[0], &s.store[1], &out])["imported"], false);

    // `--server-url` repeated: the main server, then a standby, in the order given.
    let project = json(&[
        "project",
        "create",
        &s.store[0],
        &s.store[1],
        "--org",
        "acme",
        "--server-url",
        "http://127.0.0.1:9999/",
        "--server-url",
        "https://standby.example.com",
    ]);
    let code = project["handshakeCode"].as_str().unwrap();
    assert!(code.starts_with("acme-"), "{code}");
    let key = LicenseKey::decode(project["licenseKey"].as_str().unwrap()).unwrap();
    assert_eq!(key.servers, ["http://127.0.0.1:9999", "https://standby.example.com"]);
    assert_eq!((key.organization_id.as_deref(), key.handshake_code.as_deref()), (Some("acme"), Some(code)));
    assert_eq!(key.signing_key, init_again["signingKey"].as_str().unwrap());
    assert_eq!(b64::encode(&key.server_keys().unwrap().hpke), init_again["hpkeKey"].as_str().unwrap());

    let assigned = json(&["project", "assign", &s.store[0], &s.store[1], "--handshake-code", code, "--license", &id]);
    assert_eq!(assigned, json!({ "handshakeCode": code, "license": id }));

    assert_eq!(
        json(&["usage", &s.store[0], &s.store[1]]),
        json!({ "licenses": [{ "license": id, "pages": {}, "scans": {} }] })
    );
    assert_eq!(json(&["devices", &s.store[0], &s.store[1]]), json!({ "devices": [] }));

    let decoded = json(&["decode", &out, "--vendor-public-key", &s.vendor_public]);
    assert_eq!(
        (decoded["license"]["id"].as_str(), decoded["signatureVerifies"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    assert_eq!(decoded["license"]["modules"], json!(["core", "ocr"]));
    assert_eq!(decoded["license"]["offlineGraceMs"], 12 * 60 * 60 * 1000);
}

/// `license issue` without `--offline-grace` writes the offline period of the license's type,
/// and `decode` says which period applies: per device, the device's seat (its active period);
/// concurrent, 6 minutes; per page, 7 days; a period the file sets, from each contact.
#[test]
fn a_license_gets_the_offline_period_of_its_type_unless_told_one() {
    let s = setup("cli-offline-period");
    let decode = |kind: &str, extra: &[&str]| {
        let out = path(&s.dir, &format!("{kind}.lic"));
        let mut args = vec!["license", "issue", "--vendor-key", &s.vendor_key, "--org", "acme", "--type", kind];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", &out]);
        json(&args);
        let decoded = json(&["decode", &out, "--vendor-public-key", &s.vendor_public]);
        (decoded["license"]["offlineGraceMs"].as_u64().unwrap(), decoded["license"]["offlinePeriod"].clone())
    };
    const DAY: u64 = 24 * 60 * 60 * 1000;
    assert_eq!(decode("per-device", &["--devices", "5"]), (365 * DAY, json!("seat")));
    assert_eq!(decode("per-device", &["--devices", "5", "--active", "daily"]), (DAY, json!("seat")));
    // A file that sets a period shorter than the seat's: that period, from each contact.
    assert_eq!(decode("per-device", &["--devices", "5", "--offline-grace", "7d"]), (7 * DAY, json!("fixed")));
    assert_eq!(decode("concurrent", &["--devices", "5"]), (6 * 60 * 1000, json!("fixed")));
    assert_eq!(decode("per-page", &["--quota", "100"]), (7 * DAY, json!("fixed")));
    assert_eq!(decode("per-scan", &["--quota", "100", "--offline-grace", "3m"]), (3 * 60 * 1000, json!("fixed")));
}

#[test]
fn a_license_with_one_altered_character_is_refused_and_nothing_is_stored() {
    let s = setup("cli-altered");
    let id = s.issue(&s.vendor_key, "good.txt");
    json(&["license", "import", &s.store[0], &s.store[1], &path(&s.dir, "good.txt")]);
    let before = s.licenses();
    // Another license, one character of its payload changed to another base64 letter.
    s.issue(&s.vendor_key, "altered.txt");
    let altered = path(&s.dir, "altered.txt");
    let mut text = std::fs::read_to_string(&altered).unwrap().into_bytes();
    let at = "licet-license-v1.".len() + 20;
    text[at] = if text[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&altered, &text).unwrap();

    let stderr = refused(&["license", "import", &s.store[0], &s.store[1], &altered]);

    assert!(stderr.contains("the license file's vendor signature does not verify"), "{stderr}");
    assert_eq!(s.licenses(), before);
    assert_eq!(before.as_array().map(|l| l.len()), Some(1));
    assert_eq!(before[0]["id"].as_str(), Some(id.as_str()));
}

#[test]
fn a_license_signed_by_another_vendor_key_is_refused() {
    let s = setup("cli-other-vendor");
    let other_key = path(&s.dir, "other.key");
    json(&["vendor", "keygen", "--out", &other_key]);
    s.issue(&other_key, "foreign.txt");

    let stderr = refused(&["license", "import", &s.store[0], &s.store[1], &path(&s.dir, "foreign.txt")]);

    assert!(stderr.contains("the license file's vendor signature does not verify"), "{stderr}");
    assert_eq!(s.licenses(), json!([]));
}

#[test]
fn refusals_say_what_to_do() {
    let s = setup("cli-refusals");
    // A vendor key is never overwritten.
    assert!(refused(&["vendor", "keygen", "--out", &s.vendor_key]).contains("already exists"));
    // A data directory belongs to one vendor key.
    let other =
        json(&["vendor", "keygen", "--out", &path(&s.dir, "other.key")])["publicKey"].as_str().unwrap().to_owned();
    assert!(refused(&["init", &s.store[0], &s.store[1], "--vendor-public-key", &other])
        .contains("another vendor public key"));
    // Commands on a directory that was never initialized say how to initialize it.
    assert!(refused(&["usage", "--data", &path(&s.dir, "nowhere")]).contains("licet-server init"));
    // Licenses whose options sell nothing coherent are not issued.
    let out = path(&s.dir, "l.txt");
    let issue = |extra: &[&str]| {
        let base = ["license", "issue", "--vendor-key", s.vendor_key.as_str(), "--org", "acme", "--out", out.as_str()];
        refused(&[&base[..], extra].concat())
    };
    assert!(issue(&["--type", "per-page"]).contains("needs --quota"));
    assert!(issue(&["--type", "per-device"]).contains("needs --devices"));
    assert!(issue(&["--type", "concurrent"]).contains("needs --devices"));
    assert!(issue(&["--type", "per-domain"]).contains("needs at least one --domain"));
    assert!(!Path::new(&out).exists());
    // Out-of-range values are usage errors (exit code 2).
    let grace = licet(&[
        "license",
        "issue",
        "--vendor-key",
        &s.vendor_key,
        "--org",
        "a",
        "--type",
        "per-page",
        "--quota",
        "1",
        "--offline-grace",
        "1m",
        "--out",
        &out,
    ]);
    assert_eq!(grace.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&grace.stderr).contains("from 3m to 365d"));
    // A project's handshake code is unique.
    json(&["project", "create", &s.store[0], &s.store[1], "--org", "acme", "--handshake-code", "acme-1"]);
    assert!(refused(&["project", "create", &s.store[0], &s.store[1], "--org", "acme", "--handshake-code", "acme-1"])
        .contains("already exists"));
    assert!(refused(&[
        "project",
        "assign",
        &s.store[0],
        &s.store[1],
        "--handshake-code",
        "acme-1",
        "--license",
        "L-none"
    ])
    .contains("L-none"));
}

#[test]
fn every_license_type_can_be_issued() {
    let s = setup("cli-types");
    let out = path(&s.dir, "l.txt");
    for (kind, extra) in [
        ("per-scan", &["--quota", "10"][..]),
        ("per-page", &["--quota", "10", "--modules", "webcam,pdfr"]),
        ("per-device", &["--devices", "5", "--active", "monthly"]),
        ("concurrent", &["--devices", "5"]),
        ("per-domain", &["--domain", "*.Example.com", "--domain", "shop.example.org"]),
    ] {
        let base = [
            "license",
            "issue",
            "--vendor-key",
            s.vendor_key.as_str(),
            "--org",
            "acme",
            "--type",
            kind,
            "--out",
            out.as_str(),
        ];
        let issued = json(&[&base[..], extra, &["--expires", "2031-01-01T00:00:00Z"]].concat());
        assert_eq!((issued["type"].as_str(), issued["expiresAt"].as_u64()), (Some(kind), Some(1_924_992_000_000)));
        let imported = json(&["license", "import", &s.store[0], &s.store[1], &out]);
        assert_eq!(imported["type"], kind);
    }
    let decoded = json(&["decode", &out]);
    assert_eq!(decoded["license"]["domains"], json!(["*.example.com", "shop.example.org"]));
    assert_eq!(s.licenses().as_array().map(|l| l.len()), Some(5));
}

#[test]
fn a_vendor_public_key_that_starts_with_a_hyphen_is_taken_as_the_value() {
    let store = common::store_args(&common::temp_dir("cli-hyphen-key"), "cli-hyphen-key");
    // A real vendor public key: one in 64 starts with '-', a base64url letter.
    let key = "-I280tu80C_O23x7ROa5X3Lb_dS2RIQEqnl3EjVlU4Q";

    assert_eq!(json(&["init", &store[0], &store[1], "--vendor-public-key", key])["created"], true);
}

#[test]
fn domain_patterns_are_normalized_and_never_cover_a_public_suffix() {
    let s = setup("cli-domains");
    let out = path(&s.dir, "l.txt");
    let issue = |domains: &[&str]| -> Vec<String> {
        let base =
            ["license", "issue", "--vendor-key", &s.vendor_key, "--org", "acme", "--type", "per-domain", "--out", &out];
        let mut args: Vec<String> = base.iter().map(|a| (*a).to_owned()).collect();
        for domain in domains {
            args.extend(["--domain".to_owned(), (*domain).to_owned()]);
        }
        args
    };
    let refused_with = |domains: &[&str]| {
        let args = issue(domains);
        refused(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // A wildcard over a multi-tenant platform's suffix: only the exact tenant may be bound.
    for (pattern, suffix) in
        [("*.github.io", "github.io"), ("*.herokuapp.com", "herokuapp.com"), ("github.io", "github.io")]
    {
        let stderr = refused_with(&[pattern]);
        assert!(
            stderr.contains("exact tenant subdomain") && stderr.contains(&format!("(like acme.{suffix})")),
            "{stderr}"
        );
    }
    for pattern in ["*.com", "*.co.uk", "*.COM"] {
        assert!(refused_with(&[pattern]).contains("covers the public suffix"), "{pattern}");
    }
    for (pattern, says) in [
        ("example.com:8080", "port"),
        ("https://example.com", "without http://"),
        ("example.com/app", "path"),
        ("a.*.example.com", "'*' may only lead"),
        ("localhost", "--allow-dev-hosts"),
        ("*.localhost", "--allow-dev-hosts"),
        ("127.0.0.1", "--allow-dev-hosts"),
        ("[::1]", "--allow-dev-hosts"),
    ] {
        let stderr = refused_with(&[pattern]);
        assert!(stderr.contains(says), "{pattern}: {stderr}");
    }
    assert!(!Path::new(&out).exists());

    let mut args = issue(&["acme.github.io", "*.Bücher.DE", "*.xn--bcher-kva.de", "10.0.0.7", "[2001:DB8::1]"]);
    args.push("--allow-dev-hosts".to_owned());
    json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let decoded = json(&["decode", &out]);
    assert_eq!(
        decoded["license"]["domains"],
        json!(["acme.github.io", "*.xn--bcher-kva.de", "10.0.0.7", "[2001:db8::1]"])
    );
    assert_eq!(decoded["license"]["allowDevHosts"], true);
    assert_eq!(json(&["license", "import", &s.store[0], &s.store[1], &out])["imported"], true);

    json(&issue(&["shop.example.org"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(json(&["decode", &out])["license"]["allowDevHosts"], false);
}

#[test]
fn serve_prints_its_address_serves_and_stops_cleanly_on_sigterm() {
    let s = setup("cli-serve");
    let www = s.dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<p>demo</p>").unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["serve", &s.store[0], &s.store[1], "--listen", "127.0.0.1:0", "--www", &www.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim_end()
        .strip_prefix("licet-server listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();

    for (path, expected) in [("/healthz", r#"{"ok":true}"#), ("/", "<p>demo</p>")] {
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with(expected), "{response}");
    }

    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(server.wait().unwrap().success(), "exit code 0 after SIGTERM");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "serve prints exactly one line");
}

#[test]
fn the_public_trial_is_set_shown_and_turned_off() {
    let s = setup("cli-trial");
    assert_eq!(json(&["trial", "show", &s.store[0], &s.store[1]]), json!({ "trial": null }));
    let stderr = refused(&["trial", "set", &s.store[0], &s.store[1], "--handshake-code", "no-such-code"]);
    assert!(stderr.contains("project create"), "{stderr}");

    json(&["project", "create", &s.store[0], &s.store[1], "--org", "vendor", "--handshake-code", "trial"]);
    let set = json(&["trial", "set", &s.store[0], &s.store[1], "--handshake-code", "trial", "--days", "14"]);
    assert_eq!((set["handshakeCode"].as_str(), set["days"].as_u64()), (Some("trial"), Some(14)));
    // The trial key names no project: that is what makes a device ask for the trial.
    let key = LicenseKey::decode(set["licenseKey"].as_str().unwrap()).unwrap();
    assert_eq!((key.organization_id, key.handshake_code), (None, None));
    assert_eq!(
        json(&["trial", "show", &s.store[0], &s.store[1]]),
        json!({ "trial": { "handshakeCode": "trial", "days": 14, "open": true } })
    );

    assert_eq!(json(&["trial", "off", &s.store[0], &s.store[1]]), json!({ "open": false }));
    assert_eq!(json(&["trial", "show", &s.store[0], &s.store[1]])["trial"]["open"], false);
    assert_eq!(
        licet(&["trial", "set", &s.store[0], &s.store[1], "--handshake-code", "trial", "--days", "0"]).status.code(),
        Some(2)
    );
}

/// One HTTP/1.1 exchange with `Connection: close`; the whole response as text.
fn http(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

// 127.0.0.2 and up are loopback addresses on Linux only.
#[cfg(target_os = "linux")]
#[test]
fn a_setting_comes_from_the_flag_else_the_environment_else_the_config_file() {
    let s = setup("cli-settings");
    std::fs::create_dir_all(s.dir.join("site")).unwrap();
    std::fs::write(s.dir.join("site/index.html"), "<p>from the config</p>").unwrap();
    let config = path(&s.dir, "licet.toml");
    // A relative path in the file is relative to the file's folder, not to where serve runs.
    std::fs::write(&config, "listen = \"127.0.0.2:0\"\nwww = \"site\"\nrate_limit = 0\n").unwrap();

    let from_file = start_serve(&[&s.store[0], &s.store[1], "--config", &config], &[]);
    assert!(from_file.address().starts_with("127.0.0.2:"), "{}", from_file.url);
    let page = http(from_file.address(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(page.starts_with("HTTP/1.1 200") && page.ends_with("<p>from the config</p>"), "{page}");
    from_file.stop();

    let from_env =
        start_serve(&[&s.store[0], &s.store[1]], &[("LICET_CONFIG", &config), ("LICET_LISTEN", "127.0.0.3:0")]);
    assert!(from_env.address().starts_with("127.0.0.3:"), "{}", from_env.url);
    from_env.stop();

    let from_flag = start_serve(
        &[&s.store[0], &s.store[1], "--config", &config, "--listen", "127.0.0.4:0"],
        &[("LICET_LISTEN", "127.0.0.3:0")],
    );
    assert!(from_flag.address().starts_with("127.0.0.4:"), "{}", from_flag.url);
    from_flag.stop();
}

#[test]
fn a_config_file_with_a_key_serve_does_not_know_is_refused_by_name() {
    let s = setup("cli-settings-unknown");
    let config = path(&s.dir, "licet.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nrate_limt = 5\n").unwrap();

    let stderr = refused(&["serve", &s.store[0], &s.store[1], "--config", &config]);

    assert!(stderr.contains("line 2") && stderr.contains("unknown field `rate_limt`"), "{stderr}");
    assert!(stderr.contains("rate_limit"), "the known keys are named: {stderr}");
    let stderr = refused(&["serve", &s.store[0], &s.store[1], "--config", &path(&s.dir, "missing.toml")]);
    assert!(stderr.contains("could not read"), "{stderr}");
}

#[test]
fn serve_with_a_certificate_listens_on_https_and_wants_both_files() {
    let s = setup("cli-tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (path(&s.dir, "server.crt"), path(&s.dir, "server.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let serving = start_serve(
        &[&s.store[0], &s.store[1], "--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &key],
        &[],
    );
    assert!(serving.url.starts_with("https://127.0.0.1:"), "{}", serving.url);
    serving.stop();

    let stderr = refused(&["serve", &s.store[0], &s.store[1], "--tls-cert", &cert]);
    assert!(stderr.contains("--tls-cert and --tls-key go together"), "{stderr}");
}

#[test]
fn the_request_log_names_each_request_and_never_a_secret() {
    use licet_protocol::envelope::{self, Route};
    use licet_protocol::ids::{DeviceId, Nonce};
    use licet_protocol::wire::{self, AuthorizeRequest};
    use rand_core::{OsRng, RngCore, TryRngCore};

    const PASSWORD: &str = "correct-horse-battery-staple";
    const WRONG: &str = "tr0ub4dor-and-3";
    const DEVICE_NAME: &str = "Front desk scanner of Alice";
    let s = setup("cli-log");
    let id = s.issue(&s.vendor_key, "license.txt");
    json(&["license", "import", &s.store[0], &s.store[1], &path(&s.dir, "license.txt")]);
    let project =
        json(&["project", "create", &s.store[0], &s.store[1], "--org", "acme", "--session-password", PASSWORD]);
    let code = project["handshakeCode"].as_str().unwrap().to_owned();
    json(&["project", "assign", &s.store[0], &s.store[1], "--handshake-code", &code, "--license", &id]);
    let hpke = LicenseKey::decode(project["licenseKey"].as_str().unwrap()).unwrap().server_keys().unwrap().hpke;
    let serving = start_serve(
        &[&s.store[0], &s.store[1], "--listen", "127.0.0.1:0", "--log", "debug", "--log-format", "json"],
        &[],
    );

    let mut rng = OsRng.unwrap_err();
    for (password, expected) in [(PASSWORD, "HTTP/1.1 200"), (WRONG, "HTTP/1.1 403")] {
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let request = AuthorizeRequest {
            device_id: DeviceId::from_random(random[..16].try_into().unwrap()),
            organization_id: None,
            handshake_code: Some(code.clone()),
            session_password: Some(password.to_owned()),
            product: "scanner".into(),
            sdk_version: "1.0.0".into(),
            domain: "app.example.com".into(),
            device_name: Some(DEVICE_NAME.into()),
            nonce: Nonce(random[16..].try_into().unwrap()),
            client_time: 0,
        };
        let (sealed, _) = envelope::seal_request(&hpke, Route::Authorize, &wire::encode(&request), &mut rng).unwrap();
        let body = serde_json::to_vec(&sealed).unwrap();
        let head = format!(
            "POST /v1/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nOrigin: https://app.example.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let response = http(serving.address(), &[head.as_bytes(), &body].concat());
        assert!(response.starts_with(expected), "{response}");
    }
    let log = serving.stop();

    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|line| line["fields"]["path"] == "/v1/authorize").collect();
    assert_eq!(requests.len(), 2, "one line per request: {log}");
    assert_eq!((requests[0]["level"].as_str(), requests[0]["fields"]["status"].as_u64()), (Some("DEBUG"), Some(200)));
    assert_eq!(requests[1]["fields"]["code"], "WRONG_SESSION_PASSWORD");
    assert_eq!(requests[1]["level"], "INFO");
    assert!(requests.iter().all(|line| line["fields"]["client"] == "127.0.0.1"), "{log}");

    let vendor_secret = std::fs::read_to_string(&s.vendor_key).unwrap();
    let vendor_secret = vendor_secret.trim().rsplit('.').next().unwrap().to_owned();
    let server_secret = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let storage = common::process::open(&s.store).await;
        let settings = storage.settings().await.unwrap().unwrap();
        storage.close().await;
        settings.server_keys
    });
    let server_secret = server_secret.rsplit('.').next().unwrap();
    for secret in
        [PASSWORD, WRONG, DEVICE_NAME, &vendor_secret, &server_secret[..40], &server_secret[server_secret.len() - 40..]]
    {
        assert!(!log.contains(secret), "the log holds {secret:?}");
    }
}

#[test]
fn serve_raises_an_expiry_alert_that_alerts_lists_and_a_webhook_needs_its_secret() {
    let s = setup("cli-alerts");
    let out = path(&s.dir, "soon.txt");
    let issued = json(&[
        "license",
        "issue",
        "--vendor-key",
        &s.vendor_key,
        "--org",
        "acme",
        "--type",
        "per-page",
        "--quota",
        "100",
        "--days",
        "5",
        "--out",
        &out,
    ]);
    json(&["license", "import", &s.store[0], &s.store[1], &out]);
    assert_eq!(json(&["alerts", &s.store[0], &s.store[1]]), json!({ "alerts": [] }));

    // The checks run as serve starts: a license 5 days from expiry gets its 7-day reminder.
    let serving = start_serve(&[&s.store[0], &s.store[1], "--listen", "127.0.0.1:0", "--alert-interval", "1"], &[]);
    let mut alerts = Value::Null;
    for _ in 0..200 {
        alerts = json(&["alerts", &s.store[0], &s.store[1]])["alerts"].clone();
        if alerts.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = serving.stop();
    let id = issued["id"].as_str().unwrap();
    let alerts = alerts.as_array().expect("an alert within 10 s").clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0]["kind"].as_str(), alerts[0]["subject"].as_str()), (Some("expiry"), Some(id)));
    assert!(alerts[0]["message"].as_str().unwrap().contains("within 7 days"), "{alerts:?}");
    assert_eq!(alerts[0]["deliveries"], json!([]), "no webhook configured");
    assert!(log.contains("alert: license"), "the alert is logged: {log}");

    let stderr = refused(&[
        "serve",
        &s.store[0],
        &s.store[1],
        "--listen",
        "127.0.0.1:0",
        "--webhook",
        "https://hooks.example.com/licet",
    ]);
    assert!(stderr.contains("--webhook needs --webhook-secret"), "{stderr}");
}

#[test]
fn the_store_may_come_from_the_environment_or_the_config_file() {
    let s = setup("cli-store-settings");
    let (key, variable) = if s.store[0] == "--data" { ("data", "LICET_DATA") } else { ("database", "LICET_DATABASE") };
    let from_env = Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .args(["usage", "--json"])
        .env(variable, &s.store[1])
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{}", String::from_utf8_lossy(&from_env.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&from_env.stdout).unwrap(), json!({ "licenses": [] }));

    let config = path(&s.dir, "licet.toml");
    std::fs::write(&config, format!("{key} = {:?}\n", s.store[1])).unwrap();
    let serving = start_serve(&["--config", &config, "--listen", "127.0.0.1:0"], &[]);
    let mut stream = TcpStream::connect(serving.address()).unwrap();
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    serving.stop();

    let stderr = refused(&["usage"]);
    assert!(stderr.contains("no store given"), "{stderr}");
    assert_eq!(
        licet(&["usage", "--data", "a", "--database", "postgres://b/c"]).status.code(),
        Some(2),
        "one store, not two"
    );
}

#[test]
fn admin_tokens_are_created_once_listed_by_name_and_open_the_admin_api_until_revoked() {
    let s = setup("cli-admin-token");
    let store = [s.store[0].as_str(), s.store[1].as_str()];
    let created = json(&[&["admin", "token", "create"], &store[..], &["--name", "ops"]].concat());
    let token = created["token"].as_str().unwrap().to_owned();
    let secret = token.strip_prefix("licet_admin_").expect("the token says what it opens");
    assert_eq!(b64::decode(secret).unwrap().len(), 32);
    assert_eq!(created["name"], "ops");
    let unnamed = json(&[&["admin", "token", "create"], &store[..]].concat());
    assert!(unnamed["name"].as_str().unwrap().starts_with("admin-"), "{unnamed}");
    let stderr = refused(&[&["admin", "token", "create"], &store[..], &["--name", "ops"]].concat());
    assert!(stderr.contains("already exists"), "{stderr}");

    let listed = json(&[&["admin", "token", "list"], &store[..]].concat());
    let mut names: Vec<&str> =
        listed["tokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, [unnamed["name"].as_str().unwrap(), "ops"]);
    let text = licet(&[&["admin", "token", "list"], &store[..]].concat());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("ops  created ") && !text.contains(secret) && !listed.to_string().contains(secret), "{text}");

    let server = common::process::instance(&s.store);
    let request = |token: &str| {
        format!("GET /admin/v1/licenses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
    };
    let answer = http(server.address(), request(&token).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"licenses":[]}"#), "{answer}");
    assert_eq!(json(&[&["admin", "token", "revoke"], &store[..], &["ops"]].concat()), json!({ "revoked": "ops" }));
    let answer = http(server.address(), request(&token).as_bytes());
    assert!(answer.starts_with("HTTP/1.1 401") && answer.contains("ADMIN_TOKEN_INVALID"), "{answer}");
    server.stop();
    let stderr = refused(&[&["admin", "token", "revoke"], &store[..], &["ops"]].concat());
    assert!(stderr.contains("admin token list"), "{stderr}");
}
