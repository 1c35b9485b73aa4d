//! MPC session messages: how a requester starts a computation on a committee, how the committee's
//! protocol messages travel, and how outputs come back.
//!
//! Owns: the session wire format (sent on the MPC request-response protocol in a versioned frame,
//! see `wire::encode`). Must never: carry an input or an output in the clear — protocol messages are
//! whatever the MPC engine sends (masked values), outputs are one party's *shares*, for the requester.
//!
//! The flow: the requester sends a signed [`SessionStart`] to every participant (committee members
//! and, for inputs held by another group, that group's dealers); each checks the requester's access
//! to the inputs it holds and acknowledges; the requester then sends [`MpcRequest::Go`]; the
//! participants run the protocol exchanging [`MpcRequest::Msg`]; each committee member sends its
//! output shares to the requester ([`MpcRequest::Output`]). With `store`, members keep their shares
//! and the requester, after checking the result's flags, sends the owner-signed manifest of the new
//! key ([`MpcRequest::Store`]).

use crate::field::FpVec;
use crate::fixed::NumScale;
use crate::keys::DataKey;
use crate::manifest::Manifest;
use crate::mpc::ops::Check;
use crate::mpc::{Op, OutputShare};
use crate::value::ValueMeta;
use crate::wire::{Signed, SignedBody};
use serde::{Deserialize, Serialize};

/// A session id (random).
pub type SessionId = [u8; 16];

/// How one input key enters the committee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputSource {
    /// The committee is exactly this key's custody group (member i holds x = i + 1).
    Direct,
    /// t+1 holders of the key (participant index, their x-coordinate) reshare it into the committee.
    Reshare { dealers: Vec<(u32, u64)> },
}

/// One input of a computation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub key: DataKey,
    pub meta: ValueMeta,
    pub source: InputSource,
}

/// The requester's signed instruction to take part in a computation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStart {
    pub session: SessionId,
    pub op: Op,
    pub inputs: Vec<InputSpec>,
    /// The manifest of each input, in order (owner-signed or holder-endorsed). Every participant
    /// verifies them and derives the committee, its threshold and what a grant covers from them
    /// (`admission`), instead of taking the requester's word; a holder also checks its own input's
    /// against the manifest it holds.
    pub manifests: Vec<Manifest>,
    /// libp2p peer ids of the participants: the committee first, then extra dealers.
    pub participants: Vec<Vec<u8>>,
    /// Committee size n (participants 0..n hold output shares at x = i + 1).
    pub committee: u32,
    /// Threshold t of the committee's sharing.
    pub threshold: u32,
    /// Peer id of the requester's node (outputs go there only).
    pub requester: Vec<u8>,
    /// Keep the result secret-shared as a new key instead of revealing it.
    pub store: bool,
    /// The session ends, successful or not, by this time (ms since the epoch).
    pub deadline_ms: u64,
    /// The MPC security mode; every member refuses a session whose mode is not its own.
    pub security: crate::mpc::Security,
}

impl SignedBody for SessionStart {
    const DOMAIN: &'static str = "enigma session start v3";
}

/// A share-repair (refresh) session: t+1 holders of each key reshare it onto a new polynomial held by
/// the new group (the old holders that are up plus replacements). Sent by the coordinating holder;
/// authorised by its authenticated peer id being a holder of every key in the manifests this node
/// holds — no user signature is involved, since no user data leaves the shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshStart {
    pub session: SessionId,
    /// Every input is reshared (`InputSource::Reshare`), from the epoch named here.
    pub inputs: Vec<(InputSpec, u64)>,
    /// The manifest being repaired, per input: holders check it is the one they hold; every member
    /// (replacements too) keeps its new share only under a manifest that supersedes it
    /// (`Manifest::supersedes`).
    pub manifests: Vec<Manifest>,
    /// The new group (participants 0..committee hold the new shares at x = i + 1); dealers are among
    /// them.
    pub participants: Vec<Vec<u8>>,
    pub committee: u32,
    pub threshold: u32,
    pub deadline_ms: u64,
}

/// What a committee member reports at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SessionOutcome {
    /// This member's output shares, for the requester to reconstruct.
    Revealed(OutputShare),
    /// With `store`: the member keeps its share of the result; the requester gets the shares of the
    /// result's check flags (which checks, and this member's shares of their 0/1 results) and the
    /// member's salted commitment for the manifest, and the result's storage scale.
    Stored { meta: ValueMeta, checks: Vec<Check>, flags: FpVec, commitment: [u8; 32], scale: NumScale },
    /// A refresh: the member keeps its new share of each input; these are its salted commitments.
    Refreshed { commitments: Vec<[u8; 32]> },
    /// The member failed (the message is for the requester).
    Failed(String),
}

/// Work counters a member reports with its outcome (for benchmarks and logs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTiming {
    pub prep_ms: f64,
    pub online_ms: f64,
    pub rounds: u64,
    pub bytes_sent: u64,
}

/// The requester's instruction to keep a stored result under a new key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStore {
    pub session: SessionId,
    pub manifest: Manifest,
}

impl SignedBody for SessionStore {
    const DOMAIN: &'static str = "enigma session store v1";
}

/// Messages on the MPC protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MpcRequest {
    Start(Signed<SessionStart>),
    /// Every participant acknowledged the start: run.
    Go {
        session: SessionId,
    },
    /// One protocol message from participant `from` (ordered by `seq` per sender).
    Msg {
        session: SessionId,
        from: u32,
        seq: u64,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// A committee member's outcome, to the requester.
    Output {
        session: SessionId,
        from: u32,
        outcome: SessionOutcome,
        timing: SessionTiming,
    },
    /// Progress of the computation, to the requester.
    Progress {
        session: SessionId,
        done: u64,
        total: u64,
        stage: String,
    },
    /// Keep the stored result (requester → committee).
    Store(Signed<SessionStore>),
    /// Start a share-repair session (coordinating holder → the new group).
    Refresh(RefreshStart),
    /// Keep the refreshed shares under these manifests (coordinator → the new group).
    KeepRefreshed {
        session: SessionId,
        manifests: Vec<Manifest>,
    },
    /// Stop the session (requester → participants, or a participant that failed).
    Abort {
        session: SessionId,
        reason: String,
    },
}
