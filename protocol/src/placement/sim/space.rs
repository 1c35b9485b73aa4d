//! The simulated network's key space: node ids sorted by Kademlia id, and XOR-closest queries.
//!
//! Owns: "the m nodes closest to a target" in O(log N + m log m) instead of a scan: the nodes whose
//! ids share the first b bits with the target are one contiguous run of the sorted ids, so the
//! longest shared prefix with at least m nodes is found by binary search and only that run (≈ 2m
//! nodes) is sorted by distance. Must never: differ from [`crate::placement::xor::closest`] (a test
//! checks they agree).

use crate::placement::xor::{self, KadId};

/// Nodes by index, with their peer id bytes and Kademlia ids.
pub struct Space {
    /// Peer id bytes of node i.
    pub peers: Vec<Vec<u8>>,
    /// Kademlia id of node i.
    pub kad: Vec<KadId>,
    /// Node indices sorted by Kademlia id.
    sorted: Vec<u32>,
}

fn with_prefix(t: &KadId, bits: u32, fill: u8) -> KadId {
    let mut x = *t;
    for (i, b) in x.iter_mut().enumerate() {
        let start = i as u32 * 8;
        if start >= bits {
            *b = fill;
        } else if start + 8 > bits {
            let keep = bits - start;
            let mask = 0xffu8 << (8 - keep);
            *b = (*b & mask) | (fill & !mask);
        }
    }
    x
}

impl Space {
    pub fn new(peers: Vec<Vec<u8>>) -> Self {
        let kad: Vec<KadId> = peers.iter().map(|p| xor::peer_id(p)).collect();
        let mut sorted: Vec<u32> = (0..peers.len() as u32).collect();
        sorted.sort_by(|a, b| kad[*a as usize].cmp(&kad[*b as usize]));
        Space { peers, kad, sorted }
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The sorted positions of the nodes whose ids share the first `bits` bits with `t`.
    fn run(&self, t: &KadId, bits: u32) -> (usize, usize) {
        let lo = with_prefix(t, bits, 0x00);
        let hi = with_prefix(t, bits, 0xff);
        let a = self.sorted.partition_point(|i| self.kad[*i as usize] < lo);
        let b = self.sorted.partition_point(|i| self.kad[*i as usize] <= hi);
        (a, b)
    }

    /// How many nodes share the first `bits` bits with `t`.
    pub fn sharing(&self, t: &KadId, bits: u32) -> usize {
        let (a, b) = self.run(t, bits);
        b - a
    }

    /// The nodes sharing exactly `bits` leading bits with `t` (bit `bits` differs): a Kademlia bucket.
    pub fn bucket(&self, t: &KadId, bits: u32) -> &[u32] {
        if bits >= 256 {
            return &[];
        }
        let mut flipped = *t;
        flipped[(bits / 8) as usize] ^= 0x80 >> (bits % 8);
        let (a, b) = self.run(&flipped, bits + 1);
        &self.sorted[a..b]
    }

    /// The `m` nodes closest to `t`, nearest first.
    pub fn closest(&self, t: &KadId, m: usize) -> Vec<u32> {
        let m = m.min(self.len());
        if m == 0 {
            return Vec::new();
        }
        // largest b whose run still holds m nodes (b = 0 holds everyone)
        let (mut lo, mut hi) = (0u32, 256u32);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let (a, b) = self.run(t, mid);
            if b - a >= m {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let (a, b) = self.run(t, lo);
        let mut cand: Vec<(KadId, u32)> =
            self.sorted[a..b].iter().map(|i| (xor::distance(t, &self.kad[*i as usize]), *i)).collect();
        cand.sort_unstable();
        cand.truncate(m);
        cand.into_iter().map(|(_, i)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn fast_closest_agrees_with_the_scan() {
        let mut rng = StdRng::seed_from_u64(7);
        let peers: Vec<Vec<u8>> = (0..3000)
            .map(|_| {
                let mut p = vec![0u8; 32];
                rng.fill_bytes(&mut p);
                p
            })
            .collect();
        let space = Space::new(peers.clone());
        for _ in 0..200 {
            let mut t = [0u8; 32];
            rng.fill_bytes(&mut t);
            for m in [1, 15, 40] {
                let fast: Vec<&Vec<u8>> = space.closest(&t, m).into_iter().map(|i| &peers[i as usize]).collect();
                let scan = xor::closest(&t, &peers, m, |p| p);
                assert_eq!(fast, scan);
            }
        }
        assert_eq!(space.closest(&[0; 32], 5000).len(), 3000);
    }

    #[test]
    fn buckets_partition_the_other_nodes() {
        let mut rng = StdRng::seed_from_u64(8);
        let peers: Vec<Vec<u8>> = (0..500)
            .map(|_| {
                let mut p = vec![0u8; 32];
                rng.fill_bytes(&mut p);
                p
            })
            .collect();
        let space = Space::new(peers);
        let me = space.kad[0];
        let mut total = 0;
        for b in 0..256 {
            for i in space.bucket(&me, b) {
                assert_eq!(xor::common_prefix_len(&me, &space.kad[*i as usize]), b);
                total += 1;
            }
        }
        assert_eq!(total, 499);
    }
}
