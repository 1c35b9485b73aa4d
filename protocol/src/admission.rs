//! Admission rules: who may sit on a computation's committee or a repaired custody group, which
//! threshold applies, and whether a grant covers an operation.
//!
//! Owns: the rules every dealer, member and endorser applies to a proposal **from facts it checks
//! itself** (the signed manifests, its own view of which peers are up, its own ledger's terms) —
//! never from the proposer's word: [`committee_shape`], [`expected_group`], [`check_group`],
//! [`classify`], [`grant_covers`] and [`provenance`]. The requester and the repair coordinator use
//! the same functions to build their proposals, so honest proposals pass.
//! Must never: do I/O, decide liveness (callers pass the peers they see up, themselves included), or
//! accept a group or threshold only because a signed message says so.
//!
//! Security argument (docs/threat-model.md has the whole of it):
//! - *Committee.* A computation runs on the custody group of its anchor input (the input with the
//!   largest group), as the owner-signed (or holder-endorsed) manifest records it. A seat may differ
//!   from the manifest only where the checking node itself sees that holder down, and then it must be
//!   one of the best-ranked live non-holders (the placement rule's order for the anchor key:
//!   `placement::rule`) in the checker's own view (its own lookup of the key). A proposer therefore cannot place its own nodes except where they would be placed by
//!   the public rule anyway; an honest dealer refuses anything else, and with at least one honest
//!   dealer per input nothing is dealt to a committee it refused.
//! - *Threshold.* The committee has the anchor's size and a threshold no lower than any input's, and
//!   a repair keeps size and threshold exactly: taking holders offline never lowers t.
//! - *Grants.* Under another owner's compute grant, every operand is that owner's own (non-derived)
//!   data, the operation is an aggregate of at least `min_count` of its values whose output does not
//!   determine its input (no `inv`, nothing over one value), so the grantee cannot pad, compare
//!   against chosen values, or multiply by an identity.

use crate::keys::DataKey;
use crate::manifest::{ManifestBody, Source};
use crate::mpc::Op;
use crate::placement;
use crate::policy::Level;
use crate::value::ValueMeta;

/// How many ranks past the exact next-ranked live non-holders a substitute may come from, for a
/// computation's committee (0: exactly the next-ranked ones, in the checker's own view).
pub const COMMITTEE_SLACK: usize = 0;
/// The same for a repair's replacements: one rank of tolerance, so that honest repairs do not stall
/// when two holders' views of a newly joined or just-gone node differ. A replacement ranked one
/// place lower buys an attacker nothing it could not get by grinding a peer id for that rank.
pub const REPAIR_SLACK: usize = 1;

/// Why a proposal was refused (the message is what the proposer sees).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AdmissionError {
    #[error("not enough custody nodes online: {0}")]
    NotEnoughNodes(String),
    #[error("bad committee: {0}")]
    Committee(String),
    #[error("access denied: {0}")]
    Denied(String),
}

fn committee(m: impl Into<String>) -> AdmissionError {
    AdmissionError::Committee(m.into())
}

fn denied(m: impl Into<String>) -> AdmissionError {
    AdmissionError::Denied(m.into())
}

/// The committee's anchor (the input with the largest custody group, the first such), its size n
/// and its threshold t = the largest threshold of any input. Refused when 2t ≥ n.
pub fn committee_shape(inputs: &[&ManifestBody]) -> Result<(usize, usize, usize), AdmissionError> {
    let mut anchor = None::<usize>;
    for (i, m) in inputs.iter().enumerate() {
        if anchor.is_none_or(|a| m.holders.len() > inputs[a].holders.len()) {
            anchor = Some(i);
        }
    }
    let a = anchor.ok_or_else(|| committee("no inputs"))?;
    let n = inputs[a].holders.len();
    let t = inputs.iter().map(|m| m.threshold as usize).max().unwrap_or(0);
    if t == 0 || 2 * t >= n {
        return Err(committee(format!(
            "the inputs' largest threshold ({t}) needs a committee larger than their largest group ({n})"
        )));
    }
    Ok((a, n, t))
}

