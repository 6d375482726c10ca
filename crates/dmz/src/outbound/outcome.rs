//! The end of a request, told to the inner: a [`RequestOutcome`] envelope whose id
//! is derived from the request's, so that a request redone after a crash reports
//! under the same id and the inner keeps one outcome.

use std::sync::Arc;

use envelope::{Body, Envelope, EnvelopeId, RequestKind, RequestOutcome, SeenFile};
use sha2::Digest;
use spool::{Spool, SpoolError};

/// The outcome's envelope id for request `request`: the request's 48 bits of
/// milliseconds, then the first 80 bits of
/// SHA-256(`"portcullis-outcome\0"` ‖ the request id's 16 big-endian bytes).
/// Never equal to the request id in practice (they share one dedupe table).
pub fn outcome_id(request: EnvelopeId) -> EnvelopeId {
    let digest = sha2::Sha256::new().chain_update(b"portcullis-outcome\0").chain_update(request.to_bytes()).finalize();
    let mut low = [0u8; 16];
    low[6..].copy_from_slice(&digest[..10]);
    let millis = u128::from(request.millis()) << 80;
    EnvelopeId::from_u128(millis | u128::from_be_bytes(low))
}

/// How a request ended, before it becomes a [`RequestOutcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub ok: bool,
    pub detail: String,
    pub attempts: u32,
    pub files: Vec<SeenFile>,
}

impl Finished {
    pub fn failed(detail: impl Into<String>, attempts: u32) -> Self {
        Finished { ok: false, detail: detail.into(), attempts, files: Vec::new() }
    }
}

/// Commits the outcome of request `request` to `to-inner` (deduplicated).
pub(crate) async fn report(
    spool: &Arc<dyn Spool>,
    request: EnvelopeId,
    kind: RequestKind,
    channel: &str,
    finished: Finished,
) -> Result<(), SpoolError> {
    let outcome = RequestOutcome {
        request,
        kind,
        channel: channel.to_owned(),
        ok: finished.ok,
        detail: finished.detail,
        attempts: finished.attempts,
        files: finished.files,
        finished_at: envelope::now_millis(),
    };
    let envelope = Envelope { id: outcome_id(request), body: Body::Outcome(outcome), payload: None };
    super::to_inner(spool, envelope).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_id_is_fixed_by_the_request_id_and_differs_from_it() {
        let request = EnvelopeId::generate();
        assert_eq!(outcome_id(request), outcome_id(request));
        assert_ne!(outcome_id(request), request);
        assert_eq!(outcome_id(request).millis(), request.millis());
        assert_ne!(outcome_id(request), outcome_id(EnvelopeId::generate()));
        let fixed = EnvelopeId::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(outcome_id(fixed).millis(), fixed.millis());
        assert_eq!(outcome_id(fixed), outcome_id(EnvelopeId::from_u128(fixed.as_u128())));
    }
}
