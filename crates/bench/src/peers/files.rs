//! Benchmark payloads, written into a scratch directory at run time (never
//! committed): one big file of pseudo-random bytes (incompressible, so no layer
//! can cheat) and a directory of many small files.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::BoxError;

const CHUNK: usize = 1 << 20;

/// Writes `bytes` pseudo-random bytes to `dir/name`; returns its path.
pub fn big_file(dir: &Path, name: &str, bytes: u64) -> Result<PathBuf, BoxError> {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(&path)?);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut chunk = vec![0_u8; CHUNK];
    let mut left = bytes;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            state = xorshift(state);
            word.copy_from_slice(&state.to_le_bytes());
        }
        let take = left.min(CHUNK as u64) as usize;
        out.write_all(&chunk[..take])?;
        left -= take as u64;
    }
    out.flush()?;
    Ok(path)
}

/// Creates `dir/name/` holding `count` files `f00000.bin`… of `size` bytes each,
/// all different; returns the directory.
pub fn small_files(dir: &Path, name: &str, count: usize, size: usize) -> Result<PathBuf, BoxError> {
    let path = dir.join(name);
    std::fs::create_dir_all(&path)?;
    for i in 0..count {
        let mut body = vec![0_u8; size];
        let mut state = xorshift(i as u64 + 1);
        for byte in &mut body {
            state = xorshift(state);
            *byte = state as u8;
        }
        std::fs::write(path.join(format!("f{i:05}.bin")), body)?;
    }
    Ok(path)
}

/// Number of regular files directly in `dir` and their total size.
pub fn count_files(dir: &Path) -> Result<(usize, u64), BoxError> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

/// Removes every entry of `dir` (not `dir` itself).
pub fn empty_dir(dir: &Path) -> Result<(), BoxError> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(())
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
