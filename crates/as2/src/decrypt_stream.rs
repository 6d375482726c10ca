//! TEMPORARY in-memory stand-in (replaced by the streaming implementation).
use std::io::{Read, Write};

use crate::cms::{CmsKind, Keys};

#[derive(Debug, thiserror::Error)]
pub(crate) enum DecryptError {
    #[error("{0}")]
    Other(String),
}

pub(crate) fn decrypt(input: &mut impl Read, keys: &Keys, out: &mut impl Write) -> Result<u64, DecryptError> {
    let mut der = Vec::new();
    input.read_to_end(&mut der).map_err(|e| DecryptError::Other(e.to_string()))?;
    let plain = crate::cms::decrypt(&der, keys).map_err(|e| DecryptError::Other(e.to_string()))?;
    out.write_all(&plain).map_err(|e| DecryptError::Other(e.to_string()))?;
    Ok(plain.len() as u64)
}

pub(crate) fn sniff(prefix: &[u8]) -> CmsKind {
    crate::cms::kind(prefix)
}
