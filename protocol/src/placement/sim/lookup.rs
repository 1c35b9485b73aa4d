//! Kademlia iterative lookups on the simulated key space (k-buckets, α parallel queries).
//!
//! Owns: each node's routing table (for every bucket, up to k nodes of that bucket picked at random:
//! a settled network where every node has filled its buckets) and the iterative lookup as libp2p's
//! `ClosestPeersIter` runs it: ask the α closest unqueried known nodes, merge the k closest each
//! returns from its own table; when a round brings no closer node, ask every unqueried one of the k
//! closest at once; stop when the k closest known have all been asked. A *hop* is one round of
//! parallel queries (one network round trip). Must never:
//! use global knowledge inside a lookup (only the tables of the nodes asked).

use super::space::Space;
use crate::placement::xor::{self, KadId};
use rand::Rng;
use rand::RngExt;

/// Kademlia's bucket size k (libp2p's default replication factor).
pub const K: usize = 20;
/// Kademlia's parallelism α (libp2p's default).
pub const ALPHA: usize = 3;

/// Every node's routing table.
pub struct Tables {
    table: Vec<Vec<u32>>,
}

/// One lookup's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// Rounds of α parallel queries.
    pub hops: usize,
    /// Nodes asked.
    pub queried: usize,
    /// Whether the `want` closest found are the true `want` closest.
    pub exact: bool,
}

impl Tables {
    pub fn build(space: &Space, rng: &mut impl Rng) -> Self {
        let mut table = Vec::with_capacity(space.len());
        for me in 0..space.len() {
            let id = space.kad[me];
            let mut t = Vec::new();
            for b in 0..256 {
                let bucket = space.bucket(&id, b);
                if bucket.len() <= K {
                    t.extend_from_slice(bucket);
                } else {
                    // k distinct random members (partial Fisher–Yates on a copy)
                    let mut v = bucket.to_vec();
                    for i in 0..K {
                        let j = rng.random_range(i..v.len());
                        v.swap(i, j);
                    }
                    t.extend_from_slice(&v[..K]);
                }
                // deeper buckets are empty once no other node shares b + 1 bits with me
                if space.sharing(&id, b + 1) <= 1 {
                    break;
                }
            }
            table.push(t);
        }
        Tables { table }
    }

    /// Mean routing-table size (connections a node keeps for routing).
    pub fn mean_size(&self) -> f64 {
        self.table.iter().map(|t| t.len()).sum::<usize>() as f64 / self.table.len().max(1) as f64
    }

    fn k_closest(&self, space: &Space, node: u32, t: &KadId) -> Vec<(KadId, u32)> {
        let mut v: Vec<(KadId, u32)> =
            self.table[node as usize].iter().map(|i| (xor::distance(t, &space.kad[*i as usize]), *i)).collect();
        if v.len() > K {
            v.select_nth_unstable(K - 1);
            v.truncate(K);
        }
        v
    }

    /// An iterative lookup for `t` from `start`; `want` (≤ K) of the closest found are compared with
    /// the true closest.
    pub fn lookup(&self, space: &Space, start: u32, t: &KadId, want: usize) -> Lookup {
        // known: (distance, node, asked), kept sorted by distance
        let mut known: Vec<(KadId, u32, bool)> = vec![(xor::distance(t, &space.kad[start as usize]), start, true)];
        for (d, i) in self.k_closest(space, start, t) {
            known.push((d, i, false));
        }
        known.sort_unstable();
        let (mut hops, mut queried) = (0, 0);
        let mut stalled = false;
        loop {
            // libp2p's ClosestPeersIter: α requests at a time; once a round brings no closer peer
            // (stalled), it asks every unqueried peer among the k closest at once.
            let width = if stalled { K } else { ALPHA };
            let ask: Vec<u32> = known.iter().take(K).filter(|e| !e.2).take(width).map(|e| e.1).collect();
            if ask.is_empty() {
                break;
            }
            hops += 1;
            let best = known[0].0;
            for node in ask {
                queried += 1;
                if let Some(e) = known.iter_mut().find(|e| e.1 == node) {
                    e.2 = true;
                }
                for (d, i) in self.k_closest(space, node, t) {
                    if !known.iter().any(|e| e.1 == i) {
                        known.push((d, i, false));
                    }
                }
            }
            known.sort_unstable();
            known.truncate(4 * K);
            stalled = known[0].0 >= best;
        }
        let found: Vec<u32> = known.iter().take(want).map(|e| e.1).collect();
        let exact = found == space.closest(t, want);
        Lookup { hops, queried, exact }
    }
}
