//! The MPC engine: honest-majority (t < n/2) protocols on Shamir shares over GF(2^127 − 1),
//! written against a [`Transport`] so the same code runs in memory and over libp2p, in one of two
//! [`Security`] modes: **active** (the default: a coalition of up to t members that deviates in any
//! way is caught — the run aborts with [`MpcError::Integrity`] — before anything it could bias is
//! opened; the argument is in `verify.rs`) or **semi-honest** (the cheaper protocols, secure only
//! against members that follow them).
//!
//! Owns: the [`Party`] context (transport, threshold, CSPRNG, preprocessing pools, counters, audit,
//! progress), the error type, and the message plumbing every primitive uses (one message per peer per
//! round, whole batch inside). Must never open anything but values masked by fresh randomness and
//! never branch on secret data (DESIGN §3); the primitives below say what they open and why it is
//! masked, next to the code.
//!
//! Layout (one file per primitive): [`transport`], [`audit`], [`prep`] (preprocessing),
//! [`prep_active`] (active mode's checked preprocessing), [`verify`] (active mode's input checks
//! and the argument as a whole), [`open`], [`mul`] (Beaver and degree reduction), [`matmul`], [`trunc`], [`bits`], [`compare`], [`div`], [`sqrt`],
//! [`shift`] (scaling by a secret power of two), [`shuffle`] (secret uniform shuffle), [`quantile`]
//! (median / percentile / quantile by shuffle and selection), [`stats`], [`linalg`], [`linreg`], [`tdist`]
//! (Student t in the clear), [`ops`] (the op dispatcher and requester-side decoding), [`reshare`]
//! and [`bench`]; the leaves [`bounds`] (static bounds shared by the planning code) and [`spec`]
//! (the op and output types).
//!
//! The op files import one way only: `ops` → `linalg`, `linreg` → `stats` → `div`, `sqrt`, `shift`
//! → `bounds`, `spec`; the primitives (`prep`, `open`, `mul`, `trunc`, `bits`, `compare`, `tdist` …)
//! import no op file (`actors/tests/layering.rs` checks it).

pub mod audit;
pub mod bench;
pub mod bits;
pub mod bounds;
pub mod compare;
pub mod div;
pub mod histogram;
pub mod linalg;
pub mod linreg;
pub mod matmul;
pub mod mul;
pub mod multivar;
pub mod open;
pub mod ops;
pub mod prep;
pub mod prep_active;
pub mod prss;
pub mod quantile;
pub mod ratio;
pub mod rescale;
pub mod reshare;
pub mod shift;
pub mod shuffle;
pub mod spec;
pub mod sqrt;
pub mod stats;
pub mod tdist;
pub mod transport;
pub mod trunc;
pub mod ttest;
pub mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_active;

pub use audit::{AuditEntry, OpenKind};
pub use ops::{reveal, run, run_stored};
pub use reshare::reshare_in;
pub use spec::{Op, OpResult, OutputLayout, OutputShare, Scale, SharedInput};
pub use transport::{InMemoryTransport, Transport};
#[cfg(any(test, feature = "cheat"))]
pub use verify::Cheat;

use crate::field::{self, Fp};
use crate::shamir;
use prep::Pools;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, Instant};

/// Statistical security parameter (bits) of every statistically masked opening.
pub const KAPPA: u32 = 40;

/// Errors of the MPC engine. The messages are meant for the requester.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpcError {
    #[error("transport error: {0}")]
    Transport(String),
    #[error("malformed message from party {from}: {why}")]
    Malformed { from: usize, why: String },
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("input is not numeric: {0}")]
    NotNumeric(String),
    #[error("value out of range for fixed-point: {0}")]
    OutOfRange(String),
    #[error("singular matrix: {0}")]
    Singular(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("inconsistent output shares: {0}")]
    Inconsistent(String),
    /// Active mode: a check showed that some member deviated from the protocol. Nothing was
    /// revealed or stored; the message says which check failed (never which value).
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A rule of the requester's compute grant refused the result after the MPC (a histogram bin
    /// under min_count): the requester learnt only that one bit.
    #[error("access denied: {0}")]
    Denied(String),
}

/// The adversary a computation is secure against. Every member of a committee runs the same mode:
/// a member refuses a session whose mode differs from its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Security {
    /// Secure with abort against up to t members that deviate arbitrarily (the default).
    #[default]
    Active,
    /// Secure only against members that follow the protocol (cheaper; an option).
    SemiHonest,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Active => "active",
            Security::SemiHonest => "semi-honest",
        }
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "active" => Ok(Security::Active),
            "semi-honest" | "semi_honest" | "semihonest" => Ok(Security::SemiHonest),
            other => Err(format!("unknown MPC security mode {other:?} (expected active or semi-honest)")),
        }
    }
}

