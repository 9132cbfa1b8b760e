//! Domain binding checked against a naive reference written from the documented rules
//! (docs/server.md, "Domain binding"): `DomainRule::parse` and its accessors, `DomainRule::matches`,
//! `is_dev_host`, `host_allowed` and `licenses_allow_host` (the browser's side, without the
//! Public Suffix List), and `normalize_pattern` followed by `host_allowed` (the server's side,
//! IDNA through the `idna` crate as the reference converts too). Patterns and hosts come from
//! small alphabets of labels, IDN labels, IPv4 and IPv6 literals, cases, ports and malformed
//! shapes, so that matches are frequent. Not checked here: the Public Suffix List itself
//! (tests/psl_conformance.rs; only two rules of `covers_public_suffix` are), and the server's
//! `Origin` parsing (`origin_host`, private to the server crate, tested there).

mod prop_support;

use std::net::{Ipv4Addr, Ipv6Addr};

use licet_protocol::domain::{
    covers_public_suffix, host_allowed, is_dev_host, licenses_allow_host, normalize_pattern, registrable_domain,
    DomainRefusal, DomainRule,
};
use licet_protocol::license::{LicenseFile, LicenseType, Tolerance};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------------
// The reference: the rules as the documentation words them, written the obvious way.

/// A host as the reference reads it: one trailing dot ignored, names lowercased.
#[derive(Debug, Clone, PartialEq)]
enum RefHost {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A name with an empty label (`.a.com`, `a..com`, `a.com..`): no host at all.
    NotAHost,
}

fn ref_host(host: &str) -> RefHost {
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse().map_or(RefHost::NotAHost, RefHost::V6);
    }
    if let Ok(address) = host.parse() {
        return RefHost::V6(address);
    }
    if let Ok(address) = host.parse() {
        return RefHost::V4(address);
    }
    let name = host.to_ascii_lowercase();
    if name.split('.').any(str::is_empty) {
        return RefHost::NotAHost;
    }
    RefHost::Name(name)
}

