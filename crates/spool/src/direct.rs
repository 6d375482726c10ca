//! Writing a staging file with direct I/O (`O_DIRECT`): the blocking half of
//! [`crate::staging::SledStagingFile`].
//!
//! Why: a large upload must be on disk before the partner hears success. Written
//! through the page cache and then fsynced, a file reaches the disk at the speed
//! of the kernel's writeback, which on the virtual disks this runs on is several
//! times slower than the device (measured: ~330 MB/s buffered + fdatasync against
//! ~2 GB/s with `O_DIRECT`). Direct writes go straight to the device, so the
//! final fsync only has the file's metadata left to write.
//!
//! How: bytes are gathered in [`Block`]s (1 MiB, aligned to [`ALIGN`]) and each
//! full block is one direct write at an aligned offset. The last, partial block
//! is written through a second, ordinary descriptor (direct I/O needs aligned
//! lengths). Where the file system refuses direct I/O (tmpfs, some network file
//! systems: `EINVAL`) the file is written through the page cache instead; the
//! fsync at the end makes it just as durable, only slower.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Offsets, lengths and buffer addresses of direct writes are multiples of this
/// (the largest logical block size of common devices).
pub(crate) const ALIGN: usize = 4096;

/// Bytes gathered before one write.
pub(crate) const BLOCK: usize = 1 << 20;

/// A buffer of [`BLOCK`] bytes whose start is aligned to [`ALIGN`], without
/// `unsafe`: a slightly larger vector, used from its first aligned byte on. The
/// vector is never resized, so its memory (and the alignment) never moves.
pub(crate) struct Block {
    memory: Vec<u8>,
    start: usize,
    len: usize,
}

impl Block {
    pub(crate) fn new() -> Block {
        let memory = vec![0u8; BLOCK + ALIGN];
        let start = memory.as_ptr().align_offset(ALIGN).min(ALIGN);
        Block { memory, start, len: 0 }
    }

    /// Copies as much of `bytes` as fits; returns how much that was.
    pub(crate) fn fill(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(BLOCK - self.len);
        let at = self.start + self.len;
        self.memory[at..at + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == BLOCK
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    fn bytes(&self) -> &[u8] {
        &self.memory[self.start..self.start + self.len]
    }
}

/// The open staging file and how far it is written.
pub(crate) struct DiskWriter {
    file: File,
    path: PathBuf,
    /// The descriptor bypasses the page cache.
    direct: bool,
    offset: u64,
}

impl DiskWriter {
    /// Creates `path` (which must not exist), with direct I/O where the file
    /// system allows it.
    pub(crate) fn create(path: &Path) -> io::Result<DiskWriter> {
        let open = |flags| OpenOptions::new().write(true).create_new(true).custom_flags(flags).open(path);
        let (file, direct) = match open(libc::O_DIRECT) {
            Ok(file) => (file, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (open(0)?, false),
            Err(e) => return Err(e),
        };
        Ok(DiskWriter { file, path: path.to_path_buf(), direct, offset: 0 })
    }

    /// Writes a full block.
    pub(crate) fn write_block(&mut self, block: &Block) -> io::Result<()> {
        self.write_aligned(block.bytes())
    }

    /// Writes the last (possibly partial) block and makes the file durable.
    pub(crate) fn finish(mut self, block: &Block) -> io::Result<()> {
        let bytes = block.bytes();
        let aligned = bytes.len() - bytes.len() % ALIGN;
        self.write_aligned(&bytes[..aligned])?;
        let tail = &bytes[aligned..];
        if !tail.is_empty() {
            if self.direct {
                self.use_page_cache()?;
            }
            self.file.write_all_at(tail, self.offset)?;
        }
        self.file.sync_all()
    }

    /// Writes bytes whose length is a multiple of [`ALIGN`] at the (aligned)
    /// current offset: directly, or through the page cache once direct I/O was
    /// refused.
    fn write_aligned(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self.file.write_all_at(bytes, self.offset) {
            Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                self.use_page_cache()?;
                self.file.write_all_at(bytes, self.offset)?;
            }
            result => result?,
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Replaces the direct descriptor by an ordinary one on the same file.
    fn use_page_cache(&mut self) -> io::Result<()> {
        self.file = OpenOptions::new().write(true).open(&self.path)?;
        self.direct = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut writer = DiskWriter::create(path)?;
        let mut block = Block::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = block.fill(rest);
            rest = &rest[n..];
            if block.is_full() {
                writer.write_block(&block)?;
                block.clear();
            }
        }
        writer.finish(&block)
    }

    #[test]
    fn blocks_are_aligned_and_bounded() {
        let mut block = Block::new();
        assert_eq!(block.bytes().as_ptr().align_offset(ALIGN), 0);
        assert_eq!(block.fill(&vec![1; BLOCK + 10]), BLOCK);
        assert!(block.is_full());
        assert_eq!(block.fill(b"more"), 0);
    }

    #[test]
    fn any_length_is_written_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        every_length_in(dir.path());
    }

    /// tmpfs refuses `O_DIRECT` on older kernels (before 6.6) and takes it on
    /// newer ones; either way the bytes must come out whole.
    #[test]
    fn tmpfs_gets_the_same_bytes() {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let dir = tempfile::tempdir_in(shm).expect("tempdir in /dev/shm");
        every_length_in(dir.path());
    }

    fn every_length_in(dir: &Path) {
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 3 * ALIGN + 5] {
            let path = dir.join(format!("f{len}"));
            let bytes = pattern(len);
            write(&path, &bytes).expect("write");
            assert!(std::fs::read(&path).expect("read") == bytes, "{len} bytes differ");
        }
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("taken");
        std::fs::write(&path, b"keep").expect("write");
        assert!(DiskWriter::create(&path).is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"keep");
    }
}