/// Cost counters, for benchmarks and the node's metrics.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Wall time spent generating preprocessing material (including on-demand top-ups).
    pub prep_time: Duration,
    /// Wall time of the online phase (total run time minus preprocessing).
    pub online_time: Duration,
    /// Communication rounds (a round = send to some peers, then receive from some peers).
    pub rounds: u64,
    pub prep_rounds: u64,
    /// Payload bytes this party sent.
    pub bytes_sent: u64,
    pub prep_bytes_sent: u64,
    /// Field elements this party saw opened (masked values only).
    pub opened: u64,
    /// Secret × secret multiplications (Beaver) and degree reductions (each inner product counts 1).
    pub mults: u64,
    pub reductions: u64,
    /// Secret comparisons (LTZ evaluations).
    pub comparisons: u64,
    /// Times the online phase had to generate more preprocessing than was planned.
    pub prep_topups: u64,
}

/// Progress callback: `(done, total, stage)`.
pub type Progress = Box<dyn Fn(u64, u64, &str) + Send + Sync>;

/// One participant of a computation.
pub struct Party<T: Transport> {
    pub(crate) tr: T,
    /// Committee size (participants 0..n hold shares at x = i + 1).
    pub(crate) n: usize,
    pub(crate) t: usize,
    pub(crate) rng: StdRng,
    pub(crate) counters: Counters,
    pub(crate) pools: Pools,
    progress: Option<Progress>,
    progress_done: u64,
    progress_total: u64,
    audit: Option<Vec<AuditEntry>>,
    in_prep: bool,
    /// Lagrange coefficients for the cyclic opening sets of degree t and 2t (see `open.rs`).
    pub(crate) lambda_t: Vec<Fp>,
    pub(crate) lambda_2t: Vec<Fp>,
    pub(crate) security: Security,
    /// Active mode's checked opening (see `open.rs`): Lagrange coefficients at 0 over parties
    /// 0..=t, and for each party j > t the coefficients that predict its share from those t + 1.
    pub(crate) robust_at0: Vec<Fp>,
    pub(crate) robust_predict: Vec<Vec<Fp>>,
    /// Pseudo-random secret sharing keys, agreed at the first preprocessing (see `prss.rs`).
    pub(crate) prss: Option<prss::Prss>,
    /// Test-only misbehaviour of this party (the `cheat` feature; see `verify.rs`).
    #[cfg(any(test, feature = "cheat"))]
    pub(crate) cheat: Option<verify::Cheat>,
}

impl<T: Transport> Party<T> {
    /// A party seeded from the operating system's CSPRNG. `committee` = n, threshold `t` < n/2.
    pub fn new(transport: T, committee: usize, t: usize) -> Result<Self, MpcError> {
        let rng: StdRng = rand::make_rng();
        Self::with_rng(transport, committee, t, rng)
    }

    /// A party with a deterministic seed (tests and benchmarks only).
    pub fn with_seed(transport: T, committee: usize, t: usize, seed: u64) -> Result<Self, MpcError> {
        Self::with_rng(transport, committee, t, StdRng::seed_from_u64(seed))
    }

    fn with_rng(transport: T, n: usize, t: usize, rng: StdRng) -> Result<Self, MpcError> {
        if n < 3 || 2 * t >= n || t == 0 {
            return Err(MpcError::Config(format!("need 3 ≤ n and 1 ≤ t < n/2, got n = {n}, t = {t}")));
        }
        if transport.parties() < n {
            return Err(MpcError::Config(format!(
                "transport has {} participants, committee needs {n}",
                transport.parties()
            )));
        }
        let me = transport.me();
        let (lambda_t, lambda_2t) =
            if me < n { (open::lambdas(me, n, t)?, open::lambdas(me, n, 2 * t)?) } else { (vec![], vec![]) };
        let (robust_at0, robust_predict) = open::robust_coefficients(n, t)?;
        Ok(Party {
            tr: transport,
            n,
            t,
            rng,
            counters: Counters::default(),
            pools: Pools::default(),
            progress: None,
            progress_done: 0,
            progress_total: 0,
            audit: None,
            in_prep: false,
            lambda_t,
            lambda_2t,
            security: Security::default(),
            robust_at0,
            robust_predict,
            prss: None,
            #[cfg(any(test, feature = "cheat"))]
            cheat: None,
        })
    }

