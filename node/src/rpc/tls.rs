//! TLS for the TCP client API (`--rpc-tls`): the node's self-signed certificate and the acceptor.
//!
//! Owns: `<data-dir>/rpc-tls.key` (PKCS#8, PEM, mode 0600) and `<data-dir>/rpc-tls.crt` (PEM),
//! made with rcgen on the first start that needs them and kept after, so the fingerprint clients
//! pinned stays valid; the rustls server configuration (TLS 1.3 only, ring provider, no client
//! certificates). Clients authenticate the node by the certificate's SHA-256 fingerprint, not by
//! a CA or a host name. Must never: replace an existing key or certificate on its own (that would
//! break every client's pin: delete both files to rotate), or leave the key readable by others.

use enigma_protocol::credential::fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

pub const KEY_FILE: &str = "rpc-tls.key";
pub const CERT_FILE: &str = "rpc-tls.crt";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {why}")]
    Read { path: PathBuf, why: String },
    #[error(
        "{found} exists but {missing} does not: restore it, or delete {found} to make a new certificate \
         (clients then need the new fingerprint)"
    )]
    HalfPair { found: PathBuf, missing: PathBuf },
    #[error("making the TLS certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the TLS key and certificate in {dir} do not fit together: {why}")]
    Config { dir: PathBuf, why: String },
}

/// The node's TLS identity, ready to serve.
pub struct TlsIdentity {
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the certificate (DER), 64 lowercase hex digits: what clients pin.
    pub fingerprint: String,
    /// True when this start made the key and certificate.
    pub created: bool,
}

/// Loads the key and certificate from `dir`, making them on the first start.
pub fn load_or_create(dir: &Path) -> Result<TlsIdentity, TlsError> {
    let (key_path, cert_path) = (dir.join(KEY_FILE), dir.join(CERT_FILE));
    let created = match (key_path.exists(), cert_path.exists()) {
        (true, true) => false,
        (false, false) => {
            create(&key_path, &cert_path)?;
            true
        }
        (true, false) => return Err(TlsError::HalfPair { found: key_path, missing: cert_path }),
        (false, true) => return Err(TlsError::HalfPair { found: cert_path, missing: key_path }),
    };
    let read_err =
        |path: &Path, e: &dyn std::fmt::Display| TlsError::Read { path: path.to_path_buf(), why: e.to_string() };
    let cert = CertificateDer::from_pem_file(&cert_path).map_err(|e| read_err(&cert_path, &e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| read_err(&key_path, &e))?;
    let fingerprint = fingerprint(&cert);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .and_then(|b| b.with_no_client_auth().with_single_cert(vec![cert], key))
        .map_err(|e| TlsError::Config { dir: dir.to_path_buf(), why: e.to_string() })?;
    // no session resumption: a client connects once and keeps the connection
    config.send_tls13_tickets = 0;
    Ok(TlsIdentity { acceptor: TlsAcceptor::from(Arc::new(config)), fingerprint, created })
}

fn create(key_path: &Path, cert_path: &Path) -> Result<(), TlsError> {
    // the name is not checked by Enigma's clients (they pin the fingerprint); it is there for tools
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    write_new(key_path, made.key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, made.cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// Writes a file that must not exist yet, through a temporary file and a rename.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::Write { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(err)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert!(first.created);
        assert_eq!(first.fingerprint.len(), 64);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint, first.fingerprint, "the pinned fingerprint survives a restart");

        std::fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        assert!(matches!(load_or_create(dir.path()), Err(TlsError::HalfPair { .. })));
        std::fs::write(dir.path().join(CERT_FILE), "garbage").unwrap();
        assert!(matches!(load_or_create(dir.path()), Err(TlsError::Read { .. })));
    }
}
