//! The Ledger actor: this node's view of every owner's policy chain (DESIGN §5).
//!
//! Owns: the `PolicyBook` (validation and access state, pure code in `enigma_protocol::policy`), its
//! durable log ([`store`]), authoring the owner's transactions, gossiping them, syncing chains from
//! peers on join and when a gap shows, and answering "may this requester do this on this key?". Every
//! custody node asks its own Ledger: no node trusts another's "access granted". Must never: accept a
//! transaction the book refuses, or answer access questions from anything but its own book.

pub mod backend;
pub mod store;

use crate::network::{GossipMessage, Network, PeerEvent, Proto, Publish, SendRequest, SubscribeGossip, SubscribePeers};
use actix::prelude::*;
use backend::Backend;
use bitcoin::Txid;
use bitcoin::hashes::Hash;
use enigma_protocol::identity::{Identity, PubkeyBytes};
use enigma_protocol::keys::DataKey;
use enigma_protocol::policy::{Level, PolicyBook, PolicyChange, PolicyError, ValidTx};
use enigma_protocol::wire::{self, LEDGER_TOPIC, Request, Response};
use libp2p::PeerId;
use std::path::Path;
use store::{LedgerStore, LedgerStoreError};

pub struct Ledger {
    book: PolicyBook,
    store: LedgerStore,
    network: Addr<Network>,
    backend: Backend,
}

impl Ledger {
    /// Opens the log in `dir` and replays it.
    pub fn open(
        dir: &Path,
        map_size: usize,
        network: Addr<Network>,
        backend: Backend,
    ) -> Result<Ledger, LedgerStoreError> {
        let store = LedgerStore::open(dir, map_size)?;
        let mut book = PolicyBook::new();
        let log = store.all()?;
        for tx in &log {
            if let Err(e) = book.submit(tx) {
                match e {
                    PolicyError::Fork { .. } | PolicyError::ExtendsFork { .. } => {}
                    other => tracing::error!(error = %other, "ledger log holds a transaction the book refuses"),
                }
            }
        }
        tracing::info!(transactions = log.len(), forks = book.forks().len(), "ledger replayed");
        Ok(Ledger { book, store, network, backend })
    }

    /// Submits to the book and keeps what the book recorded (accepted, or fork evidence).
    fn record(&mut self, bytes: &[u8]) -> Result<ValidTx, PolicyError> {
        let result = self.book.submit(bytes);
        let keep = match &result {
            Ok(_) => true,
            Err(PolicyError::Fork { existing, conflicting, .. }) => {
                tracing::warn!(%existing, %conflicting, "policy fork: kept as evidence, second spend refused");
                true
            }
            Err(PolicyError::ExtendsFork { .. }) => true,
            Err(_) => false,
        };
        if keep && let Err(e) = self.store.append(bytes) {
            tracing::error!(error = %e, "cannot persist a policy transaction");
        }
        result
    }

    fn publish_backend(&self, tx: Vec<u8>) {
        if let Backend::BitcoinCore(rpc) = self.backend.clone() {
            actix::spawn(async move {
                match tokio::task::spawn_blocking(move || rpc.send_raw_transaction(&tx)).await {
                    Ok(Ok(txid)) => tracing::info!(%txid, "policy transaction sent to bitcoin core"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "bitcoin core backend"),
                    Err(e) => tracing::warn!(error = %e, "bitcoin core backend task"),
                }
            });
        }
    }
}

impl Actor for Ledger {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.network.do_send(SubscribeGossip { topic: LEDGER_TOPIC.to_string(), recipient: ctx.address().recipient() });
        self.network.do_send(SubscribePeers(ctx.address().recipient()));
    }
}

/// Outcome of submitting a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    Accepted(Txid),
    AlreadyKnown(Txid),
}

/// Why authoring a policy transaction failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("cannot persist the policy transaction: {0}")]
    Store(#[from] LedgerStoreError),
}

/// The owner publishes a policy change: build, sign, record, gossip, hand to the backend.
#[derive(Message)]
#[rtype(result = "Result<ValidTx, AuthorError>")]
pub struct Author {
    pub identity: Identity,
    pub change: PolicyChange,
}

