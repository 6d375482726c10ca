//! TEMPORARY in-memory stand-in.
use std::io::Read;

use crate::cms::Keys;

#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("{0}")]
    Other(String),
}

pub(crate) fn verify(signature_der: &[u8], content: &mut impl Read, keys: &Keys) -> Result<(), VerifyError> {
    let mut bytes = Vec::new();
    content.read_to_end(&mut bytes).map_err(|e| VerifyError::Other(e.to_string()))?;
    crate::cms::verify(signature_der, &bytes, keys).map_err(|e| VerifyError::Other(e.to_string()))
}
