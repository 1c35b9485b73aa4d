//! Per-owner policy chains: validating a transaction against the ledger's view (chain link, gap,
//! duplicate, fork) and an in-memory index of accepted chains and fork evidence.
//!
//! Owns: [`validate`] (context-free checks from `tx.rs` plus the chain rules), the [`ChainView`]
//! the ledger must answer, the in-memory [`ChainIndex`], and [`ForkEvidence`] that any node can
//! re-check from the two transactions alone.
//! Must never: evaluate access policy (that is `state.rs`), persist anything, or accept a
//! transaction whose signature has not been verified — a fork is only evidence when both sides
//! are validly signed by the owner.

use super::error::PolicyError;
use super::payload::Payload;
use super::tx::{CheckedTx, check_tx, genesis_outpoint};
use crate::identity::PubkeyBytes;
use bitcoin::{OutPoint, Transaction, Txid};
use std::collections::{HashMap, HashSet};

/// A policy transaction that passed every check against a chain view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTx {
    /// The standard Bitcoin txid (what `pair` / `revoke` return, shown as 64 hex characters).
    pub txid: Txid,
    /// The owner: the compressed key in the witness, which signed the transaction.
    pub owner: PubkeyBytes,
    /// The previous policy transaction of the owner; `None` for the first (spends genesis).
    pub prev: Option<Txid>,
    pub payload: Payload,
    pub tx: Transaction,
    /// The exact consensus bytes (store and gossip these).
    pub bytes: Vec<u8>,
}

/// What validation needs to know about the ledger. Implemented by [`ChainIndex`]; a persistent
/// ledger may implement it over its own tables.
pub trait ChainView {
    /// The txid of the accepted transaction that spends `outpoint`, if any.
    fn spender(&self, outpoint: &OutPoint) -> Option<Txid>;
    /// The owner of an accepted transaction, or `None` if `txid` is not accepted here.
    fn owner_of(&self, txid: &Txid) -> Option<PubkeyBytes>;
    /// Whether `txid` was refused as the losing side of a fork (or descends from one).
    fn is_fork_loser(&self, _txid: &Txid) -> bool {
        false
    }
}

/// Validates consensus-encoded transaction bytes against `chain`:
/// 1. decoding, shape, payload, owner key and signature ([`check_tx`]);
/// 2. already accepted (same txid) → [`PolicyError::AlreadyKnown`];
/// 3. the input spends the owner's genesis outpoint, or output 0 of an accepted transaction of
///    the same owner; an unknown previous transaction → [`PolicyError::UnknownPrevious`] (sync),
///    a refused fork side → [`PolicyError::ExtendsFork`], anything else →
///    [`PolicyError::BrokenLink`];
/// 4. that outpoint is still unspent, i.e. it is the owner's tip; otherwise
///    [`PolicyError::Fork`] carrying the accepted spender and this txid.
pub fn validate<V: ChainView + ?Sized>(tx_bytes: &[u8], chain: &V) -> Result<ValidTx, PolicyError> {
    link(check_tx(tx_bytes)?, chain)
}

/// The chain rules (steps 2–4 of [`validate`]) for an already checked transaction.
pub fn link<V: ChainView + ?Sized>(checked: CheckedTx, chain: &V) -> Result<ValidTx, PolicyError> {
    let txid = checked.txid;
    if chain.owner_of(&txid).is_some() {
        return Err(PolicyError::AlreadyKnown(txid));
    }
    let outpoint = checked.spends();
    let prev = if outpoint == genesis_outpoint(&checked.owner) {
        None
    } else {
        let prev = outpoint.txid;
        if chain.is_fork_loser(&prev) {
            return Err(PolicyError::ExtendsFork { txid, prev });
        }
        match chain.owner_of(&prev) {
            None if outpoint.vout == 0 => {
                return Err(PolicyError::UnknownPrevious { txid, prev });
            }
            None => {
                return Err(PolicyError::BrokenLink {
                    txid,
                    reason: format!("spends output {} of {prev}; policy transactions spend output 0", outpoint.vout),
                });
            }
            Some(owner) if owner != checked.owner => {
                return Err(PolicyError::BrokenLink {
                    txid,
                    reason: format!("previous transaction {prev} belongs to another owner"),
                });
            }
            Some(_) if outpoint.vout != 0 => {
                return Err(PolicyError::BrokenLink {
                    txid,
                    reason: format!("spends output {} of {prev}; policy transactions spend output 0", outpoint.vout),
                });
            }
            Some(_) => Some(prev),
        }
    };
    match chain.spender(&outpoint) {
        Some(existing) if existing == txid => Err(PolicyError::AlreadyKnown(txid)),
        Some(existing) => Err(PolicyError::Fork { outpoint, existing, conflicting: txid }),
        None => Ok(ValidTx {
            txid,
            owner: checked.owner,
            prev,
            payload: checked.payload,
            tx: checked.tx,
            bytes: checked.bytes,
        }),
    }
}