/// The anchor's live non-holders in `live`, best-ranked first: the placement rule's order over the
/// checker's view (`placement::rule::order_by`: the key's XOR-closest candidates by rendezvous
/// weight, then farther peers by distance), so a replacement is the next one of the rule.
fn ranked_outsiders<'a>(anchor: &ManifestBody, live: &'a [Vec<u8>]) -> Vec<&'a Vec<u8>> {
    let rule = placement::rule::Rule::new(anchor.holders.len());
    placement::rule::order_by(&anchor.key, live, &rule, |p: &Vec<u8>| p.as_slice())
        .into_iter()
        .filter(|p| !anchor.holders.iter().any(|h| &h.peer == *p))
        .collect()
}

/// The group a proposer should propose: the anchor's holders in their manifest order, each holder
/// not in `live` replaced by the next-ranked live non-holder. Fails when too few nodes are up — the
/// group is never made smaller.
pub fn expected_group(anchor: &ManifestBody, live: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, AdmissionError> {
    let mut outsiders = ranked_outsiders(anchor, live).into_iter();
    let mut group = Vec::with_capacity(anchor.holders.len());
    for h in &anchor.holders {
        if live.contains(&h.peer) {
            group.push(h.peer.clone());
        } else {
            let r = outsiders.next().ok_or_else(|| {
                AdmissionError::NotEnoughNodes(format!(
                    "key {} needs {} nodes and too few are up to replace its missing holders",
                    anchor.key,
                    anchor.holders.len()
                ))
            })?;
            group.push(r.clone());
        }
    }
    Ok(group)
}

/// Checks a proposed group against the anchor manifest and the checker's own view `live` (itself
/// included): the same size; seat i is holder i, or — only where the checker sees holder i down —
/// a live non-holder, and the substitutes are among the `k + slack` best-ranked live non-holders in
/// the checker's view (k = the number of substituted seats).
pub fn check_group(
    anchor: &ManifestBody,
    proposed: &[Vec<u8>],
    live: &[Vec<u8>],
    slack: usize,
) -> Result<(), AdmissionError> {
    if proposed.len() != anchor.holders.len() {
        return Err(committee(format!("{} seats proposed for a key held by {}", proposed.len(), anchor.holders.len())));
    }
    let mut substitutes = Vec::new();
    for (seat, h) in proposed.iter().zip(&anchor.holders) {
        if *seat == h.peer {
            continue;
        }
        if live.contains(&h.peer) {
            return Err(committee("a seat of a holder that is up here is given to another node"));
        }
        if anchor.holders.iter().any(|o| &o.peer == seat) {
            return Err(committee("a holder is proposed for another holder's seat"));
        }
        substitutes.push(seat);
    }
    let allowed: Vec<&Vec<u8>> = ranked_outsiders(anchor, live).into_iter().take(substitutes.len() + slack).collect();
    if substitutes.iter().any(|s| !allowed.contains(s)) {
        return Err(committee("a substitute is not among the next-ranked live nodes here"));
    }
    Ok(())
}

/// Checks the dealers of a reshared input (participant index, x) against the input's manifest: at
/// least `min` of them (t + 1, or 2t + 1 for an actively secure computation, [`min_dealers`]),
/// distinct, each the holder of its x (`participants` are the peer ids by index). A dealer that is
/// not a holder, or a list of fewer than t + 1, would reshare something other than the key (a lone
/// dealer's Lagrange weight is 1: it would reshare its own share as the secret).
pub fn check_dealers(
    body: &ManifestBody,
    dealers: &[(u32, u64)],
    participants: &[Vec<u8>],
    min: usize,
) -> Result<(), AdmissionError> {
    let mut seen: Vec<u32> = Vec::with_capacity(dealers.len());
    for (p, x) in dealers {
        let peer = participants.get(*p as usize).ok_or_else(|| committee("dealer index"))?;
        let holder_x = body.holders.iter().find(|h| &h.peer == peer).map(|h| h.x);
        if holder_x != Some(*x) || seen.contains(p) {
            return Err(committee("a dealer is not a holder of the key at its own x"));
        }
        seen.push(*p);
    }
    if dealers.len() < min.max(body.threshold as usize + 1) {
        return Err(committee(format!("an input needs at least {} dealers", min.max(body.threshold as usize + 1))));
    }
    Ok(())
}

/// Dealers a computation needs per reshared input: t + 1 semi-honestly; 2t + 1 in active mode, so
/// that the committee can check the holders' shares (`mpc::reshare`): with fewer, t colluding
/// holders could move their shares onto another polynomial unseen.
pub fn min_dealers(body: &ManifestBody, security: crate::mpc::Security) -> usize {
    let t = body.threshold as usize;
    match security {
        crate::mpc::Security::SemiHonest => t + 1,
        crate::mpc::Security::Active => 2 * t + 1,
    }
}

/// Whose data a computation is on, as its requester sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Every input is the requester's own (data it stored, or results it derived — each derived
    /// input still needs the requester's access to its sources, checked by its holders).
    Own,
    /// Every input is `owner`'s own stored data (none derived): the requester needs `owner`'s grants.
    Grant { owner: crate::identity::PubkeyBytes },
}

