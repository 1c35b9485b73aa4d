//! The custody store: this node's shares, manifests, tombstones and seen nonces in LMDB (heed).
//!
//! Owns: the on-disk layout (one LMDB environment per node, durable commits) and every read and
//! write of it, each in one transaction so a crash leaves either the old or the new state. A store
//! is two-phase: a share arrives *pending* with its manifest and becomes *committed* when the owner
//! confirms; only committed shares are served. Must never: hold a plaintext value (only shares),
//! verify signatures or decide access (callers do that before calling).

use enigma_protocol::field::{self, Fp};
use enigma_protocol::keys::DataKey;
use enigma_protocol::manifest::Manifest;
use enigma_protocol::wire::{AccessEntry, DeleteKey, Signed};
use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Lmdb(#[from] heed::Error),
    #[error("cannot create the data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("key was deleted")]
    Tombstoned,
    #[error("the store's commit deadline has passed; the pending share will be dropped")]
    CommitTooLate,
}

/// Whether a share may be served yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShareState {
    Pending,
    Committed,
}

/// What is kept per key besides the share itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub state: ShareState,
    pub manifest: Manifest,
    pub salt: [u8; 32],
    pub updated_ms: u64,
}

/// A share as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldShare {
    pub record: ShareRecord,
    pub share: Vec<Fp>,
}

#[derive(Clone)]
pub struct CustodyStore {
    env: Env,
    records: Database<Bytes, Bytes>,
    shares: Database<Bytes, Bytes>,
    tombstones: Database<Bytes, Bytes>,
    nonces: Database<Bytes, Bytes>,
    access: Database<Bytes, Bytes>,
    endorsed: Database<Bytes, Bytes>,
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: for<'a> Deserialize<'a>>(b: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl CustodyStore {
    /// Opens (creating if needed) the environment in `dir`.
    pub fn open(dir: &Path, map_size: usize) -> Result<CustodyStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        // SAFETY: heed requires that the same environment is not opened twice in one process and that
        // the files are not modified by other processes while open; this node owns its data dir.
        let env = unsafe { EnvOpenOptions::new().map_size(map_size).max_dbs(8).open(dir)? };
        let mut wtxn = env.write_txn()?;
        let records = env.create_database(&mut wtxn, Some("records"))?;
        let shares = env.create_database(&mut wtxn, Some("shares"))?;
        let tombstones = env.create_database(&mut wtxn, Some("tombstones"))?;
        let nonces = env.create_database(&mut wtxn, Some("nonces"))?;
        let access = env.create_database(&mut wtxn, Some("access"))?;
        let endorsed = env.create_database(&mut wtxn, Some("endorsed"))?;
        wtxn.commit()?;
        Ok(CustodyStore { env, records, shares, tombstones, nonces, access, endorsed })
    }

    /// Phase 1 of a store: keeps the share as pending. Idempotent for the same manifest; a key that
    /// was deleted is refused.
    pub fn put_pending(
        &self,
        manifest: &Manifest,
        salt: [u8; 32],
        share: &[Fp],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let key = manifest.body.key.0;
        let mut wtxn = self.env.write_txn()?;
        if self.tombstones.get(&wtxn, &key)?.is_some() {
            return Err(StoreError::Tombstoned);
        }
        if let Some(existing) = self.records.get(&wtxn, &key)? {
            let existing: ShareRecord = dec(existing)?;
            if existing.state == ShareState::Committed {
                return if existing.manifest == *manifest {
                    Ok(())
                } else {
                    Err(StoreError::Corrupt("key already stored with another manifest".into()))
                };
            }
        }
        let record = ShareRecord { state: ShareState::Pending, manifest: manifest.clone(), salt, updated_ms: now_ms };
        self.records.put(&mut wtxn, &key, &enc(&record)?)?;
        self.shares.put(&mut wtxn, &key, &field::to_bytes_vec(share))?;
        wtxn.commit()?;
        Ok(())
    }

    /// Phase 2: marks a pending share committed. Returns false if the key is unknown here. A pending
    /// share is committed only up to `deadline_ms` after its manifest's `created_ms`
    /// ([`StoreError::CommitTooLate`] after that): past the deadline the recovery pass may already have
    /// dropped the share elsewhere, and a late commit must not leave a key committed on too few holders.
    pub fn commit(&self, key: &DataKey, now_ms: u64, deadline_ms: u64) -> Result<bool, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let Some(raw) = self.records.get(&wtxn, &key.0)? else {
            return Ok(false);
        };
        let mut record: ShareRecord = dec(raw)?;
        if record.state != ShareState::Committed {
            if now_ms > record.manifest.body.created_ms.saturating_add(deadline_ms) {
                return Err(StoreError::CommitTooLate);
            }
            record.state = ShareState::Committed;
            record.updated_ms = now_ms;
            self.records.put(&mut wtxn, &key.0, &enc(&record)?)?;
            wtxn.commit()?;
        }
        Ok(true)
    }

