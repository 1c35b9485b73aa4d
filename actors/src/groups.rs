//! Who is the group of key K: the one place the actors find and check a key's custody group
//! (issue 13, docs/placement.md).
//!
//! Owns: this node's own view of a key's neighbourhood — one Kademlia lookup for the key (the
//! Network actor's [`ClosestPeers`]: the ≤ 20 XOR-closest peers that answered) plus this node — and
//! what the actors derive from it with `enigma_protocol::placement` (the rule lives there, in one
//! module family, which the admission rules use too): the group an owner stores to
//! ([`KeyView::group`]), the replacement for a holder that fails ([`KeyView::replacements`]), the
//! check a holder makes of a proposed group ([`check`], with the rule's tolerance, looking the key
//! up once more before calling a member foreign), the view a committee member, endorser or repair
//! coordinator checks seats against ([`admission_view`]), and the peers to ask for a manifest
//! ([`KeyView::order`]). Every fact is this node's own lookup: never a peer's word.
//! Must never: hold state, or import anything above the network actor (it is a workflow the
//! actors above call; the network actor only answers the lookup).

use crate::network::{ClosestPeers, LivePeers, Network};
use actix::Addr;
use enigma_protocol::keys::DataKey;
use enigma_protocol::placement::check::{self, DEFAULT_TOLERANCE, GroupRefusal};
use enigma_protocol::placement::rule::{self, PeerEntry, Rule};
use libp2p::PeerId;

/// Why this node cannot say who the group is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the network layer is not answering: {0}")]
    Network(String),
    #[error(transparent)]
    Refused(#[from] GroupRefusal),
}

/// This node's view of one key's neighbourhood: the peers its lookup found, and itself.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub key: DataKey,
    pub local: PeerId,
    /// The lookup's peers (with the IPs this node observed), then this node (no observed IP).
    pub peers: Vec<PeerEntry>,
}

fn ids_of(entries: &[&PeerEntry]) -> Vec<PeerId> {
    entries.iter().filter_map(|p| PeerId::from_bytes(&p.id).ok()).collect()
}

impl KeyView {
    /// How many peers the view has (this node included).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer ids of the view, as bytes (this node included).
    pub fn ids(&self) -> Vec<Vec<u8>> {
        self.peers.iter().map(|p| p.id.clone()).collect()
    }

    /// The group of n for the key: the rule over this view.
    pub fn group(&self, n: usize) -> Vec<PeerId> {
        ids_of(&rule::group(&self.key, &self.peers, &Rule::new(n)))
    }

    /// Every peer of the view in the rule's order (the group first, then who would replace it).
    pub fn order(&self, n: usize) -> Vec<PeerId> {
        ids_of(&rule::order_by(&self.key, &self.peers, &Rule::new(n), |p| &p.id))
    }

    /// Up to `need` replacements for holders that failed: the next peers of the rule's order that
    /// are not among `holders` (the whole group, failed ones included, so none comes back).
    pub fn replacements(&self, holders: &[PeerId], need: usize, n: usize) -> Vec<PeerId> {
        let held: Vec<Vec<u8>> = holders.iter().map(|p| p.to_bytes()).collect();
        let held: Vec<&[u8]> = held.iter().map(|b| b.as_slice()).collect();
        ids_of(&rule::replacements(&self.key, &self.peers, &held, need, &Rule::new(n)))
    }
}

/// This node's view of `key`: one lookup, plus this node itself.
pub async fn view(network: &Addr<Network>, local: PeerId, key: DataKey) -> Result<KeyView, GroupError> {
    let found =
        network.send(ClosestPeers { key: key.0.to_vec() }).await.map_err(|e| GroupError::Network(e.to_string()))?;
    let mut peers: Vec<PeerEntry> = found
        .into_iter()
        .filter(|f| f.peer != local)
        .map(|f| PeerEntry { id: f.peer.to_bytes(), addrs: f.ips })
        .collect();
    peers.push(PeerEntry::new(local.to_bytes()));
    Ok(KeyView { key, local, peers })
}

/// Checks a group someone proposes for `key` (an owner's holders, in any order) against this
/// node's own lookup, with the rule's tolerance ([`DEFAULT_TOLERANCE`] member). A member this node's
/// view lacks may be a peer its first lookup missed: the key is looked up once more before the
/// group is refused as foreign — never accepted on the proposer's word.
pub async fn check(
    network: &Addr<Network>,
    local: PeerId,
    key: DataKey,
    proposed: &[Vec<u8>],
) -> Result<(), GroupError> {
    let proposed: Vec<&[u8]> = proposed.iter().map(|p| p.as_slice()).collect();
    let rule = Rule::new(proposed.len());
    let mut last = None;
    for _ in 0..2 {
        let v = view(network, local, key).await?;
        match check::check_group(&key, &v.peers, &proposed, &rule, DEFAULT_TOLERANCE) {
            Ok(()) => return Ok(()),
            // a view that missed a peer (or had too few): look again
            Err(e @ (GroupRefusal::Foreign(_) | GroupRefusal::WrongSize { .. } | GroupRefusal::Disagrees { .. })) => {
                last = Some(e)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map(GroupError::from).unwrap_or_else(|| GroupError::Network("no lookup ran".into())))
}

/// The view a committee member, an endorser or a repair coordinator checks a proposed group's seats
/// against (`enigma_protocol::admission`): this node's lookup of `key`, itself, and those of
/// `holders` it is connected to (a holder keeps its seat while up, even where later joins have put
/// it past the lookup's 20 closest). As peer id bytes.
pub async fn admission_view(
    network: &Addr<Network>,
    local: PeerId,
    key: DataKey,
    holders: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, GroupError> {
    let mut ids = view(network, local, key).await?.ids();
    let live = network.send(LivePeers).await.map_err(|e| GroupError::Network(e.to_string()))?;
    for h in holders {
        if !ids.contains(h) && live.iter().any(|p| p.to_bytes() == *h) {
            ids.push(h.clone());
        }
    }
    Ok(ids)
}
