//! The Custody actor: this node's shares, on their own thread (a `SyncArbiter`), because LMDB
//! writes block and must not stall the network.
//!
//! Owns: the [`CustodyStore`]; one typed message per storage operation; the default commit deadline
//! [`PENDING_GRACE`]. The SyncArbiter restarts the actor from its factory if it stops. Must never:
//! verify signatures or decide access — the router does that before asking; never reconstruct
//! anything (it only ever sees one share per key); never import another actor — it is the bottom
//! layer (like mini-redis's `db.rs`), and the duties that drive other actors live in `upkeep/`.

mod store;

pub use store::{CustodyStore, HeldShare, ShareRecord, ShareState, StoreError};

use actix::prelude::*;
use enigma_protocol::field::Fp;
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::wire::{AccessEntry, DeleteKey, Signed};
use std::time::Duration;

/// Default commit deadline of a store, from its manifest's `created_ms`: holders refuse the owner's
/// commit after it, and the recovery pass may drop a share still pending a little later.
pub const PENDING_GRACE: Duration = Duration::from_secs(10 * 60);

pub struct Custody {
    store: CustodyStore,
    /// How long after a manifest's `created_ms` its pending shares may still be committed.
    pending_grace_ms: u64,
}

impl Custody {
    /// Starts the actor on its own thread over an opened store, with the default pending grace.
    pub fn start(store: CustodyStore) -> Addr<Custody> {
        Custody::start_with_grace(store, PENDING_GRACE)
    }

    /// Starts the actor; a pending share is committed by its owner only within `pending_grace` of
    /// its manifest's creation (the recovery pass settles it after that).
    pub fn start_with_grace(store: CustodyStore, pending_grace: Duration) -> Addr<Custody> {
        let pending_grace_ms = pending_grace.as_millis() as u64;
        SyncArbiter::start(1, move || Custody { store: store.clone(), pending_grace_ms })
    }
}

impl Actor for Custody {
    type Context = SyncContext<Self>;
}

/// Store phase 1: keep a share as pending.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct PutPending {
    pub manifest: Manifest,
    pub salt: [u8; 32],
    pub share: Vec<Fp>,
    pub now_ms: u64,
}
impl Handler<PutPending> for Custody {
    type Result = Result<(), StoreError>;
    fn handle(&mut self, m: PutPending, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.put_pending(&m.manifest, m.salt, &m.share, m.now_ms)
    }
}

/// Store phase 2: commit a pending share. `Ok(false)` if the key is not held here.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct Commit {
    pub key: DataKey,
    pub now_ms: u64,
}
impl Handler<Commit> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: Commit, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.commit(&m.key, m.now_ms, self.pending_grace_ms)
    }
}

/// Recovery: commits a share pending under exactly this manifest (a co-holder holds it committed).
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct RollForward {
    pub manifest: Manifest,
    pub now_ms: u64,
}
impl Handler<RollForward> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: RollForward, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.roll_forward(&m.manifest, m.now_ms)
    }
}

/// Recovery: drops a share still pending under exactly this manifest (the store never committed).
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct DropPending {
    pub manifest: Manifest,
}
impl Handler<DropPending> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: DropPending, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.drop_pending(&m.manifest)
    }
}

/// The committed share of a key.
#[derive(Message)]
#[rtype(result = "Result<Option<HeldShare>, StoreError>")]
pub struct GetShare {
    pub key: DataKey,
}
impl Handler<GetShare> for Custody {
    type Result = Result<Option<HeldShare>, StoreError>;
    fn handle(&mut self, m: GetShare, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.get(&m.key)
    }
}

/// The manifest of a committed key.
#[derive(Message)]
#[rtype(result = "Result<Option<Manifest>, StoreError>")]
pub struct GetManifest {
    pub key: DataKey,
}
impl Handler<GetManifest> for Custody {
    type Result = Result<Option<Manifest>, StoreError>;
    fn handle(&mut self, m: GetManifest, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.manifest(&m.key)
    }
}

