//! Process-wide event counters the node's metrics read (`--metrics`): bans, repairs done and not
//! done, MPC sessions joined as a committee member.
//!
//! Owns: monotonically increasing totals since the process started. Must never: be used for a
//! decision (they are for operators only). One node runs per `enigma` process; where several run
//! in one process (in-process tests), the totals are their sum.

use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counters {
    pub bans: AtomicU64,
    pub repairs_done: AtomicU64,
    pub repairs_failed: AtomicU64,
    pub sessions_joined: AtomicU64,
}

pub static COUNTERS: Counters = Counters {
    bans: AtomicU64::new(0),
    repairs_done: AtomicU64::new(0),
    repairs_failed: AtomicU64::new(0),
    sessions_joined: AtomicU64::new(0),
};

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn read(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