/// Classifies the inputs of a computation by `requester`: all its own, or all one other owner's
/// non-derived keys. Anything else — mixing owners, or another owner's derived key — is refused:
/// an operand the requester controls next to another owner's data would let it pad an aggregate or
/// compare against chosen values.
pub fn classify(requester: &crate::identity::PubkeyBytes, inputs: &[&ManifestBody]) -> Result<Basis, AdmissionError> {
    let first = inputs.first().ok_or_else(|| committee("no inputs"))?;
    if inputs.iter().all(|m| m.owner == *requester) {
        return Ok(Basis::Own);
    }
    let owner = first.owner;
    if inputs.iter().any(|m| m.owner != owner) {
        return Err(denied("under a compute grant every operand must be the granting owner's data"));
    }
    if inputs.iter().any(|m| !m.derived_from.is_empty()) {
        return Err(denied("another owner's derived key cannot be computed on under a grant"));
    }
    // a key listed twice weights its values: mean(K1×60, K2…K5) against mean(K1…K5) gives K1
    for (i, m) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|o| o.key == m.key) {
            return Err(denied("under a grant each of the owner's keys may be an operand once"));
        }
    }
    Ok(Basis::Grant { owner })
}

/// The number of the owner's values each output of `op` aggregates, over the distinct input keys.
fn aggregated(op: &Op, inputs: &[(DataKey, &ValueMeta)]) -> Result<usize, AdmissionError> {
    let mut distinct: Vec<&(DataKey, &ValueMeta)> = Vec::with_capacity(inputs.len());
    for i in inputs {
        if !distinct.iter().any(|d| d.0 == i.0) {
            distinct.push(i);
        }
    }
    let count = |m: &ValueMeta| m.element_count().unwrap_or(0);
    Ok(match op {
        Op::Inv => return Err(denied("linalg.inv needs load access: its output determines its input")),
        Op::Mean | Op::Var | Op::Std | Op::Max | Op::Min => {
            let scalars = distinct.iter().filter(|d| matches!(d.1, ValueMeta::Int | ValueMeta::Float)).count();
            if scalars == distinct.len() {
                // over scalar keys: the number of keys
                distinct.len()
            } else if scalars > 0 {
                // a scalar beside arrays would be padded by them: mean(s, A) against mean(A) gives s
                return Err(denied("under a compute grant an aggregate is over scalar keys or over arrays, not both"));
            } else {
                // over arrays: each key must hold enough values on its own, or a large key pads a small one
                distinct.iter().map(|d| count(d.1)).min().unwrap_or(0)
            }
        }
        Op::Linregress => {
            let x = inputs.first().map_or(0, |i| count(i.1));
            let y = inputs.get(1).map_or(0, |i| count(i.1));
            if distinct.len() < 2 {
                // linregress(x, x) reveals only that r = 1, but it is still over one series
                x
            } else {
                x.min(y)
            }
        }
        Op::Cov { rowvar, .. } | Op::Corrcoef { rowvar } => {
            // each entry aggregates one value per observation: a 2-D key counts its observations
            let shape = inputs.first().map(|i| i.1.shape().unwrap_or_default()).unwrap_or_default();
            match shape.len() {
                1 => shape[0],
                2 => shape[usize::from(*rowvar)],
                _ => 0,
            }
        }
        Op::Ttest1samp { .. } => inputs.first().map_or(0, |i| count(i.1)),
        Op::TtestInd | Op::TtestWelch | Op::TtestRel => {
            // a group of one value next to a large one would let the t statistic probe that value
            let a = inputs.first().map_or(0, |i| count(i.1));
            let b = inputs.get(1).map_or(0, |i| count(i.1));
            a.min(b)
        }
        Op::Histogram { edges, .. } => {
            // each bin must stand for min_count values: N / bins over the smallest key (a bin's
            // actual count is secret; see docs/decisions.md)
            let smallest = distinct.iter().map(|d| count(d.1)).min().unwrap_or(0);
            if distinct.iter().any(|d| matches!(d.1, ValueMeta::Int | ValueMeta::Float)) {
                return Err(denied("under a compute grant a histogram is over arrays, not scalar keys"));
            }
            smallest * distinct.len() / edges.len().saturating_sub(1).max(1)
        }
        Op::Quantile { q, .. } => {
            // as an aggregate (a median of 1 value is the value), and under a list each quantile
            // must stand for min_count values (a list of N quantiles is the sorted data)
            let scalars = distinct.iter().filter(|d| matches!(d.1, ValueMeta::Int | ValueMeta::Float)).count();
            if scalars > 0 && scalars < distinct.len() {
                return Err(denied("under a compute grant a quantile is over scalar keys or over arrays, not both"));
            }
            let per = if scalars > 0 { distinct.len() } else { distinct.iter().map(|d| count(d.1)).min().unwrap_or(0) };
            let total: usize = distinct.iter().map(|d| count(d.1).max(1)).sum();
            let spacing = crate::mpc::quantile::grant_spacing(total, &Op::quantiles(q)).map_err(denied)?;
            if spacing < usize::MAX { per.min(spacing) } else { per }
        }
        Op::Lstsq { .. } | Op::LstsqStats { .. } => {
            // each coefficient aggregates every row (observation) of X and y
            let x = inputs.first().and_then(|i| i.1.shape()).and_then(|s| s.first().copied()).unwrap_or(0);
            let y = inputs.get(1).map_or(0, |i| count(i.1));
            x.min(y)
        }
        Op::Dot => {
            let shape = |m: &ValueMeta| m.shape().unwrap_or_default();
            let a = inputs.first().map(|i| shape(i.1)).unwrap_or_default();
            let b = inputs.get(1).map(|i| shape(i.1)).unwrap_or_default();
            if a.is_empty() || b.is_empty() {
                return Err(denied("linalg.dot with a scalar scales the other operand: it needs load access"));
            }
            // numpy.dot sums over the last axis of a: each output entry aggregates that many products
            a.last().copied().unwrap_or(0)
        }
    })
}

