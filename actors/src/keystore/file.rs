//! Key files in the data directory: the user identity (secp256k1) and the node key (libp2p ed25519).
//!
//! Owns: file names, permissions (0600), atomic replacement (write, fsync, rename) and the archive of
//! retired identities, so replacing an identity never loses access to data it owns; with a
//! passphrase, every key file is sealed ([`super::seal`]) and plaintext files left from before are
//! sealed in place on first start. Must never: log key material, write a key file readable by others,
//! or fall back to plaintext when a passphrase was given.

use super::seal::{self, Passphrase, SealError};
use enigma_protocol::identity::Identity;
use libp2p::identity::Keypair;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const IDENTITY_FILE: &str = "identity.key";
pub const NODE_KEY_FILE: &str = "node.key";
pub const RETIRED_DIR: &str = "retired-keys";

/// Key file failures.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {0} is corrupt")]
    Corrupt(PathBuf),
    #[error("key file {0} is encrypted: start the node with --keystore-pass-file")]
    Locked(PathBuf),
    #[error("key file {path}: {source}")]
    Seal { path: PathBuf, source: SealError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f =
            OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        // the mode only applies to new files: force it in case a stale tmp existed
        f.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a key file: sealed under `pass` when there is one, else plain (mode 0600 either way).
pub fn write_key(path: &Path, role: &str, pass: Option<&Passphrase>, secret: &[u8]) -> Result<(), KeyFileError> {
    match pass {
        Some(pass) => {
            let sealed = seal::seal(pass, role, secret)
                .map_err(|source| KeyFileError::Seal { path: path.to_path_buf(), source })?;
            write_secret(path, &sealed)
        }
        None => write_secret(path, secret),
    }
}

/// Reads a key file (`None` if absent), opening it when sealed. A plaintext file read with a
/// passphrase is sealed in place, so turning encryption on needs nothing more than the flag.
pub fn read_key(path: &Path, role: &str, pass: Option<&Passphrase>) -> Result<Option<Vec<u8>>, KeyFileError> {
    let content = match fs::read(path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    match (seal::is_sealed(&content), pass) {
        (true, Some(pass)) => seal::open(pass, role, &content)
            .map(Some)
            .map_err(|source| KeyFileError::Seal { path: path.to_path_buf(), source }),
        (true, None) => Err(KeyFileError::Locked(path.to_path_buf())),
        (false, Some(pass)) => {
            write_key(path, role, Some(pass), &content)?;
            tracing::info!(path = %path.display(), "key file sealed with the keystore passphrase");
            Ok(Some(content))
        }
        (false, None) => Ok(Some(content)),
    }
}

/// Loads the user identity, creating one on first start.
pub fn load_or_create_identity(dir: &Path, pass: Option<&Passphrase>) -> Result<Identity, KeyFileError> {
    let path = dir.join(IDENTITY_FILE);
    match read_key(&path, "identity", pass)? {
        Some(b) => {
            std::str::from_utf8(&b).ok().and_then(|s| Identity::parse(s.trim())).ok_or(KeyFileError::Corrupt(path))
        }
        None => {
            let id = Identity::generate(&mut rand::rng());
            write_key(&path, "identity", pass, id.secret_hex().as_bytes())?;
            Ok(id)
        }
    }
}

/// Replaces the user identity, moving the previous one to `retired-keys/`.
pub fn replace_identity(
    dir: &Path,
    pass: Option<&Passphrase>,
    old: &Identity,
    new: &Identity,
) -> Result<(), KeyFileError> {
    let retired = dir.join(RETIRED_DIR);
    fs::create_dir_all(&retired).map_err(io(&retired))?;
    fs::set_permissions(&retired, fs::Permissions::from_mode(0o700)).map_err(io(&retired))?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let archived = retired.join(format!("{stamp}-{}.key", old.public_hex()));
    write_key(&archived, "identity", pass, old.secret_hex().as_bytes())?;
    write_key(&dir.join(IDENTITY_FILE), "identity", pass, new.secret_hex().as_bytes())
}

/// Loads the libp2p node key, creating one on first start (it is the node's peer id).
pub fn load_or_create_node_key(dir: &Path, pass: Option<&Passphrase>) -> Result<Keypair, KeyFileError> {
    let path = dir.join(NODE_KEY_FILE);
    match read_key(&path, "node", pass)? {
        Some(b) => Keypair::from_protobuf_encoding(&b).map_err(|_| KeyFileError::Corrupt(path)),
        None => {
            let key = Keypair::generate_ed25519();
            let bytes = key.to_protobuf_encoding().map_err(|_| KeyFileError::Corrupt(path.clone()))?;
            write_key(&path, "node", pass, &bytes)?;
            Ok(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_identity(dir.path(), None).unwrap();
        assert_eq!(load_or_create_identity(dir.path(), None).unwrap(), id);
        let mode = fs::metadata(dir.path().join(IDENTITY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let nk = load_or_create_node_key(dir.path(), None).unwrap();
        assert_eq!(load_or_create_node_key(dir.path(), None).unwrap().public(), nk.public());
        let mode = fs::metadata(dir.path().join(NODE_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let new = Identity::generate(&mut rand::rng());
        replace_identity(dir.path(), None, &id, &new).unwrap();
        assert_eq!(load_or_create_identity(dir.path(), None).unwrap(), new);
        assert_eq!(fs::read_dir(dir.path().join(RETIRED_DIR)).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(IDENTITY_FILE), "zz").unwrap();
        assert!(matches!(load_or_create_identity(dir.path(), None), Err(KeyFileError::Corrupt(_))));
    }

    fn pass(s: &str) -> Passphrase {
        Passphrase::from_file_bytes(s.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn a_passphrase_seals_every_key_file_and_is_required_after() {
        let dir = tempfile::tempdir().unwrap();
        // keys made in plaintext, then the node restarted with a passphrase: sealed in place
        let id = load_or_create_identity(dir.path(), None).unwrap();
        let nk = load_or_create_node_key(dir.path(), None).unwrap();
        let pw = pass("hunter2 but longer");
        assert_eq!(load_or_create_identity(dir.path(), Some(&pw)).unwrap(), id);
        assert_eq!(load_or_create_node_key(dir.path(), Some(&pw)).unwrap().public(), nk.public());
        for f in [IDENTITY_FILE, NODE_KEY_FILE] {
            let content = fs::read(dir.path().join(f)).unwrap();
            assert!(seal::is_sealed(&content), "{f} is sealed");
            assert!(!String::from_utf8_lossy(&content).contains(&id.secret_hex()));
            let mode = fs::metadata(dir.path().join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // without the passphrase, or with a wrong one, the node refuses to start
        assert!(matches!(load_or_create_identity(dir.path(), None), Err(KeyFileError::Locked(_))));
        assert!(matches!(load_or_create_node_key(dir.path(), None), Err(KeyFileError::Locked(_))));
        assert!(matches!(
            load_or_create_identity(dir.path(), Some(&pass("wrong"))),
            Err(KeyFileError::Seal { source: SealError::Decrypt, .. })
        ));
        // replacing the identity keeps everything sealed, the archive too
        let new = Identity::generate(&mut rand::rng());
        replace_identity(dir.path(), Some(&pw), &id, &new).unwrap();
        assert_eq!(load_or_create_identity(dir.path(), Some(&pw)).unwrap(), new);
        let archived = fs::read_dir(dir.path().join(RETIRED_DIR)).unwrap().next().unwrap().unwrap().path();
        assert!(seal::is_sealed(&fs::read(&archived).unwrap()));
        assert_eq!(read_key(&archived, "identity", Some(&pw)).unwrap().unwrap(), id.secret_hex().as_bytes());
    }
}
