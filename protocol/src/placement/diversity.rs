//! The diversity rule: at most a few members of one custody group per network prefix.
//!
//! Owns: which prefix an address counts in (/24 for IPv4, /48 for IPv6; an IPv4-mapped IPv6 address
//! counts as IPv4), which addresses are exempt (by default private, loopback, link-local, shared
//! CGNAT and unique-local ranges: compose and Kubernetes put every node on one such subnet), and the
//! per-group count. As IPFS and Ethereum bound Kademlia table diversity, this bounds how many seats
//! of one group an attacker gets from one cheap address block. Must never: trust an address a peer
//! claims about itself — callers pass the addresses they observe the peer connected from.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Default: at most 2 members of one group in one /24 or /48.
pub const DEFAULT_MAX_PER_PREFIX: usize = 2;

/// The diversity rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diversity {
    /// Most members of one group whose public addresses fall in one prefix.
    pub max_per_prefix: usize,
    /// Exempt private, loopback and link-local ranges (the default; turn off only to test the rule).
    pub exempt_private: bool,
}

impl Default for Diversity {
    fn default() -> Self {
        Diversity { max_per_prefix: DEFAULT_MAX_PER_PREFIX, exempt_private: true }
    }
}

/// A network prefix a public address counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    /// The first three octets of an IPv4 address (/24).
    V4([u8; 3]),
    /// The first three 16-bit groups of an IPv6 address (/48).
    V6([u16; 3]),
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Prefix::V6([a, b, c]) => write!(f, "{a:x}:{b:x}:{c:x}::/48"),
        }
    }
}

fn v4_exempt(ip: &Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        // 100.64.0.0/10, shared address space (RFC 6598: carrier-grade NAT, some cluster networks)
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

fn v6_exempt(ip: &Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
}

/// The prefix `ip` counts in, or `None` when it is exempt under `exempt_private`.
pub fn prefix(ip: &IpAddr, exempt_private: bool) -> Option<Prefix> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => *ip,
        },
        v4 => *v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            if exempt_private && v4_exempt(&v4) {
                return None;
            }
            let o = v4.octets();
            Some(Prefix::V4([o[0], o[1], o[2]]))
        }
        IpAddr::V6(v6) => {
            if exempt_private && v6_exempt(&v6) {
                return None;
            }
            let s = v6.segments();
            Some(Prefix::V6([s[0], s[1], s[2]]))
        }
    }
}

/// A group whose members break the rule: `count` members share `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{count} members of the group are in {prefix} (at most {max} allowed)")]
pub struct TooManyInPrefix {
    pub prefix: Prefix,
    pub count: usize,
    pub max: usize,
}

/// Counts a group's members per prefix as they are added. A member with several addresses counts
/// once in each distinct prefix of its (non-exempt) addresses.
#[derive(Debug, Clone)]
pub struct PrefixCount {
    rule: Diversity,
    counts: HashMap<Prefix, usize>,
}

impl PrefixCount {
    pub fn new(rule: Diversity) -> Self {
        PrefixCount { rule, counts: HashMap::new() }
    }

    fn prefixes(&self, addrs: &[IpAddr]) -> Vec<Prefix> {
        let mut p: Vec<Prefix> = addrs.iter().filter_map(|a| prefix(a, self.rule.exempt_private)).collect();
        p.sort();
        p.dedup();
        p
    }

    /// Whether a member with these addresses can join without breaking the rule.
    pub fn admits(&self, addrs: &[IpAddr]) -> bool {
        self.prefixes(addrs).iter().all(|p| self.counts.get(p).copied().unwrap_or(0) < self.rule.max_per_prefix)
    }

    /// Adds a member (whether or not it breaks the rule; see [`PrefixCount::admits`]).
    pub fn add(&mut self, addrs: &[IpAddr]) {
        for p in self.prefixes(addrs) {
            *self.counts.entry(p).or_insert(0) += 1;
        }
    }

