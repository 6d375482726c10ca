//! [`FileRegion`]: a byte range of an open file. A payload that was taken apart on
//! disk (an AS2 message, decrypted layer by layer into scratch files) is handed to
//! the DMZ in this form, so that it never has to sit whole in memory.
//!
//! Reads are positional (`pread`), so clones of one region, or regions of one file,
//! never disturb each other's position.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// `len` bytes of `file` from `start`.
#[derive(Debug, Clone)]
pub struct FileRegion {
    file: Arc<File>,
    start: u64,
    len: u64,
}

impl FileRegion {
    /// The whole of `file`, as long as it is now.
    pub fn whole(file: File) -> io::Result<FileRegion> {
        let len = file.metadata()?.len();
        Ok(FileRegion { file: Arc::new(file), start: 0, len })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes `offset .. offset + len` of this region, clamped to it.
    pub fn slice(&self, offset: u64, len: u64) -> FileRegion {
        let offset = offset.min(self.len);
        let len = len.min(self.len - offset);
        FileRegion { file: self.file.clone(), start: self.start + offset, len }
    }

    /// The bytes from `offset` to the end.
    pub fn from(&self, offset: u64) -> FileRegion {
        self.slice(offset, u64::MAX)
    }

    /// Reads from `offset` (relative to the region) into `buf`; 0 at the end.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        self.file.read_at(&mut buf[..want], self.start + offset)
    }

    /// A reader over the region, from its start.
    pub fn reader(&self) -> RegionReader {
        RegionReader { region: self.clone(), at: 0 }
    }

    /// The whole region in memory, refused (`InvalidData`) if longer than `limit`.
    pub fn to_vec(&self, limit: usize) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len).ok().filter(|len| *len <= limit).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{} bytes where at most {limit} fit", self.len))
        })?;
        let mut bytes = Vec::with_capacity(len);
        self.reader().read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Reads a [`FileRegion`] front to back.
#[derive(Debug)]
pub struct RegionReader {
    region: FileRegion,
    at: u64,
}

impl Read for RegionReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.region.read_at(self.at, buf)?;
        if read == 0 && self.at < self.region.len && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than its region"));
        }
        self.at += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn region(bytes: &[u8]) -> FileRegion {
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(bytes).expect("write");
        FileRegion::whole(file).expect("region")
    }

    #[test]
    fn slices_read_their_own_bytes_only() {
        let whole = region(b"0123456789");
        let middle = whole.slice(2, 5);
        assert_eq!(middle.to_vec(100).expect("read"), b"23456");
        assert_eq!(middle.slice(3, 100).to_vec(100).expect("read"), b"56", "clamped to the region");
        assert_eq!(whole.from(8).to_vec(100).expect("read"), b"89");
        assert!(whole.slice(20, 5).is_empty());
        let mut two = [0u8; 2];
        assert_eq!(middle.read_at(4, &mut two).expect("read"), 1);
        assert_eq!(two[0], b'6');
        assert!(middle.to_vec(4).is_err(), "longer than the limit");
    }

    #[test]
    fn readers_do_not_share_a_position() {
        let whole = region(b"abcdef");
        let (mut a, mut b) = (whole.reader(), whole.reader());
        let mut buf = [0u8; 3];
        a.read_exact(&mut buf).expect("a");
        b.read_exact(&mut buf[..1]).expect("b");
        assert_eq!(buf[0], b'a');
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).expect("rest");
        assert_eq!(rest, b"def");
    }
}
