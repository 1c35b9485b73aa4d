//! The TCP client API's credential on the node's side: the cookie written at start, or the token
//! read from `--rpc-token-file` (docs/decisions.md, "Client API credential").
//!
//! Owns: `<data-dir>/rpc.cookie` (32 random bytes, hex, mode 0600, rewritten on every start that
//! serves TCP with the cookie, removed on a start that does not) and reading a token file. Must never:
//! log, print or keep a token in the clear beyond writing the cookie (the node keeps only its digest),
//! or leave a cookie readable by anyone but the node's user. The Unix socket needs no credential: its
//! mode 0600 is its access control.

use enigma_protocol::credential::TokenDigest;
use rand::Rng;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const COOKIE_FILE: &str = "rpc.cookie";

/// The shortest token `--rpc-token-file` may hold.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot write the client API cookie {path}: {source}")]
    WriteCookie { path: PathBuf, source: std::io::Error },
    #[error("cannot read --rpc-token-file {path}: {source}")]
    ReadToken { path: PathBuf, source: std::io::Error },
    #[error("--rpc-token-file {path}: {why}")]
    BadToken { path: PathBuf, why: String },
}

/// Writes a fresh cookie to `<dir>/rpc.cookie` (mode 0600, replacing the last start's) and returns
/// its digest.
pub fn write_cookie(dir: &Path) -> Result<TokenDigest, CredentialError> {
    let path = dir.join(COOKIE_FILE);
    let err = |source| CredentialError::WriteCookie { path: path.clone(), source };
    // ThreadRng is a CSPRNG (ChaCha, seeded from the OS)
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let cookie = hex::encode(bytes);
    let tmp = dir.join(format!("{COOKIE_FILE}.tmp"));
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(err)?;
    f.write_all(cookie.as_bytes()).and_then(|()| f.sync_all()).map_err(err)?;
    drop(f);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(TokenDigest::new(&cookie))
}

/// Removes a cookie left by an earlier start (so no client picks up a credential nobody checks).
pub fn remove_cookie(dir: &Path) {
    let path = dir.join(COOKIE_FILE);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove the old client API cookie");
    }
}

/// Reads the token of `--rpc-token-file`: the file's content without surrounding whitespace, at
/// least [`MIN_TOKEN_LEN`] printable ASCII characters, no spaces.
pub fn read_token_file(path: &Path) -> Result<TokenDigest, CredentialError> {
    let bad = |why: &str| CredentialError::BadToken { path: path.to_path_buf(), why: why.to_string() };
    let text = std::fs::read_to_string(path)
        .map_err(|source| CredentialError::ReadToken { path: path.to_path_buf(), source })?;
    let token = text.trim();
    if token.len() < MIN_TOKEN_LEN {
        return Err(bad(&format!("the token must be at least {MIN_TOKEN_LEN} characters (e.g. 32 random bytes, hex)")));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("the token must be one line of printable ASCII without spaces"));
    }
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "--rpc-token-file is readable by other users; chmod 600 it");
    }
    Ok(TokenDigest::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_private_fresh_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d1 = write_cookie(dir.path()).unwrap();
        let path = dir.path().join(COOKIE_FILE);
        let c1 = std::fs::read_to_string(&path).unwrap();
        assert_eq!(c1.len(), 64);
        assert!(c1.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(d1.matches(&c1));
        let d2 = write_cookie(dir.path()).unwrap();
        let c2 = std::fs::read_to_string(&path).unwrap();
        assert_ne!(c1, c2, "rewritten on every start");
        assert!(d2.matches(&c2) && !d2.matches(&c1));
        remove_cookie(dir.path());
        assert!(!path.exists());
        remove_cookie(dir.path()); // nothing to remove: fine
    }

    #[test]
    fn token_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        assert!(read_token_file(&p).unwrap().matches("0123456789abcdef0123"));
        std::fs::write(&p, "short").unwrap();
        assert!(read_token_file(&p).unwrap_err().to_string().contains("at least 16"));
        std::fs::write(&p, "0123456789 abcdef0123").unwrap();
        assert!(read_token_file(&p).is_err());
        assert!(matches!(read_token_file(&dir.path().join("none")), Err(CredentialError::ReadToken { .. })));
    }
}