    /// Chooses the security mode (before the first protocol step; the default is active).
    pub fn set_security(&mut self, security: Security) {
        self.security = security;
    }
    pub fn security(&self) -> Security {
        self.security
    }
    pub(crate) fn active(&self) -> bool {
        self.security == Security::Active
    }

    pub fn me(&self) -> usize {
        self.tr.me()
    }
    pub fn n(&self) -> usize {
        self.n
    }
    pub fn t(&self) -> usize {
        self.t
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }
    /// Calls `f(done, total, stage)` as the steps of an operation complete.
    pub fn set_progress(&mut self, f: Progress) {
        self.progress = Some(f);
    }
    /// Starts recording every opened value (tests / diagnostics).
    pub fn enable_audit(&mut self) {
        self.audit = Some(Vec::new());
    }
    pub fn audit(&self) -> &[AuditEntry] {
        self.audit.as_deref().unwrap_or(&[])
    }
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.tr
    }
    pub fn into_transport(self) -> T {
        self.tr
    }

    pub(crate) fn check_member(&self) -> Result<usize, MpcError> {
        let me = self.tr.me();
        if me >= self.n {
            return Err(MpcError::Config(format!("participant {me} is not a committee member")));
        }
        Ok(me)
    }

    pub(crate) fn progress_plan(&mut self, total: u64) {
        self.progress_done = 0;
        self.progress_total = total.max(1);
    }
    /// Reports `stage` without counting a step (long preprocessing reports each window).
    pub(crate) fn note(&self, stage: &str) {
        if let Some(f) = &self.progress {
            f(self.progress_done, self.progress_total, stage);
        }
    }
    pub(crate) fn step(&mut self, stage: &str) {
        self.progress_done = (self.progress_done + 1).min(self.progress_total);
        if let Some(f) = &self.progress {
            f(self.progress_done, self.progress_total, stage);
        }
    }

    pub(crate) fn record(&mut self, kind: OpenKind, label: &'static str, values: &[Fp]) {
        if let Some(a) = self.audit.as_mut() {
            a.push(AuditEntry { kind, label, values: values.to_vec() });
        }
    }

    /// One round: sends `out[i]` to peer `out[i].0`, then receives one message from each of `from`.
    pub(crate) async fn exchange(
        &mut self,
        out: Vec<(usize, Vec<u8>)>,
        from: &[usize],
    ) -> Result<Vec<Vec<u8>>, MpcError> {
        let mut sent = 0u64;
        for (to, msg) in out {
            sent += msg.len() as u64;
            self.tr.send(to, msg).await?;
        }
        let mut got = Vec::with_capacity(from.len());
        for &f in from {
            got.push(self.tr.recv(f).await?);
        }
        self.counters.rounds += 1;
        self.counters.bytes_sent += sent;
        if self.in_prep {
            self.counters.prep_rounds += 1;
            self.counters.prep_bytes_sent += sent;
        }
        Ok(got)
    }

    /// Runs `f` as preprocessing: its time is booked as preprocessing time.
    pub(crate) fn prep_start(&mut self) -> (Instant, bool) {
        let was = self.in_prep;
        self.in_prep = true;
        (Instant::now(), was)
    }
    pub(crate) fn prep_end(&mut self, started: (Instant, bool)) {
        if !started.1 {
            self.counters.prep_time += started.0.elapsed();
        }
        self.in_prep = started.1;
    }
}

/// Decodes a peer's payload into exactly `len` field elements.
pub(crate) fn decode(from: usize, bytes: &[u8], len: usize) -> Result<Vec<Fp>, MpcError> {
    if bytes.len() != len * field::BYTES {
        return Err(MpcError::Malformed {
            from,
            why: format!("expected {} bytes ({len} elements), got {}", len * field::BYTES, bytes.len()),
        });
    }
    field::from_bytes_vec(bytes).map_err(|e| MpcError::Malformed { from, why: e.to_string() })
}

/// Shares of one batch dealt with degree `deg`, one vector per committee member.
pub(crate) fn deal(secrets: &[Fp], deg: usize, n: usize, rng: &mut StdRng) -> Vec<Vec<Fp>> {
    // `deg < n` always holds here (deg ≤ 2t < n), so sharing cannot fail.
    shamir::share(secrets, deg, n, rng).unwrap_or_else(|_| vec![vec![]; n])
}