/// Delete a share and keep its tombstone. `Ok(true)` if a share was held.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct Delete {
    pub tombstone: Signed<DeleteKey>,
}
impl Handler<Delete> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: Delete, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.delete(&m.tombstone)
    }
}

/// Tombstones held for some keys.
#[derive(Message)]
#[rtype(result = "Result<Vec<Signed<DeleteKey>>, StoreError>")]
pub struct Tombstones {
    pub keys: Vec<DataKey>,
}
impl Handler<Tombstones> for Custody {
    type Result = Result<Vec<Signed<DeleteKey>>, StoreError>;
    fn handle(&mut self, m: Tombstones, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.tombstones(&m.keys)
    }
}

/// Records a request nonce; `Ok(false)` means it was seen before (a replay).
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct CheckNonce {
    pub signer: Vec<u8>,
    pub nonce: [u8; 16],
    pub expires_ms: u64,
}
impl Handler<CheckNonce> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: CheckNonce, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.check_nonce(&m.signer, &m.nonce, m.expires_ms)
    }
}

/// Every record held here.
#[derive(Message)]
#[rtype(result = "Result<Vec<ShareRecord>, StoreError>")]
pub struct Held;
impl Handler<Held> for Custody {
    type Result = Result<Vec<ShareRecord>, StoreError>;
    fn handle(&mut self, _: Held, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.held()
    }
}

/// Housekeeping: drops expired nonces (see [`CustodyStore::sweep`]).
#[derive(Message)]
#[rtype(result = "Result<usize, StoreError>")]
pub struct Sweep {
    pub now_ms: u64,
}
impl Handler<Sweep> for Custody {
    type Result = Result<usize, StoreError>;
    fn handle(&mut self, m: Sweep, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.sweep(m.now_ms)
    }
}

/// The record of a key in any state.
#[derive(Message)]
#[rtype(result = "Result<Option<ShareRecord>, StoreError>")]
pub struct GetRecord {
    pub key: DataKey,
}
impl Handler<GetRecord> for Custody {
    type Result = Result<Option<ShareRecord>, StoreError>;
    fn handle(&mut self, m: GetRecord, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.record(&m.key)
    }
}

/// Records an access to a key.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct RecordAccess {
    pub key: DataKey,
    pub entry: AccessEntry,
}
impl Handler<RecordAccess> for Custody {
    type Result = Result<(), StoreError>;
    fn handle(&mut self, m: RecordAccess, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.record_access(&m.key, &m.entry)
    }
}

/// The access log of a key.
#[derive(Message)]
#[rtype(result = "Result<Vec<AccessEntry>, StoreError>")]
pub struct AccessLog {
    pub key: DataKey,
}
impl Handler<AccessLog> for Custody {
    type Result = Result<Vec<AccessEntry>, StoreError>;
    fn handle(&mut self, m: AccessLog, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.access_log(&m.key)
    }
}

/// Share repair: keep a refreshed share under a later-epoch manifest. `Ok(false)` if not newer.
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct Replace {
    pub manifest: Manifest,
    pub salt: [u8; 32],
    pub share: Vec<Fp>,
    pub now_ms: u64,
}
impl Handler<Replace> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: Replace, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.replace(&m.manifest, m.salt, &m.share, m.now_ms)
    }
}

/// Drops a share older than `newer_epoch` (this node was replaced while away).
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct DropStale {
    pub key: DataKey,
    pub newer_epoch: u64,
}
impl Handler<DropStale> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: DropStale, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.drop_stale(&m.key, m.newer_epoch)
    }
}

/// Records an endorsement (one body per key and epoch).
#[derive(Message)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct EndorseOnce {
    pub key: DataKey,
    pub epoch: u64,
    pub body_hash: [u8; 32],
}
impl Handler<EndorseOnce> for Custody {
    type Result = Result<bool, StoreError>;
    fn handle(&mut self, m: EndorseOnce, _: &mut SyncContext<Self>) -> Self::Result {
        self.store.endorse_once(&m.key, m.epoch, m.body_hash)
    }
}
