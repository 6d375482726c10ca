//! The payload directories: `payloads/` (final files, one per item, named by the
//! item's seq in hex) and `staging/` (files being written).
//!
//! A file only ever appears under `payloads/` by `rename` from `staging/` after
//! it was written completely and fsynced, so no partial file is ever visible
//! there. The directory fsync that makes the rename durable is done by the
//! committer before the db flush that makes the referencing record durable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::Seq;

#[derive(Debug)]
pub(crate) struct PayloadDir {
    payloads: PathBuf,
    staging: PathBuf,
    next_temp: AtomicU64,
}

impl PayloadDir {
    /// Creates both directories if needed.
    pub(crate) fn open(root: &Path) -> io::Result<PayloadDir> {
        let payloads = root.join("payloads");
        let staging = root.join("staging");
        fs::create_dir_all(&payloads)?;
        fs::create_dir_all(&staging)?;
        Ok(PayloadDir { payloads, staging, next_temp: AtomicU64::new(0) })
    }

    pub(crate) fn file_path(&self, seq: Seq) -> PathBuf {
        self.payloads.join(format!("{seq:016x}"))
    }

    /// A fresh, unused path under `staging/` (the directory is emptied at open,
    /// so a per-process counter is unique).
    pub(crate) fn new_staging_path(&self) -> PathBuf {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        self.staging.join(format!("{n:016x}.part"))
    }

    /// Writes `bytes` as the payload file of `seq`: staging file, fsync, rename.
    /// The caller still has to get the directory fsynced (by the committer).
    pub(crate) fn write_file(&self, seq: Seq, bytes: &[u8]) -> io::Result<()> {
        let temp = self.new_staging_path();
        let result = write_synced(&temp, bytes).and_then(|()| fs::rename(&temp, self.file_path(seq)));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Moves a finished (fsynced) staging file into place as the payload of `seq`.
    pub(crate) fn adopt(&self, staged: &Path, seq: Seq) -> io::Result<()> {
        fs::rename(staged, self.file_path(seq))
    }

    /// Deletes the payload file of `seq`; a missing file is fine.
    pub(crate) fn remove(&self, seq: Seq) {
        remove_quietly(&self.file_path(seq));
    }

    /// Deletes everything under `staging/` (recovery: nothing there is referenced).
    pub(crate) fn clear_staging(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.staging)? {
            let path = entry?.path();
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// Every entry of `payloads/`: its path and the seq its name encodes (None for
    /// names we never create).
    pub(crate) fn list(&self) -> io::Result<Vec<(PathBuf, Option<Seq>)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.payloads)? {
            let entry = entry?;
            let seq = entry.file_name().to_str().and_then(parse_name);
            out.push((entry.path(), seq));
        }
        Ok(out)
    }

    /// Size of the payload file of `seq`, or None if it does not exist.
    pub(crate) fn file_size(&self, seq: Seq) -> io::Result<Option<u64>> {
        match fs::metadata(self.file_path(seq)) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not delete spool file");
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file: File = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parse_name(name: &str) -> Option<Seq> {
    if name.len() != 16 {
        return None;
    }
    u64::from_str_radix(name, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_list_remove() -> io::Result<()> {
        let root = tempfile::tempdir()?;
        let dir = PayloadDir::open(root.path())?;
        dir.write_file(0xabc, b"hello")?;
        assert_eq!(fs::read(dir.file_path(0xabc))?, b"hello");
        assert_eq!(dir.file_size(0xabc)?, Some(5));
        assert_eq!(dir.file_size(1)?, None);
        fs::write(root.path().join("payloads").join("junk"), b"x")?;
        let mut listed: Vec<_> = dir.list()?.into_iter().map(|(_, seq)| seq).collect();
        listed.sort();
        assert_eq!(listed, vec![None, Some(0xabc)]);
        // Nothing is left behind in staging.
        assert_eq!(fs::read_dir(root.path().join("staging"))?.count(), 0);
        dir.remove(0xabc);
        dir.remove(0xabc);
        assert_eq!(dir.file_size(0xabc)?, None);
        fs::write(dir.new_staging_path(), b"partial")?;
        assert_eq!(dir.clear_staging()?, 1);
        Ok(())
    }
}
