//! The placement simulation: the rule of [`crate::placement::rule`] on networks this machine cannot
//! run (10^4 nodes, 10^6 keys), seeded and I/O-free.
//!
//! Owns: the figures of docs/placement.md — share balance (max/mean shares per node), Kademlia lookup
//! hops, the fraction of groups losing t + 1 or more members when a fraction of the nodes vanishes at
//! once (before repair), repair traffic per lost node, the choice of c (balance against the shares
//! a join or a departure moves), and the Sybil attack of [`attack`]. Groups are computed with the
//! rule's own weight and XOR ids through a sorted key space ([`space`]); a test checks they equal
//! [`crate::placement::rule::group`]. The diversity rule is not simulated (simulated nodes have no
//! addresses). Must never: do I/O, read the clock, or use unseeded randomness (same seed, same report).

pub mod attack;
pub mod lookup;
pub mod space;

use crate::keys::DataKey;
use crate::placement::{rank_by, xor};
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use space::Space;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub nodes: usize,
    pub keys: usize,
    pub seed: u64,
    /// Candidates of the rule (the c·n XOR-closest); 0 = the rule's default
    /// ([`crate::placement::rule::candidate_count`]).
    pub candidates: usize,
    /// (n, t) pairs for the main table.
    pub groups: Vec<(usize, usize)>,
    /// Fractions of the nodes that vanish at once.
    pub kill: Vec<f64>,
    /// Random kill sets per fraction.
    pub kill_trials: usize,
    /// Lookups simulated (random start node, random key).
    pub lookups: usize,
    /// Size of one share in bytes (for repair traffic): 16 = one number (one field element).
    pub share_bytes: u64,
    /// Values of c compared for the choice table (at n = 5, 5·c candidates even beyond k = 20);
    /// 0 = rendezvous over every node.
    pub choices: Vec<usize>,
    /// Attacks per (n, t) in the Sybil table.
    pub attacks: usize,
}

impl Config {
    /// The candidates for groups of `n` in this simulation.
    pub fn candidate_count(&self, n: usize) -> usize {
        if self.candidates == 0 { crate::placement::rule::candidate_count(n) } else { self.candidates.max(n) }
    }

    /// The defaults of `enigma bench placement`.
    pub fn new(nodes: usize, keys: usize, seed: u64) -> Self {
        Config {
            nodes,
            keys,
            seed,
            candidates: 0,
            groups: vec![(3, 1), (5, 2), (7, 3), (9, 4)],
            kill: vec![0.01, 0.05, 0.10],
            kill_trials: 10,
            lookups: 2000,
            share_bytes: 16,
            choices: vec![0, 1, 2, 3, 4, 6, 8],
            attacks: 20,
        }
    }
}

/// Loss when a fraction of the nodes vanishes at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    pub fraction: f64,
    pub killed: usize,
    /// Mean over the kill sets of the fraction of keys with ≥ t + 1 members gone.
    pub mean: f64,
    /// The worst kill set.
    pub worst: f64,
    /// The hypergeometric probability that n distinct nodes include ≥ t + 1 of the killed ones (what
    /// the mean must approach: placement never puts a node twice in a group).
    pub expected: f64,
}

/// One (n, t) row.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub n: usize,
    pub t: usize,
    /// Busiest node's shares / mean shares per node.
    pub max_mean: f64,
    /// Least busy node's shares / mean.
    pub min_mean: f64,
    pub loss: Vec<Loss>,
    /// Mean keys a lost node held (each needs one refresh session).
    pub keys_per_lost: f64,
    /// The busiest node's keys.
    pub keys_per_lost_max: usize,
    /// Sub-shares sent per lost node: semi-honest refresh (t + 1 dealers, each to the n − 1 others).
    pub subshares_semi: f64,
    /// Active refresh with one holder down (all n − 1 up holders deal, each to the n − 1 others).
    pub subshares_active: f64,
}

/// Lookup figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupRow {
    pub lookups: usize,
    /// The candidates compared (c·n at n = 5).
    pub want: usize,
    pub mean_hops: f64,
    pub max_hops: usize,
    pub mean_queried: f64,
    /// Fraction of lookups whose `want` closest are exactly the true `want` closest.
    pub exact: f64,
    /// Mean routing-table size (peers a node keeps for routing).
    pub table: f64,
}

/// One value of c at n = 5.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRow {
    /// 0 = rendezvous over every node (the full-mesh rule of today).
    pub c: usize,
    /// max/mean at the configured scale (None for c = 0: too slow at scale).
    pub max_mean: Option<f64>,
    /// At 100 nodes and 1,000 keys over [`SMALL_SEEDS`] seeds: median and worst max/mean.
    pub small_median: f64,
    pub small_worst: f64,
    /// Seats that change per join and per departure, relative to the seats of the node that joined
    /// or left (1 = only that node's seats move).
    pub moves_join: f64,
    pub moves_leave: f64,
}

