//! Domain binding: the patterns a license binds (`app.company.com`, `*.company.com`, IP
//! literals), whether a page's host matches them, and the whole allow-or-refuse decision
//! (`host_allowed`). It never consults the Public Suffix List, formats nothing and uses no
//! regex, so it costs the browser module little; the list lives behind the `psl` feature
//! (`registrable_domain`, `covers_public_suffix`, `normalize_pattern`), which only the server
//! and the CLI turn on: they refuse a pattern over a public suffix before it is signed or
//! imported, so the browser can trust the patterns it matches.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::codes::ErrorCode;
use crate::license::LicenseFile;

/// The longest host name, in bytes, and the longest label.
const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Why a text is not a domain pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainError {
    Empty,
    /// `https://example.com`: a URL, not a host.
    Scheme,
    /// `example.com/app`, `example.com?x`, `example.com#x`.
    Path,
    /// `example.com:8443`, `[::1]:8080`: ports are never part of a pattern.
    Port,
    /// `a..b`, `.example.com`, `example.com.`.
    EmptyLabel,
    /// `*` anywhere but a leading `*.`: `a.*.com`, `*example.com`, `*.*.example.com`.
    MisplacedWildcard,
    /// `*` or `*.` with nothing after it.
    BareWildcard,
    /// Anything but `a-z`, `0-9`, `-` and `.` in a name: uppercase, `_`, spaces, non-ASCII.
    InvalidCharacter,
    /// A label that starts or ends with `-`.
    Hyphen,
    /// A label over 63 bytes or a name over 253.
    TooLong,
    /// Ends in a number like an IPv4 address but is not one (`1.2.3`, `256.0.0.1`, `01.2.3.4`),
    /// or an unparseable IPv6 literal.
    InvalidIp,
    /// `*.` before an IP literal: addresses match exactly.
    WildcardIp,
    /// An international name that has no punycode form (only `normalize_pattern` says this).
    InvalidIdn,
}

impl DomainError {
    /// A lowercase sentence that says what to change.
    pub fn message(self) -> &'static str {
        match self {
            DomainError::Empty => "the pattern is empty: give a host like app.example.com or *.example.com",
            DomainError::Scheme => "the pattern is a url: give the host alone, without http:// or https://",
            DomainError::Path => "the pattern has a path, query or fragment: give the host alone",
            DomainError::Port => "the pattern has a port: ports are ignored, give the host alone",
            DomainError::EmptyLabel => "the pattern has an empty label: remove the leading, trailing or doubled dot",
            DomainError::MisplacedWildcard => {
                "'*' may only lead the pattern as '*.', which covers a domain and all its subdomains"
            }
            DomainError::BareWildcard => "'*.' needs a domain after it, like *.example.com",
            DomainError::InvalidCharacter => {
                "a host name holds only a-z, 0-9, '-' and '.', in lowercase: write international names in punycode"
            }
            DomainError::Hyphen => "a label of the host name starts or ends with '-'",
            DomainError::TooLong => "a label is longer than 63 characters, or the name longer than 253",
            DomainError::InvalidIp => {
                "the pattern is not a valid ip address: write ipv4 as four decimal numbers, ipv6 like [2001:db8::1]"
            }
            DomainError::WildcardIp => "an ip address matches only itself: remove the '*.'",
            DomainError::InvalidIdn => "the international domain name has no punycode form: check its spelling",
        }
    }
}

impl core::fmt::Display for DomainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DomainError {}

/// What a pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A host name: exactly it, or with `*.` it and every subdomain.
    Name {
        wildcard: bool,
    },
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// One parsed domain pattern of a license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRule {
    /// The pattern as given (already canonical: `parse` accepts nothing else).
    pattern: String,
    target: Target,
}

// The checks below read bytes and search single characters only: string searchers, splitting
// iterators and panicking slices would each bring code into the browser module.

