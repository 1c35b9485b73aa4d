//! The TCP client API's credential formats, shared by the node and the Rust client: the token
//! comparison and the TLS certificate fingerprint (docs/decisions.md, "Client API credential").
//!
//! Owns: how a token offered by a client is compared with the node's ([`TokenDigest`], constant
//! time), and how a certificate fingerprint is computed, written and read ([`fingerprint`],
//! [`parse_fingerprint`]). Must never: do I/O, log or format a token, or compare secrets with `==`.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token as the node keeps it: its SHA-256, so that comparing it with an offered token takes the
/// same time whatever the offered token's length or content (both sides are hashed, then the two
/// 32-byte digests compared with `subtle`'s constant-time equality).
#[derive(Clone)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn new(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `offered` is the token, in constant time.
    pub fn matches(&self, offered: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered.as_bytes()).into();
        bool::from(self.0.ct_eq(&offered))
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// A certificate's fingerprint as the node prints it: SHA-256 of its DER, 64 lowercase hex digits.
pub fn fingerprint(cert_der: &[u8]) -> String {
    hex::encode(Sha256::digest(cert_der))
}

/// A fingerprint refused by [`parse_fingerprint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a certificate fingerprint: expected the SHA-256 the node prints (64 hex digits, ':' allowed)")]
pub struct FingerprintError(pub String);

/// Reads a fingerprint: 64 hex digits, either case, optionally `:`-separated pairs (as `openssl x509
/// -fingerprint -sha256` prints them) and an optional `sha256:` prefix.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], FingerprintError> {
    let t = s.trim();
    let t = t.strip_prefix("sha256:").or_else(|| t.strip_prefix("SHA256:")).unwrap_or(t);
    let digits: String = t.chars().filter(|&c| c != ':').collect();
    let mut out = [0u8; 32];
    hex::decode_to_slice(&digits, &mut out).map_err(|_| FingerprintError(s.to_string()))?;
    Ok(out)
}

/// Whether a certificate (DER) has the pinned fingerprint.
pub fn fingerprint_matches(cert_der: &[u8], pinned: &[u8; 32]) -> bool {
    let got: [u8; 32] = Sha256::digest(cert_der).into();
    bool::from(got.ct_eq(pinned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content_only() {
        let d = TokenDigest::new("a".repeat(64).as_str());
        assert!(d.matches(&"a".repeat(64)));
        assert!(!d.matches(&"a".repeat(63)));
        assert!(!d.matches(""));
        assert!(!d.matches(&format!("{}b", "a".repeat(63))));
        assert_eq!(format!("{d:?}"), "TokenDigest(..)");
    }

    #[test]
    fn fingerprints_round_trip_in_every_spelling() {
        let der = b"not really a certificate";
        let fp = fingerprint(der);
        assert_eq!(fp.len(), 64);
        let bytes = parse_fingerprint(&fp).unwrap();
        assert!(fingerprint_matches(der, &bytes));
        assert!(!fingerprint_matches(b"another", &bytes));
        let colons = fp
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap(), bytes);
        assert_eq!(parse_fingerprint(&format!("sha256:{fp}\n")).unwrap(), bytes);
        assert!(parse_fingerprint(&fp[..62]).is_err());
        assert!(parse_fingerprint("zz").is_err());
        assert!(parse_fingerprint("").is_err());
    }
}
