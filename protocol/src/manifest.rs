//! Manifests: the owner-signed record of where a key's shares live and how to read them.
//!
//! Owns: the [`Manifest`] (key, owner, public value metadata, threshold, holders with their
//! x-coordinates and salted share commitments, epoch), its proof and verification, and the check a
//! reader applies to each share it gathers. Must never: contain anything secret (manifests are
//! published in the DHT and cached by every holder) — no nonce, no salt, no share.
//!
//! Proof: a manifest is either signed by the owner, or is the result of share repairs: the chain of
//! bodies from an owner-signed root, where each body (epoch e+1) is endorsed — signed with their libp2p
//! node keys — by at least t+1 holders of the body before it (epoch e). Each holder endorses at most
//! one body per epoch, and 2(t+1) > n, so two conflicting repairs cannot both be endorsed. The chain is
//! a flat list (no nesting), so a hostile manifest cannot make a decoder recurse.

use crate::field::Fp;
use crate::fixed::NumScale;
use crate::identity::{self, Identity, PubkeyBytes, SignatureBytes};
use crate::keys::DataKey;
use crate::shamir;
use crate::value::ValueMeta;
use libp2p_identity::{PeerId, PublicKey};
use serde::{Deserialize, Serialize};

/// Manifest format version this code writes. Versions 1 (no provenance) and 2 (no scale: the binary
/// 2^20 scale) are still read and verified: their bodies encode exactly as before, so old signatures
/// and endorsements still check.
pub const MANIFEST_VERSION: u16 = 3;
/// The oldest manifest format version this code reads.
pub const MANIFEST_VERSION_MIN: u16 = 1;
/// At most this many source keys in a derived key's provenance.
pub const MAX_SOURCES: usize = 256;
const DOMAIN: &str = "enigma manifest v1";
/// Domain of holders' endorsements of a repaired manifest body.
pub const ENDORSE_DOMAIN: &[u8] = b"enigma manifest endorsement v1\0";
/// The longest repair chain a manifest may carry (the owner can re-sign to start afresh).
pub const MAX_REPAIRS: usize = 64;

/// One custody holder of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// libp2p peer id bytes of the holder node.
    #[serde(with = "serde_bytes")]
    pub peer: Vec<u8>,
    /// Shamir x-coordinate of this holder's share.
    pub x: u64,
    /// Salted commitment to the share (see [`shamir::commitment`]).
    pub commitment: [u8; 32],
}

/// One source of a derived key: an input key of the computation that produced it, and that key's
/// owner (whose policy keeps governing what was derived from it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Source {
    pub key: DataKey,
    #[serde(with = "serde_bytes")]
    pub owner: PubkeyBytes,
}

/// The signed part of a manifest.
///
/// Wire format: a version-1 body is exactly the fields up to `epoch`; a version-2 body appends
/// `derived_from`, a version-3 body then `scale` (see the `Serialize` impl), so earlier bytes,
/// signatures and endorsements keep verifying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestBody {
    pub version: u16,
    pub key: DataKey,
    pub owner: PubkeyBytes,
    pub meta: ValueMeta,
    /// Shamir threshold t: any t + 1 shares reconstruct.
    pub threshold: u32,
    pub holders: Vec<Holder>,
    pub created_ms: u64,
    /// Bumped whenever the custody group changes (share repair).
    pub epoch: u64,
    /// Version ≥ 2: for a key stored as the result of a computation (`store=True`) on other owners'
    /// data, the root source keys (sorted, distinct) with their owners. Empty for data an owner
    /// stored, and for results computed only on the owner's own data. Every use of a derived key
    /// needs the user's access to every source at that moment (docs/threat-model.md).
    pub derived_from: Vec<Source>,
    /// Version ≥ 3: the public storage scale of the key's numbers. Earlier versions are at the
    /// binary scale 2^20 (the only one they knew); non-numeric values carry the default.
    pub scale: NumScale,
}

