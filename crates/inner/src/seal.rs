//! The seal key: 32 random bytes in `<data_dir>/seal.key`, made (mode 0600) on the
//! first start and read afterwards. Secrets inside fetch and send requests are
//! sealed with it; the DMZ gets it in every config push and keeps it in memory only.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use envelope::SealKey;

/// Where the key lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("seal.key")
}

/// Reads the key, making it first if there is none.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<SealKey> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => return Ok(SealKey(bytes)),
        Ok(bytes) => {
            return Err(std::io::Error::other(format!(
                "{}: {} bytes, expected 32; remove it to make a new key",
                path.display(),
                bytes.len()
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::create_dir_all(data_dir)?;
    let key = transfer::seal::generate_key().map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    file.write_all(&key.0)?;
    file.sync_all()?;
    std::fs::File::open(data_dir)?.sync_all()?;
    tracing::info!(message = "seal key created", path = %path.display());
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_made_once_private_and_read_afterwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = super::load_or_create(dir.path()).expect("create");
        let mode = std::fs::metadata(super::path(dir.path())).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(super::load_or_create(dir.path()).expect("read"), first);
    }
}
