//! Key files in the data directory: the user identity (secp256k1) and the node key (libp2p ed25519).
//!
//! Owns: file names, permissions (0600), atomic replacement (write, fsync, rename) and the archive of
//! retired identities, so replacing an identity never loses access to data it owns. Must never: log
//! key material or write a key file readable by others.

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

/// Loads the user identity, creating one on first start.
pub fn load_or_create_identity(dir: &Path) -> Result<Identity, KeyFileError> {
    let path = dir.join(IDENTITY_FILE);
    match fs::read_to_string(&path) {
        Ok(s) => Identity::parse(&s).ok_or(KeyFileError::Corrupt(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Identity::generate(&mut rand::rng());
            write_secret(&path, id.secret_hex().as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

/// Replaces the user identity, moving the previous one to `retired-keys/`.
pub fn replace_identity(dir: &Path, old: &Identity, new: &Identity) -> Result<(), KeyFileError> {
    let retired = dir.join(RETIRED_DIR);
    fs::create_dir_all(&retired).map_err(io(&retired))?;
    fs::set_permissions(&retired, fs::Permissions::from_mode(0o700)).map_err(io(&retired))?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    write_secret(&retired.join(format!("{stamp}-{}.key", old.public_hex())), old.secret_hex().as_bytes())?;
    write_secret(&dir.join(IDENTITY_FILE), new.secret_hex().as_bytes())
}

/// Loads the libp2p node key, creating one on first start (it is the node's peer id).
pub fn load_or_create_node_key(dir: &Path) -> Result<Keypair, KeyFileError> {
    let path = dir.join(NODE_KEY_FILE);
    match fs::read(&path) {
        Ok(b) => Keypair::from_protobuf_encoding(&b).map_err(|_| KeyFileError::Corrupt(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Keypair::generate_ed25519();
            let bytes = key.to_protobuf_encoding().map_err(|_| KeyFileError::Corrupt(path.clone()))?;
            write_secret(&path, &bytes)?;
            Ok(key)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_identity(dir.path()).unwrap();
        assert_eq!(load_or_create_identity(dir.path()).unwrap(), id);
        let mode = fs::metadata(dir.path().join(IDENTITY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let nk = load_or_create_node_key(dir.path()).unwrap();
        assert_eq!(load_or_create_node_key(dir.path()).unwrap().public(), nk.public());
        let mode = fs::metadata(dir.path().join(NODE_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let new = Identity::generate(&mut rand::rng());
        replace_identity(dir.path(), &id, &new).unwrap();
        assert_eq!(load_or_create_identity(dir.path()).unwrap(), new);
        assert_eq!(fs::read_dir(dir.path().join(RETIRED_DIR)).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(IDENTITY_FILE), "zz").unwrap();
        assert!(matches!(load_or_create_identity(dir.path()), Err(KeyFileError::Corrupt(_))));
    }
}
