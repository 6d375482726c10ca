//! How a transfer failed: whether trying later may help, and the partner's reply.

/// A failed fetch or send. `detail` carries the partner's reply text (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct TransferError {
    /// Connection refused, timeout, FTP 4xx, HTTP 5xx/429/408, SMTP 4xx, a spool
    /// that is full for now: retry later. Anything else is final.
    pub transient: bool,
    pub detail: String,
}

impl TransferError {
    pub fn transient(detail: impl Into<String>) -> Self {
        TransferError { transient: true, detail: detail.into() }
    }

    pub fn permanent(detail: impl Into<String>) -> Self {
        TransferError { transient: false, detail: detail.into() }
    }
}