impl Handler<Author> for Ledger {
    type Result = Result<ValidTx, AuthorError>;
    fn handle(&mut self, msg: Author, _: &mut Context<Self>) -> Self::Result {
        // Write-ahead: the transaction is durable in the log (one LMDB transaction) before the book
        // accepts it and before anyone else sees it. A crash before the append leaves it nowhere; a
        // crash after leaves it in the log, replayed on start and pulled by every peer's sync when
        // this node comes back — applied everywhere or nowhere, never only in memory.
        let prev = self.book.tip(&msg.identity.pubkey());
        let tx = enigma_protocol::policy::build_policy_tx(&msg.identity, prev, msg.change)?;
        let bytes = enigma_protocol::policy::encode_tx(&tx);
        self.store.append(&bytes)?;
        let valid = self.book.submit(&bytes)?;
        self.network.do_send(Publish { topic: LEDGER_TOPIC.to_string(), data: valid.bytes.clone() });
        self.publish_backend(valid.bytes.clone());
        tracing::info!(txid = %valid.txid, action = valid.payload.action.as_str(), "policy transaction authored");
        Ok(valid)
    }
}

/// A transaction from a peer (push, gossip or sync).
#[derive(Message)]
#[rtype(result = "Result<Submitted, PolicyError>")]
pub struct Submit {
    pub tx: Vec<u8>,
}

impl Handler<Submit> for Ledger {
    type Result = Result<Submitted, PolicyError>;
    fn handle(&mut self, msg: Submit, _: &mut Context<Self>) -> Self::Result {
        match self.record(&msg.tx) {
            Ok(v) => {
                tracing::info!(txid = %v.txid, action = v.payload.action.as_str(), "policy transaction accepted");
                Ok(Submitted::Accepted(v.txid))
            }
            Err(PolicyError::AlreadyKnown(t)) => Ok(Submitted::AlreadyKnown(t)),
            Err(e) => Err(e),
        }
    }
}

/// May `requester` act at `level` on `owner`'s `key`?
#[derive(Message)]
#[rtype(result = "bool")]
pub struct May {
    pub owner: PubkeyBytes,
    pub requester: PubkeyBytes,
    pub key: DataKey,
    pub level: Level,
}

impl Handler<May> for Ledger {
    type Result = bool;
    fn handle(&mut self, m: May, _: &mut Context<Self>) -> bool {
        self.book.may(&m.owner, &m.requester, &m.key, m.level)
    }
}

/// May `requester` use the key of this manifest body at `level`? (Derived keys: only their deriver,
/// while it has access to every source — `admission::may_use`.)
#[derive(Message)]
#[rtype(result = "bool")]
pub struct MayUse {
    pub body: enigma_protocol::manifest::ManifestBody,
    pub requester: PubkeyBytes,
    pub level: Level,
}

impl Handler<MayUse> for Ledger {
    type Result = bool;
    fn handle(&mut self, m: MayUse, _: &mut Context<Self>) -> bool {
        enigma_protocol::admission::may_use(self.book.state(), &m.body, &m.requester, m.level)
    }
}

/// What `requester` holds on `owner`'s `key`: (highest level, strictest min_count), or `None`.
#[derive(Message)]
#[rtype(result = "Option<(Level, u32)>")]
pub struct Terms {
    pub owner: PubkeyBytes,
    pub requester: PubkeyBytes,
    pub key: DataKey,
}

impl Handler<Terms> for Ledger {
    type Result = Option<(Level, u32)>;
    fn handle(&mut self, m: Terms, _: &mut Context<Self>) -> Self::Result {
        self.book.terms(&m.owner, &m.requester, &m.key)
    }
}

/// The owner's current grants, as JSON (for `policy()`).
#[derive(Message)]
#[rtype(result = "serde_json::Value")]
pub struct Grants {
    pub owner: PubkeyBytes,
}

impl Handler<Grants> for Ledger {
    type Result = MessageResult<Grants>;
    fn handle(&mut self, m: Grants, _: &mut Context<Self>) -> Self::Result {
        MessageResult(serde_json::Value::Array(self.book.grants(&m.owner).iter().map(|g| g.to_json()).collect()))
    }
}

/// The decoded view of a transaction (for `ledger_tx(txid)`).
#[derive(Message)]
#[rtype(result = "Option<serde_json::Value>")]
pub struct View {
    pub txid: Txid,
}

impl Handler<View> for Ledger {
    type Result = Option<serde_json::Value>;
    fn handle(&mut self, m: View, _: &mut Context<Self>) -> Self::Result {
        self.book.view(&m.txid)
    }
}

/// Txids held, in acceptance order.
#[derive(Message)]
#[rtype(result = "Vec<[u8; 32]>")]
pub struct Inventory;

