//! Per-address rate limits on the protocol routes (`governor`, one GCRA state per address in a
//! sharded map), and which address a request comes from: the connection's peer, or, only when
//! the operator says the server is behind a proxy, the address that proxy appended to
//! `X-Forwarded-For`. It limits nothing else (health check, metrics, static files), and it
//! never sleeps: a request over the limit is refused at once with `RATE_LIMITED` and a
//! `Retry-After`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// The default sustained rate per address, requests per second. A device sends one request per
/// page load and one per 3-minute slot, so this admits a few thousand devices behind one NAT.
pub const DEFAULT_PER_SECOND: u32 = 20;
/// The default burst per address: a whole office opening its pages at nine.
pub const DEFAULT_BURST: u32 = 100;

/// How many limited requests pass between two sweeps of the addresses no longer limited, so
/// that the map of addresses stays as small as the traffic of the last moments.
const SWEEP_EVERY: u64 = 10_000;

/// The address a request comes from, as `http::observe` found it for the log and the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address of a request: the rightmost `X-Forwarded-For` entry (the one the trusted
/// proxy appended; entries left of it are the client's own say) when `trust_forwarded_for`,
/// else, and when that header has no address, the peer's. `None` only when neither is known
/// (a router driven without a socket, as in tests).
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trust_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = || {
        let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
        let entry = last.rsplit(',').next()?.trim();
        // Some proxies add the port: `203.0.113.7:51234` or `[2001:db8::1]:51234`.
        entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
    };
    trust_forwarded_for.then(forwarded).flatten().or(peer.map(|p| p.ip())).map(canonical)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so one client has one form.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key an address is limited under: IPv4 addresses one by one, IPv6 ones by their /64,
/// the block one subscriber gets (else one client could take 2^64 fresh keys).
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The per-address limit: a sustained rate and a burst. `per_second == 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { per_second: DEFAULT_PER_SECOND, burst: DEFAULT_BURST }
    }
}

impl RateLimit {
    /// No limit at all (load tests from one address).
    pub const OFF: RateLimit = RateLimit { per_second: 0, burst: 0 };
}

/// The limiter of one server: the GCRA state of every address seen lately.
pub struct Limiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("on", &self.limiter.is_some()).finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter for `limit`; a burst of 0 with a rate means a burst of the rate.
    pub fn new(limit: RateLimit) -> Self {
        let limiter = NonZeroU32::new(limit.per_second).map(|rate| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(rate);
            DefaultKeyedRateLimiter::dashmap(Quota::per_second(rate).allow_burst(burst))
        });
        Limiter { limiter, checks: AtomicU64::new(0) }
    }

    /// Takes one request of `ip`'s allowance; `Err(wait)` when it has none left, with the time
    /// until it has one again.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&limit_key(ip)).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted_and_only_its_last_entry() {
        let peer = Some("10.0.0.5:4000".parse().unwrap());
        let spoofed = headers(&["198.51.100.1, 203.0.113.7"]);
        assert_eq!(client_ip(peer, &spoofed, false), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(client_ip(peer, &spoofed, true), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(
            client_ip(peer, &headers(&["198.51.100.1", "203.0.113.8:123"]), true),
            Some("203.0.113.8".parse().unwrap())
        );
        assert_eq!(client_ip(peer, &headers(&["[2001:db8::1]:443"]), true), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(client_ip(peer, &headers(&["unknown"]), true), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(client_ip(peer, &HeaderMap::new(), true), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(
            client_ip(Some("[::ffff:192.0.2.9]:1".parse().unwrap()), &HeaderMap::new(), false),
            Some("192.0.2.9".parse().unwrap())
        );
        assert_eq!(client_ip(None, &HeaderMap::new(), false), None);
    }

    #[test]
    fn an_address_past_its_burst_waits_and_others_do_not() {
        let limiter = Limiter::new(RateLimit { per_second: 1, burst: 2 });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limiter.check(a), Ok(()));
        assert_eq!(limiter.check(a), Ok(()));
        let wait = limiter.check(a).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(limiter.check("192.0.2.2".parse().unwrap()), Ok(()));
        // One /64 is one subscriber.
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(limiter.check(v6a), Ok(()));
        assert_eq!(limiter.check(v6b), Ok(()));
        assert!(limiter.check(v6a).is_err());
        assert_eq!(limiter.check("2001:db8:1:3::1".parse().unwrap()), Ok(()));
    }

    #[test]
    fn a_rate_of_zero_limits_nothing() {
        let limiter = Limiter::new(RateLimit::OFF);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.check(a).is_ok()));
    }
}
