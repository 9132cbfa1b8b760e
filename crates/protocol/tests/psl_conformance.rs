//! The Public Suffix List's own test vectors (tests/conformance/psl_tests.txt, vendored), every one run
//! through `domain::registrable_domain`. The file is read at run time, so a vector added to it
//! is checked without a change here. (The crate's tests always have the `psl` feature: the
//! crate is its own dev-dependency with it.)

use licet_protocol::domain::registrable_domain;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/conformance/psl_tests.txt");

/// Vectors of the file that disagree with the list they test: the rules `*.kobe.jp` and
/// `!city.kobe.jp` make `city.kobe.jp` registrable (an exception rule ends the public suffix one
/// label earlier), and the upstream file (publicsuffix/list, tests/test_psl.txt) expects
/// `city.kobe.jp` for both hosts. These are checked against upstream's answer instead, each
/// `(host, the file's answer, upstream's answer)`; once the file is corrected the test fails
/// until the entry is removed here, so the exception cannot outlive the error.
const ERRATA: &[(&str, &str, &str)] =
    &[("city.kobe.jp", "kobe.jp", "city.kobe.jp"), ("www.city.kobe.jp", "kobe.jp", "city.kobe.jp")];

/// One argument of `checkPublicSuffix`: `null` or a single-quoted string.
fn argument(text: &str) -> Option<&str> {
    let text = text.trim();
    if text == "null" {
        return None;
    }
    let quoted = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\''));
    Some(quoted.unwrap_or_else(|| panic!("neither null nor a quoted string: {text}")))
}

/// The `(host, expected)` of every `checkPublicSuffix(host, expected);` line.
fn vectors(text: &str) -> Vec<(Option<&str>, Option<&str>)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .map(|line| {
            let arguments = line
                .strip_prefix("checkPublicSuffix(")
                .and_then(|rest| rest.strip_suffix(");"))
                .unwrap_or_else(|| panic!("not a checkPublicSuffix line: {line}"));
            let (host, expected) = arguments.split_once(',').unwrap_or_else(|| panic!("not two arguments: {line}"));
            (argument(host), argument(expected))
        })
        .collect()
}

#[test]
fn every_psl_vector_passes() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("read {VECTORS}: {e}"));
    let vectors = vectors(&text);
    assert!(vectors.len() >= 70, "only {} vectors in {VECTORS}", vectors.len());
    let mut failures = Vec::new();
    for &(host, wrong, upstream) in ERRATA {
        if !vectors.contains(&(Some(host), Some(wrong))) {
            failures.push(format!("erratum ({host}, {wrong}) is no longer in the file: remove it from ERRATA"));
        }
        if registrable_domain(host).as_deref() != Some(upstream) {
            failures.push(format!("checkPublicSuffix({host:?}) is not upstream's {upstream:?}"));
        }
    }
    let is_erratum = |(host, expected): &&(Option<&str>, Option<&str>)| {
        ERRATA.iter().any(|&(h, wrong, _)| (Some(h), Some(wrong)) == (*host, *expected))
    };
    for (host, expected) in vectors.iter().filter(|v| !is_erratum(v)) {
        // A null host (no host at all) has no registrable domain; the closest input is "".
        let got = registrable_domain(host.unwrap_or(""));
        // The answer is always punycode: the file's IDN vectors expect the Unicode form they
        // were given, which is the same domain. Converted here with idna directly, not with
        // the code under test.
        let expected =
            expected.map(|e| idna::domain_to_ascii(e).unwrap_or_else(|_| panic!("{e} has no punycode form")));
        if got != expected {
            failures.push(format!("checkPublicSuffix({host:?}) = {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors fail:\n{}", failures.len(), vectors.len(), failures.join("\n"));
}