/// Finds what makes `pattern` a URL or host-and-port rather than a host, whatever its
/// characters: shared by `parse` and by `normalize_pattern`, which runs it before IDNA so that
/// `bücher.de:8080` is refused for its port, not for its spelling.
fn check_shape(pattern: &str) -> Result<(), DomainError> {
    if pattern.is_empty() {
        return Err(DomainError::Empty);
    }
    if pattern.split_once(':').is_some_and(|(_, rest)| rest.starts_with("//")) {
        return Err(DomainError::Scheme);
    }
    if pattern.bytes().any(|b| matches!(b, b'/' | b'?' | b'#')) {
        return Err(DomainError::Path);
    }
    if let Some(rest) = pattern.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, "")) => Ok(()),
            Some((_, after)) if after.starts_with(':') => Err(DomainError::Port),
            _ => Err(DomainError::InvalidIp),
        };
    }
    // One colon is a host and a port; more can only be an IPv6 literal, checked by `parse`.
    if pattern.bytes().filter(|&b| b == b':').count() == 1 {
        return Err(DomainError::Port);
    }
    Ok(())
}

/// An IPv6 literal, bracketed (as `location.hostname` gives it) or bare.
fn parse_v6(text: &str) -> Option<Ipv6Addr> {
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    bare.parse().ok()
}

/// True when the last label is a decimal number: a browser then reads the host as IPv4
/// (WHATWG URL), so such a pattern is an address or nothing.
fn ends_in_number(host: &str) -> bool {
    let mut last = host.bytes().rev().take_while(|&b| b != b'.').peekable();
    last.peek().is_some() && last.all(|b| b.is_ascii_digit())
}

/// Checks one label of a host name.
fn check_label(label: &[u8]) -> Result<(), DomainError> {
    match label {
        [] => Err(DomainError::EmptyLabel),
        _ if label.contains(&b'*') => Err(DomainError::MisplacedWildcard),
        _ if !label.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') => {
            Err(DomainError::InvalidCharacter)
        }
        [b'-', ..] | [.., b'-'] => Err(DomainError::Hyphen),
        _ if label.len() > MAX_LABEL_LEN => Err(DomainError::TooLong),
        _ => Ok(()),
    }
}

/// What `pattern` matches, and the host it names (after `*.`): `DomainRule::parse` without
/// keeping a copy, so `host_allowed` allocates nothing.
fn parse_target(pattern: &str) -> Result<(Target, &str), DomainError> {
    check_shape(pattern)?;
    let (wildcard, host) = match pattern.strip_prefix("*.") {
        Some("") => return Err(DomainError::BareWildcard),
        Some(host) => (true, host),
        None if pattern == "*" => return Err(DomainError::BareWildcard),
        None => (false, pattern),
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(DomainError::InvalidCharacter);
    }
    let target = if host.contains(':') {
        Target::V6(parse_v6(host).ok_or(DomainError::InvalidIp)?)
    } else if ends_in_number(host) {
        Target::V4(host.parse().map_err(|_| DomainError::InvalidIp)?)
    } else {
        host.as_bytes().split(|&b| b == b'.').try_for_each(check_label)?;
        if host.len() > MAX_NAME_LEN {
            return Err(DomainError::TooLong);
        }
        return Ok((Target::Name { wildcard }, host));
    };
    if wildcard {
        return Err(DomainError::WildcardIp);
    }
    Ok((target, host))
}

impl Target {
    /// Whether `host` (trailing dot already dropped) is one this target, naming `base`, binds.
    fn matches(self, base: &str, host: &str) -> bool {
        match self {
            Target::V4(address) => host.parse::<Ipv4Addr>() == Ok(address),
            Target::V6(address) => parse_v6(host) == Some(address),
            Target::Name { wildcard } => match within(host, base) {
                Some(Within::Same) => true,
                Some(Within::Subdomain) => wildcard,
                None => false,
            },
        }
    }
}

impl DomainRule {
    /// Parses a pattern: `app.company.com` (that host only), `*.company.com` (company.com and
    /// every subdomain, one domain), an IPv4 literal, or an IPv6 literal bare or in brackets.
    /// Names must already be lowercase ASCII (punycode); `normalize_pattern` (feature `psl`)
    /// turns what a person types into that.
    pub fn parse(pattern: &str) -> Result<DomainRule, DomainError> {
        let (target, _) = parse_target(pattern)?;
        Ok(DomainRule { pattern: pattern.to_owned(), target })
    }