/// The version-1 fields, in their encoding order (borrowed for encoding).
#[derive(Serialize)]
struct V1Ref<'a> {
    version: u16,
    key: &'a DataKey,
    #[serde(with = "serde_bytes")]
    owner: &'a PubkeyBytes,
    meta: &'a ValueMeta,
    threshold: u32,
    holders: &'a [Holder],
    created_ms: u64,
    epoch: u64,
}

/// The version-1 fields, decoded.
#[derive(Deserialize)]
struct V1Fields {
    version: u16,
    key: DataKey,
    #[serde(with = "serde_bytes")]
    owner: PubkeyBytes,
    meta: ValueMeta,
    threshold: u32,
    holders: Vec<Holder>,
    created_ms: u64,
    epoch: u64,
}

impl Serialize for ManifestBody {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let v1 = V1Ref {
            version: self.version,
            key: &self.key,
            owner: &self.owner,
            meta: &self.meta,
            threshold: self.threshold,
            holders: &self.holders,
            created_ms: self.created_ms,
            epoch: self.epoch,
        };
        let parts = match self.version {
            0 | 1 => 1,
            2 => 2,
            _ => 3,
        };
        let mut t = s.serialize_tuple(parts)?;
        t.serialize_element(&v1)?;
        if parts >= 2 {
            t.serialize_element(&self.derived_from)?;
        }
        if parts >= 3 {
            t.serialize_element(&self.scale)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for ManifestBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = ManifestBody;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a manifest body")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ManifestBody, A::Error> {
                let v: V1Fields = seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                // a version-1 body ends after its v1 fields; later versions carry the extension
                let derived_from = if v.version >= 2 {
                    seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(1, &self))?
                } else {
                    vec![]
                };
                let scale = if v.version >= 3 {
                    seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(2, &self))?
                } else {
                    NumScale::Binary20
                };
                Ok(ManifestBody {
                    version: v.version,
                    key: v.key,
                    owner: v.owner,
                    meta: v.meta,
                    threshold: v.threshold,
                    holders: v.holders,
                    created_ms: v.created_ms,
                    epoch: v.epoch,
                    derived_from,
                    scale,
                })
            }
        }
        d.deserialize_tuple(3, Visit)
    }
}

/// A holder's signature (with its libp2p node key) over a repaired body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The endorsing holder's peer id bytes (an ed25519 peer id: it carries the public key).
    #[serde(with = "serde_bytes")]
    pub peer: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// Why the current body is authoritative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// The owner signed the current body.
    Owner(#[serde(with = "serde_bytes")] SignatureBytes),
    /// Share repairs since an owner-signed root.
    Repaired(Box<RepairChain>),
}

/// The proof of a repaired manifest: `steps` are the bodies between the owner-signed root and the
/// current one, each with its endorsements; `endorsements` endorse the current body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairChain {
    pub root: ManifestBody,
    #[serde(with = "serde_bytes")]
    pub root_signature: SignatureBytes,
    pub steps: Vec<(ManifestBody, Vec<Endorsement>)>,
    pub endorsements: Vec<Endorsement>,
}

/// A manifest: the current body and its proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub body: ManifestBody,
    pub proof: Proof,
}

/// Why a manifest or a share was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ManifestError {
    #[error("manifest signature does not verify")]
    BadSignature,
    #[error("repaired manifest is not endorsed by enough holders of the one before it")]
    BadEndorsement,
    #[error("manifest is malformed: {0}")]
    Malformed(String),
    #[error("share does not match its commitment")]
    BadShare,
    #[error("this node is not a holder of the key")]
    NotAHolder,
}

impl ManifestBody {
    fn signing_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Signs the body with the owner's identity.
    pub fn sign(self, owner: &Identity) -> Manifest {
        let signature = owner.sign(DOMAIN, &self.signing_bytes());
        Manifest { body: self, proof: Proof::Owner(signature) }
    }

    /// The bytes a holder signs to endorse this body as the repair of its key.
    pub fn endorsement_bytes(&self) -> Vec<u8> {
        let mut b = ENDORSE_DOMAIN.to_vec();
        b.extend(self.signing_bytes());
        b
    }

