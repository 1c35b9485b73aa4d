//! The policy book: the pure core of the Ledger actor — accepted transactions, chain index,
//! access state and fork evidence, kept consistent with one another.
//!
//! Owns: the only path by which a transaction enters (validate → index → state, all or nothing),
//! the acceptance order (persist and replay in that order), and the record of forks.
//! Must never: do I/O (the actor persists `ValidTx::bytes` and gossips them), read the clock
//! (callers pass timestamps), or accept a transaction that `chain::validate` refused.

use super::chain::{ChainIndex, ChainView, ForkEvidence, ValidTx, validate};
use super::decoded;
use super::error::PolicyError;
use super::payload::{DataKey, Level};
use super::state::{Grant, PolicyState};
use super::tx::{PolicyChange, build_policy_tx, encode_tx};
use crate::identity::{Identity, PubkeyBytes};
use bitcoin::Txid;
use serde_json::Value;
use std::collections::HashMap;

/// Accepted policy transactions of every owner and the access rights they produce.
#[derive(Debug, Default, Clone)]
pub struct PolicyBook {
    index: ChainIndex,
    state: PolicyState,
    txs: HashMap<Txid, ValidTx>,
    order: Vec<Txid>,
    forks: Vec<ForkEvidence>,
}

impl PolicyBook {
    /// An empty book.
    pub fn new() -> PolicyBook {
        PolicyBook::default()
    }

    /// Validates consensus-encoded transaction bytes (from a client, gossip, sync or replay) and,
    /// if valid, accepts them. On [`PolicyError::Fork`] the evidence is kept (see
    /// [`PolicyBook::forks`]) and the conflicting txid is remembered so its descendants are
    /// refused with [`PolicyError::ExtendsFork`]; on `ExtendsFork` the refused txid is remembered
    /// likewise. [`PolicyError::AlreadyKnown`] means nothing to do; [`PolicyError::UnknownPrevious`]
    /// means fetch that txid from a peer, submit it, then retry.
    pub fn submit(&mut self, tx_bytes: &[u8]) -> Result<ValidTx, PolicyError> {
        match validate(tx_bytes, &self.index) {
            Ok(valid) => {
                // Index and state advance only here, together; check both preconditions before
                // mutating either, so a refusal leaves the book unchanged.
                if self.state.tip(&valid.owner) != valid.prev {
                    return Err(PolicyError::BrokenLink {
                        txid: valid.txid,
                        reason: "the access state is not at the owner's tip".to_string(),
                    });
                }
                self.index.insert(&valid)?;
                self.state.apply(&valid)?;
                self.order.push(valid.txid);
                self.txs.insert(valid.txid, valid.clone());
                Ok(valid)
            }
            Err(PolicyError::Fork { outpoint, existing, conflicting }) => {
                self.index.mark_fork_loser(conflicting);
                if let Some(accepted) = self.txs.get(&existing)
                    && !self.forks.iter().any(|f| f.conflicting == conflicting)
                    && let Ok(evidence) = ForkEvidence::verify(&accepted.bytes, tx_bytes)
                {
                    self.forks.push(evidence);
                }
                Err(PolicyError::Fork { outpoint, existing, conflicting })
            }
            Err(PolicyError::ExtendsFork { txid, prev }) => {
                self.index.mark_fork_loser(txid);
                Err(PolicyError::ExtendsFork { txid, prev })
            }
            Err(e) => Err(e),
        }
    }

    /// Builds, signs and accepts `owner`'s next policy transaction (on its current tip).
    /// Returns it; gossip `bytes` and answer `pair` / `revoke` with `txid.to_string()`.
    pub fn author(&mut self, owner: &Identity, change: PolicyChange) -> Result<ValidTx, PolicyError> {
        let tx = build_policy_tx(owner, self.tip(&owner.pubkey()), change)?;
        self.submit(&encode_tx(&tx))
    }

    /// The owner's latest accepted transaction (`prev` for its next one).
    pub fn tip(&self, owner: &PubkeyBytes) -> Option<Txid> {
        self.index.tip(owner)
    }

    /// The owner's accepted transactions, oldest first.
    pub fn chain(&self, owner: &PubkeyBytes) -> &[Txid] {
        self.index.chain(owner)
    }

    /// An accepted transaction.
    pub fn get(&self, txid: &Txid) -> Option<&ValidTx> {
        self.txs.get(txid)
    }

    /// The JSON view of an accepted transaction (`enigma.ledger_tx`).
    pub fn view(&self, txid: &Txid) -> Option<Value> {
        self.txs.get(txid).map(decoded::view)
    }

    /// Every accepted txid in acceptance order. Persist in this order; replaying the bytes
    /// through [`PolicyBook::submit`] in this order rebuilds the same book.
    pub fn txids(&self) -> &[Txid] {
        &self.order
    }

    /// Whether `txid` was refused as a fork loser or a descendant of one.
    pub fn is_fork_loser(&self, txid: &Txid) -> bool {
        self.index.is_fork_loser(txid)
    }

    /// Fork evidence gathered so far (both transactions of each fork, re-checkable by anyone).
    pub fn forks(&self) -> &[ForkEvidence] {
        &self.forks
    }

    /// See [`PolicyState::may`].
    pub fn may(&self, owner: &PubkeyBytes, requester: &PubkeyBytes, key: &DataKey, level: Level) -> bool {
        self.state.may(owner, requester, key, level)
    }

    /// See [`PolicyState::terms`].
    pub fn terms(&self, owner: &PubkeyBytes, requester: &PubkeyBytes, key: &DataKey) -> Option<(Level, u32)> {
        self.state.terms(owner, requester, key)
    }

    /// See [`PolicyState::grants`].
    pub fn grants(&self, owner: &PubkeyBytes) -> Vec<Grant> {
        self.state.grants(owner)
    }

    /// The access state, for queries not wrapped here.
    pub fn state(&self) -> &PolicyState {
        &self.state
    }
}