/// Whether terms `(level, min_count)` on the owner's keys cover `op` on `inputs` (key, metadata),
/// revealed (`store = false`) or kept as a derived key (`store = true`). Load covers every revealed
/// result. Compute — and every stored result, whatever the level, since a derived key outlives a
/// load grant — covers an aggregate of at least `min_count` (and at least two) of the owner's values
/// per output, and never `inv`.
pub fn grant_covers(
    level: Level,
    min_count: u32,
    op: &Op,
    inputs: &[(DataKey, &ValueMeta)],
    store: bool,
) -> Result<(), AdmissionError> {
    if level >= Level::Load && !store {
        return Ok(());
    }
    let n = aggregated(op, inputs)?;
    let need = (min_count as usize).max(2);
    if n < need {
        return Err(denied(format!(
            "a compute grant covers aggregates of at least {need} of the owner's values; this one covers {n}"
        )));
    }
    // a bin's count is secret, so the per-bin rule runs inside the MPC: the op must carry it
    if let Op::Histogram { min_count: m, .. } = op
        && (*m as usize) < need
    {
        return Err(denied(format!(
            "a histogram under a compute grant must check that every bin holds at least {need} values \
             (the op carries min_count {m})"
        )));
    }
    Ok(())
}

/// Whether `requester` may use the key of `body` at `level`, on this node's own policy state. A key
/// an owner stored: the owner, or a grantee of at least `level`. A derived key (non-empty
/// provenance): only the user who derived it, and only while it still has access to every source —
/// so revoking a source cuts off what was derived from it, and grants on a derived key by the user
/// who derived it are not honoured (nobody gets more from derived data than its owners allowed).
pub fn may_use(
    state: &crate::policy::PolicyState,
    body: &ManifestBody,
    requester: &crate::identity::PubkeyBytes,
    level: Level,
) -> bool {
    if body.derived_from.is_empty() {
        return state.may(&body.owner, requester, &body.key, level);
    }
    body.owner == *requester && body.derived_from.iter().all(|s| state.may(&s.owner, requester, &s.key, Level::Compute))
}