    /// Structural invariants every reader relies on.
    fn check_shape(&self) -> Result<(), ManifestError> {
        let b = self;
        if !(MANIFEST_VERSION_MIN..=MANIFEST_VERSION).contains(&b.version) {
            return Err(ManifestError::Malformed(format!("unknown version {}", b.version)));
        }
        if b.version < 2 && !b.derived_from.is_empty() {
            return Err(ManifestError::Malformed("a version-1 manifest has no provenance".into()));
        }
        if b.version < 3 && b.scale != NumScale::Binary20 {
            return Err(ManifestError::Malformed("a version-1 or 2 manifest is at the binary scale".into()));
        }
        if let NumScale::Decimal(d) = b.scale
            && d as u32 > crate::fixed::MAX_DECIMALS
        {
            return Err(ManifestError::Malformed(format!("a scale of {d} decimals is beyond the largest")));
        }
        if b.derived_from.len() > MAX_SOURCES || !b.derived_from.windows(2).all(|w| w[0] < w[1]) {
            return Err(ManifestError::Malformed("provenance must be sorted, distinct and bounded".into()));
        }
        let n = b.holders.len();
        if n < crate::placement::MIN_GROUP || b.threshold as usize > shamir::max_threshold(n) {
            return Err(ManifestError::Malformed(format!("threshold {} with {n} holders", b.threshold)));
        }
        let mut xs: Vec<u64> = b.holders.iter().map(|h| h.x).collect();
        xs.sort_unstable();
        xs.dedup();
        if xs.len() != n || xs.first() == Some(&0) {
            return Err(ManifestError::Malformed("x-coordinates must be distinct and non-zero".into()));
        }
        let mut peers: Vec<&[u8]> = b.holders.iter().map(|h| h.peer.as_slice()).collect();
        peers.sort_unstable();
        peers.dedup();
        if peers.len() != n {
            return Err(ManifestError::Malformed("holders must be distinct".into()));
        }
        if b.meta.element_count().is_none() {
            return Err(ManifestError::Malformed("value metadata overflows".into()));
        }
        Ok(())
    }

    /// Whether `next` may follow this body as a repair: same key, owner, data, provenance, group size
    /// and threshold, one epoch later. (A repair never shrinks the group or lowers the threshold:
    /// every reader refuses such a manifest, whoever endorsed it.)
    pub fn is_repair(&self, next: &ManifestBody) -> bool {
        next.key == self.key
            && next.owner == self.owner
            && next.meta == self.meta
            && next.created_ms == self.created_ms
            && next.derived_from == self.derived_from
            && next.scale == self.scale
            && next.threshold == self.threshold
            && next.holders.len() == self.holders.len()
            && next.version == self.version
            && next.epoch == self.epoch + 1
    }

    /// Whether at least t+1 distinct holders of this body endorsed `next`.
    fn endorsed(&self, next: &ManifestBody, endorsements: &[Endorsement]) -> bool {
        let msg = next.endorsement_bytes();
        let mut signers: Vec<&[u8]> = endorsements
            .iter()
            .filter(|e| self.holders.iter().any(|h| h.peer == e.peer))
            .filter(|e| verify_endorsement(&e.peer, &msg, &e.signature))
            .map(|e| e.peer.as_slice())
            .collect();
        signers.sort_unstable();
        signers.dedup();
        signers.len() > self.threshold as usize
    }
}

/// Verifies an ed25519 signature by the key embedded in a peer id.
pub fn verify_endorsement(peer: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    // A peer id is a multihash: varint code, varint length, digest. Keys as small as ed25519's are
    // embedded with the identity code (0x00) and fit a one-byte length.
    if PeerId::from_bytes(peer).is_err() {
        return false;
    }
    let (code, len, digest) = match peer {
        [code, len, rest @ ..] => (*code, *len as usize, rest),
        _ => return false,
    };
    if code != 0 || len >= 0x80 || digest.len() != len {
        return false;
    }
    match PublicKey::try_decode_protobuf(digest) {
        Ok(pk) => pk.verify(msg, signature),
        Err(_) => false,
    }
}