impl Handler<Inventory> for Ledger {
    type Result = MessageResult<Inventory>;
    fn handle(&mut self, _: Inventory, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.book.txids().iter().map(|t| t.to_byte_array()).collect())
    }
}

/// The policy chains, one per owner: (owner, its transactions, its tip), owners in the order of
/// their first transaction (for the status page).
#[derive(Message)]
#[rtype(result = "Vec<(PubkeyBytes, usize, String)>")]
pub struct Chains;

impl Handler<Chains> for Ledger {
    type Result = MessageResult<Chains>;
    fn handle(&mut self, _: Chains, _: &mut Context<Self>) -> Self::Result {
        let mut owners: Vec<PubkeyBytes> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for txid in self.book.txids() {
            if let Some(tx) = self.book.get(txid)
                && seen.insert(tx.owner)
            {
                owners.push(tx.owner);
            }
        }
        MessageResult(
            owners
                .into_iter()
                .filter_map(|o| {
                    let chain = self.book.chain(&o);
                    chain.last().map(|tip| (o, chain.len(), tip.to_string()))
                })
                .collect(),
        )
    }
}

/// Raw transactions by txid (unknown ones are skipped).
#[derive(Message)]
#[rtype(result = "Vec<Vec<u8>>")]
pub struct GetTxs {
    pub txids: Vec<[u8; 32]>,
}

impl Handler<GetTxs> for Ledger {
    type Result = MessageResult<GetTxs>;
    fn handle(&mut self, m: GetTxs, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            m.txids.iter().filter_map(|t| self.book.get(&Txid::from_byte_array(*t)).map(|v| v.bytes.clone())).collect(),
        )
    }
}

/// Which of these txids are not in the book.
#[derive(Message)]
#[rtype(result = "Vec<[u8; 32]>")]
pub struct Missing {
    pub txids: Vec<[u8; 32]>,
}

impl Handler<Missing> for Ledger {
    type Result = MessageResult<Missing>;
    fn handle(&mut self, m: Missing, _: &mut Context<Self>) -> Self::Result {
        MessageResult(m.txids.into_iter().filter(|t| self.book.get(&Txid::from_byte_array(*t)).is_none()).collect())
    }
}

impl Handler<GossipMessage> for Ledger {
    type Result = ();
    fn handle(&mut self, msg: GossipMessage, ctx: &mut Context<Self>) {
        if msg.topic != LEDGER_TOPIC {
            return;
        }
        match self.record(&msg.data) {
            Ok(v) => tracing::info!(txid = %v.txid, "policy transaction received by gossip"),
            Err(PolicyError::UnknownPrevious { .. }) => {
                if let Some(peer) = msg.source {
                    actix::spawn(sync_with(ctx.address(), self.network.clone(), peer));
                }
            }
            Err(PolicyError::AlreadyKnown(_)) => {}
            Err(e) => tracing::debug!(error = %e, "gossiped policy transaction refused"),
        }
    }
}

impl Handler<PeerEvent> for Ledger {
    type Result = ();
    fn handle(&mut self, ev: PeerEvent, ctx: &mut Context<Self>) {
        if let PeerEvent::Up(peer) = ev {
            actix::spawn(sync_with(ctx.address(), self.network.clone(), peer));
        }
    }
}

async fn ask(network: &Addr<Network>, peer: PeerId, req: &Request) -> Option<Response> {
    let frame = network.send(SendRequest { proto: Proto::Custody, peer, frame: wire::encode(req) }).await.ok()?.ok()?;
    wire::decode(&frame).ok()
}

/// Fetches the transactions `peer` has and this node lacks, parents first.
pub async fn sync_with(ledger: Addr<Ledger>, network: Addr<Network>, peer: PeerId) {
    let Some(Response::LedgerInventory(inventory)) = ask(&network, peer, &Request::LedgerInventory).await else {
        return;
    };
    let Ok(missing) = ledger.send(Missing { txids: inventory }).await else { return };
    let mut accepted = 0;
    for chunk in missing.chunks(100) {
        let Some(Response::LedgerTxs(txs)) = ask(&network, peer, &Request::LedgerTxs { txids: chunk.to_vec() }).await
        else {
            return;
        };
        for tx in txs {
            if let Ok(Ok(Submitted::Accepted(_))) = ledger.send(Submit { tx }).await {
                accepted += 1;
            }
        }
    }
    if accepted > 0 {
        tracing::info!(%peer, accepted, "ledger synced");
    }
}
