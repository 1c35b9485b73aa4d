//! Wire messages between nodes: the versioned frame format, signed requests, and the custody protocol.
//!
//! Owns: the frame layout (`u16` version ‖ postcard body), the request/response enums nodes exchange
//! over libp2p request-response, and [`Signed`] — a request body with the caller's secp256k1
//! signature, nonce and timestamp (DESIGN §3). Must never: trust a decoded message (decoding only
//! checks form; handlers check signatures, freshness, replay and access) or do I/O.

use crate::field::FpVec;
use crate::identity::{self, Identity, PubkeyBytes, SignatureBytes};
use crate::keys::DataKey;
use crate::manifest::Manifest;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Current wire version. A frame with any other version is refused.
pub const WIRE_VERSION: u16 = 2;

/// How far a signed request's timestamp may be from the receiver's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// Errors decoding frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WireError {
    #[error("frame too short")]
    Truncated,
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION})")]
    Version(u16),
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes a message as a versioned frame body.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = WIRE_VERSION.to_le_bytes().to_vec();
    // postcard serialisation of our own types cannot fail (no maps with non-string keys, no
    // unsized sequences); an empty body would be refused by the receiver anyway.
    out.extend(postcard::to_stdvec(msg).unwrap_or_default());
    out
}

/// Decodes a versioned frame body.
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<T, WireError> {
    if frame.len() < 2 {
        return Err(WireError::Truncated);
    }
    let version = u16::from_le_bytes([frame[0], frame[1]]);
    if version != WIRE_VERSION {
        return Err(WireError::Version(version));
    }
    postcard::from_bytes(&frame[2..]).map_err(|e| WireError::Malformed(e.to_string()))
}

/// A request body type that can be signed. The domain separates kinds so a signature on one kind can
/// never be replayed as another.
pub trait SignedBody: Serialize {
    const DOMAIN: &'static str;
}

/// Who signed a request, when, and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auth {
    #[serde(with = "serde_bytes")]
    pub signer: PubkeyBytes,
    pub nonce: [u8; 16],
    pub timestamp_ms: u64,
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

/// A signed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    pub body: T,
    pub auth: Auth,
}

/// Why a signed request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum AuthError {
    #[error("request signature does not verify")]
    BadSignature,
    #[error("request timestamp is outside the accepted window")]
    Stale,
    #[error("request was already seen (replay)")]
    Replay,
}

fn signing_bytes<T: Serialize>(body: &T, nonce: &[u8; 16], ts: u64) -> Vec<u8> {
    let mut b = postcard::to_stdvec(body).unwrap_or_default();
    b.extend_from_slice(nonce);
    b.extend_from_slice(&ts.to_le_bytes());
    b
}

impl<T: SignedBody> Signed<T> {
    /// Signs `body` as `id` at time `now_ms` with a fresh random nonce.
    pub fn sign<R: Rng + ?Sized>(body: T, id: &Identity, now_ms: u64, rng: &mut R) -> Signed<T> {
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let signature = id.sign(T::DOMAIN, &signing_bytes(&body, &nonce, now_ms));
        Signed { body, auth: Auth { signer: id.pubkey(), nonce, timestamp_ms: now_ms, signature } }
    }

    /// Checks the signature and that the timestamp is within [`MAX_CLOCK_SKEW_MS`] of `now_ms`.
    /// Replay detection (the nonce) needs state and is the receiver's job.
    pub fn verify(&self, now_ms: u64) -> Result<(), AuthError> {
        let a = &self.auth;
        if a.timestamp_ms.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS {
            return Err(AuthError::Stale);
        }
        let bytes = signing_bytes(&self.body, &a.nonce, a.timestamp_ms);
        if !identity::verify(&a.signer, T::DOMAIN, &bytes, &a.signature) {
            return Err(AuthError::BadSignature);
        }
        Ok(())
    }
}

/// Ask a holder for its share of a key (owner or grantee).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetShare {
    pub key: DataKey,
    /// The holder this request is meant for (peer id bytes), so it can't be replayed to another.
    #[serde(with = "serde_bytes")]
    pub holder: Vec<u8>,
    /// Identifies the whole load (the same on every holder asked), for the owner's access log.
    pub request: [u8; 16],
}
impl SignedBody for GetShare {
    const DOMAIN: &'static str = "enigma get-share v1";
}

/// Owner confirms a stored key: every holder has its share, the key becomes visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitKey {
    pub key: DataKey,
}
impl SignedBody for CommitKey {
    const DOMAIN: &'static str = "enigma commit v1";
}

/// Owner deletes a key. The signed request is also the tombstone that is gossiped and kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteKey {
    pub key: DataKey,
}
impl SignedBody for DeleteKey {
    const DOMAIN: &'static str = "enigma delete v1";
}

