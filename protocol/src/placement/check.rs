//! The group check: a node accepts a proposed custody group only from its own view.
//!
//! Owns: the decision whether a group someone proposes (an owner storing, a coordinator repairing, a
//! session's committee) is the group this node computes for the key, up to a tolerance for views
//! that differ a little. Refused: a group of the wrong size or with a duplicate; a **foreign peer**
//! (a member not among this node's own c·n + tolerance closest candidates — unknown to it, or too far
//! from the key); a group breaking the diversity rule (with the addresses *this node* observed);
//! and a group that differs from this node's own group by more than the tolerance.
//!
//! Tolerance. One peer that one view has and the other lacks changes the group by at most one
//! member (removing a candidate lets at most one other peer in: the next-ranked candidate or the
//! next-closest peer), so views differing by d peers give groups differing by at most d members.
//! Two honest lookups for a key in a settled network find the same candidates (the simulation's
//! "exact" column); they differ around a join or a departure not yet seen by both. The default
//! tolerance is [`DEFAULT_TOLERANCE`] = 1 member: one such event. A proposer can use the tolerance to
//! choose that many members among the candidates instead of the rule's, so it counts in the Sybil
//! cost model (docs/threat-model.md §3.1); it is a parameter, and 0 makes the check exact.
//! A foreign peer may be a peer this node has not found yet: callers should refresh their view with
//! a lookup for the key and check again, never accept the peer on the proposer's word.
//! Must never: do I/O, or use the proposer's addresses or candidates.

use super::diversity::{self, TooManyInPrefix};
use super::rule::{self, PeerEntry, Rule};
use super::xor;
use crate::keys::DataKey;

/// Members a proposed group may differ from this node's own group by.
pub const DEFAULT_TOLERANCE: usize = 1;

/// Why a proposed group is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRefusal {
    #[error("proposed group has {got} members, this node's rule gives {want}")]
    WrongSize { got: usize, want: usize },
    #[error("proposed group lists peer {0} twice")]
    Duplicate(String),
    #[error("peer {0} is not among this node's candidates for the key (foreign peer)")]
    Foreign(String),
    #[error("proposed group breaks the diversity rule: {0}")]
    Diversity(#[from] TooManyInPrefix),
    #[error("proposed group differs from this node's group by {differ} members (tolerance {tolerance})")]
    Disagrees { differ: usize, tolerance: usize },
}