/// One (n, t) row of the Sybil table.
#[derive(Debug, Clone, PartialEq)]
pub struct SybilRow {
    pub n: usize,
    pub t: usize,
    pub tolerance: usize,
    /// Mean ids generated to take t + 1 seats of a chosen key's group.
    pub mean_ids: f64,
    /// The model's estimate ([`crate::placement::sybil::ids_to_capture`]).
    pub model: f64,
}

/// The real test, predicted: 100 nodes, 1,000 keys, n = 5, t = 2, 10 killed at once.
#[derive(Debug, Clone, PartialEq)]
pub struct SmallCase {
    pub kill_sets: usize,
    pub mean: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub expected: f64,
}

/// Everything the simulation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub config: Config,
    pub groups: Vec<GroupRow>,
    pub lookup: LookupRow,
    pub choice: Vec<ChoiceRow>,
    pub sybil: Vec<SybilRow>,
    pub small: SmallCase,
}

/// The seed of run `i` of a side experiment `tag` (every bit of `seed` counts: seeds 1 and 2 give
/// different runs).
fn sub_seed(seed: u64, tag: u64, i: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ tag.rotate_left(32) ^ i;
    x ^= x >> 31;
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Seeds of the 100-node balance runs.
pub const SMALL_SEEDS: u64 = 20;

pub(crate) fn random_peer(rng: &mut impl Rng) -> Vec<u8> {
    // the shape of an ed25519 PeerId's bytes: identity multihash of the protobuf public key
    let mut p = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    p.extend_from_slice(&k);
    p
}

fn random_key(rng: &mut impl Rng) -> DataKey {
    let mut k = [0u8; 32];
    rng.fill_bytes(&mut k);
    DataKey(k)
}

/// A network of `nodes` random peers.
pub fn network(nodes: usize, rng: &mut impl Rng) -> Space {
    Space::new((0..nodes).map(|_| random_peer(rng)).collect())
}

/// The group of `key` (node indices): the top n by weight among the `m` closest (0 = every node).
pub fn group(space: &Space, key: &DataKey, n: usize, m: usize) -> Vec<u32> {
    let cands: Vec<u32> = if m == 0 { (0..space.len() as u32).collect() } else { space.closest(&xor::key_id(key), m) };
    top(space, key, &cands, n)
}

fn top(space: &Space, key: &DataKey, cands: &[u32], n: usize) -> Vec<u32> {
    let items: Vec<(&[u8], u32)> = cands.iter().map(|i| (space.peers[*i as usize].as_slice(), *i)).collect();
    rank_by(key, items.iter(), |p| p.0).into_iter().take(n).map(|p| p.1).collect()
}

fn loads(nodes: usize, groups: &[u32]) -> Vec<u32> {
    let mut l = vec![0u32; nodes];
    for g in groups {
        l[*g as usize] += 1;
    }
    l
}

fn max_min_mean(l: &[u32]) -> (f64, f64) {
    let mean = l.iter().map(|x| *x as f64).sum::<f64>() / l.len().max(1) as f64;
    let max = l.iter().copied().max().unwrap_or(0) as f64;
    let min = l.iter().copied().min().unwrap_or(0) as f64;
    if mean == 0.0 { (0.0, 0.0) } else { (max / mean, min / mean) }
}

fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// P(X ≥ need) for X ~ Hypergeometric(population, marked, draws).
pub fn hypergeometric_tail(population: usize, marked: usize, draws: usize, need: usize) -> f64 {
    let total = choose(population, draws);
    (need..=draws.min(marked))
        .map(|k| choose(marked, k) * choose(population - marked, draws - k) / total)
        .fold(0.0, |a, b| a + b)
}

fn kill_set(nodes: usize, killed: usize, rng: &mut impl Rng) -> Vec<bool> {
    let mut idx: Vec<u32> = (0..nodes as u32).collect();
    let mut dead = vec![false; nodes];
    for i in 0..killed.min(nodes) {
        let j = rng.random_range(i..nodes);
        idx.swap(i, j);
        dead[idx[i] as usize] = true;
    }
    dead
}

/// Fraction of the groups (`n` members each, flat) with more than `t` members dead.
fn lost(groups: &[u32], n: usize, t: usize, dead: &[bool]) -> f64 {
    let k = groups.len() / n.max(1);
    let bad = groups.chunks(n).filter(|g| g.iter().filter(|i| dead[**i as usize]).count() > t).count();
    bad as f64 / k.max(1) as f64
}

/// Computes the candidate list (the `m` closest) of every key, on two threads.
fn candidate_lists(space: &Space, keys: &[DataKey], m: usize) -> Vec<u32> {
    let half = keys.len().div_ceil(2).max(1);
    let parts: Vec<Vec<u32>> = std::thread::scope(|s| {
        let hs: Vec<_> = keys
            .chunks(half)
            .map(|chunk| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(chunk.len() * m);
                    for k in chunk {
                        let c = space.closest(&xor::key_id(k), m);
                        out.extend_from_slice(&c);
                        out.resize(out.len() + (m - c.len()), u32::MAX);
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    parts.concat()
}

/// Groups (flat, `n` per key) from the candidate lists: the top n by weight among the first m.
fn groups_from(space: &Space, keys: &[DataKey], lists: &[u32], m_max: usize, n: usize, m: usize) -> Vec<u32> {
    let half = keys.len().div_ceil(2).max(1);
    let parts: Vec<Vec<u32>> = std::thread::scope(|s| {
        let hs: Vec<_> = keys
            .chunks(half)
            .zip(lists.chunks(half * m_max))
            .map(|(chunk, lists)| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(chunk.len() * n);
                    for (k, l) in chunk.iter().zip(lists.chunks(m_max)) {
                        let cands: Vec<u32> = l.iter().take(m).copied().filter(|i| *i != u32::MAX).collect();
                        out.extend(top(space, k, &cands, n));
                    }
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    parts.concat()
}

/// Seats moved per join / per departure (relative to the seats of the node that joined or left), by
/// recomputing every group (small networks only).
fn stability(
    space_peers: &[Vec<u8>],
    keys: &[DataKey],
    n: usize,
    m: usize,
    events: usize,
    rng: &mut impl Rng,
) -> (f64, f64) {
    let base = Space::new(space_peers.to_vec());
    let before: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| group(&base, k, n, m).into_iter().map(|i| base.peers[i as usize].clone()).collect())
        .collect();
    let moved = |after: &Space| -> usize {
        keys.iter()
            .zip(&before)
            .map(|(k, b)| group(after, k, n, m).into_iter().filter(|i| !b.contains(&after.peers[*i as usize])).count())
            .sum()
    };
    let (mut join, mut join_seats, mut leave, mut leave_seats) = (0usize, 0usize, 0usize, 0usize);
    for _ in 0..events {
        let mut p = space_peers.to_vec();
        let new = random_peer(rng);
        p.push(new.clone());
        let after = Space::new(p);
        join += moved(&after);
        join_seats +=
            keys.iter().filter(|k| group(&after, k, n, m).iter().any(|i| after.peers[*i as usize] == new)).count();
        let mut p = space_peers.to_vec();
        let gone = rng.random_range(0..p.len());
        leave_seats += before.iter().filter(|g| g.contains(&p[gone])).count();
        p.remove(gone);
        leave += moved(&Space::new(p));
    }
    (join as f64 / join_seats.max(1) as f64, leave as f64 / leave_seats.max(1) as f64)
}

/// The 100-node balance (median, worst) and stability with `m` candidates (0 = every node) over
/// [`SMALL_SEEDS`] seeds.
fn small_choice(m: usize, seed: u64) -> (f64, f64, f64, f64) {
    let mut ratios = Vec::new();
    let (mut join, mut leave) = (0.0, 0.0);
    for s in 0..SMALL_SEEDS {
        let mut rng = StdRng::seed_from_u64(sub_seed(seed, 0x5eed, s));
        let space = network(100, &mut rng);
        let keys: Vec<DataKey> = (0..1000).map(|_| random_key(&mut rng)).collect();
        let gs: Vec<u32> = keys.iter().flat_map(|k| group(&space, k, 5, m)).collect();
        ratios.push(max_min_mean(&loads(100, &gs)).0);
        if s < 5 {
            let (j, l) = stability(&space.peers, &keys, 5, m, 4, &mut rng);
            join += j / 5.0;
            leave += l / 5.0;
        }
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    (ratios[ratios.len() / 2], ratios[ratios.len() - 1], join, leave)
}

/// The 100-node case: n = 5, t = 2, 10 killed at once, over many kill sets and placements
/// (`m` candidates).
pub fn small_case(seed: u64, m: usize) -> SmallCase {
    let mut fr = Vec::new();
    for s in 0..10 {
        let mut rng = StdRng::seed_from_u64(sub_seed(seed, 0xcafe, s));
        let space = network(100, &mut rng);
        let keys: Vec<DataKey> = (0..1000).map(|_| random_key(&mut rng)).collect();
        let gs: Vec<u32> = keys.iter().flat_map(|k| group(&space, k, 5, m)).collect();
        for _ in 0..100 {
            fr.push(lost(&gs, 5, 2, &kill_set(100, 10, &mut rng)));
        }
    }
    fr.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| fr[((fr.len() - 1) as f64 * p).round() as usize];
    SmallCase {
        kill_sets: fr.len(),
        mean: fr.iter().sum::<f64>() / fr.len() as f64,
        p10: q(0.1),
        median: q(0.5),
        p90: q(0.9),
        expected: hypergeometric_tail(100, 10, 5, 3),
    }
}

/// Runs the whole simulation.
pub fn run(cfg: &Config) -> Report {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let space = network(cfg.nodes, &mut rng);
    let keys: Vec<DataKey> = (0..cfg.keys).map(|_| random_key(&mut rng)).collect();
    let count = |n: usize| cfg.candidate_count(n);
    let m_max = cfg.groups.iter().map(|(n, _)| count(*n)).chain(cfg.choices.iter().map(|c| c * 5)).max().unwrap_or(20);
    let lists = candidate_lists(&space, &keys, m_max);

    let mut groups = Vec::new();
    for &(n, t) in &cfg.groups {
        let gs = groups_from(&space, &keys, &lists, m_max, n, count(n));
        let l = loads(space.len(), &gs);
        let (max_mean, min_mean) = max_min_mean(&l);
        let loss = cfg
            .kill
            .iter()
            .map(|&f| {
                let killed = ((f * cfg.nodes as f64).round() as usize).max(1);
                let fr: Vec<f64> =
                    (0..cfg.kill_trials).map(|_| lost(&gs, n, t, &kill_set(space.len(), killed, &mut rng))).collect();
                Loss {
                    fraction: f,
                    killed,
                    mean: fr.iter().sum::<f64>() / fr.len().max(1) as f64,
                    worst: fr.iter().copied().fold(0.0, f64::max),
                    expected: hypergeometric_tail(space.len(), killed, n, t + 1),
                }
            })
            .collect();
        let keys_per_lost = gs.len() as f64 / space.len().max(1) as f64;
        let others = n.saturating_sub(1) as f64;
        groups.push(GroupRow {
            n,
            t,
            max_mean,
            min_mean,
            loss,
            keys_per_lost,
            keys_per_lost_max: l.iter().copied().max().unwrap_or(0) as usize,
            subshares_semi: keys_per_lost * (t + 1) as f64 * others,
            subshares_active: keys_per_lost * others * others,
        });
    }

    let tables = lookup::Tables::build(&space, &mut rng);
    let want = count(5).min(lookup::K).min(space.len());
    let mut hops = Vec::new();
    let (mut queried, mut exact) = (0usize, 0usize);
    for _ in 0..cfg.lookups {
        let start = rng.random_range(0..space.len()) as u32;
        let key = &keys[rng.random_range(0..keys.len().max(1))];
        let l = tables.lookup(&space, start, &xor::key_id(key), want);
        hops.push(l.hops);
        queried += l.queried;
        exact += l.exact as usize;
    }
    let nl = cfg.lookups.max(1) as f64;
    let lookup = LookupRow {
        lookups: cfg.lookups,
        want,
        mean_hops: hops.iter().sum::<usize>() as f64 / nl,
        max_hops: hops.iter().copied().max().unwrap_or(0),
        mean_queried: queried as f64 / nl,
        exact: exact as f64 / nl,
        table: tables.mean_size(),
    };

    let choice = cfg
        .choices
        .iter()
        .map(|&cc| {
            let max_mean = (cc > 0)
                .then(|| max_min_mean(&loads(space.len(), &groups_from(&space, &keys, &lists, m_max, 5, 5 * cc))).0);
            let (small_median, small_worst, moves_join, moves_leave) = small_choice(5 * cc, cfg.seed);
            ChoiceRow { c: cc, max_mean, small_median, small_worst, moves_join, moves_leave }
        })
        .collect();

    let mut sybil = Vec::new();
    for &(n, t) in &cfg.groups {
        for tolerance in [0, crate::placement::check::DEFAULT_TOLERANCE] {
            let max_ids = 1000 * space.len() as u64;
            let runs: Vec<u64> = (0..cfg.attacks)
                .filter_map(|_| attack::attack(&space, n, t, count(n), tolerance, max_ids, &mut rng))
                .map(|a| a.generated)
                .collect();
            sybil.push(SybilRow {
                n,
                t,
                tolerance,
                mean_ids: runs.iter().sum::<u64>() as f64 / runs.len().max(1) as f64,
                model: crate::placement::sybil::ids_to_capture(space.len(), n, t, count(n), tolerance),
            });
        }
    }

    Report { config: cfg.clone(), groups, lookup, choice, sybil, small: small_case(cfg.seed, count(5)) }
}

#[cfg(test)]
mod tests;
