//! Putting bytes in place atomically: a hidden temp file in the target directory,
//! fsync, rename over the final name, fsync the directory. A reader never sees a
//! partial file; after a crash either the old state or the whole new file is there.
//!
//! For a batch the steps split: [`prepare`] (write + fsync, several at once),
//! [`Prepared::publish`] (rename, in delivery order, so files of a channel appear in
//! order), [`sync_parents`] (one fsync per directory for the whole batch).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use spool::StoredPayload;

/// A payload written and fsynced under a hidden temp name beside its target,
/// not yet visible under the target's name.
#[derive(Debug)]
pub struct Prepared {
    temp: PathBuf,
    target: PathBuf,
}

impl Prepared {
    /// `temp` (a file, or a directory of files) is complete and fsynced.
    pub(super) fn new(temp: PathBuf, target: PathBuf) -> Prepared {
        Prepared { temp, target }
    }

    /// Makes the file (or directory) visible under its final name (one atomic
    /// rename). Durable only after [`sync_parents`]. A directory left at the
    /// target by an earlier attempt of the same delivery is replaced.
    pub fn publish(&self) -> io::Result<()> {
        if self.temp.is_dir() && self.target.is_dir() {
            fs::remove_dir_all(&self.target)?;
        }
        fs::rename(&self.temp, &self.target)
    }

    /// Deletes the temp file (or directory) of a payload that will not be published.
    pub fn discard(self) {
        match self.temp.is_dir() {
            true => drop(fs::remove_dir_all(&self.temp)),
            false => drop(fs::remove_file(&self.temp)),
        }
    }

    pub fn target(&self) -> &Path {
        &self.target
    }
}

/// Writes `payload` beside `target` under a temp name (`tag` makes it unique: the
/// delivery id) and fsyncs it; creates missing directories durably.
pub fn prepare(target: &Path, payload: &StoredPayload, tag: &str) -> io::Result<Prepared> {
    let dir = target.parent().ok_or_else(|| io::Error::other("target has no parent directory"))?;
    target.file_name().ok_or_else(|| io::Error::other("target has no file name"))?;
    create_dirs_durably(dir)?;
    // Fixed length, whatever the target name: a long valid name must not make
    // the temp name too long.
    let temp = dir.join(format!(".pc-{tag}.part"));
    write_file(&temp, payload).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    Ok(Prepared { temp, target: target.to_path_buf() })
}

/// Fsyncs each distinct parent directory of `targets` once, making their renames
/// durable.
pub fn sync_parents<'a>(targets: impl IntoIterator<Item = &'a Path>) -> io::Result<()> {
    let parents: BTreeSet<&Path> = targets.into_iter().filter_map(Path::parent).collect();
    parents.into_iter().try_for_each(sync_dir)
}

/// Writes `payload` to `target` atomically and durably, on its own.
pub fn write_atomically(target: &Path, payload: &StoredPayload, tag: &str) -> io::Result<()> {
    let prepared = prepare(target, payload, tag)?;
    if let Err(error) = prepared.publish() {
        prepared.discard();
        return Err(error);
    }
    sync_parents([target])
}

fn write_file(path: &Path, payload: &StoredPayload) -> io::Result<()> {
    let mut file = File::create(path)?;
    match payload {
        StoredPayload::None => {}
        StoredPayload::Inline(bytes) => file.write_all(bytes)?,
        StoredPayload::File { path, .. } => {
            io::copy(&mut File::open(path)?, &mut file)?;
        }
    }
    file.sync_all()
}

/// Creates `dir` and any missing parents, fsyncing each parent that gained an
/// entry, so a new directory survives a crash along with the file in it.
pub fn create_dirs_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => dir.parent().map_or(Ok(()), sync_dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether the error says the path itself is impossible: a file where a
/// directory must be, a directory where the file must be, a name too long.
pub fn is_permanent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::AlreadyExists
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_leaves_no_temp() {
        let root = tempfile::tempdir().expect("tempdir");
        let target = root.path().join("a/b/c.txt");
        write_atomically(&target, &StoredPayload::Inline(b"one".to_vec()), "X").expect("write");
        write_atomically(&target, &StoredPayload::Inline(b"two".to_vec()), "Y").expect("overwrite");
        assert_eq!(fs::read(&target).expect("read"), b"two");
        let names: Vec<_> =
            fs::read_dir(root.path().join("a/b")).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.txt")]);
    }

    #[test]
    fn copies_file_payloads() {
        let root = tempfile::tempdir().expect("tempdir");
        let source = root.path().join("source");
        fs::write(&source, vec![7u8; 300_000]).expect("source");
        let target = root.path().join("out/big.bin");
        write_atomically(&target, &StoredPayload::File { path: source, size: 300_000 }, "Z").expect("write");
        assert_eq!(fs::read(&target).expect("read"), vec![7u8; 300_000]);
    }
}