impl Manifest {
    /// Checks the proof and the structural invariants every reader relies on.
    pub fn verify(&self) -> Result<(), ManifestError> {
        self.body.check_shape()?;
        match &self.proof {
            Proof::Owner(sig) => {
                if !identity::verify(&self.body.owner, DOMAIN, &self.body.signing_bytes(), sig) {
                    return Err(ManifestError::BadSignature);
                }
            }
            Proof::Repaired(chain) => {
                let RepairChain { root, root_signature, steps, endorsements } = chain.as_ref();
                if steps.len() >= MAX_REPAIRS {
                    return Err(ManifestError::Malformed("repair chain too long".into()));
                }
                root.check_shape()?;
                if !identity::verify(&root.owner, DOMAIN, &root.signing_bytes(), root_signature) {
                    return Err(ManifestError::BadSignature);
                }
                let mut prev = root;
                for (body, ends) in steps {
                    body.check_shape()?;
                    if !prev.is_repair(body) || !prev.endorsed(body, ends) {
                        return Err(ManifestError::BadEndorsement);
                    }
                    prev = body;
                }
                if !prev.is_repair(&self.body) || !prev.endorsed(&self.body, endorsements) {
                    return Err(ManifestError::BadEndorsement);
                }
            }
        }
        Ok(())
    }

    /// The manifest after a repair: `next` (one epoch later) endorsed by holders of this one.
    pub fn repaired(&self, next: ManifestBody, endorsements: Vec<Endorsement>) -> Manifest {
        let chain = match &self.proof {
            Proof::Owner(sig) => {
                RepairChain { root: self.body.clone(), root_signature: *sig, steps: vec![], endorsements }
            }
            Proof::Repaired(prev) => {
                let mut steps = prev.steps.clone();
                steps.push((self.body.clone(), prev.endorsements.clone()));
                RepairChain { root: prev.root.clone(), root_signature: prev.root_signature, steps, endorsements }
            }
        };
        Manifest { body: next, proof: Proof::Repaired(Box::new(chain)) }
    }

    /// The bodies of this manifest's lineage: the owner-signed root first, the current body last.
    pub fn lineage(&self) -> Vec<&ManifestBody> {
        match &self.proof {
            Proof::Owner(_) => vec![&self.body],
            Proof::Repaired(c) => {
                let mut out = vec![&c.root];
                out.extend(c.steps.iter().map(|(b, _)| b));
                out.push(&self.body);
                out
            }
        }
    }

    /// Whether this manifest may replace `held` (a node's own record of the key): it verifies; it has
    /// the same key, owner, data, creation time, provenance, group size and threshold; a later epoch;
    /// and — unless the owner itself signed it — its repair chain passes through `held`. A manifest
    /// signed by anyone but the key's owner, or a repair of another lineage, never supersedes: a
    /// holder must not drop or replace its share for it (docs/threat-model.md §2.1).
    pub fn supersedes(&self, held: &ManifestBody) -> bool {
        let (a, b) = (&self.body, held);
        let same = a.key == b.key
            && a.owner == b.owner
            && a.created_ms == b.created_ms
            && a.meta == b.meta
            && a.derived_from == b.derived_from
            && a.threshold == b.threshold
            && a.holders.len() == b.holders.len();
        if !same || a.epoch <= b.epoch || self.verify().is_err() {
            return false;
        }
        match &self.proof {
            Proof::Owner(_) => true,
            Proof::Repaired(_) => self.lineage().contains(&held),
        }
    }

    /// The holder entry for `peer`, if it is one.
    pub fn holder(&self, peer: &[u8]) -> Option<&Holder> {
        self.body.holders.iter().find(|h| h.peer == peer)
    }

    /// Checks a share served by `peer` against the commitment recorded for it.
    pub fn check_share(&self, peer: &[u8], salt: &[u8; 32], share: &[Fp]) -> Result<u64, ManifestError> {
        let h = self.holder(peer).ok_or(ManifestError::NotAHolder)?;
        let expected = self.body.meta.element_count().ok_or(ManifestError::BadShare)?;
        if share.len() != expected || shamir::commitment(salt, Fp::from_u64(h.x), share) != h.commitment {
            return Err(ManifestError::BadShare);
        }
        Ok(h.x)
    }

