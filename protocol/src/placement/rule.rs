//! The placement rule from a bounded view: which n peers hold a key.
//!
//! Owns: the rule every node applies to the peers its own Kademlia lookup found for a key:
//! 1. the **candidates** are the c·n peers closest to the key in Kademlia's XOR metric ([`super::xor`]:
//!    the same ids libp2p uses, so `get_closest_peers(key)` returns them): by default c·n = k =
//!    [`MAX_CANDIDATES`] = 20, exactly what one lookup returns (c = 4 for n = 5; n if n > 20);
//! 2. the **group** is the top n candidates by rendezvous weight ([`super::weight`]), skipping a
//!    candidate whose public prefix already has [`Diversity::max_per_prefix`] members; if fewer than
//!    n remain, the next XOR-closest peers (in distance order) fill the group;
//! 3. a **replacement** for a lost holder is the first peer of that same order that is not a holder
//!    and fits the diversity rule with the holders that stay.
//!
//! Rendezvous over the candidates balances load like rendezvous over everyone (XOR-closest alone
//! gives a node a share of keys proportional to the gap before its id, which varies a lot); the
//! candidate set keeps the view bounded: O(log N) lookup hops and no membership list. c was chosen by
//! the simulation ([`super::sim`], docs/placement.md): 20 candidates (c = 4 for n = 5) keep the
//! busiest node within 2x the mean at 100 nodes and 1,000 keys; more balance better but need more
//! than one lookup, fewer balance worse at the same stability cost.
//! Must never: do I/O, or take a peer's word for the group (callers pass their own lookup's view).

use super::diversity::{Diversity, PrefixCount};
use super::{rank_by, xor};
use crate::keys::DataKey;
use std::net::IpAddr;

/// Kademlia's k (libp2p's `K_VALUE`): one `get_closest_peers` returns at most this many peers, and
/// the default candidate set is that many.
pub const MAX_CANDIDATES: usize = 20;

/// The default number of candidates for groups of `n`: k = [`MAX_CANDIDATES`], or n if larger.
pub fn candidate_count(n: usize) -> usize {
    n.max(MAX_CANDIDATES)
}

/// A peer as a node sees it: its id (`PeerId::to_bytes()`) and the addresses it observed it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerEntry {
    pub id: Vec<u8>,
    pub addrs: Vec<IpAddr>,
}

impl PeerEntry {
    /// A peer with no observed public address (the diversity rule does not count it).
    pub fn new(id: Vec<u8>) -> Self {
        PeerEntry { id, addrs: Vec::new() }
    }
}

/// The rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Group size.
    pub n: usize,
    /// How many XOR-closest peers are candidates (c·n; never fewer than n).
    pub candidates: usize,
    /// At most a few members per public /24 or /48.
    pub diversity: Diversity,
}

impl Rule {
    /// The default rule for groups of `n`.
    pub fn new(n: usize) -> Self {
        Rule { n, candidates: candidate_count(n), diversity: Diversity::default() }
    }

    /// The number of candidates (at least n).
    pub fn candidates(&self) -> usize {
        self.candidates.max(self.n)
    }
}

/// The rule's order over a view: the c·n XOR-closest peers ranked by rendezvous weight, then every
/// other peer by XOR distance. A group takes the first n that fit the diversity rule.
pub fn order_by<'a, T: 'a>(
    key: &DataKey,
    view: impl IntoIterator<Item = &'a T>,
    rule: &Rule,
    id: impl Fn(&T) -> &[u8] + Copy,
) -> Vec<&'a T> {
    let by_distance = xor::closest(&xor::key_id(key), view, usize::MAX, id);
    let m = rule.candidates().min(by_distance.len());
    let (cands, rest) = by_distance.split_at(m);
    let mut out: Vec<&T> = rank_by(key, cands.iter(), |p: &&T| id(p)).into_iter().copied().collect();
    out.extend_from_slice(rest);
    out
}

/// The group of `key` in `view` (fewer than n members only when the view has fewer fitting peers).
pub fn group_by<'a, T: 'a>(
    key: &DataKey,
    view: impl IntoIterator<Item = &'a T>,
    rule: &Rule,
    id: impl Fn(&T) -> &[u8] + Copy,
    addrs: impl Fn(&T) -> &[IpAddr],
) -> Vec<&'a T> {
    fill(order_by(key, view, rule, id), PrefixCount::new(rule.diversity), rule.n, addrs)
}

fn fill<T>(order: Vec<&T>, mut count: PrefixCount, need: usize, addrs: impl Fn(&T) -> &[IpAddr]) -> Vec<&T> {
    let mut out = Vec::with_capacity(need);
    for p in order {
        if out.len() == need {
            break;
        }
        if count.admits(addrs(p)) {
            count.add(addrs(p));
            out.push(p);
        }
    }
    out
}

/// The group of `key` among the peers of `view` (see the module doc).
pub fn group<'a>(key: &DataKey, view: &'a [PeerEntry], rule: &Rule) -> Vec<&'a PeerEntry> {
    group_by(key, view, rule, |p| &p.id, |p| &p.addrs)
}

/// The c·n candidates of `key` in `view`, nearest first.
pub fn candidates<'a>(key: &DataKey, view: &'a [PeerEntry], rule: &Rule) -> Vec<&'a PeerEntry> {
    xor::closest(&xor::key_id(key), view, rule.candidates(), |p| &p.id)
}

