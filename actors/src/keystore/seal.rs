//! Passphrase encryption of key files at rest: Argon2id (RFC 9106) derives a 256-bit key from the
//! passphrase and a random per-file salt; XChaCha20-Poly1305 encrypts and authenticates the secret
//! under a random 192-bit nonce, with the file's role (`identity`, `node`) as associated data so one
//! sealed file cannot be swapped for another.
//!
//! Owns: the sealed-file format (a text header line, then a JSON envelope) and the KDF parameters.
//! Must never: write or log a passphrase or a derived key, or return plaintext from a file whose tag
//! does not verify. Pure: no I/O.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// First line of every sealed file.
pub const SEALED_MAGIC: &str = "enigma-sealed-key-v1";

/// Argon2id cost: 64 MiB, 3 passes, 1 lane (above OWASP's minimum; ~0.2 s on one core).
const M_COST_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;

/// A passphrase, wiped from memory when dropped.
pub struct Passphrase(Vec<u8>);

impl Passphrase {
    /// A passphrase from the bytes of a pass file: one trailing newline (`\n` or `\r\n`) is not
    /// part of it. Empty passphrases are refused.
    pub fn from_file_bytes(mut bytes: Vec<u8>) -> Result<Passphrase, SealError> {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            return Err(SealError::EmptyPassphrase);
        }
        Ok(Passphrase(bytes))
    }
}

impl Drop for Passphrase {
    fn drop(&mut self) {
        // volatile writes so the wipe is not optimised away
        for b in self.0.iter_mut() {
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Sealing failures.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("wrong passphrase, or the sealed key file was altered")]
    Decrypt,
    #[error("sealed key file is malformed: {0}")]
    Malformed(String),
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    aead: String,
    nonce: String,
    ciphertext: String,
}

/// Is this file content sealed?
pub fn is_sealed(content: &[u8]) -> bool {
    content.starts_with(SEALED_MAGIC.as_bytes())
}

fn derive(pass: &Passphrase, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], SealError> {
    // bounds on what a file may ask for, so a tampered header cannot make start-up take forever
    if !(8..=1 << 21).contains(&m) || !(1..=16).contains(&t) || !(1..=8).contains(&p) {
        return Err(SealError::Malformed("KDF parameters out of range".into()));
    }
    let params = Params::new(m, t, p, Some(32)).map_err(|e| SealError::Kdf(e.to_string()))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(&pass.0, salt, &mut key)
        .map_err(|e| SealError::Kdf(e.to_string()))?;
    Ok(key)
}

/// Encrypts `secret` under `pass`; `role` is bound as associated data.
pub fn seal(pass: &Passphrase, role: &str, secret: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let mut key = derive(pass, &salt, M_COST_KIB, T_COST, P_COST)?;
    let cipher = XChaCha20Poly1305::new((&key).into());
    key.fill(0);
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: role.as_bytes() })
        .map_err(|_| SealError::Kdf("encryption failed".into()))?;
    let env = Envelope {
        kdf: "argon2id".into(),
        m_kib: M_COST_KIB,
        t: T_COST,
        p: P_COST,
        salt: hex::encode(salt),
        aead: "xchacha20poly1305".into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    };
    let body = serde_json::to_string(&env).map_err(|e| SealError::Malformed(e.to_string()))?;
    Ok(format!("{SEALED_MAGIC}\n{body}\n").into_bytes())
}

/// Decrypts a sealed file made by [`seal`] for the same `role`.
pub fn open(pass: &Passphrase, role: &str, content: &[u8]) -> Result<Vec<u8>, SealError> {
    let text = std::str::from_utf8(content).map_err(|_| SealError::Malformed("not UTF-8".into()))?;
    let body = text
        .strip_prefix(SEALED_MAGIC)
        .and_then(|r| r.strip_prefix('\n'))
        .ok_or_else(|| SealError::Malformed("missing header".into()))?;
    let env: Envelope = serde_json::from_str(body.trim_end()).map_err(|e| SealError::Malformed(e.to_string()))?;
    if env.kdf != "argon2id" || env.aead != "xchacha20poly1305" {
        return Err(SealError::Malformed(format!("unsupported scheme {}/{}", env.kdf, env.aead)));
    }
    let hex_field =
        |name: &str, v: &str| hex::decode(v).map_err(|_| SealError::Malformed(format!("{name} is not hex")));
    let salt = hex_field("salt", &env.salt)?;
    let nonce = hex_field("nonce", &env.nonce)?;
    let ciphertext = hex_field("ciphertext", &env.ciphertext)?;
    if salt.len() < 8 || nonce.len() != 24 {
        return Err(SealError::Malformed("bad salt or nonce length".into()));
    }
    let mut key = derive(pass, &salt, env.m_kib, env.t, env.p)?;
    let cipher = XChaCha20Poly1305::new((&key).into());
    key.fill(0);
    cipher
        .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: role.as_bytes() })
        .map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::from_file_bytes(s.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn seals_and_opens() {
        let sealed = seal(&pass("correct horse"), "identity", b"secret bytes").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        assert_eq!(open(&pass("correct horse\n"), "identity", &sealed).unwrap(), b"secret bytes");
    }

    #[test]
    fn wrong_passphrase_role_or_tampering_is_refused() {
        let sealed = seal(&pass("pw"), "identity", b"k").unwrap();
        assert_eq!(open(&pass("other"), "identity", &sealed), Err(SealError::Decrypt));
        assert_eq!(open(&pass("pw"), "node", &sealed), Err(SealError::Decrypt));
        let mut text = String::from_utf8(sealed).unwrap();
        let at = text.find("\"ciphertext\":\"").unwrap() + 14;
        let flipped = if &text[at..at + 1] == "0" { "1" } else { "0" };
        text.replace_range(at..at + 1, flipped);
        assert_eq!(open(&pass("pw"), "identity", text.as_bytes()), Err(SealError::Decrypt));
        assert!(matches!(open(&pass("pw"), "identity", b"garbage"), Err(SealError::Malformed(_))));
        let huge = text.replace("\"t\":3", "\"t\":1000000");
        assert!(matches!(open(&pass("pw"), "identity", huge.as_bytes()), Err(SealError::Malformed(_))));
    }

    #[test]
    fn empty_passphrases_are_refused() {
        assert_eq!(Passphrase::from_file_bytes(b"\n".to_vec()).unwrap_err(), SealError::EmptyPassphrase);
        assert_eq!(Passphrase::from_file_bytes(Vec::new()).unwrap_err(), SealError::EmptyPassphrase);
    }
}
