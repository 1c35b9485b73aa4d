//! Manifests: the owner-signed record of where a key's shares live and how to read them.
//!
//! Owns: the [`Manifest`] (key, owner, public value metadata, threshold, holders with their
//! x-coordinates and salted share commitments, epoch), its signing and verification, and the check a
//! reader applies to each share it gathers. Must never: contain anything secret (manifests are
//! published in the DHT and cached by every holder) — no nonce, no salt, no share.

use crate::field::Fp;
use crate::identity::{self, Identity, PubkeyBytes, SignatureBytes};
use crate::keys::DataKey;
use crate::shamir;
use crate::value::ValueMeta;
use serde::{Deserialize, Serialize};

/// Manifest format version.
pub const MANIFEST_VERSION: u16 = 1;
const DOMAIN: &str = "enigma manifest v1";

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

/// The signed part of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestBody {
    pub version: u16,
    pub key: DataKey,
    #[serde(with = "serde_bytes")]
    pub owner: PubkeyBytes,
    pub meta: ValueMeta,
    /// Shamir threshold t: any t + 1 shares reconstruct.
    pub threshold: u32,
    pub holders: Vec<Holder>,
    pub created_ms: u64,
    /// Bumped whenever the custody group changes (share repair).
    pub epoch: u64,
}

/// A manifest and the owner's signature over its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub body: ManifestBody,
    #[serde(with = "serde_bytes")]
    pub signature: SignatureBytes,
}

/// Why a manifest or a share was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum ManifestError {
    #[error("manifest signature does not verify")]
    BadSignature,
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
        Manifest { body: self, signature }
    }
}

impl Manifest {
    /// Checks the signature and the structural invariants every reader relies on.
    pub fn verify(&self) -> Result<(), ManifestError> {
        let b = &self.body;
        if b.version != MANIFEST_VERSION {
            return Err(ManifestError::Malformed(format!("unknown version {}", b.version)));
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
        if !identity::verify(&b.owner, DOMAIN, &b.signing_bytes(), &self.signature) {
            return Err(ManifestError::BadSignature);
        }
        Ok(())
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