/// Up to `need` replacements for lost holders: the first peers of the rule's order (among the live
/// `view`) that are not `holders` (ids of the holders that stay) and fit the diversity rule with
/// them (their addresses as `view` has them).
pub fn replacements<'a>(
    key: &DataKey,
    view: &'a [PeerEntry],
    holders: &[&[u8]],
    need: usize,
    rule: &Rule,
) -> Vec<&'a PeerEntry> {
    let mut count = PrefixCount::new(rule.diversity);
    for p in view.iter().filter(|p| holders.contains(&p.id.as_slice())) {
        count.add(&p.addrs);
    }
    let order: Vec<&PeerEntry> =
        order_by(key, view, rule, |p| &p.id).into_iter().filter(|p| !holders.contains(&p.id.as_slice())).collect();
    fill(order, count, need, |p| &p.addrs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    pub(crate) fn view(n: usize, seed: u64) -> Vec<PeerEntry> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let mut id = vec![0u8; 38];
                rng.fill_bytes(&mut id);
                PeerEntry::new(id)
            })
            .collect()
    }

    fn ids<'a>(g: &[&'a PeerEntry]) -> Vec<&'a [u8]> {
        let mut v: Vec<&[u8]> = g.iter().map(|p| p.id.as_slice()).collect();
        v.sort();
        v
    }

    #[test]
    fn group_is_top_n_by_weight_among_the_xor_closest() {
        let v = view(200, 1);
        let key = DataKey([3; 32]);
        let rule = Rule::new(5);
        let g = group(&key, &v, &rule);
        assert_eq!(g.len(), 5);
        let cands = candidates(&key, &v, &rule);
        assert_eq!(cands.len(), 20);
        let best: Vec<&PeerEntry> = rank_by(&key, cands.iter(), |p| &p.id).into_iter().take(5).copied().collect();
        assert_eq!(g, best);
        // every member is among the candidates, and no non-candidate is closer than the last one
        let kid = xor::key_id(&key);
        let far = cands.iter().map(|p| xor::distance(&kid, &xor::peer_id(&p.id))).max().unwrap();
        for p in &v {
            let d = xor::distance(&kid, &xor::peer_id(&p.id));
            assert_eq!(d <= far, cands.contains(&p));
        }
    }

    #[test]
    fn order_independent_and_bounded_view_is_enough() {
        let v = view(300, 2);
        let key = DataKey([4; 32]);
        let rule = Rule::new(5);
        let g = ids(&group(&key, &v, &rule));
        let mut rev = v.clone();
        rev.reverse();
        assert_eq!(g, ids(&group(&key, &rev, &rule)));
        // a lookup returns only the k = 20 closest: the group from that bounded view is the same
        let kid = xor::key_id(&key);
        let near: Vec<PeerEntry> = xor::closest(&kid, &v, MAX_CANDIDATES, |p| &p.id).into_iter().cloned().collect();
        assert_eq!(g, ids(&group(&key, &near, &rule)));
    }

    #[test]
    fn candidate_counts() {
        assert_eq!(candidate_count(3), 20);
        assert_eq!(candidate_count(5), 20);
        assert_eq!(candidate_count(25), 25);
        assert_eq!(Rule { candidates: 2, ..Rule::new(5) }.candidates(), 5);
        assert_eq!(Rule::new(9).candidates(), 20);
    }

    #[test]
    fn small_view_gives_a_small_group() {
        let v = view(4, 3);
        let rule = Rule::new(5);
        assert_eq!(group(&DataKey([1; 32]), &v, &rule).len(), 4);
    }

    #[test]
    fn diversity_skips_a_full_prefix_and_the_next_peer_fills_in() {
        let mut v = view(100, 4);
        let key = DataKey([5; 32]);
        let rule = Rule::new(5);
        let plain = group(&key, &v, &rule).into_iter().cloned().collect::<Vec<_>>();
        // put the top three in one public /24: the third must give way
        for (i, p) in v.iter_mut().enumerate() {
            p.addrs = vec![format!("198.51.{}.{}", i % 200, 1 + i / 200).parse().unwrap()];
        }
        let top3: Vec<Vec<u8>> = plain.iter().take(3).map(|p| p.id.clone()).collect();
        for p in v.iter_mut().filter(|p| top3.contains(&p.id)) {
            p.addrs = vec!["203.0.113.9".parse().unwrap()];
        }
        let g = group(&key, &v, &rule);
        assert_eq!(g.len(), 5);
        assert!(super::super::diversity::check(g.iter().map(|p| &p.addrs[..]), rule.diversity).is_ok());
        assert_eq!(g.iter().filter(|p| top3.contains(&p.id)).count(), 2);
        assert!(g.iter().any(|p| p.id == plain[3].id) && g.iter().any(|p| p.id == plain[4].id));
        // private addresses are exempt: the same three on 10.0.0.x stay together
        for p in v.iter_mut().filter(|p| top3.contains(&p.id)) {
            p.addrs = vec!["10.0.0.9".parse().unwrap()];
        }
        assert_eq!(ids(&group(&key, &v, &rule)), ids(&plain.iter().collect::<Vec<_>>()));
    }

    #[test]
    fn a_replacement_is_what_the_rule_gives_without_the_lost_holder() {
        let v = view(150, 5);
        let rule = Rule::new(5);
        for k in 0..30u8 {
            let key = DataKey([k; 32]);
            let g: Vec<PeerEntry> = group(&key, &v, &rule).into_iter().cloned().collect();
            let lost = &g[(k as usize) % 5];
            let live: Vec<PeerEntry> = v.iter().filter(|p| p.id != lost.id).cloned().collect();
            let stay: Vec<&[u8]> = g.iter().filter(|p| p.id != lost.id).map(|p| p.id.as_slice()).collect();
            let r = replacements(&key, &live, &stay, 1, &rule);
            assert_eq!(r.len(), 1);
            let mut repaired: Vec<&[u8]> = stay.clone();
            repaired.push(&r[0].id);
            repaired.sort();
            assert_eq!(repaired, ids(&group(&key, &live, &rule)), "repair keeps the group the rule's group");
        }
    }
}