/// A node-to-node request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Store phase 1: the holder keeps its share as pending. The owner-signed manifest authorises it.
    PutShare { manifest: Manifest, salt: [u8; 32], share: FpVec },
    /// Store phase 2.
    Commit(Signed<CommitKey>),
    /// Load: the holder's share (after signature, freshness, replay and access checks).
    GetShare(Signed<GetShare>),
    /// The manifest of a key, if this node has it.
    GetManifest { key: DataKey },
    /// Delete a key's share and keep the tombstone.
    Delete(Signed<DeleteKey>),
    /// Which of these keys have tombstones here?
    Tombstones { keys: Vec<DataKey> },
    /// A policy transaction (consensus bytes) for this node's ledger to validate and keep.
    LedgerPush { tx: Vec<u8> },
    /// The txids this node's ledger holds, in acceptance order (parents before children).
    LedgerInventory,
    /// Policy transactions by txid (raw 32-byte txids, internal byte order).
    LedgerTxs { txids: Vec<[u8; 32]> },
    /// The owner asks a holder who accessed a key.
    AccessLog(Signed<AccessLogQuery>),
    /// A coordinating holder asks a fellow holder to endorse the repaired manifest body of a key.
    Endorse { body: crate::manifest::ManifestBody },
}

/// Owner's query of a holder's access log for one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogQuery {
    pub key: DataKey,
    #[serde(with = "serde_bytes")]
    pub holder: Vec<u8>,
}
impl SignedBody for AccessLogQuery {
    const DOMAIN: &'static str = "enigma access-log v1";
}

/// One recorded access to a key, as a holder saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(with = "serde_bytes")]
    pub requester: PubkeyBytes,
    /// "load" or "compute".
    pub action: String,
    pub timestamp_ms: u64,
    /// The operation's id: the same load seen by several holders is one access.
    pub request: [u8; 16],
}

/// Error kinds a node reports to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    UnknownKey,
    AccessDenied,
    BadRequest,
    Stale,
    Replay,
    NotHolder,
    TooLarge,
    Busy,
    Internal,
}

/// A node-to-node response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Ack,
    Share {
        salt: [u8; 32],
        share: FpVec,
    },
    Manifest(Option<Manifest>),
    Tombstones(Vec<Signed<DeleteKey>>),
    /// Answer to a delete: whether this holder had a share of the key.
    Deleted {
        had_share: bool,
    },
    LedgerInventory(Vec<[u8; 32]>),
    LedgerTxs(Vec<Vec<u8>>),
    AccessLog(Vec<AccessEntry>),
    /// The endorsing holder's signature (libp2p node key) over the body's endorsement bytes.
    Endorsement(#[serde(with = "serde_bytes")] Vec<u8>),
    Error {
        kind: ErrorKind,
        message: String,
    },
}

impl Response {
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error { kind, message: message.into() }
    }
}

/// What the DHT holds under a data key: the manifest, or the owner-signed tombstone once deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DhtRecord {
    Manifest(Manifest),
    Tombstone(Signed<DeleteKey>),
}

/// Gossip topic carrying owner-signed tombstones.
pub const TOMBSTONE_TOPIC: &str = "enigma/tombstones/1";
/// Gossip topic carrying policy transactions.
pub const LEDGER_TOPIC: &str = "enigma/ledger/1";

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn frames_roundtrip_and_refuse_other_versions() {
        let req = Request::GetManifest { key: DataKey([4; 32]) };
        let frame = encode(&req);
        assert_eq!(decode::<Request>(&frame), Ok(req));
        let mut bad = frame.clone();
        bad[0] = 9;
        assert_eq!(decode::<Request>(&bad), Err(WireError::Version(9)));
        assert_eq!(decode::<Request>(&[1]), Err(WireError::Truncated));
        assert_eq!(decode::<Request>(&[1, 0, 6]), Err(WireError::Version(1)), "version-1 frames are refused");
        assert!(matches!(decode::<Request>(&[2, 0, 200, 3]), Err(WireError::Malformed(_))));
    }

    #[test]
    fn signed_requests() {
        let mut rng = StdRng::seed_from_u64(8);
        let id = Identity::generate(&mut rng);
        let now = 1_700_000_000_000;
        let s = Signed::sign(DeleteKey { key: DataKey([1; 32]) }, &id, now, &mut rng);
        assert_eq!(s.verify(now + 1000), Ok(()));
        assert_eq!(s.verify(now + MAX_CLOCK_SKEW_MS + 1), Err(AuthError::Stale));
        let mut forged = s.clone();
        forged.body.key = DataKey([2; 32]);
        assert_eq!(forged.verify(now), Err(AuthError::BadSignature));
        // a delete signature is not a commit signature for the same key
        let as_commit = Signed { body: CommitKey { key: DataKey([1; 32]) }, auth: s.auth.clone() };
        assert_eq!(as_commit.verify(now), Err(AuthError::BadSignature));
    }
}