    /// The pattern, as it is signed into a license.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True for `*.name`.
    pub fn is_wildcard(&self) -> bool {
        matches!(self.target, Target::Name { wildcard: true })
    }

    /// True for an IPv4 or IPv6 literal.
    pub fn is_ip(&self) -> bool {
        matches!(self.target, Target::V4(_) | Target::V6(_))
    }

    /// The host the pattern names: the name after `*.`, or the whole pattern.
    pub fn base(&self) -> &str {
        match self.target {
            Target::Name { wildcard: true } => self.pattern.strip_prefix("*.").unwrap_or(&self.pattern),
            _ => &self.pattern,
        }
    }

    /// Whether `host`, as `location.hostname` gives it (punycode, any case, maybe a trailing
    /// dot, IPv6 maybe in brackets, never a port), is one this rule binds. IP literals compare
    /// as addresses, names without regard to ASCII case.
    pub fn matches(&self, host: &str) -> bool {
        self.target.matches(self.base(), host.strip_suffix('.').unwrap_or(host))
    }
}

/// How a host stands to a domain name.
enum Within {
    Same,
    Subdomain,
}

/// Whether `host` is `name` or a subdomain of it, ASCII case ignored. A subdomain puts one or
/// more labels before `name`, none of them empty: `.a.com` and `a..com` are no subdomains of
/// `a.com` (nor hosts at all). On bytes and with checked splits only: a non-ASCII host cannot
/// hit a char boundary.
fn within(host: &str, name: &str) -> Option<Within> {
    let (host, name) = (host.as_bytes(), name.as_bytes());
    let (head, tail) = host.split_at_checked(host.len().checked_sub(name.len())?)?;
    if !tail.eq_ignore_ascii_case(name) {
        return None;
    }
    match head {
        [] => Some(Within::Same),
        [labels @ .., b'.'] if labels_not_empty(labels) => Some(Within::Subdomain),
        _ => None,
    }
}

/// True when `labels` is one or more labels joined by dots, none of them empty.
fn labels_not_empty(labels: &[u8]) -> bool {
    let mut previous = b'.';
    for &byte in labels {
        if byte == b'.' && previous == b'.' {
            return false;
        }
        previous = byte;
    }
    previous != b'.'
}

/// True for the hosts of a developer's own machine: `localhost`, `*.localhost`, 127.0.0.0/8
/// and `::1` (bracketed or not). A trailing dot is ignored.
pub fn is_dev_host(host: &str) -> bool {
    dev_host(host.strip_suffix('.').unwrap_or(host))
}

/// `is_dev_host` for a host whose trailing dot is already dropped: one dot only is ignored, so
/// `localhost..` is not `localhost`.
fn dev_host(host: &str) -> bool {
    within(host, "localhost").is_some()
        || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || parse_v6(host) == Some(Ipv6Addr::LOCALHOST)
}

/// Why a host may not use a license. Every reason is `DOMAIN_MISMATCH` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainRefusal {
    /// No host (`""`), or an opaque origin (`null`: `file:`, sandboxed frames, `data:`).
    OpaqueOrigin,
    /// `localhost` or a loopback address, and the license does not allow development hosts.
    DevHost,
    /// No pattern of the license matches the host.
    NotBound,
}

impl DomainRefusal {
    /// The stable code of this refusal.
    pub fn code(self) -> ErrorCode {
        ErrorCode::DomainMismatch
    }
}

