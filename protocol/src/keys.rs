//! Data keys: the 64-hex-character names of stored values.
//!
//! Owns: the [`DataKey`] type, its hex form, and its derivation — SHA-256 over the value's canonical
//! encoding salted with the owner's public key and a random nonce (DESIGN §1), so a key never lets
//! anyone confirm a guess of low-entropy data and two owners storing the same value never collide.
//! Must never: keep or publish the nonce (it exists only inside [`DataKey::derive`]'s caller).

use crate::identity::PubkeyBytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A data key (SHA-256 digest).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DataKey(pub [u8; 32]);

impl DataKey {
    /// SHA-256("enigma data key v1" ‖ owner ‖ nonce ‖ canonical encoding).
    pub fn derive(canonical: &[u8], owner: &PubkeyBytes, nonce: &[u8; 32]) -> DataKey {
        let mut h = Sha256::new();
        h.update(b"enigma data key v1\0");
        h.update(owner);
        h.update(nonce);
        h.update(canonical);
        DataKey(h.finalize().into())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({}…)", &self.to_hex()[..12])
    }
}

/// A string that is not a data key.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("invalid key {0:?}: a key is 64 hexadecimal characters")]
pub struct KeyParseError(pub String);

impl FromStr for DataKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<DataKey, KeyParseError> {
        let t = s.trim();
        if t.len() != 64 {
            return Err(KeyParseError(s.to_string()));
        }
        let bytes = hex::decode(t).map_err(|_| KeyParseError(s.to_string()))?;
        let mut out = [0u8; 32];
        out.copy_from_slice(&bytes);
        Ok(DataKey(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_keys_differ() {
        let owner_a = [2u8; 33];
        let owner_b = [3u8; 33];
        let k1 = DataKey::derive(b"24", &owner_a, &[0; 32]);
        assert_ne!(k1, DataKey::derive(b"24", &owner_a, &[1; 32]), "nonce salts");
        assert_ne!(k1, DataKey::derive(b"24", &owner_b, &[0; 32]), "owner salts");
        assert_eq!(k1.to_hex().len(), 64);
        assert_eq!(k1.to_hex().parse::<DataKey>().unwrap(), k1);
    }

    #[test]
    fn bad_keys() {
        assert!("abc".parse::<DataKey>().is_err());
        assert!("zz".repeat(32).parse::<DataKey>().is_err());
        assert!("00".repeat(33).parse::<DataKey>().is_err());
    }
}