    /// Recovery, roll forward: commits a pending share whose exact manifest a co-holder holds
    /// committed (so the owner did send the commit, which it does only once every holder kept its
    /// share). No deadline: a committed co-holder proves the store committed. Returns whether the
    /// share was pending under `manifest` and is now committed.
    pub fn roll_forward(&self, manifest: &Manifest, now_ms: u64) -> Result<bool, StoreError> {
        let key = manifest.body.key.0;
        let mut wtxn = self.env.write_txn()?;
        let Some(raw) = self.records.get(&wtxn, &key)? else { return Ok(false) };
        let mut record: ShareRecord = dec(raw)?;
        if record.state != ShareState::Pending || record.manifest != *manifest {
            return Ok(false);
        }
        record.state = ShareState::Committed;
        record.updated_ms = now_ms;
        self.records.put(&mut wtxn, &key, &enc(&record)?)?;
        wtxn.commit()?;
        Ok(true)
    }

    /// Recovery, roll back: drops a share that is still pending under `manifest` (a store that never
    /// committed). Returns whether it was dropped. No tombstone: the key never existed.
    pub fn drop_pending(&self, manifest: &Manifest) -> Result<bool, StoreError> {
        let key = manifest.body.key.0;
        let mut wtxn = self.env.write_txn()?;
        let Some(raw) = self.records.get(&wtxn, &key)? else { return Ok(false) };
        let record: ShareRecord = dec(raw)?;
        if record.state != ShareState::Pending || record.manifest != *manifest {
            return Ok(false);
        }
        self.records.delete(&mut wtxn, &key)?;
        self.shares.delete(&mut wtxn, &key)?;
        wtxn.commit()?;
        Ok(true)
    }