    /// Encoded bytes (for storage and the DHT).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes and verifies.
    pub fn from_bytes(b: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest = postcard::from_bytes(b).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        m.verify()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn sample(owner: &Identity) -> (Manifest, Vec<Vec<Fp>>, Vec<[u8; 32]>) {
        let mut rng = StdRng::seed_from_u64(1);
        let shares = shamir::share(&[Fp::from_u64(24)], 1, 3, &mut rng).unwrap();
        let salts: Vec<[u8; 32]> = (0..3).map(|i| [i as u8; 32]).collect();
        let holders = (0..3)
            .map(|i| Holder {
                peer: vec![i as u8; 4],
                x: i as u64 + 1,
                commitment: shamir::commitment(&salts[i], shamir::x_of(i), &shares[i]),
            })
            .collect();
        let body = ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([1; 32]),
            owner: owner.pubkey(),
            meta: ValueMeta::Int,
            threshold: 1,
            holders,
            created_ms: 5,
            epoch: 0,
            derived_from: vec![],
            scale: crate::fixed::NumScale::DEFAULT,
        };
        (body.sign(owner), shares, salts)
    }

    #[test]
    fn sign_verify_and_check_shares() {
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let (m, shares, salts) = sample(&owner);
        assert_eq!(Manifest::from_bytes(&m.to_bytes()).unwrap(), m);
        assert_eq!(m.check_share(&[1; 4], &salts[1], &shares[1]), Ok(2));
        assert_eq!(m.check_share(&[1; 4], &salts[0], &shares[1]), Err(ManifestError::BadShare));
        assert_eq!(m.check_share(&[9; 4], &salts[1], &shares[1]), Err(ManifestError::NotAHolder));
    }