    /// The first prefix over the limit, if any (deterministic: smallest prefix first).
    pub fn violation(&self) -> Option<TooManyInPrefix> {
        let mut over: Vec<(&Prefix, &usize)> =
            self.counts.iter().filter(|(_, c)| **c > self.rule.max_per_prefix).collect();
        over.sort();
        over.first().map(|(p, c)| TooManyInPrefix { prefix: **p, count: **c, max: self.rule.max_per_prefix })
    }
}

/// Checks a whole group: each member's observed addresses.
pub fn check<'a>(members: impl IntoIterator<Item = &'a [IpAddr]>, rule: Diversity) -> Result<(), TooManyInPrefix> {
    let mut c = PrefixCount::new(rule);
    for addrs in members {
        c.add(addrs);
    }
    match c.violation() {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_and_exemptions() {
        assert_eq!(prefix(&ip("8.8.8.8"), true), Some(Prefix::V4([8, 8, 8])));
        assert_eq!(prefix(&ip("::ffff:8.8.4.4"), true), Some(Prefix::V4([8, 8, 4])));
        assert_eq!(prefix(&ip("2001:db8:1:2::5"), true), Some(Prefix::V6([0x2001, 0xdb8, 1])));
        for private in [
            "10.1.2.3",
            "172.20.0.5",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.3.4",
            "100.64.1.1",
            "::1",
            "fe80::1",
            "fd00::7",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(prefix(&ip(private), true), None, "{private} is exempt by default");
            assert!(prefix(&ip(private), false).is_some(), "{private} counts when exemption is off");
        }
        assert_eq!(prefix(&ip("100.128.0.1"), true), Some(Prefix::V4([100, 128, 0])));
        assert_eq!(Prefix::V4([1, 2, 3]).to_string(), "1.2.3.0/24");
        assert_eq!(Prefix::V6([0x2001, 0xdb8, 1]).to_string(), "2001:db8:1::/48");
    }

    #[test]
    fn at_most_max_per_prefix() {
        let rule = Diversity::default();
        let a = [ip("8.8.8.1")];
        let b = [ip("8.8.8.2")];
        let c = [ip("8.8.8.3")];
        let d = [ip("9.9.9.9")];
        assert!(check([&a[..], &b[..], &d[..]], rule).is_ok());
        let err = check([&a[..], &b[..], &c[..], &d[..]], rule).unwrap_err();
        assert_eq!(err, TooManyInPrefix { prefix: Prefix::V4([8, 8, 8]), count: 3, max: 2 });
        // IPv6 by /48: two addresses in different /64s of one /48 are one prefix
        let v6: Vec<[IpAddr; 1]> =
            ["2001:db8:5:1::1", "2001:db8:5:2::1", "2001:db8:5:3::1"].iter().map(|s| [ip(s)]).collect();
        assert!(check(v6.iter().map(|a| &a[..]), rule).is_err());
        assert!(check(v6.iter().take(2).map(|a| &a[..]), rule).is_ok());
    }

    #[test]
    fn private_members_are_exempt_by_default() {
        let many: Vec<[IpAddr; 1]> = (1..=10).map(|i| [ip(&format!("172.18.0.{i}"))]).collect();
        assert!(check(many.iter().map(|a| &a[..]), Diversity::default()).is_ok());
        let strict = Diversity { exempt_private: false, ..Diversity::default() };
        assert!(check(many.iter().map(|a| &a[..]), strict).is_err());
    }

    #[test]
    fn a_member_counts_once_per_prefix_and_in_each_of_its_prefixes() {
        let rule = Diversity { max_per_prefix: 1, exempt_private: true };
        let mut c = PrefixCount::new(rule);
        c.add(&[ip("8.8.8.1"), ip("8.8.8.2"), ip("10.0.0.1")]);
        assert!(c.violation().is_none(), "two addresses of one member in one /24 count once");
        assert!(!c.admits(&[ip("1.1.1.1"), ip("8.8.8.9")]), "any of a member's prefixes can be full");
        assert!(c.admits(&[ip("1.1.1.1")]));
        assert!(c.admits(&[]), "a member without observed public addresses is not counted");
    }
}