/// The provenance a stored result must record: the sorted, distinct root sources of the inputs
/// (an input's own provenance if it is derived, else the input itself), minus the requester's own
/// data. Empty when the result is computed only on the requester's own data.
pub fn provenance(requester: &crate::identity::PubkeyBytes, inputs: &[&ManifestBody]) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for m in inputs {
        if m.derived_from.is_empty() {
            if m.owner != *requester {
                out.push(Source { key: m.key, owner: m.owner });
            }
        } else {
            out.extend(m.derived_from.iter().filter(|s| s.owner != *requester).cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Holder, MANIFEST_VERSION};
    use crate::value::Dtype;

    fn peer(i: u8) -> Vec<u8> {
        vec![i; 8]
    }

    fn body(holders: &[u8], t: u32) -> ManifestBody {
        ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([7; 32]),
            owner: [2; 33],
            meta: ValueMeta::Int,
            threshold: t,
            holders: holders
                .iter()
                .enumerate()
                .map(|(i, p)| Holder { peer: peer(*p), x: i as u64 + 1, commitment: [0; 32] })
                .collect(),
            created_ms: 1,
            epoch: 0,
            derived_from: vec![],
            scale: crate::fixed::NumScale::DEFAULT,
        }
    }

    fn live(ids: &[u8]) -> Vec<Vec<u8>> {
        ids.iter().map(|i| peer(*i)).collect()
    }

    #[test]
    fn shape_takes_the_largest_group_and_the_largest_threshold() {
        let (a, b) = (body(&[1, 2, 3], 1), body(&[1, 2, 3, 4, 5], 2));
        assert_eq!(committee_shape(&[&a, &b]), Ok((1, 5, 2)));
        let c = body(&[1, 2, 3], 2);
        assert!(committee_shape(&[&c]).is_err(), "2t >= n is refused");
    }

    #[test]
    fn a_full_group_is_the_manifest_group_and_nothing_else_passes() {
        let m = body(&[1, 2, 3, 4, 5], 2);
        let all = live(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let g = expected_group(&m, &all).unwrap();
        assert_eq!(g, live(&[1, 2, 3, 4, 5]));
        check_group(&m, &g, &all, 0).unwrap();
        // a sybil in a seat of a holder that is up
        let mut bad = g.clone();
        bad[1] = peer(9);
        assert!(check_group(&m, &bad, &all, 0).is_err());
        // a smaller committee
        assert!(check_group(&m, &g[..3], &all, 0).is_err());
        // holders reordered
        let mut swapped = g.clone();
        swapped.swap(0, 1);
        assert!(check_group(&m, &swapped, &all, 0).is_err());
    }

    #[test]
    fn a_down_holder_is_replaced_by_the_next_ranked_live_node_only() {
        let m = body(&[1, 2, 3, 4, 5], 2);
        let view = live(&[1, 2, 4, 5, 6, 7, 8, 9]);
        let g = expected_group(&m, &view).unwrap();
        assert_eq!(g.len(), 5);
        check_group(&m, &g, &view, 0).unwrap();
        let best = g[2].clone();
        assert!(![1u8, 2, 3, 4, 5].iter().any(|i| peer(*i) == best));
        // any other live non-holder in that seat is refused at slack 0
        for other in [6u8, 7, 8, 9].iter().map(|i| peer(*i)).filter(|p| *p != best) {
            let mut alt = g.clone();
            alt[2] = other;
            assert!(check_group(&m, &alt, &view, 0).is_err());
        }
        // a node the checker does not see up is refused
        let mut ghost = g.clone();
        ghost[2] = peer(42);
        assert!(check_group(&m, &ghost, &view, 1).is_err());
        // the proposer's view keeping the down holder is fine: it is the manifest's own seat
        check_group(&m, &live(&[1, 2, 3, 4, 5]), &view, 0).unwrap();
        // too few nodes up: never a smaller group
        assert!(matches!(expected_group(&m, &live(&[1, 2, 4, 5])), Err(AdmissionError::NotEnoughNodes(_))));
    }

    #[test]
    fn dealers_are_t_plus_one_distinct_holders_at_their_own_x() {
        let m = body(&[1, 2, 3], 1);
        let parts = live(&[1, 2, 3, 9]);
        check_dealers(&m, &[(0, 1), (1, 2)], &parts, 2).unwrap();
        assert!(check_dealers(&m, &[(0, 1), (1, 2)], &parts, 3).is_err(), "active: 2t + 1");
        assert!(check_dealers(&m, &[(0, 1)], &parts, 2).is_err(), "too few");
        assert!(check_dealers(&m, &[(0, 1), (0, 1)], &parts, 2).is_err(), "twice");
        assert!(check_dealers(&m, &[(0, 2), (1, 1)], &parts, 2).is_err(), "another holder's x");
        assert!(check_dealers(&m, &[(0, 1), (3, 3)], &parts, 2).is_err(), "not a holder");
        assert!(check_dealers(&m, &[(0, 1), (7, 2)], &parts, 2).is_err(), "no such participant");
    }

    #[test]
    fn operands_must_all_be_one_owners_own_data() {
        let me = [9u8; 33];
        let mut mine = body(&[1, 2, 3], 1);
        mine.owner = me;
        let theirs = body(&[1, 2, 3], 1);
        assert_eq!(classify(&me, &[&mine, &mine]), Ok(Basis::Own));
        assert_eq!(classify(&me, &[&theirs]), Ok(Basis::Grant { owner: [2; 33] }));
        assert!(classify(&me, &[&theirs, &mine]).is_err(), "padding with the requester's own data");
        let mut derived = theirs.clone();
        derived.derived_from = vec![Source { key: DataKey([1; 32]), owner: [3; 33] }];
        assert!(classify(&me, &[&derived]).is_err());
        assert!(classify(&me, &[&theirs, &theirs]).is_err(), "a key listed twice under a grant");
    }

    #[test]
    fn compute_grants_cover_aggregates_only() {
        let arr = |shape: Vec<u64>| ValueMeta::Array { dtype: Dtype::Float, shape };
        let (k1, k2) = (DataKey([1; 32]), DataKey([2; 32]));
        let v50 = arr(vec![50]);
        let v3 = arr(vec![3]);
        let c = Level::Compute;
        grant_covers(c, 5, &Op::Mean, &[(k1, &v50)], false).unwrap();
        assert!(grant_covers(c, 5, &Op::Mean, &[(k1, &v3)], false).is_err(), "fewer than min_count");
        assert!(grant_covers(c, 5, &Op::Mean, &[(k1, &v3), (k1, &v3)], false).is_err(), "a key twice counts once");
        assert!(
            grant_covers(c, 1, &Op::Mean, &[(k1, &ValueMeta::Int)], false).is_err(),
            "one value, whatever min_count"
        );
        assert!(grant_covers(c, 5, &Op::Inv, &[(k1, &arr(vec![10, 10]))], false).is_err());
        let m = arr(vec![10, 10]);
        assert!(grant_covers(c, 5, &Op::Dot, &[(k1, &m), (k2, &ValueMeta::Int)], false).is_err(), "dot with a scalar");
        grant_covers(c, 5, &Op::Dot, &[(k1, &m), (k2, &m)], false).unwrap();
        let outer = arr(vec![10, 1]);
        assert!(
            grant_covers(c, 5, &Op::Dot, &[(k1, &outer), (k2, &arr(vec![1, 10]))], false).is_err(),
            "outer product"
        );
        let scalars: Vec<(DataKey, &ValueMeta)> = (0..5u8).map(|i| (DataKey([i; 32]), &ValueMeta::Int)).collect();
        grant_covers(c, 5, &Op::Max, &scalars, false).unwrap();
        assert!(grant_covers(c, 5, &Op::Max, &scalars[..2], false).is_err());
        grant_covers(Level::Load, 5, &Op::Inv, &[(k1, &m)], false).unwrap();
        assert!(
            grant_covers(Level::Load, 5, &Op::Inv, &[(k1, &m)], true).is_err(),
            "a stored result follows the compute rules"
        );
        assert!(
            grant_covers(c, 5, &Op::Mean, &[(k1, &ValueMeta::Int), (k2, &v50)], false).is_err(),
            "a scalar padded by an array"
        );
        assert!(
            grant_covers(c, 5, &Op::Mean, &[(k1, &v3), (k2, &v50)], false).is_err(),
            "a small array padded by a big one"
        );
    }

    #[test]
    fn compute_grants_count_observations_for_the_toolbox() {
        let arr = |shape: Vec<u64>| ValueMeta::Array { dtype: Dtype::Float, shape };
        let (k1, k2) = (DataKey([1; 32]), DataKey([2; 32]));
        let c = Level::Compute;
        // a 2-D key counts its observations (3 variables × 4 observations: 4, not 12)
        let wide = arr(vec![3, 4]);
        assert!(grant_covers(c, 5, &Op::Cov { rowvar: true, ddof: 1 }, &[(k1, &wide)], false).is_err());
        grant_covers(c, 3, &Op::Cov { rowvar: false, ddof: 1 }, &[(k1, &wide)], false).unwrap();
        assert!(grant_covers(c, 5, &Op::Corrcoef { rowvar: false }, &[(k1, &wide)], false).is_err());
        grant_covers(c, 5, &Op::Corrcoef { rowvar: true }, &[(k1, &arr(vec![2, 50]))], false).unwrap();
        // t-tests: the smaller sample
        let (v50, v2) = (arr(vec![50]), arr(vec![2]));
        grant_covers(c, 5, &Op::ttest_1samp(0.0), &[(k1, &v50)], false).unwrap();
        assert!(grant_covers(c, 5, &Op::TtestInd, &[(k1, &v50), (k2, &v2)], false).is_err());
        assert!(grant_covers(c, 5, &Op::TtestRel, &[(k1, &v2), (k2, &v2)], false).is_err());
        // lstsq: the rows
        grant_covers(c, 5, &Op::Lstsq { intercept: true }, &[(k1, &arr(vec![50, 3])), (k2, &v50)], false).unwrap();
        assert!(
            grant_covers(c, 5, &Op::Lstsq { intercept: true }, &[(k1, &arr(vec![4, 3])), (k2, &v50)], false).is_err()
        );
        // histogram: N / bins per bin
        let h = |b: usize| Op::histogram_min(&(0..=b).map(|i| i as f64).collect::<Vec<_>>(), 5);
        grant_covers(c, 5, &h(10), &[(k1, &v50)], false).unwrap();
        assert!(grant_covers(c, 5, &h(11), &[(k1, &v50)], false).is_err(), "a bin for fewer than 5 values");
        assert!(grant_covers(c, 1, &h(1), &[(k1, &ValueMeta::Int), (k2, &ValueMeta::Int)], false).is_err());
        // the per-bin rule: the op must carry the grant's min_count (at least 2), stored or not
        let h0 = Op::histogram_min(&[0.0, 1.0, 2.0], 4);
        assert!(grant_covers(c, 5, &h0, &[(k1, &v50)], false).is_err(), "a histogram without the per-bin check");
        assert!(grant_covers(c, 5, &h0, &[(k1, &v50)], true).is_err());
        grant_covers(Level::Load, 5, &h0, &[(k1, &v50)], false).unwrap();
        let h1 = Op::histogram_min(&[0.0, 1.0, 2.0], 1);
        assert!(grant_covers(c, 1, &h1, &[(k1, &v50)], false).is_err(), "min_count is at least 2");
        // quantiles: N for one, and the spacing of a list (each stands for min_count values)
        let q = |v: &[f64]| Op::quantile(v, v.len() == 1);
        grant_covers(c, 5, &q(&[0.5]), &[(k1, &arr(vec![5]))], false).unwrap();
        assert!(grant_covers(c, 5, &q(&[0.5]), &[(k1, &arr(vec![4]))], false).is_err(), "a median of 4 values");
        grant_covers(c, 5, &q(&[0.25, 0.75]), &[(k1, &v50)], false).unwrap();
        assert!(grant_covers(c, 5, &q(&[0.0, 1.0]), &[(k1, &v50)], false).is_err(), "min and max as a list");
        assert!(grant_covers(c, 5, &q(&[0.5, 0.52]), &[(k1, &v50)], false).is_err(), "two quantiles 1 rank apart");
        let deciles: Vec<f64> = (1..10).map(|i| i as f64 / 10.0).collect();
        grant_covers(c, 4, &q(&deciles), &[(k1, &v50)], false).unwrap();
        assert!(grant_covers(c, 5, &q(&deciles), &[(k1, &v50)], false).is_err(), "deciles of 50 values");
        assert!(grant_covers(c, 5, &q(&[0.5, 0.5, 0.5]), &[(k1, &arr(vec![4]))], false).is_err());
    }

    #[test]
    fn a_derived_key_is_usable_only_by_its_deriver_while_the_sources_are_granted() {
        use crate::identity::Identity;
        use crate::policy::{PolicyBook, PolicyChange};
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let (owner, grantee, third) =
            (Identity::generate(&mut rng), Identity::generate(&mut rng), Identity::generate(&mut rng));
        let mut book = PolicyBook::new();
        let source = DataKey([1; 32]);
        let mut change = PolicyChange::pair(vec![grantee.address()], 1);
        change.level = Level::Compute;
        book.author(&owner, change).unwrap();
        let mut derived = body(&[1, 2, 3], 1);
        derived.owner = grantee.pubkey();
        derived.derived_from = vec![Source { key: source, owner: owner.pubkey() }];
        assert!(may_use(book.state(), &derived, &grantee.pubkey(), Level::Load));
        // the grantee's own grant of it to a third identity is not honoured
        book.author(&grantee, PolicyChange::pair(vec![third.address()], 2)).unwrap();
        assert!(!may_use(book.state(), &derived, &third.pubkey(), Level::Compute));
        // revoking the source cuts the derived key off
        book.author(&owner, PolicyChange::revoke(vec![grantee.address()], 3)).unwrap();
        assert!(!may_use(book.state(), &derived, &grantee.pubkey(), Level::Load));
    }

    #[test]
    fn provenance_is_the_sorted_roots_minus_the_requesters_own() {
        let me = [9u8; 33];
        let theirs = body(&[1, 2, 3], 1);
        let mut mine = body(&[1, 2, 3], 1);
        mine.owner = me;
        mine.key = DataKey([8; 32]);
        assert!(provenance(&me, &[&mine]).is_empty());
        assert_eq!(provenance(&me, &[&theirs, &theirs]), vec![Source { key: theirs.key, owner: theirs.owner }]);
        let mut derived = mine.clone();
        derived.derived_from = vec![Source { key: theirs.key, owner: theirs.owner }];
        assert_eq!(provenance(&me, &[&derived, &mine]), vec![Source { key: theirs.key, owner: theirs.owner }]);
    }
}