/// What a signed pattern binds.
#[derive(Debug, Clone, PartialEq)]
enum RefRule {
    Exact(String),
    Wildcard(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// A signed pattern: lowercase ASCII; `*.name` (the name and every subdomain), a name, an IPv4
/// literal or an IPv6 literal (bare or bracketed), never `*.` before an address; names of
/// labels of `a-z 0-9 -`, 1 to 63 long, not starting or ending with `-`, at most 253 in all,
/// the last not a number (a browser would read the host as an IPv4 address). Anything else
/// binds nothing.
fn ref_pattern(pattern: &str) -> Option<RefRule> {
    if pattern.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let (wildcard, rest) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let bare = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(rest);
    if let Ok(address) = bare.parse::<Ipv6Addr>() {
        return (!wildcard).then_some(RefRule::V6(address));
    }
    if let Ok(address) = rest.parse::<Ipv4Addr>() {
        return (!wildcard).then_some(RefRule::V4(address));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = rest.split('.').collect();
    if !labels.iter().all(|l| label_ok(l)) || rest.len() > 253 {
        return None;
    }
    if labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(if wildcard { RefRule::Wildcard(rest.to_owned()) } else { RefRule::Exact(rest.to_owned()) })
}

fn ref_matches(rule: &RefRule, host: &RefHost) -> bool {
    match (rule, host) {
        (RefRule::Exact(base), RefHost::Name(name)) => name == base,
        (RefRule::Wildcard(base), RefHost::Name(name)) => name == base || name.ends_with(&format!(".{base}")),
        (RefRule::V4(a), RefHost::V4(b)) => a == b,
        (RefRule::V6(a), RefHost::V6(b)) => a == b,
        _ => false,
    }
}

/// `localhost` and its subdomains, 127.0.0.0/8 and `::1`.
fn ref_is_dev(host: &RefHost) -> bool {
    match host {
        RefHost::Name(name) => name == "localhost" || name.ends_with(".localhost"),
        RefHost::V4(address) => address.octets()[0] == 127,
        RefHost::V6(address) => *address == Ipv6Addr::LOCALHOST,
        RefHost::NotAHost => false,
    }
}

/// One license: no patterns binds nothing; else an empty or `null` host never, a development
/// host exactly when the license allows them, any other host when a pattern matches it.
fn ref_allowed(patterns: &[String], host: &str, allow_dev_hosts: bool) -> Result<(), DomainRefusal> {
    if patterns.is_empty() {
        return Ok(());
    }
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("null") {
        return Err(DomainRefusal::OpaqueOrigin);
    }
    let host = ref_host(host);
    if ref_is_dev(&host) {
        return if allow_dev_hosts { Ok(()) } else { Err(DomainRefusal::DevHost) };
    }
    if patterns.iter().filter_map(|p| ref_pattern(p)).any(|rule| ref_matches(&rule, &host)) {
        Ok(())
    } else {
        Err(DomainRefusal::NotBound)
    }
}

/// A pattern as a person types it, made canonical: surrounding spaces and (for names and IPv4)
/// one trailing dot dropped, names through IDNA (which lowercases), IPv6 lowercased; a URL, a
/// path or a port is refused before any conversion.
fn ref_normalize(typed: &str) -> Option<String> {
    let typed = typed.trim();
    if typed.contains("://") || typed.contains(['/', '?', '#']) {
        return None;
    }
    let (prefix, host) = match typed.strip_prefix("*.") {
        Some(host) => ("*.", host),
        None => ("", typed),
    };
    let host = if host.contains(':') {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host.strip_suffix('.').unwrap_or(host)).ok()?
    };
    let pattern = format!("{prefix}{host}");
    ref_pattern(&pattern).map(|_| pattern)
}

// ---------------------------------------------------------------------------------------------
// Generators: small alphabets, so that patterns and hosts meet often.

/// ASCII labels, punycode among them, and a few that no pattern may hold.
const ASCII_LABELS: &[&str] = &[
    "a",
    "b",
    "app",
    "www",
    "company",
    "com",
    "x-y",
    "a1",
    "localhost",
    "null",
    "xn--bcher-kva",
    "xn--mnchen-3ya",
    "io",
    "123",
    "-a",
    "a-",
    "my_app",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// International labels as people type them; `xn--a` has no Unicode form.
const IDN_LABELS: &[&str] = &["bücher", "BÜCHER", "münchen", "食狮", "公司", "faß", "ＡＢＣ", "xn--a"];

const V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 0, 0, 2),
    Ipv4Addr::new(192, 168, 1, 20),
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(127, 9, 8, 7),
    Ipv4Addr::new(0, 0, 0, 0),
];

const V6: &[Ipv6Addr] = &[
    Ipv6Addr::LOCALHOST,
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xab),
    Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001),
    Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001),
];

/// Patterns and hosts that are none of the above shapes, or break a rule.
const ODD_PATTERNS: &[&str] = &[
    "",
    "*",
    "*.",
    "a.*.com",
    "*company.com",
    "**.company.com",
    "*.*.company.com",
    "company.com:443",
    "*.company.com:443",
    "https://company.com",
    "company.com/app",
    "company.com?x",
    "company.com#x",
    "[::1]:8080",
    "[::1",
    "[::1]x",
    ".company.com",
    "company.com.",
    "a..company.com",
    "1.2.3",
    "01.2.3.4",
    "256.0.0.1",
    "company.123",
    "*.10.0.0.1",
    "*.[2001:db8::1]",
    "fe80::1%eth0",
    "[1.2.3.4]",
    "comp any.com",
    " company.com ",
    "null",
];

const ODD_HOSTS: &[&str] = &[
    "",
    ".",
    "..",
    "null",
    "NULL",
    "Null.",
    "null..",
    "localhost",
    "LOCALHOST.",
    "app.localhost",
    "localhost.com",
    "..localhost",
    ".localhost",
    "127.0.0.1",
    "127.1",
    "0x7f.0.0.1",
    "[::1]",
    "::1",
    "[::1]:8080",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "company.com",
    ".company.com",
    "..company.com",
    "a..company.com",
    "company.com..",
    "company.com:443",
    "é.company.com",
    "*.company.com",
    "company.com/x",
    "[2001:db8::1]:443",
    "[fe80::ab%25eth0]",
];