/// The whole decision for one license: a license that binds no domain allows every host;
/// otherwise an empty or opaque (`null`, in any case) host never, development hosts
/// (`is_dev_host`) exactly when `allow_dev_hosts` (listed or not), and any other host when some
/// pattern matches it. One trailing dot is ignored. A pattern that does not parse matches
/// nothing, and a host with an empty label (`.a.com`, `a..com`) is matched by none.
pub fn host_allowed(patterns: &[String], host: &str, allow_dev_hosts: bool) -> Result<(), DomainRefusal> {
    if patterns.is_empty() {
        return Ok(());
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.eq_ignore_ascii_case("null") {
        return Err(DomainRefusal::OpaqueOrigin);
    }
    if dev_host(host) {
        return if allow_dev_hosts { Ok(()) } else { Err(DomainRefusal::DevHost) };
    }
    if patterns.iter().any(|p| parse_target(p).is_ok_and(|(target, base)| target.matches(base, host))) {
        Ok(())
    } else {
        Err(DomainRefusal::NotBound)
    }
}

/// The decision for several licenses serving one project: a host may use them when at least
/// one of them allows it (`host_allowed`), so the bound domains are the union of theirs and
/// one license that binds none leaves the project unbound. Without any license: `NotBound`.
/// On refusal, the reason is the first license's.
pub fn licenses_allow_host<'a>(
    licenses: impl IntoIterator<Item = &'a LicenseFile>,
    host: &str,
) -> Result<(), DomainRefusal> {
    let mut refusal = None;
    for license in licenses {
        match host_allowed(&license.domains, host, license.allow_dev_hosts) {
            Ok(()) => return Ok(()),
            Err(reason) => {
                refusal.get_or_insert(reason);
            }
        }
    }
    Err(refusal.unwrap_or(DomainRefusal::NotBound))
}

/// The host lowercased and in punycode, without a trailing dot, by the WHATWG URL flavour of
/// UTS 46 that browsers apply to the host they show (it also checks `xn--` labels); `None`
/// when the host has no such form.
#[cfg(feature = "psl")]
fn to_ascii(host: &str) -> Option<String> {
    idna::domain_to_ascii(host.strip_suffix('.').unwrap_or(host)).ok()
}

/// The registrable domain of `host` ("eTLD+1") by the Public Suffix List, ICANN and private
/// sections: `example.com` for `a.b.example.com`, `acme.github.io` for `www.acme.github.io`,
/// `None` for a public suffix itself (`com`, `github.io`), an IP literal, or a host with an
/// empty label. The host may be in Unicode or punycode, any case; the answer is punycode,
/// lowercase. A top-level domain missing from the list counts as a public suffix.
#[cfg(feature = "psl")]
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = to_ascii(host)?;
    let ip = host.contains(':') || host.parse::<Ipv4Addr>().is_ok();
    if ip || host.split('.').any(str::is_empty) {
        return None;
    }
    let domain = psl::domain(host.as_bytes())?;
    core::str::from_utf8(domain.as_bytes()).ok().map(str::to_owned)
}

/// True when binding `rule` would bind sites of unrelated owners: a wildcard whose base has no
/// registrable domain of its own (`*.com`, `*.co.uk`, `*.github.io`, `*.herokuapp.com`, or a
/// top-level domain missing from the list), or an exact pattern that is itself a listed public
/// suffix (`com`, `github.io`). On a multi-tenant platform only an exact tenant subdomain
/// (`acme.github.io`, or `*.acme.github.io`) may be bound. IP literals never cover one, and
/// neither does an exact single-label intranet host (`scanner`) that the list does not name.
#[cfg(feature = "psl")]
pub fn covers_public_suffix(rule: &DomainRule) -> bool {
    if rule.is_ip() {
        return false;
    }
    let base = rule.base();
    if rule.is_wildcard() {
        return registrable_domain(base).is_none();
    }
    psl::suffix(base.as_bytes()).is_some_and(|suffix| suffix.is_known() && suffix.as_bytes() == base.as_bytes())
}

