//! Scratch files: where the receiver keeps a message while it takes it apart.
//!
//! The request body goes to one scratch file; each layer that changes the bytes
//! (decryption, decompression, a base64 body) writes the next one. A layer that only
//! selects bytes (the signed part of a `multipart/signed`, an entity's body after its
//! headers) is a [`FileRegion`] of the file it came from. Scratch files are created
//! already unlinked (`O_TMPFILE` or create-and-unlink), so they vanish with their
//! last handle, even if the process is killed. Memory per layer: one buffer.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;

use openssl::hash::Hasher;
use partner::FileRegion;

use crate::mic::{Mic, MicAlg};

/// Reads and writes go through buffers of this size.
pub(crate) const BUFFER: usize = 256 * 1024;

/// Where scratch files are created.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub(crate) fn new(dir: PathBuf) -> Scratch {
        Scratch { dir }
    }

    /// A new, empty, unnamed file.
    pub(crate) fn file(&self) -> io::Result<File> {
        tempfile::tempfile_in(&self.dir)
    }

    /// Runs `fill` on a new scratch file and returns what it wrote as a region.
    /// `fill`'s error is handed back as is; the file is dropped then.
    pub(crate) fn write<E: From<io::Error>>(
        &self,
        fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
    ) -> Result<FileRegion, E> {
        let mut writer = BufWriter::with_capacity(BUFFER, self.file()?);
        fill(&mut writer)?;
        let file = writer.into_inner().map_err(io::IntoInnerError::into_error)?;
        Ok(FileRegion::whole(file)?)
    }
}

/// A reader or writer that digests what passes through it, and counts it.
pub(crate) struct Hashing<T> {
    inner: T,
    hasher: Option<(MicAlg, Hasher)>,
    count: u64,
}

impl<T> Hashing<T> {
    /// Digests with `alg` if given; passes through (and counts) only otherwise.
    pub(crate) fn new(inner: T, alg: Option<MicAlg>) -> io::Result<Self> {
        let hasher =
            alg.map(|alg| Hasher::new(alg.digest()).map(|h| (alg, h))).transpose().map_err(io::Error::other)?;
        Ok(Hashing { inner, hasher, count: 0 })
    }

    /// Bytes that passed.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The MIC of everything that passed, if asked for.
    pub(crate) fn finish(self) -> io::Result<Option<Mic>> {
        match self.hasher {
            None => Ok(None),
            Some((alg, mut hasher)) => {
                let digest = hasher.finish().map_err(io::Error::other)?;
                Ok(Some(Mic { alg, digest: digest.to_vec() }))
            }
        }
    }

    fn update(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.count += bytes.len() as u64;
        match &mut self.hasher {
            Some((_, hasher)) => hasher.update(bytes).map_err(io::Error::other),
            None => Ok(()),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.update(&buf[..written])?;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.update(&buf[..read])?;
        Ok(read)
    }
}

/// The MIC of a region, read in one pass after `prefix`.
pub(crate) fn mic_of(alg: MicAlg, prefix: &[u8], region: &FileRegion) -> io::Result<Mic> {
    let mut writer = Hashing::new(io::sink(), Some(alg))?;
    writer.write_all(prefix)?;
    io::copy(&mut region.reader(), &mut writer)?;
    writer.finish()?.ok_or_else(|| io::Error::other("no digest"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A region holding `bytes`, for tests.
    pub(crate) fn region(bytes: &[u8]) -> FileRegion {
        Scratch::new(std::env::temp_dir()).write(|w| w.write_all(bytes)).expect("scratch region")
    }

    #[test]
    fn writes_regions_and_digests_them() {
        let scratch = Scratch::new(std::env::temp_dir());
        let region = scratch.write(|w| w.write_all(b"bc")).expect("write");
        assert_eq!(region.to_vec(10).expect("read"), b"bc");
        let mic = mic_of(MicAlg::Sha256, b"a", &region).expect("mic");
        assert_eq!(mic, Mic::of(MicAlg::Sha256, &[b"abc"]).expect("mic"));
        let mut writer = Hashing::new(Vec::new(), Some(MicAlg::Sha1)).expect("writer");
        writer.write_all(b"abc").expect("write");
        assert_eq!(writer.count(), 3);
        assert_eq!(writer.finish().expect("finish"), Some(Mic::of(MicAlg::Sha1, &[b"abc"]).expect("mic")));
        let mut reader = Hashing::new(&b"abc"[..], Some(MicAlg::Sha256)).expect("reader");
        io::copy(&mut reader, &mut io::sink()).expect("read");
        assert_eq!(reader.finish().expect("finish"), Some(Mic::of(MicAlg::Sha256, &[b"abc"]).expect("mic")));
        let failed: Result<FileRegion, io::Error> = scratch.write(|_| Err(io::Error::other("no")));
        assert!(failed.is_err());
    }
}