/// Proof that an owner signed two different transactions spending the same outpoint. Anyone can
/// re-check it with [`ForkEvidence::verify`] from the two transactions alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    pub owner: PubkeyBytes,
    pub outpoint: OutPoint,
    /// The side accepted here (first seen).
    pub existing: Txid,
    /// The refused side.
    pub conflicting: Txid,
    /// Consensus bytes of the accepted side.
    pub existing_tx: Vec<u8>,
    /// Consensus bytes of the refused side.
    pub conflicting_tx: Vec<u8>,
}

impl ForkEvidence {
    /// Checks that both transactions are valid policy transactions (shape and signature), of the
    /// same owner, spending the same outpoint, and different.
    pub fn verify(existing_tx: &[u8], conflicting_tx: &[u8]) -> Result<ForkEvidence, PolicyError> {
        let a = check_tx(existing_tx)?;
        let b = check_tx(conflicting_tx)?;
        if a.txid == b.txid {
            return Err(PolicyError::AlreadyKnown(a.txid));
        }
        if a.owner != b.owner || a.spends() != b.spends() {
            return Err(PolicyError::BrokenLink { txid: b.txid, reason: format!("does not conflict with {}", a.txid) });
        }
        Ok(ForkEvidence {
            owner: a.owner,
            outpoint: a.spends(),
            existing: a.txid,
            conflicting: b.txid,
            existing_tx: a.bytes,
            conflicting_tx: b.bytes,
        })
    }
}

/// In-memory index of accepted policy chains: who spent what, who owns which transaction, each
/// owner's chain in order, and the txids refused as fork losers.
#[derive(Debug, Default, Clone)]
pub struct ChainIndex {
    spends: HashMap<OutPoint, Txid>,
    owners: HashMap<Txid, PubkeyBytes>,
    chains: HashMap<PubkeyBytes, Vec<Txid>>,
    fork_losers: HashSet<Txid>,
}

impl ChainView for ChainIndex {
    fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    fn owner_of(&self, txid: &Txid) -> Option<PubkeyBytes> {
        self.owners.get(txid).copied()
    }

    fn is_fork_loser(&self, txid: &Txid) -> bool {
        self.fork_losers.contains(txid)
    }
}

impl ChainIndex {
    /// An empty index.
    pub fn new() -> ChainIndex {
        ChainIndex::default()
    }

    /// Appends a transaction validated against this index. Refuses (and changes nothing) if it
    /// is not the next link of its owner's chain, so the index can never hold a fork.
    pub fn insert(&mut self, tx: &ValidTx) -> Result<(), PolicyError> {
        if self.owners.contains_key(&tx.txid) {
            return Err(PolicyError::AlreadyKnown(tx.txid));
        }
        let tip = self.tip(&tx.owner);
        if tip != tx.prev {
            return Err(PolicyError::BrokenLink {
                txid: tx.txid,
                reason: match tip {
                    Some(t) => format!("the owner's tip is {t}"),
                    None => "the owner has no chain yet; the first transaction spends genesis".to_string(),
                },
            });
        }
        let outpoint = match tx.prev {
            Some(txid) => OutPoint { txid, vout: 0 },
            None => genesis_outpoint(&tx.owner),
        };
        self.spends.insert(outpoint, tx.txid);
        self.owners.insert(tx.txid, tx.owner);
        self.chains.entry(tx.owner).or_default().push(tx.txid);
        Ok(())
    }

    /// Remembers a txid refused as a fork loser (or as extending one), so its descendants are
    /// refused with [`PolicyError::ExtendsFork`] instead of asking for a sync again and again.
    pub fn mark_fork_loser(&mut self, txid: Txid) {
        self.fork_losers.insert(txid);
    }

    /// The owner's latest accepted transaction.
    pub fn tip(&self, owner: &PubkeyBytes) -> Option<Txid> {
        self.chains.get(owner).and_then(|c| c.last().copied())
    }

    /// The owner's accepted transactions, oldest first.
    pub fn chain(&self, owner: &PubkeyBytes) -> &[Txid] {
        self.chains.get(owner).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of accepted transactions.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether no transaction is accepted.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}
