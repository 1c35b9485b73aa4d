//! secp256k1 identities: keys, Bitcoin addresses, and signatures over protocol messages.
//!
//! Owns: parsing private keys (hex or WIF), deriving the compressed public key and the Bitcoin
//! addresses a key controls (P2PKH, P2WPKH, P2SH-P2WPKH), and ECDSA signing/verification with domain
//! separation. Uses `bitcoin::secp256k1` so the build has one copy of libsecp256k1 (DESIGN §7).
//! Must never: write keys anywhere (the Keystore actor persists them) or log a private key.

use bitcoin::secp256k1::{self, All, Message, PublicKey, Secp256k1, SecretKey, ecdsa};
use bitcoin::{Address, CompressedPublicKey, Network, NetworkKind, PrivateKey};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::LazyLock;

static SECP: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);

/// The shared secp256k1 context.
pub fn secp() -> &'static Secp256k1<All> {
    &SECP
}

/// A user identity: a secp256k1 key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public_hex())
    }
}

/// A 33-byte compressed public key.
pub type PubkeyBytes = [u8; 33];
/// A 64-byte compact ECDSA signature.
pub type SignatureBytes = [u8; 64];

impl Identity {
    /// A fresh random identity.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Identity {
        loop {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            if let Ok(secret) = SecretKey::from_slice(&b) {
                return Identity::from_secret(secret);
            }
        }
    }

    fn from_secret(secret: SecretKey) -> Identity {
        Identity { public: PublicKey::from_secret_key(secp(), &secret), secret }
    }

    /// Parses a private key given as 64 hex characters or as WIF. `None` for anything that is not a
    /// valid secp256k1 scalar in 1..n−1.
    pub fn parse(s: &str) -> Option<Identity> {
        let s = s.trim();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = hex::decode(s).ok()?;
            return SecretKey::from_slice(&bytes).ok().map(Identity::from_secret);
        }
        PrivateKey::from_wif(s).ok().map(|k| Identity::from_secret(k.inner))
    }

    /// Private key as 64 hex characters.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret.secret_bytes())
    }

    /// Private key bytes (for the keystore).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// Compressed public key bytes.
    pub fn pubkey(&self) -> PubkeyBytes {
        self.public.serialize()
    }

    /// Compressed public key as 66 hex characters.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public.serialize())
    }

    /// The mainnet P2PKH address of the compressed public key (`1…`).
    pub fn address(&self) -> String {
        p2pkh_address(&self.pubkey()).unwrap_or_default()
    }

    /// The underlying secret key (for the ledger's transaction signing).
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// ECDSA signature over SHA-256(domain ‖ 0x00 ‖ message).
    pub fn sign(&self, domain: &str, message: &[u8]) -> SignatureBytes {
        let msg = Message::from_digest(digest(domain, message));
        secp().sign_ecdsa(&msg, &self.secret).serialize_compact()
    }
}

fn digest(domain: &str, message: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update([0u8]);
    h.update(message);
    h.finalize().into()
}

/// Verifies a signature made by [`Identity::sign`].
pub fn verify(pubkey: &PubkeyBytes, domain: &str, message: &[u8], sig: &SignatureBytes) -> bool {
    let Ok(pk) = PublicKey::from_slice(pubkey) else {
        return false;
    };
    let Ok(sig) = ecdsa::Signature::from_compact(sig) else {
        return false;
    };
    let msg = Message::from_digest(digest(domain, message));
    secp().verify_ecdsa(&msg, &sig, &pk).is_ok()
}

/// Parses a compressed public key from hex.
pub fn parse_pubkey_hex(s: &str) -> Option<PubkeyBytes> {
    let bytes = hex::decode(s.trim()).ok()?;
    let pk = PublicKey::from_slice(&bytes).ok()?;
    Some(pk.serialize())
}

/// The mainnet P2PKH address of a compressed public key.
pub fn p2pkh_address(pubkey: &PubkeyBytes) -> Option<String> {
    let pk = CompressedPublicKey::from_slice(pubkey).ok()?;
    Some(Address::p2pkh(pk, NetworkKind::Main).to_string())
}

/// Every mainnet address a public key controls: P2PKH, P2SH-P2WPKH and P2WPKH (bech32).
pub fn addresses_of(pubkey: &PubkeyBytes) -> Vec<String> {
    let Ok(pk) = CompressedPublicKey::from_slice(pubkey) else {
        return vec![];
    };
    vec![
        Address::p2pkh(pk, NetworkKind::Main).to_string(),
        Address::p2shwpkh(&pk, NetworkKind::Main).to_string(),
        Address::p2wpkh(&pk, Network::Bitcoin).to_string(),
    ]
}

/// Errors validating a user-supplied address.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum AddressError {
    #[error("invalid address {0:?}: {1}")]
    Invalid(String, String),
    #[error("invalid address {0:?}: not a mainnet address")]
    WrongNetwork(String),
}

/// Validates a mainnet Bitcoin address (P2PKH, P2SH, bech32/bech32m) and returns its canonical form.
pub fn parse_address(s: &str) -> Result<String, AddressError> {
    let unchecked: Address<bitcoin::address::NetworkUnchecked> = s
        .trim()
        .parse()
        .map_err(|e: bitcoin::address::ParseError| AddressError::Invalid(s.to_string(), e.to_string()))?;
    let checked = unchecked.require_network(Network::Bitcoin).map_err(|_| AddressError::WrongNetwork(s.to_string()))?;
    Ok(checked.to_string())
}

/// Re-exported so callers need not depend on secp256k1 directly.
pub use secp256k1::Error as SecpError;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn parse_hex_and_wif() {
        let id = Identity::generate(&mut StdRng::seed_from_u64(3));
        assert_eq!(Identity::parse(&id.secret_hex()), Some(id.clone()));
        let wif = PrivateKey::new(*id.secret_key(), Network::Bitcoin).to_wif();
        assert_eq!(Identity::parse(&wif), Some(id.clone()));
        assert!(id.address().starts_with('1'));
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert_eq!(Identity::parse(&"00".repeat(32)), None);
        // the group order n itself
        assert_eq!(Identity::parse("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"), None);
        assert_eq!(Identity::parse("not a key"), None);
        assert_eq!(Identity::parse(""), None);
        assert!(Identity::parse("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140").is_some());
    }

    #[test]
    fn sign_and_verify() {
        let id = Identity::generate(&mut StdRng::seed_from_u64(4));
        let sig = id.sign("test", b"hello");
        assert!(verify(&id.pubkey(), "test", b"hello", &sig));
        assert!(!verify(&id.pubkey(), "test", b"hellO", &sig));
        assert!(!verify(&id.pubkey(), "other", b"hello", &sig));
        let other = Identity::generate(&mut StdRng::seed_from_u64(5));
        assert!(!verify(&other.pubkey(), "test", b"hello", &sig));
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD").unwrap(), "1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhD");
        assert!(parse_address("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").is_ok());
        assert!(parse_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").is_ok());
        assert!(parse_address("1DEP8i3QJCsomS4BSMY2RpU1upv62aGvhE").is_err(), "bad checksum");
        assert_eq!(
            parse_address("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"),
            Err(AddressError::WrongNetwork("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn".into()))
        );
        assert!(parse_address("garbage").is_err());
        let id = Identity::generate(&mut StdRng::seed_from_u64(6));
        let all = addresses_of(&id.pubkey());
        assert_eq!(all[0], id.address());
        assert!(all[1].starts_with('3') && all[2].starts_with("bc1q"));
    }
}