/// Turns a pattern as a person types it into the canonical one licenses carry: surrounding
/// spaces and one trailing dot dropped, ASCII lowercased, international names converted to
/// punycode (`*.Bücher.de` → `*.xn--bcher-kva.de`), then parsed. A URL, a port or a path is
/// refused as such before any conversion.
#[cfg(feature = "psl")]
pub fn normalize_pattern(pattern: &str) -> Result<DomainRule, DomainError> {
    let pattern = pattern.trim();
    check_shape(pattern)?;
    let (prefix, host) = match pattern.strip_prefix("*.") {
        Some(host) => ("*.", host),
        None => ("", pattern),
    };
    // IPv6 literals are no names: `parse` reads them as they are.
    let host =
        if host.contains(':') { host.to_ascii_lowercase() } else { to_ascii(host).ok_or(DomainError::InvalidIdn)? };
    DomainRule::parse(&[prefix, &host].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str) -> DomainRule {
        DomainRule::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn patterns_parse_into_names_wildcards_and_addresses() {
        let exact = rule("app.company.com");
        assert_eq!(
            (exact.as_str(), exact.base(), exact.is_wildcard(), exact.is_ip()),
            ("app.company.com", "app.company.com", false, false)
        );
        let wildcard = rule("*.company.com");
        assert_eq!((wildcard.base(), wildcard.is_wildcard()), ("company.com", true));
        assert!(rule("192.168.1.20").is_ip());
        assert!(rule("[2001:db8::1]").is_ip());
        assert!(rule("::1").is_ip());
        assert!(rule("xn--bcher-kva.de").matches("xn--bcher-kva.de"));
        assert!(rule("scanner").matches("SCANNER"));
        assert!(rule("a-b.c0.example").matches("a-b.c0.example"));
    }

    #[test]
    fn every_other_pattern_is_refused_with_its_reason() {
        use DomainError::*;
        let long_label = "a".repeat(64);
        let long_name = ["abcdefghi."; 26].concat() + "com";
        for (pattern, reason) in [
            ("", Empty),
            ("https://example.com", Scheme),
            ("example.com/app", Path),
            ("example.com?x=1", Path),
            ("example.com#top", Path),
            ("example.com:8443", Port),
            ("*.example.com:443", Port),
            ("[::1]:8080", Port),
            ("[::1", InvalidIp),
            ("[::1]x", InvalidIp),
            ("a..example.com", EmptyLabel),
            (".example.com", EmptyLabel),
            ("example.com.", EmptyLabel),
            ("*..example.com", EmptyLabel),
            ("a.*.com", MisplacedWildcard),
            ("*example.com", MisplacedWildcard),
            ("*.*.example.com", MisplacedWildcard),
            ("**.example.com", MisplacedWildcard),
            ("*", BareWildcard),
            ("*.", BareWildcard),
            ("Example.com", InvalidCharacter),
            ("bücher.de", InvalidCharacter),
            ("my_app.example.com", InvalidCharacter),
            ("user@example.com", InvalidCharacter),
            ("exa mple.com", InvalidCharacter),
            ("-app.example.com", Hyphen),
            ("app-.example.com", Hyphen),
            (long_label.as_str(), TooLong),
            (long_name.as_str(), TooLong),
            ("1.2.3", InvalidIp),
            ("256.1.1.1", InvalidIp),
            ("01.2.3.4", InvalidIp),
            ("example.123", InvalidIp),
            ("fe80::1%eth0", InvalidIp),
            ("1:2:3:4:5:6:7:8:9", InvalidIp),
            ("*.10.0.0.1", WildcardIp),
            ("*.[::1]", WildcardIp),
            ("[FE80::1]", InvalidCharacter),
        ] {
            assert_eq!(DomainRule::parse(pattern), Err(reason), "{pattern:?}");
            assert!(reason.message().starts_with(|c: char| c.is_lowercase() || c == '\''), "{reason:?}");
        }
        assert!(DomainRule::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn an_exact_pattern_matches_its_host_only() {
        let exact = rule("app.company.com");
        for host in ["app.company.com", "APP.Company.COM", "app.company.com."] {
            assert!(exact.matches(host), "{host}");
        }
        for host in [
            "company.com",
            "www.app.company.com",
            "app.company.com.evil.com",
            "xapp.company.com",
            "app.company.co",
            "",
            ".",
        ] {
            assert!(!exact.matches(host), "{host}");
        }
    }

    #[test]
    fn a_wildcard_matches_the_domain_and_every_subdomain() {
        let wildcard = rule("*.company.com");
        for host in ["company.com", "app.company.com", "a.b.c.company.com", "WWW.COMPANY.COM", "app.company.com."] {
            assert!(wildcard.matches(host), "{host}");
        }
        for host in
            ["evilcompany.com", "company.com.evil.com", "company.co", "com", "", ".company.com.x", "ÿcompany.com"]
        {
            assert!(!wildcard.matches(host), "{host}");
        }
        // A non-ASCII byte right before the base is no char boundary: no panic, no match.
        assert!(!wildcard.matches("é.company.comé"));
    }

    #[test]
    fn ip_literals_match_exactly_as_addresses() {
        let v4 = rule("192.168.1.20");
        assert!(v4.matches("192.168.1.20") && v4.matches("192.168.1.20."));
        assert!(!v4.matches("192.168.1.2") && !v4.matches("192.168.1.200") && !v4.matches("x.192.168.1.20"));
        for pattern in ["[2001:db8::1]", "2001:db8::1", "2001:0db8:0:0::1"] {
            let v6 = rule(pattern);
            assert!(
                v6.matches("[2001:db8::1]") && v6.matches("2001:db8::1") && v6.matches("[2001:DB8:0::1]"),
                "{pattern}"
            );
            assert!(!v6.matches("[2001:db8::2]") && !v6.matches("[2001:db8::1]:443"), "{pattern}");
        }
    }

    #[test]
    fn dev_hosts_are_localhost_and_loopback() {
        for host in ["localhost", "LOCALHOST", "app.localhost", "localhost.", "127.0.0.1", "127.8.9.10", "[::1]", "::1"]
        {
            assert!(is_dev_host(host), "{host}");
        }
        for host in ["localhost.com", "mylocalhost", "128.0.0.1", "[::2]", "0.0.0.0", "", "example.com"] {
            assert!(!is_dev_host(host), "{host}");
        }
    }

    #[test]
    fn host_allowed_takes_the_whole_decision() {
        let bound = ["*.company.com".to_owned(), "10.0.0.7".to_owned()];
        assert_eq!(host_allowed(&[], "anything.example", false), Ok(()), "a license without domains binds none");
        assert_eq!(host_allowed(&[], "", false), Ok(()));
        assert_eq!(host_allowed(&bound, "app.company.com", false), Ok(()));
        assert_eq!(host_allowed(&bound, "company.com.", false), Ok(()));
        assert_eq!(host_allowed(&bound, "10.0.0.7", false), Ok(()));
        assert_eq!(host_allowed(&bound, "other.com", false), Err(DomainRefusal::NotBound));
        assert_eq!(host_allowed(&bound, "company.com:443", false), Err(DomainRefusal::NotBound), "callers strip ports");
        for opaque in ["", "null", "."] {
            assert_eq!(host_allowed(&bound, opaque, true), Err(DomainRefusal::OpaqueOrigin), "{opaque:?}");
        }
        for dev in ["localhost", "app.localhost", "127.0.0.1", "[::1]"] {
            assert_eq!(host_allowed(&bound, dev, false), Err(DomainRefusal::DevHost), "{dev}");
            assert_eq!(host_allowed(&bound, dev, true), Ok(()), "{dev}");
            // Listing a development host does not allow it: only the license's flag does.
            assert_eq!(
                host_allowed(&[dev.trim_matches(['[', ']']).to_owned()], dev, false),
                Err(DomainRefusal::DevHost)
            );
        }
        assert_eq!(host_allowed(&["not a pattern".to_owned()], "not a pattern", false), Err(DomainRefusal::NotBound));
        assert_eq!(DomainRefusal::NotBound.code().as_str(), "DOMAIN_MISMATCH");
    }

    // Found by tests/prop_domain.rs against its reference matcher.
    #[test]
    fn hosts_with_empty_labels_or_a_null_in_capitals_are_no_bound_hosts() {
        let wildcard = rule("*.company.com");
        for host in [".a.company.com", "..company.com", "a..company.com", "a.b..company.com", "company.com.."] {
            assert!(!wildcard.matches(host), "{host}");
            assert_eq!(host_allowed(&["*.company.com".to_owned()], host, true), Err(DomainRefusal::NotBound), "{host}");
        }
        for host in ["..localhost", ".a.localhost", "a..localhost", "localhost.."] {
            assert!(!is_dev_host(host), "{host}");
            assert_eq!(
                host_allowed(&["*.company.com".to_owned()], host, false),
                Err(DomainRefusal::NotBound),
                "{host}"
            );
        }
        for opaque in ["NULL", "Null", "nulL."] {
            assert_eq!(host_allowed(&["null".to_owned()], opaque, true), Err(DomainRefusal::OpaqueOrigin), "{opaque}");
        }
    }

    fn license(domains: &[&str], allow_dev_hosts: bool) -> LicenseFile {
        LicenseFile {
            id: "L-1".into(),
            organization_id: "org".into(),
            product: "sdk".into(),
            license_type: crate::license::LicenseType::PerDomain,
            modules: vec![],
            quota: None,
            devices: None,
            active: None,
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            allow_dev_hosts,
            issued_at: 0,
            expires_at: 1,
            offline_grace_ms: crate::license::DEFAULT_OFFLINE_GRACE_MS,
            tolerance: crate::license::Tolerance::default(),
        }
    }

    #[test]
    fn several_licenses_allow_the_union_of_their_hosts() {
        let a = license(&["a.example"], false);
        let b = license(&["*.b.example"], true);
        assert_eq!(licenses_allow_host([&a, &b], "a.example"), Ok(()));
        assert_eq!(licenses_allow_host([&a, &b], "x.b.example"), Ok(()));
        assert_eq!(licenses_allow_host([&a, &b], "localhost"), Ok(()), "one license allows development hosts");
        assert_eq!(licenses_allow_host([&a, &b], "c.example"), Err(DomainRefusal::NotBound));
        assert_eq!(licenses_allow_host([&a], "localhost"), Err(DomainRefusal::DevHost));
        assert_eq!(licenses_allow_host([&a, &license(&[], false)], "c.example"), Ok(()), "an unbound license unbinds");
        assert_eq!(licenses_allow_host([], "a.example"), Err(DomainRefusal::NotBound));
    }

    #[cfg(feature = "psl")]
    #[test]
    fn wildcards_over_public_suffixes_are_caught() {
        for covering in
            ["*.com", "*.co.uk", "*.github.io", "*.herokuapp.com", "*.corp", "*.c.mm", "com", "github.io", "co.uk"]
        {
            assert!(covers_public_suffix(&rule(covering)), "{covering}");
        }
        for fine in [
            "*.example.com",
            "example.com",
            "acme.github.io",
            "*.acme.github.io",
            "*.b.c.mm",
            "*.acme.corp",
            "scanner",
            "10.0.0.1",
            "[::1]",
        ] {
            assert!(!covers_public_suffix(&rule(fine)), "{fine}");
        }
    }

    #[cfg(feature = "psl")]
    #[test]
    fn patterns_are_normalized_to_lowercase_punycode() {
        let normalized = |p: &str| normalize_pattern(p).map(|r| r.as_str().to_owned());
        assert_eq!(normalized("*.Bücher.DE").as_deref(), Ok("*.xn--bcher-kva.de"));
        assert_eq!(normalized(" App.Example.COM. ").as_deref(), Ok("app.example.com"));
        assert_eq!(normalized("食狮.公司.cn").as_deref(), Ok("xn--85x722f.xn--55qx5d.cn"));
        assert_eq!(normalized("[::1]").as_deref(), Ok("[::1]"));
        assert_eq!(normalized("bücher.de:8080"), Err(DomainError::Port));
        assert_eq!(normalized("https://bücher.de"), Err(DomainError::Scheme));
        assert_eq!(normalized("bücher..de"), Err(DomainError::EmptyLabel));
        assert_eq!(normalized("*.*.bücher.de"), Err(DomainError::MisplacedWildcard));
        assert_eq!(normalized("xn--a.com"), Err(DomainError::InvalidIdn));
        // An IDN that normalizes to the same name matches the punycode host a browser reports.
        assert!(normalize_pattern("*.bücher.de").is_ok_and(|r| r.matches("shop.xn--bcher-kva.de")));
    }

    #[cfg(feature = "psl")]
    #[test]
    fn registrable_domains_refuse_addresses_and_empty_labels() {
        assert_eq!(registrable_domain("www.acme.github.io").as_deref(), Some("acme.github.io"));
        assert_eq!(registrable_domain("WWW.Bücher.de.").as_deref(), Some("xn--bcher-kva.de"));
        for none in ["127.0.0.1", "[::1]", "::1", "a..example.com", "", "github.io"] {
            assert_eq!(registrable_domain(none), None, "{none}");
        }
    }
}