/// One label: ASCII, or international, which `canonical` turns into punycode as the browser
/// and `normalize_pattern` do.
#[derive(Debug, Clone)]
enum Label {
    Ascii(&'static str),
    Idn(&'static str),
}

impl Label {
    fn canonical(&self) -> String {
        match self {
            Label::Ascii(label) => (*label).to_owned(),
            // A label with no punycode form stays as typed: it is refused all the same.
            Label::Idn(label) => idna::domain_to_ascii(label).unwrap_or_else(|_| (*label).to_owned()),
        }
    }

    fn typed(&self) -> String {
        match self {
            Label::Ascii(label) | Label::Idn(label) => (*label).to_owned(),
        }
    }
}

fn label() -> impl Strategy<Value = Label> {
    prop_oneof![
        4 => proptest::sample::select(ASCII_LABELS).prop_map(Label::Ascii),
        1 => proptest::sample::select(IDN_LABELS).prop_map(Label::Idn),
    ]
}

fn labels() -> impl Strategy<Value = Vec<Label>> {
    proptest::collection::vec(label(), 1..=4)
}

/// Uppercases the ASCII letters whose position has its bit set in `mask`.
fn with_case(text: &str, mask: u64) -> String {
    text.chars().enumerate().map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

/// An IPv6 address written out in full, every group in four digits.
fn expanded(address: &Ipv6Addr) -> String {
    address.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":")
}

fn v6_text(address: &Ipv6Addr, long: bool, bracketed: bool) -> String {
    let text = if long { expanded(address) } else { address.to_string() };
    if bracketed {
        format!("[{text}]")
    } else {
        text
    }
}

/// How a generated pattern is written.
#[derive(Debug, Clone)]
enum PatternSpec {
    /// `canonical`: punycode and lowercase, as licenses carry it; else as typed, with `case`.
    Name {
        wildcard: bool,
        labels: Vec<Label>,
        canonical: bool,
        case: u64,
    },
    V4 {
        address: Ipv4Addr,
        wildcard: bool,
    },
    V6 {
        address: Ipv6Addr,
        long: bool,
        bracketed: bool,
        wildcard: bool,
        case: u64,
    },
    Odd(&'static str),
}

impl PatternSpec {
    fn render(&self) -> String {
        match self {
            PatternSpec::Name { wildcard, labels, canonical, case } => {
                let name = if *canonical {
                    labels.iter().map(Label::canonical).collect::<Vec<_>>().join(".")
                } else {
                    with_case(&labels.iter().map(Label::typed).collect::<Vec<_>>().join("."), *case)
                };
                if *wildcard {
                    format!("*.{name}")
                } else {
                    name
                }
            }
            PatternSpec::V4 { address, wildcard } => format!("{}{address}", if *wildcard { "*." } else { "" }),
            PatternSpec::V6 { address, long, bracketed, wildcard, case } => {
                let text = with_case(&v6_text(address, *long, *bracketed), *case);
                format!("{}{text}", if *wildcard { "*." } else { "" })
            }
            PatternSpec::Odd(text) => (*text).to_owned(),
        }
    }
}

/// Mostly patterns a license could carry; some that break a rule.
fn pattern_spec() -> impl Strategy<Value = PatternSpec> {
    let case = prop_oneof![3 => Just(0u64), 1 => any::<u64>()];
    prop_oneof![
        8 => (prop::bool::weighted(0.5), labels(), prop::bool::weighted(0.8), case.clone())
            .prop_map(|(wildcard, labels, canonical, case)| PatternSpec::Name { wildcard, labels, canonical, case }),
        2 => (proptest::sample::select(V4), prop::bool::weighted(0.1))
            .prop_map(|(address, wildcard)| PatternSpec::V4 { address, wildcard }),
        2 => (proptest::sample::select(V6), any::<bool>(), any::<bool>(), prop::bool::weighted(0.1), case)
            .prop_map(|(address, long, bracketed, wildcard, case)| PatternSpec::V6 {
                address, long, bracketed, wildcard, case: case & 0x5555,
            }),
        1 => proptest::sample::select(ODD_PATTERNS).prop_map(PatternSpec::Odd),
    ]
}

/// A license's patterns: now and then none (which binds nothing), mostly one to three.
fn patterns() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        1 => Just(vec![]),
        7 => proptest::collection::vec(pattern_spec().prop_map(|p| p.render()), 1..4),
    ]
}

/// A pattern as a person would type it for `license issue --domain`: any case, international
/// labels in Unicode, maybe spaces around it and a trailing dot.
fn typed_pattern() -> impl Strategy<Value = String> {
    (pattern_spec(), any::<u64>(), any::<bool>(), prop::bool::weighted(0.2), prop::bool::weighted(0.2)).prop_map(
        |(spec, case, spaces, dot, typed)| {
            let spec = match spec {
                PatternSpec::Name { wildcard, labels, .. } if typed => {
                    PatternSpec::Name { wildcard, labels, canonical: false, case }
                }
                spec => spec,
            };
            let mut text = spec.render();
            if dot {
                text.push('.');
            }
            if spaces {
                text = format!("  {text} ");
            }
            text
        },
    )
}

/// What is done to a host after it is written.
#[derive(Debug, Clone)]
enum Malform {
    None,
    LeadingDot,
    EmptyLabel(Index),
    Port(u16),
    /// International labels left in Unicode (a browser never reports them so).
    Unicode,
}

fn malform() -> impl Strategy<Value = Malform> {
    prop_oneof![
        12 => Just(Malform::None),
        1 => Just(Malform::LeadingDot),
        1 => any::<Index>().prop_map(Malform::EmptyLabel),
        1 => any::<u16>().prop_map(Malform::Port),
        1 => Just(Malform::Unicode),
    ]
}

/// How a generated host is made: mostly from one of the case's patterns, so that it matches or
/// nearly matches, else on its own.
#[derive(Debug, Clone)]
enum HostSpec {
    /// The name (or address) of pattern `pattern`, with its first `drop` labels dropped (one
    /// is always kept) and `prefix` put before it.
    Derived {
        pattern: Index,
        drop: usize,
        prefix: Vec<Label>,
    },
    Name(Vec<Label>),
    V4(Ipv4Addr),
    V6 {
        address: Ipv6Addr,
        long: bool,
        bracketed: bool,
    },
    Odd(&'static str),
}

#[derive(Debug, Clone)]
struct HostGen {
    spec: HostSpec,
    case: u64,
    trailing_dot: bool,
    malform: Malform,
}

fn host_gen() -> impl Strategy<Value = HostGen> {
    let spec = prop_oneof![
        6 => (
            any::<Index>(),
            prop_oneof![3 => Just(0usize), 1 => 1usize..3],
            prop_oneof![2 => Just(vec![]), 1 => proptest::collection::vec(label(), 1..3)],
        )
            .prop_map(|(pattern, drop, prefix)| HostSpec::Derived { pattern, drop, prefix }),
        2 => labels().prop_map(HostSpec::Name),
        1 => proptest::sample::select(V4).prop_map(HostSpec::V4),
        1 => (proptest::sample::select(V6), any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(address, long, bracketed)| HostSpec::V6 { address, long, bracketed }),
        2 => proptest::sample::select(ODD_HOSTS).prop_map(HostSpec::Odd),
    ];
    let case = prop_oneof![2 => Just(0u64), 1 => any::<u64>()];
    (spec, case, prop::bool::weighted(0.15), malform()).prop_map(|(spec, case, trailing_dot, malform)| HostGen {
        spec,
        case,
        trailing_dot,
        malform,
    })
}

/// Writes the host of `generated`, given the case's patterns.
fn render_host(generated: &HostGen, patterns: &[String]) -> String {
    let unicode = matches!(generated.malform, Malform::Unicode);
    let write_labels =
        |labels: &[Label]| labels.iter().map(|l| if unicode { l.typed() } else { l.canonical() }).collect::<Vec<_>>();
    let mut host = match &generated.spec {
        HostSpec::Derived { pattern, drop, prefix } => match patterns {
            [] => write_labels(prefix).join("."),
            _ => {
                let pattern = &patterns[pattern.index(patterns.len())];
                let base = pattern.strip_prefix("*.").unwrap_or(pattern);
                if base.contains(':') {
                    // An IPv6 pattern: the host toggles the brackets.
                    match base.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
                        Some(bare) => bare.to_owned(),
                        None => format!("[{base}]"),
                    }
                } else {
                    let base: Vec<&str> = base.split('.').collect();
                    let kept = &base[(*drop).min(base.len() - 1)..];
                    let mut parts = write_labels(prefix);
                    parts.extend(kept.iter().map(|l| (*l).to_owned()));
                    parts.join(".")
                }
            }
        },
        HostSpec::Name(labels) => write_labels(labels).join("."),
        HostSpec::V4(address) => address.to_string(),
        HostSpec::V6 { address, long, bracketed } => v6_text(address, *long, *bracketed),
        HostSpec::Odd(text) => (*text).to_owned(),
    };
    host = with_case(&host, generated.case);
    match &generated.malform {
        Malform::LeadingDot => host.insert(0, '.'),
        Malform::EmptyLabel(at) => {
            let dots: Vec<usize> = host.match_indices('.').map(|(i, _)| i).collect();
            if !dots.is_empty() {
                host.insert(dots[at.index(dots.len())], '.');
            }
        }
        Malform::Port(port) => host = format!("{host}:{port}"),
        Malform::None | Malform::Unicode => {}
    }
    if generated.trailing_dot {
        host.push('.');
    }
    host
}

fn license(domains: Vec<String>, allow_dev_hosts: bool) -> LicenseFile {
    LicenseFile {
        id: "L-1".into(),
        organization_id: "org".into(),
        product: "sdk".into(),
        license_type: LicenseType::PerDomain,
        modules: vec![],
        quota: None,
        devices: None,
        active: None,
        domains,
        allow_dev_hosts,
        issued_at: 0,
        expires_at: 1,
        offline_grace_ms: 1,
        tolerance: Tolerance::default(),
    }
}

// Each case is a few microseconds of matching and IDNA: 4096 cases per property keep the file
// under a few seconds in a debug build while covering the small alphabets many times over.
const CASES: u32 = 4096;

proptest! {
    #![proptest_config(prop_support::config(CASES))]

    /// `DomainRule::parse` accepts exactly the patterns the reference accepts, and reads them
    /// the same: wildcard or not, address or name, and the base name.
    #[test]
    fn parse_agrees_with_the_reference(spec in pattern_spec()) {
        let pattern = spec.render();
        let parsed = DomainRule::parse(&pattern);
        let reference = ref_pattern(&pattern);
        prop_assert_eq!(parsed.is_ok(), reference.is_some(), "{:?}: {:?} vs {:?}", pattern, parsed, reference);
        if let (Ok(rule), Some(reference)) = (parsed, reference) {
            prop_assert_eq!(rule.as_str(), pattern.as_str());
            prop_assert_eq!(rule.is_wildcard(), matches!(reference, RefRule::Wildcard(_)));
            prop_assert_eq!(rule.is_ip(), matches!(reference, RefRule::V4(_) | RefRule::V6(_)));
            if let RefRule::Exact(base) | RefRule::Wildcard(base) = &reference {
                prop_assert_eq!(rule.base(), base.as_str());
            }
        }
    }

    /// `DomainRule::matches` (one pattern against a host as `location.hostname` gives it)
    /// agrees with the reference, and so does `is_dev_host`.
    #[test]
    fn a_rule_matches_the_hosts_the_reference_matches(spec in pattern_spec(), host in host_gen()) {
        let pattern = spec.render();
        let host = render_host(&host, std::slice::from_ref(&pattern));
        if let (Ok(rule), Some(reference)) = (DomainRule::parse(&pattern), ref_pattern(&pattern)) {
            prop_assert_eq!(rule.matches(&host), ref_matches(&reference, &ref_host(&host)), "{:?} on {:?}", pattern, host);
        }
        prop_assert_eq!(is_dev_host(&host), ref_is_dev(&ref_host(&host)), "is_dev_host({:?})", host);
    }

    /// `host_allowed`, the whole decision for one license, agrees with the reference on every
    /// (pattern set, host, development hosts allowed or not), refusal reason included.
    #[test]
    fn host_allowed_agrees_with_the_reference(
        patterns in patterns(),
        host in host_gen(),
        allow_dev_hosts in any::<bool>(),
    ) {
        let host = render_host(&host, &patterns);
        prop_assert_eq!(
            host_allowed(&patterns, &host, allow_dev_hosts),
            ref_allowed(&patterns, &host, allow_dev_hosts),
            "{:?} on {:?}, dev hosts {}", patterns, host, allow_dev_hosts
        );
    }

    /// `licenses_allow_host`, several licenses of one project: allowed when one license allows
    /// the host, else refused for the first license's reason (`NotBound` without licenses).
    #[test]
    fn licenses_allow_the_union_of_what_each_allows(
        licenses in proptest::collection::vec((patterns(), any::<bool>()), 0..4),
        host in host_gen(),
    ) {
        let all: Vec<String> = licenses.iter().flat_map(|(p, _)| p.clone()).collect();
        let host = render_host(&host, &all);
        let reference: Vec<_> = licenses.iter().map(|(p, dev)| ref_allowed(p, &host, *dev)).collect();
        let expected = if reference.iter().any(Result::is_ok) {
            Ok(())
        } else {
            Err(reference.first().and_then(|r| r.err()).unwrap_or(DomainRefusal::NotBound))
        };
        let files: Vec<LicenseFile> = licenses.into_iter().map(|(p, dev)| license(p, dev)).collect();
        prop_assert_eq!(licenses_allow_host(&files, &host), expected, "{:?} on {:?}", files.iter().map(|f| &f.domains).collect::<Vec<_>>(), host);
    }

    /// The server's side: `normalize_pattern` turns a typed pattern into the canonical one the
    /// reference makes with IDNA (or refuses it when the reference does), and the normalized
    /// patterns then allow exactly the hosts the reference allows.
    #[test]
    fn normalized_patterns_agree_with_the_reference(
        typed in proptest::collection::vec(typed_pattern(), 1..4),
        host in host_gen(),
        allow_dev_hosts in any::<bool>(),
    ) {
        let mut normalized = Vec::new();
        for text in &typed {
            let ours = normalize_pattern(text).map(|rule| rule.as_str().to_owned());
            let reference = ref_normalize(text);
            prop_assert_eq!(ours.as_ref().ok(), reference.as_ref(), "normalize_pattern({:?}) = {:?}", text, ours);
            normalized.extend(reference);
        }
        let host = render_host(&host, &normalized);
        prop_assert_eq!(
            host_allowed(&normalized, &host, allow_dev_hosts),
            ref_allowed(&normalized, &host, allow_dev_hosts),
            "{:?} (typed {:?}) on {:?}", normalized, typed, host
        );
    }

    /// Two rules of `covers_public_suffix` that need no list: an IP literal never covers a
    /// public suffix, and a wildcard over a single label always does (a top-level domain, listed
    /// or not).
    #[test]
    fn public_suffix_rules_that_need_no_list(spec in pattern_spec()) {
        if let Ok(rule) = DomainRule::parse(&spec.render()) {
            if rule.is_ip() {
                prop_assert!(!covers_public_suffix(&rule), "{}", rule.as_str());
            }
            if rule.is_wildcard() && !rule.base().contains('.') {
                prop_assert!(covers_public_suffix(&rule), "{}", rule.as_str());
            }
        }
    }

    /// Arbitrary text never panics any of the module's entry points.
    #[test]
    fn arbitrary_text_never_panics(pattern in any::<String>(), host in any::<String>(), dev in any::<bool>()) {
        let rule = DomainRule::parse(&pattern);
        if let Ok(rule) = &rule {
            let _ = (rule.matches(&host), covers_public_suffix(rule));
        }
        let _ = normalize_pattern(&pattern).map(|rule| rule.matches(&host));
        let _ = (is_dev_host(&host), registrable_domain(&host), registrable_domain(&pattern));
        let _ = host_allowed(std::slice::from_ref(&pattern), &host, dev);
        let _ = licenses_allow_host([&license(vec![pattern], dev)], &host);
    }
}