    #[test]
    fn repairs_need_endorsements_by_enough_previous_holders() {
        use libp2p_identity::Keypair;
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let keys: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
        let peer = |k: &Keypair| k.public().to_peer_id().to_bytes();
        let body = |peers: &[Vec<u8>], epoch: u64| ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([1; 32]),
            owner: owner.pubkey(),
            meta: ValueMeta::Int,
            threshold: 1,
            holders: peers
                .iter()
                .enumerate()
                .map(|(i, p)| Holder { peer: p.clone(), x: i as u64 + 1, commitment: [epoch as u8; 32] })
                .collect(),
            created_ms: 5,
            epoch,
            derived_from: vec![],
            scale: crate::fixed::NumScale::DEFAULT,
        };
        let first = body(&[peer(&keys[0]), peer(&keys[1]), peer(&keys[2])], 0).sign(&owner);
        first.verify().unwrap();
        // holder 2 is replaced by key 3
        let next = body(&[peer(&keys[0]), peer(&keys[1]), peer(&keys[3])], 1);
        let endorse = |k: &Keypair, b: &ManifestBody| Endorsement {
            peer: peer(k),
            signature: k.sign(&b.endorsement_bytes()).unwrap(),
        };
        let one = first.repaired(next.clone(), vec![endorse(&keys[0], &next)]);
        assert_eq!(one.verify(), Err(ManifestError::BadEndorsement), "t+1 = 2 endorsements needed");
        let outsider = first.repaired(next.clone(), vec![endorse(&keys[0], &next), endorse(&keys[3], &next)]);
        assert_eq!(outsider.verify(), Err(ManifestError::BadEndorsement), "the new holder is not a previous holder");
        let twice = first.repaired(next.clone(), vec![endorse(&keys[0], &next), endorse(&keys[0], &next)]);
        assert_eq!(twice.verify(), Err(ManifestError::BadEndorsement), "one holder counts once");
        let good = first.repaired(next.clone(), vec![endorse(&keys[0], &next), endorse(&keys[1], &next)]);
        good.verify().unwrap();
        assert_eq!(Manifest::from_bytes(&good.to_bytes()).unwrap(), good);
        // a second repair chains on the first
        let third = body(&[peer(&keys[2]), peer(&keys[1]), peer(&keys[3])], 2);
        let chained = good.repaired(third.clone(), vec![endorse(&keys[1], &third), endorse(&keys[3], &third)]);
        chained.verify().unwrap();
        // a repair that changes the data, or skips an epoch, is refused
        let mut changed = next.clone();
        changed.meta = ValueMeta::Float;
        let bad = first.repaired(changed.clone(), vec![endorse(&keys[0], &changed), endorse(&keys[1], &changed)]);
        assert_eq!(bad.verify(), Err(ManifestError::BadEndorsement));
        assert!(!verify_endorsement(b"garbage", b"m", b"s"));
    }

    /// The version-1 body exactly as it was encoded before provenance existed.
    #[derive(Serialize)]
    struct OldBody {
        version: u16,
        key: DataKey,
        #[serde(with = "serde_bytes")]
        owner: PubkeyBytes,
        meta: ValueMeta,
        threshold: u32,
        holders: Vec<Holder>,
        created_ms: u64,
        epoch: u64,
    }

    #[test]
    fn version_1_manifests_encode_as_before_and_still_verify() {
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let (m, _, _) = sample(&owner);
        let mut b = m.body.clone();
        b.version = 1;
        b.scale = NumScale::Binary20;
        let old = OldBody {
            version: 1,
            key: b.key,
            owner: b.owner,
            meta: b.meta.clone(),
            threshold: b.threshold,
            holders: b.holders.clone(),
            created_ms: b.created_ms,
            epoch: b.epoch,
        };
        assert_eq!(b.signing_bytes(), postcard::to_stdvec(&old).unwrap(), "v1 bytes unchanged");
        let v1 = b.sign(&owner);
        let back = Manifest::from_bytes(&v1.to_bytes()).unwrap();
        assert_eq!(back, v1);
        assert!(back.body.derived_from.is_empty());
        // a version-2 body carries its provenance, signed
        let (mut m2, _, _) = sample(&owner);
        m2.body.derived_from = vec![Source { key: DataKey([3; 32]), owner: owner.pubkey() }];
        let m2 = m2.body.sign(&owner);
        assert_eq!(Manifest::from_bytes(&m2.to_bytes()).unwrap(), m2);
        let mut stripped = m2.clone();
        stripped.body.derived_from.clear();
        assert_eq!(stripped.verify(), Err(ManifestError::BadSignature), "provenance is signed");
        let mut v1_with = v1.clone();
        v1_with.body.derived_from = m2.body.derived_from.clone();
        assert!(matches!(v1_with.verify(), Err(ManifestError::Malformed(_))));
        // versions 1 and 2 are at the binary scale; a version-3 body carries its scale, signed
        assert_eq!(back.body.scale, NumScale::Binary20);
        let (mut m2b, _, _) = sample(&owner);
        m2b.body.version = 2;
        m2b.body.scale = NumScale::Binary20;
        let m2b = m2b.body.sign(&owner);
        assert_eq!(Manifest::from_bytes(&m2b.to_bytes()).unwrap().body.scale, NumScale::Binary20);
        let mut v2_decimal = m2b.clone();
        v2_decimal.body.scale = NumScale::DEFAULT;
        assert!(matches!(v2_decimal.verify(), Err(ManifestError::Malformed(_))));
        let (mut m3, _, _) = sample(&owner);
        m3.body.scale = NumScale::Decimal(9);
        let m3 = m3.body.sign(&owner);
        assert_eq!(Manifest::from_bytes(&m3.to_bytes()).unwrap().body.scale, NumScale::Decimal(9));
        let mut rescaled = m3.clone();
        rescaled.body.scale = NumScale::Decimal(6);
        assert_eq!(rescaled.verify(), Err(ManifestError::BadSignature), "the scale is signed");
    }

    #[test]
    fn a_repair_keeps_the_group_size_and_threshold() {
        use libp2p_identity::Keypair;
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let keys: Vec<Keypair> = (0..6).map(|_| Keypair::generate_ed25519()).collect();
        let peer = |k: &Keypair| k.public().to_peer_id().to_bytes();
        let body = |idx: &[usize], t: u32, epoch: u64| ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([1; 32]),
            owner: owner.pubkey(),
            meta: ValueMeta::Int,
            threshold: t,
            holders: idx
                .iter()
                .enumerate()
                .map(|(i, k)| Holder { peer: peer(&keys[*k]), x: i as u64 + 1, commitment: [0; 32] })
                .collect(),
            created_ms: 5,
            epoch,
            derived_from: vec![],
            scale: crate::fixed::NumScale::DEFAULT,
        };
        let first = body(&[0, 1, 2, 3, 4], 2, 0).sign(&owner);
        let endorse_all = |b: &ManifestBody| -> Vec<Endorsement> {
            (0..5)
                .map(|i| Endorsement { peer: peer(&keys[i]), signature: keys[i].sign(&b.endorsement_bytes()).unwrap() })
                .collect()
        };
        // every old holder endorses, and still: a lower threshold, or a smaller group, is refused
        let lower = body(&[0, 1, 2, 3, 5], 1, 1);
        assert_eq!(first.repaired(lower.clone(), endorse_all(&lower)).verify(), Err(ManifestError::BadEndorsement));
        let smaller = body(&[0, 1, 5], 1, 1);
        assert_eq!(first.repaired(smaller.clone(), endorse_all(&smaller)).verify(), Err(ManifestError::BadEndorsement));
        let same = body(&[0, 1, 2, 3, 5], 2, 1);
        first.repaired(same.clone(), endorse_all(&same)).verify().unwrap();
    }

    #[test]
    fn only_a_repair_of_the_held_lineage_by_the_owner_supersedes() {
        use libp2p_identity::Keypair;
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let thief = Identity::generate(&mut StdRng::seed_from_u64(3));
        let keys: Vec<Keypair> = (0..4).map(|_| Keypair::generate_ed25519()).collect();
        let peer = |k: &Keypair| k.public().to_peer_id().to_bytes();
        let body = |idx: &[usize], epoch: u64| ManifestBody {
            version: MANIFEST_VERSION,
            key: DataKey([1; 32]),
            owner: owner.pubkey(),
            meta: ValueMeta::Int,
            threshold: 1,
            holders: idx
                .iter()
                .enumerate()
                .map(|(i, k)| Holder { peer: peer(&keys[*k]), x: i as u64 + 1, commitment: [epoch as u8; 32] })
                .collect(),
            created_ms: 5,
            epoch,
            derived_from: vec![],
            scale: crate::fixed::NumScale::DEFAULT,
        };
        let held = body(&[0, 1, 2], 0).sign(&owner);
        let next = body(&[0, 1, 3], 1);
        let ends: Vec<Endorsement> = (0..2)
            .map(|i| Endorsement { peer: peer(&keys[i]), signature: keys[i].sign(&next.endorsement_bytes()).unwrap() })
            .collect();
        let repaired = held.repaired(next.clone(), ends);
        assert!(repaired.supersedes(&held.body));
        assert!(!held.supersedes(&repaired.body), "not a later epoch");
        // the same body signed by someone else as its "owner": never
        let mut stolen = next.clone();
        stolen.owner = thief.pubkey();
        assert!(!stolen.sign(&thief).supersedes(&held.body));
        // a repair whose lineage does not pass through the held body
        let other = body(&[0, 1, 2], 0);
        let mut other_root = other.clone();
        other_root.holders[2].commitment = [9; 32];
        assert!(!repaired.supersedes(&other_root));
        // the owner re-signing a later epoch does
        assert!(body(&[0, 1, 3], 4).sign(&owner).supersedes(&held.body));
    }

    #[test]
    fn tampering_is_detected() {
        let owner = Identity::generate(&mut StdRng::seed_from_u64(2));
        let (mut m, _, _) = sample(&owner);
        m.body.holders[0].peer = vec![7; 4];
        assert_eq!(m.verify(), Err(ManifestError::BadSignature));
        let (mut m, _, _) = sample(&owner);
        m.body.threshold = 2;
        assert!(matches!(m.verify(), Err(ManifestError::Malformed(_))));
        assert!(Manifest::from_bytes(b"garbage").is_err());
    }
}
