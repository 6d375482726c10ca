//! TEMPORARY in-memory stand-in.
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub(crate) enum InflateError {
    #[error("{0}")]
    Other(String),
}

pub(crate) fn inflate(input: &mut impl Read, out: &mut impl Write, limit: u64) -> Result<u64, InflateError> {
    let mut der = Vec::new();
    input.read_to_end(&mut der).map_err(|e| InflateError::Other(e.to_string()))?;
    let plain = crate::compress::decompress(&der, limit as usize).map_err(|e| InflateError::Other(e.to_string()))?;
    out.write_all(&plain).map_err(|e| InflateError::Other(e.to_string()))?;
    Ok(plain.len() as u64)
}