    /// The committed share of a key, if held.
    pub fn get(&self, key: &DataKey) -> Result<Option<HeldShare>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let Some(raw) = self.records.get(&rtxn, &key.0)? else {
            return Ok(None);
        };
        let record: ShareRecord = dec(raw)?;
        if record.state != ShareState::Committed {
            return Ok(None);
        }
        let bytes =
            self.shares.get(&rtxn, &key.0)?.ok_or_else(|| StoreError::Corrupt("record without share".into()))?;
        let share = field::from_bytes_vec(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(HeldShare { record, share }))
    }

    /// The record of a key in any state (pending or committed).
    pub fn record(&self, key: &DataKey) -> Result<Option<ShareRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.records.get(&rtxn, &key.0)?.map(dec).transpose()
    }

    /// The manifest of a committed key held here.
    pub fn manifest(&self, key: &DataKey) -> Result<Option<Manifest>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let Some(raw) = self.records.get(&rtxn, &key.0)? else {
            return Ok(None);
        };
        let record: ShareRecord = dec(raw)?;
        Ok((record.state == ShareState::Committed).then_some(record.manifest))
    }

    /// Deletes the share (pending or committed) and keeps the tombstone. Returns whether a share was
    /// held.
    pub fn delete(&self, tombstone: &Signed<DeleteKey>) -> Result<bool, StoreError> {
        let key = tombstone.body.key.0;
        let mut wtxn = self.env.write_txn()?;
        let had = self.records.delete(&mut wtxn, &key)?;
        self.shares.delete(&mut wtxn, &key)?;
        self.tombstones.put(&mut wtxn, &key, &enc(tombstone)?)?;
        wtxn.commit()?;
        Ok(had)
    }

    /// Tombstones held for any of `keys`.
    pub fn tombstones(&self, keys: &[DataKey]) -> Result<Vec<Signed<DeleteKey>>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for k in keys {
            if let Some(raw) = self.tombstones.get(&rtxn, &k.0)? {
                out.push(dec(raw)?);
            }
        }
        Ok(out)
    }

    /// Whether a key has a tombstone here.
    pub fn is_tombstoned(&self, key: &DataKey) -> Result<bool, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self.tombstones.get(&rtxn, &key.0)?.is_some())
    }

    /// Records a (signer, nonce) pair until `expires_ms`; false if it was already seen (a replay).
    pub fn check_nonce(&self, signer: &[u8], nonce: &[u8; 16], expires_ms: u64) -> Result<bool, StoreError> {
        let mut id = signer.to_vec();
        id.extend_from_slice(nonce);
        let mut wtxn = self.env.write_txn()?;
        if self.nonces.get(&wtxn, &id)?.is_some() {
            return Ok(false);
        }
        self.nonces.put(&mut wtxn, &id, &expires_ms.to_le_bytes())?;
        wtxn.commit()?;
        Ok(true)
    }

    /// Records one access to a key (the owner's access log, kept by each holder).
    pub fn record_access(&self, key: &DataKey, entry: &AccessEntry) -> Result<(), StoreError> {
        let mut id = key.0.to_vec();
        id.extend_from_slice(&entry.timestamp_ms.to_be_bytes());
        id.extend_from_slice(&entry.request);
        let mut wtxn = self.env.write_txn()?;
        self.access.put(&mut wtxn, &id, &enc(entry)?)?;
        wtxn.commit()?;
        Ok(())
    }

    /// The recorded accesses to a key, oldest first.
    pub fn access_log(&self, key: &DataKey) -> Result<Vec<AccessEntry>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.access.prefix_iter(&rtxn, &key.0)? {
            out.push(dec(item?.1)?);
        }
        Ok(out)
    }

    /// Share repair: keeps a refreshed share, committed, under a manifest that supersedes the one held
    /// (`Manifest::supersedes`: the owner's, same data, group size and threshold, a later epoch of the
    /// same lineage), or for a key not held before. Returns false, changing nothing, otherwise.
    pub fn replace(&self, manifest: &Manifest, salt: [u8; 32], share: &[Fp], now_ms: u64) -> Result<bool, StoreError> {
        let key = manifest.body.key.0;
        let mut wtxn = self.env.write_txn()?;
        if self.tombstones.get(&wtxn, &key)?.is_some() {
            return Err(StoreError::Tombstoned);
        }
        if let Some(raw) = self.records.get(&wtxn, &key)? {
            let held: ShareRecord = dec(raw)?;
            if !manifest.supersedes(&held.manifest.body) {
                return Ok(false);
            }
        }
        let record = ShareRecord { state: ShareState::Committed, manifest: manifest.clone(), salt, updated_ms: now_ms };
        self.records.put(&mut wtxn, &key, &enc(&record)?)?;
        self.shares.put(&mut wtxn, &key, &field::to_bytes_vec(share))?;
        wtxn.commit()?;
        Ok(true)
    }

    /// Drops a stale share (a repair gave the key to others while this node was away). Only a share
    /// of an epoch older than `newer_epoch` is dropped. No tombstone: the key lives on elsewhere.
    pub fn drop_stale(&self, key: &DataKey, newer_epoch: u64) -> Result<bool, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let Some(raw) = self.records.get(&wtxn, &key.0)? else { return Ok(false) };
        let held: ShareRecord = dec(raw)?;
        if held.manifest.body.epoch >= newer_epoch {
            return Ok(false);
        }
        self.records.delete(&mut wtxn, &key.0)?;
        self.shares.delete(&mut wtxn, &key.0)?;
        wtxn.commit()?;
        Ok(true)
    }

    /// Records that this holder endorses `body_hash` as epoch `epoch` of `key`; false if it already
    /// endorsed a different body for that epoch (each holder endorses one repair per epoch).
    pub fn endorse_once(&self, key: &DataKey, epoch: u64, body_hash: [u8; 32]) -> Result<bool, StoreError> {
        let mut id = key.0.to_vec();
        id.extend_from_slice(&epoch.to_be_bytes());
        let mut wtxn = self.env.write_txn()?;
        if let Some(prev) = self.endorsed.get(&wtxn, &id)? {
            return Ok(prev == body_hash);
        }
        self.endorsed.put(&mut wtxn, &id, &body_hash)?;
        wtxn.commit()?;
        Ok(true)
    }

    /// Every key with a record here, with its state and manifest.
    pub fn held(&self) -> Result<Vec<ShareRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.records.iter(&rtxn)? {
            let (_, v) = item?;
            out.push(dec(v)?);
        }
        Ok(out)
    }

    /// Housekeeping: drops nonces that expired. Returns how many. (Pending shares are settled by
    /// the recovery pass in [`super::sync`], which needs the co-holders' view.)
    pub fn sweep(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let mut expired = Vec::new();
        for item in self.nonces.iter(&wtxn)? {
            let (k, v) = item?;
            let exp = u64::from_le_bytes(v.try_into().map_err(|_| StoreError::Corrupt("nonce expiry".into()))?);
            if exp < now_ms {
                expired.push(k.to_vec());
            }
        }
        for k in &expired {
            self.nonces.delete(&mut wtxn, k)?;
        }
        wtxn.commit()?;
        Ok(expired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigma_protocol::identity::Identity;
    use enigma_protocol::manifest::{Holder, MANIFEST_VERSION, ManifestBody};
    use enigma_protocol::value::ValueMeta;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn manifest(owner: &Identity, key: u8) -> Manifest {
        let holders = (0..3).map(|i| Holder { peer: vec![i; 4], x: i as u64 + 1, commitment: [0; 32] }).collect();
        ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([key; 32]),
            owner: owner.pubkey(),
            meta: ValueMeta::Int,
            threshold: 1,
            holders,
            created_ms: 1,
            epoch: 0,
            derived_from: vec![],
            scale: enigma_protocol::fixed::NumScale::DEFAULT,
        }
        .sign(owner)
    }

    #[test]
    fn two_phase_store_delete_and_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let owner = Identity::generate(&mut rng);
        let m = manifest(&owner, 1);
        let key = m.body.key;
        store.put_pending(&m, [1; 32], &[Fp::ONE], 10).unwrap();
        assert_eq!(store.get(&key).unwrap(), None, "pending shares are not served");
        assert!(store.commit(&key, 11, 100).unwrap());
        let held = store.get(&key).unwrap().unwrap();
        assert_eq!(held.share, vec![Fp::ONE]);
        assert_eq!(store.manifest(&key).unwrap(), Some(m.clone()));

        let tomb = Signed::sign(DeleteKey { key }, &owner, 12, &mut rng);
        assert!(store.delete(&tomb).unwrap());
        assert_eq!(store.get(&key).unwrap(), None);
        assert!(matches!(store.put_pending(&m, [1; 32], &[Fp::ONE], 13), Err(StoreError::Tombstoned)));
        assert_eq!(store.tombstones(&[key]).unwrap(), vec![tomb]);

        let m2 = manifest(&owner, 2);
        store.put_pending(&m2, [2; 32], &[Fp::ONE], 20).unwrap();
        assert!(matches!(store.commit(&m2.body.key, 200, 100), Err(StoreError::CommitTooLate)));
        assert_eq!(store.get(&m2.body.key).unwrap(), None, "a late commit changes nothing");
        let mut other = m2.clone();
        other.body.created_ms = 2;
        assert!(!store.drop_pending(&other).unwrap(), "only the exact pending manifest is dropped");
        assert!(store.drop_pending(&m2).unwrap());
        assert!(!store.commit(&m2.body.key, 31, 100).unwrap());
    }

    #[test]
    fn roll_forward_commits_only_the_same_pending_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let m = manifest(&owner, 4);
        store.put_pending(&m, [1; 32], &[Fp::ONE], 10).unwrap();
        let mut other = m.clone();
        other.body.created_ms = 2;
        assert!(!store.roll_forward(&other, 1_000_000).unwrap());
        assert!(store.roll_forward(&m, 1_000_000).unwrap(), "no deadline for a proven commit");
        assert_eq!(store.get(&m.body.key).unwrap().unwrap().share, vec![Fp::ONE]);
        assert!(!store.roll_forward(&m, 1_000_001).unwrap(), "already committed");
        assert!(!store.drop_pending(&m).unwrap(), "a committed share is never dropped as pending");
    }

    #[test]
    fn repair_replaces_only_older_epochs_and_endorses_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
        let owner = Identity::generate(&mut StdRng::seed_from_u64(1));
        let m0 = manifest(&owner, 3);
        let key = m0.body.key;
        store.put_pending(&m0, [1; 32], &[Fp::ONE], 1).unwrap();
        store.commit(&key, 2, 100).unwrap();
        // a later epoch signed by someone else as "owner" never replaces the held share
        let thief = Identity::generate(&mut StdRng::seed_from_u64(9));
        let mut stolen = m0.body.clone();
        stolen.epoch = 1;
        stolen.owner = thief.pubkey();
        assert!(!store.replace(&stolen.sign(&thief), [2; 32], &[Fp::from_u64(5)], 3).unwrap());
        // a later epoch of the owner's own lineage does
        let mut b1 = m0.body.clone();
        b1.epoch = 1;
        let m1 = b1.sign(&owner);
        assert!(store.replace(&m1, [2; 32], &[Fp::from_u64(5)], 3).unwrap());
        assert_eq!(store.get(&key).unwrap().unwrap().share, vec![Fp::from_u64(5)]);
        assert!(!store.replace(&m1, [3; 32], &[Fp::from_u64(6)], 4).unwrap(), "same epoch: no change");
        assert!(!store.drop_stale(&key, 1).unwrap(), "not older than epoch 1");
        assert!(store.drop_stale(&key, 2).unwrap());
        assert_eq!(store.get(&key).unwrap(), None);
        assert!(store.endorse_once(&key, 1, [7; 32]).unwrap());
        assert!(store.endorse_once(&key, 1, [7; 32]).unwrap(), "the same body again");
        assert!(!store.endorse_once(&key, 1, [8; 32]).unwrap(), "another body for the same epoch");
        assert!(store.endorse_once(&key, 2, [8; 32]).unwrap());
    }

    #[test]
    fn nonces_detect_replays() {
        let dir = tempfile::tempdir().unwrap();
        let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
        assert!(store.check_nonce(&[1; 33], &[2; 16], 100).unwrap());
        assert!(!store.check_nonce(&[1; 33], &[2; 16], 100).unwrap());
        assert!(store.check_nonce(&[1; 33], &[3; 16], 100).unwrap());
        assert_eq!(store.sweep(200).unwrap(), 2);
        assert!(store.check_nonce(&[1; 33], &[2; 16], 300).unwrap());
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let owner = Identity::generate(&mut rng);
        let m = manifest(&owner, 7);
        {
            let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
            store.put_pending(&m, [1; 32], &[Fp::from_u64(9)], 1).unwrap();
            store.commit(&m.body.key, 2, 100).unwrap();
            let env = store.env.clone();
            drop(store);
            env.prepare_for_closing().wait();
        }
        let store = CustodyStore::open(dir.path(), 1 << 24).unwrap();
        assert_eq!(store.get(&m.body.key).unwrap().unwrap().share, vec![Fp::from_u64(9)]);
    }
}
