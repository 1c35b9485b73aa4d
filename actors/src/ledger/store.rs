//! The ledger's durable log: every policy transaction this node recorded, in the order it recorded
//! them, in LMDB (durable commits).
//!
//! Owns: appending and replaying. Replaying the log through a fresh `PolicyBook` rebuilds exactly the
//! same book (accepted chains, fork evidence), because the book is deterministic in its input order.
//! Must never: validate (the book does) or reorder.

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum LedgerStoreError {
    #[error("ledger storage: {0}")]
    Lmdb(#[from] heed::Error),
    #[error("ledger directory: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct LedgerStore {
    env: Env,
    log: Database<Bytes, Bytes>,
}

impl LedgerStore {
    pub fn open(dir: &Path, map_size: usize) -> Result<LedgerStore, LedgerStoreError> {
        std::fs::create_dir_all(dir)?;
        // SAFETY: one environment per directory per process; this node owns its data directory.
        let env = unsafe { EnvOpenOptions::new().map_size(map_size).max_dbs(2).open(dir)? };
        let mut wtxn = env.write_txn()?;
        let log = env.create_database(&mut wtxn, Some("log"))?;
        wtxn.commit()?;
        Ok(LedgerStore { env, log })
    }

    /// Appends a transaction's bytes.
    pub fn append(&self, tx: &[u8]) -> Result<(), LedgerStoreError> {
        let mut wtxn = self.env.write_txn()?;
        let next = match self.log.last(&wtxn)? {
            Some((k, _)) => u64::from_be_bytes(k.try_into().unwrap_or([0xff; 8])).wrapping_add(1),
            None => 0,
        };
        self.log.put(&mut wtxn, &next.to_be_bytes(), tx)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Every recorded transaction, oldest first.
    pub fn all(&self) -> Result<Vec<Vec<u8>>, LedgerStoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.log.iter(&rtxn)? {
            out.push(item?.1.to_vec());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = LedgerStore::open(dir.path(), 1 << 22).unwrap();
            for i in 0..300u32 {
                s.append(&i.to_le_bytes()).unwrap();
            }
            let env = s.env.clone();
            drop(s);
            env.prepare_for_closing().wait();
        }
        let s = LedgerStore::open(dir.path(), 1 << 22).unwrap();
        let all = s.all().unwrap();
        assert_eq!(all.len(), 300);
        assert!(all.iter().enumerate().all(|(i, b)| b == &(i as u32).to_le_bytes()));
    }
}