/// Checks a proposed group (peer ids, any order) for `key` against this node's `view` (its own
/// lookup's peers with the addresses it observed). `tolerance`: see the module doc.
pub fn check_group(
    key: &DataKey,
    view: &[PeerEntry],
    proposed: &[&[u8]],
    rule: &Rule,
    tolerance: usize,
) -> Result<(), GroupRefusal> {
    let own = rule::group(key, view, rule);
    if proposed.len() != own.len() {
        return Err(GroupRefusal::WrongSize { got: proposed.len(), want: own.len() });
    }
    for (i, p) in proposed.iter().enumerate() {
        if proposed[..i].contains(p) {
            return Err(GroupRefusal::Duplicate(hex::encode(p)));
        }
    }
    // A proposer whose view lacks up to `tolerance` of this node's near peers sees candidates that
    // far out in this node's order.
    let near = xor::closest(&xor::key_id(key), view, rule.candidates() + tolerance, |p: &PeerEntry| &p.id);
    let mut members: Vec<&PeerEntry> = Vec::with_capacity(proposed.len());
    for p in proposed {
        match near.iter().find(|q| q.id.as_slice() == *p) {
            Some(q) => members.push(q),
            None => return Err(GroupRefusal::Foreign(hex::encode(p))),
        }
    }
    diversity::check(members.iter().map(|p| &p.addrs[..]), rule.diversity)?;
    let differ = members.iter().filter(|p| !own.iter().any(|q| q.id == p.id)).count();
    if differ > tolerance {
        return Err(GroupRefusal::Disagrees { differ, tolerance });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::rule::tests::view;

    fn ids(g: &[&PeerEntry]) -> Vec<Vec<u8>> {
        g.iter().map(|p| p.id.clone()).collect()
    }

    fn as_refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
        v.iter().map(|x| x.as_slice()).collect()
    }

    #[test]
    fn own_group_is_accepted_in_any_order() {
        let v = view(200, 10);
        let rule = Rule::new(5);
        let key = DataKey([1; 32]);
        let mut g = ids(&rule::group(&key, &v, &rule));
        g.reverse();
        assert_eq!(check_group(&key, &v, &as_refs(&g), &rule, 0), Ok(()));
    }

    #[test]
    fn views_that_differ_by_a_few_peers_agree() {
        // The proposer's view misses some peers this node has (not seen yet / already gone), and this
        // node misses some the proposer has; over many keys, every group the proposer computes passes.
        let full = view(400, 11);
        let rule = Rule::new(5);
        let mut differed = 0;
        for k in 0..200u32 {
            let mut kb = [0u8; 32];
            kb[..4].copy_from_slice(&k.to_be_bytes());
            let key = DataKey(kb);
            let kid = xor::key_id(&key);
            // the 25 nearest peers: drop one of them from the proposer's view and another from ours
            let near: Vec<&PeerEntry> = xor::closest(&kid, &full, 25, |p| &p.id);
            let gone_there = &near[(k as usize) % 25].id;
            let gone_here = &near[(k as usize * 7 + 3) % 25].id;
            let theirs: Vec<PeerEntry> = full.iter().filter(|p| &p.id != gone_there).cloned().collect();
            let ours: Vec<PeerEntry> = full.iter().filter(|p| &p.id != gone_here).cloned().collect();
            let proposed = ids(&rule::group(&key, &theirs, &rule));
            if proposed.iter().any(|p| p == gone_here) {
                // this node does not know a member at all: refused as foreign (it must look it up)
                assert!(matches!(
                    check_group(&key, &ours, &as_refs(&proposed), &rule, DEFAULT_TOLERANCE),
                    Err(GroupRefusal::Foreign(_))
                ));
                continue;
            }
            let own = ids(&rule::group(&key, &ours, &rule));
            if own.iter().collect::<std::collections::BTreeSet<_>>() != proposed.iter().collect() {
                differed += 1;
            }
            assert_eq!(
                check_group(&key, &ours, &as_refs(&proposed), &rule, 2),
                Ok(()),
                "two peers of difference: within tolerance 2"
            );
            // one peer of difference each way is one member at most in the common case, never more than 2
        }
        assert!(differed > 0, "the views did differ in some groups");
        // one peer of difference: tolerance 1 always suffices
        for k in 0..200u32 {
            let mut kb = [0u8; 32];
            kb[..4].copy_from_slice(&k.to_be_bytes());
            let key = DataKey(kb);
            let kid = xor::key_id(&key);
            let near: Vec<&PeerEntry> = xor::closest(&kid, &full, 20, |p| &p.id);
            let gone = &near[(k as usize) % 20].id;
            let theirs: Vec<PeerEntry> = full.iter().filter(|p| &p.id != gone).cloned().collect();
            let proposed = ids(&rule::group(&key, &theirs, &rule));
            assert_eq!(check_group(&key, &full, &as_refs(&proposed), &rule, DEFAULT_TOLERANCE), Ok(()));
        }
    }

    #[test]
    fn a_foreign_peer_is_refused() {
        let v = view(200, 12);
        let rule = Rule::new(5);
        let key = DataKey([2; 32]);
        let mut g = ids(&rule::group(&key, &v, &rule));
        // a peer this node has never seen
        g[0] = vec![0xee; 38];
        assert_eq!(
            check_group(&key, &v, &as_refs(&g), &rule, DEFAULT_TOLERANCE),
            Err(GroupRefusal::Foreign(hex::encode([0xee; 38])))
        );
        // a peer this node knows, but far from the key (not among its candidates)
        let kid = xor::key_id(&key);
        let far = xor::closest(&kid, &v, 200, |p| &p.id)[100].id.clone();
        g[0] = far.clone();
        assert_eq!(
            check_group(&key, &v, &as_refs(&g), &rule, DEFAULT_TOLERANCE),
            Err(GroupRefusal::Foreign(hex::encode(&far)))
        );
    }

    #[test]
    fn more_than_tolerance_differences_are_refused() {
        let v = view(200, 13);
        let rule = Rule::new(5);
        let key = DataKey([3; 32]);
        let own = ids(&rule::group(&key, &v, &rule));
        let others: Vec<Vec<u8>> =
            rule::candidates(&key, &v, &rule).into_iter().map(|p| p.id.clone()).filter(|p| !own.contains(p)).collect();
        let mut one = own.clone();
        one[4] = others[0].clone();
        assert_eq!(check_group(&key, &v, &as_refs(&one), &rule, 1), Ok(()));
        assert_eq!(
            check_group(&key, &v, &as_refs(&one), &rule, 0),
            Err(GroupRefusal::Disagrees { differ: 1, tolerance: 0 })
        );
        let mut two = one.clone();
        two[3] = others[1].clone();
        assert_eq!(
            check_group(&key, &v, &as_refs(&two), &rule, 1),
            Err(GroupRefusal::Disagrees { differ: 2, tolerance: 1 })
        );
    }

    #[test]
    fn size_duplicates_and_the_prefix_rule() {
        let mut v = view(200, 14);
        let rule = Rule::new(5);
        let key = DataKey([4; 32]);
        let own = ids(&rule::group(&key, &v, &rule));
        assert_eq!(
            check_group(&key, &v, &as_refs(&own[..4]), &rule, 1),
            Err(GroupRefusal::WrongSize { got: 4, want: 5 })
        );
        let mut dup = own.clone();
        dup[1] = dup[0].clone();
        assert_eq!(check_group(&key, &v, &as_refs(&dup), &rule, 1), Err(GroupRefusal::Duplicate(hex::encode(&own[0]))));
        // this node sees three of the proposed members in one public /24: refused, whatever the
        // proposer says about their addresses
        for p in v.iter_mut().filter(|p| own[..3].contains(&p.id)) {
            p.addrs = vec!["203.0.113.7".parse().unwrap()];
        }
        assert!(matches!(check_group(&key, &v, &as_refs(&own), &rule, 1), Err(GroupRefusal::Diversity(_))));
        // on a private subnet (compose, Kubernetes) the same group passes
        for p in v.iter_mut().filter(|p| own[..3].contains(&p.id)) {
            p.addrs = vec!["172.18.0.7".parse().unwrap()];
        }
        assert_eq!(check_group(&key, &v, &as_refs(&own), &rule, 0), Ok(()));
    }
}
