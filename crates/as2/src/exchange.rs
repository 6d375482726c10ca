//! One AS2 request (RFC 4130 §7): read the envelope, ask the gateway for the
//! partnership, take the message apart, deliver it, and answer — with an MDN in the
//! response, an MDN POSTed back later, a plain text, or an HTTP error.

use std::sync::Arc;

use partner::{As2Delivery, As2Gateway, As2LookupError, As2Outcome, FileRegion, FsError, Peer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::As2Config;
use crate::cms::Keys;
use crate::headers::{self, As2Headers};
use crate::mdn::{self, Disposition, ErrorKind, Ids, Mdn, Report};
use crate::mic::{Mic, MicAlg};
use crate::mime::{Headers, id_domain, random_hex};
use crate::receive::{self, Policy, Unwrapped};
use crate::scratch::Scratch;

/// What every request shares.
pub(crate) struct Shared {
    pub config: As2Config,
    pub gateway: Arc<dyn As2Gateway>,
    /// `max_message_bytes`: of the request body, and of a decompressed layer.
    pub limit: u64,
    /// Where messages are taken apart.
    pub scratch: Scratch,
    /// Sends asynchronous MDNs (timeout `async_mdn_timeout`).
    pub client: reqwest::Client,
    /// The asynchronous MDNs in flight, drained on shutdown.
    pub background: TaskTracker,
    /// Cancelled when the drain grace is over: asynchronous MDNs still running give up.
    pub cut: CancellationToken,
}

/// The answer to one request, before it becomes HTTP.
#[derive(Debug)]
pub(crate) enum Reply {
    /// An error status with a short text, no MDN.
    Refused(u16, String),
    /// A synchronous MDN (HTTP 200).
    Mdn(Mdn),
    /// HTTP 200 with a short text: no MDN was requested.
    Text(String),
    /// HTTP 200, empty: the MDN goes asynchronously (or could not be sent).
    Empty,
}

/// Processes one request whose body has been read into a scratch file.
pub(crate) async fn process(shared: &Arc<Shared>, peer: Peer, headers: Headers, body: FileRegion) -> Reply {
    let as2 = match headers::parse(&headers) {
        Ok(as2) => as2,
        Err(error) => {
            tracing::warn!(message = "AS2 request refused", peer = %peer.remote, %error);
            return Reply::Refused(400, error.to_string());
        }
    };
    let partnership = match shared.gateway.partnership(peer, &as2.from, &as2.to) {
        Ok(partnership) => partnership,
        Err(As2LookupError::UnknownPartner) => {
            tracing::warn!(message = "AS2 message from an unknown trading partner", peer = %peer.remote,
                from = %as2.from, to = %as2.to, message_id = %as2.message_id);
            // Never dial out for a stranger: its MDN goes in the response, unsigned
            // (there are no keys for it).
            let mut sync = as2;
            if let Some(mdn) = &mut sync.mdn {
                mdn.async_url = None;
            }
            return answer(shared, &sync, None, None, Disposition::Failed(ErrorKind::UnknownTradingPartner));
        }
        Err(As2LookupError::KeysNotLoaded) => {
            tracing::warn!(message = "AS2 message refused: keys not loaded yet", peer = %peer.remote,
                from = %as2.from, message_id = %as2.message_id);
            return Reply::Refused(503, "AS2 keys not loaded yet, retry later".into());
        }
    };
    let keys = match Keys::load(&partnership) {
        Ok(keys) => Arc::new(keys),
        Err(error) => {
            tracing::error!(message = "AS2 partnership keys unusable", channel = %partnership.channel, %error);
            return Reply::Refused(503, "AS2 receiver not ready, retry later".into());
        }
    };
    let policy = Policy {
        require_signed: partnership.require_signed,
        require_encrypted: partnership.require_encrypted,
        micalg: as2.mdn.as_ref().and_then(|mdn| mdn.micalg),
        limit: shared.limit,
    };
    // Crypto and inflating are CPU work: off the async workers.
    let (unwrapping, scratch) = (keys.clone(), shared.scratch.clone());
    let unwrapped =
        tokio::task::spawn_blocking(move || receive::unwrap(&headers, &body, &unwrapping, &policy, &scratch)).await;
    let unwrapped = match unwrapped {
        Ok(Ok(unwrapped)) => unwrapped,
        Ok(Err(failure)) => {
            let Some(kind) = failure.kind() else {
                tracing::error!(message = "AS2 message not taken apart: local error, partner must retry",
                    peer = %peer.remote, message_id = %as2.message_id, error = %failure);
                return Reply::Refused(503, "temporarily unable to process the message, retry later".into());
            };
            tracing::warn!(message = "AS2 message refused", peer = %peer.remote, channel = %partnership.channel,
                from = %as2.from, message_id = %as2.message_id, reason = %failure);
            return answer(shared, &as2, Some(&keys), None, Disposition::Failed(kind));
        }
        Err(error) => {
            tracing::error!(message = "AS2 message processing failed", message_id = %as2.message_id, %error);
            return Reply::Refused(500, "internal error".into());
        }
    };
    let mic = unwrapped.mic.clone();
    match deliver(shared, peer, &partnership.channel, &as2, unwrapped).await {
        Ok(()) => answer(shared, &as2, Some(&keys), Some(&mic), Disposition::Processed),
        Err(Some(kind)) => answer(shared, &as2, Some(&keys), None, Disposition::Failed(kind)),
        Err(None) => Reply::Refused(503, "temporarily unable to store the message, retry later".into()),
    }
}

/// Hands the payload to the gateway. `Err(None)`: transient, no MDN; `Err(Some)`: a
/// permanent refusal.
async fn deliver(
    shared: &Arc<Shared>,
    peer: Peer,
    channel: &str,
    as2: &As2Headers,
    unwrapped: Unwrapped,
) -> Result<(), Option<ErrorKind>> {
    let size = unwrapped.payload.len();
    let delivery = As2Delivery {
        peer,
        channel: channel.to_owned(),
        from: as2.from.clone(),
        to: as2.to.clone(),
        message_id: as2.message_id.clone(),
        filename: unwrapped.filename,
        payload: unwrapped.payload,
        mic: unwrapped.mic.to_string(),
        signed: unwrapped.signed,
        encrypted: unwrapped.encrypted,
        compressed: unwrapped.compressed,
    };
    // Spawned: a partner that hangs up must not cancel a commit half-way.
    let gateway = shared.gateway.clone();
    let outcome = tokio::spawn(async move { gateway.deliver(delivery).await })
        .await
        .unwrap_or_else(|error| Err(FsError::Unavailable(error.to_string())));
    match outcome {
        Ok(As2Outcome::Accepted(receipt)) => {
            tracing::info!(message = "AS2 message accepted", peer = %peer.remote, channel, from = %as2.from,
                message_id = %as2.message_id, size, id = %receipt.id);
            Ok(())
        }
        Ok(As2Outcome::Duplicate) => {
            tracing::info!(message = "AS2 message is a duplicate, not delivered again", peer = %peer.remote,
                channel, from = %as2.from, message_id = %as2.message_id, size);
            Ok(())
        }
        Err(error @ (FsError::InsufficientStorage | FsError::Unavailable(_))) => {
            tracing::warn!(message = "AS2 message not stored, partner must retry", peer = %peer.remote, channel,
                message_id = %as2.message_id, %error);
            Err(None)
        }
        Err(error) => {
            tracing::warn!(message = "AS2 message refused by the gateway", peer = %peer.remote, channel,
                message_id = %as2.message_id, %error);
            Err(Some(ErrorKind::UnexpectedProcessingError))
        }
    }
}

/// The disposition as the partner asked for it: an MDN (sync or async) or a text.
fn answer(
    shared: &Arc<Shared>,
    as2: &As2Headers,
    keys: Option<&Keys>,
    mic: Option<&Mic>,
    disposition: Disposition,
) -> Reply {
    let Some(request) = &as2.mdn else {
        return Reply::Text(format!("{}\r\n", disposition.status()));
    };
    let report = Report {
        reporting_ua: &shared.config.reporting_ua,
        our_id: &as2.to,
        partner_id: &as2.from,
        original_message_id: &as2.message_id,
        mic,
        disposition,
    };
    let ids = fresh_ids(&shared.config.reporting_ua);
    let sign = keys.filter(|_| request.signed).map(|keys| (keys, request.micalg.unwrap_or(MicAlg::Sha256)));
    let mdn = match mdn::build(&report, &ids, sign) {
        Ok(mdn) => mdn,
        Err(error) => {
            tracing::error!(message = "AS2 MDN could not be signed, sending it unsigned", %error);
            match mdn::build(&report, &ids, None) {
                Ok(mdn) => mdn,
                Err(_) => return Reply::Refused(500, "internal error".into()),
            }
        }
    };
    match &request.async_url {
        None => Reply::Mdn(mdn),
        Some(url) => {
            send_async(shared, url, mdn, &as2.message_id);
            Reply::Empty
        }
    }
}

/// POSTs the MDN to the partner's URL in the background.
fn send_async(shared: &Arc<Shared>, url: &str, mdn: Mdn, message_id: &str) {
    let url = match headers::http_url(url) {
        Some(url) => url,
        None => {
            tracing::warn!(message = "AS2 asynchronous MDN not sent: not an http(s) URL", message_id, url);
            return;
        }
    };
    let mut request = shared.client.post(url.clone()).body(mdn.body);
    for (name, value) in mdn.headers {
        request = request.header(name, value);
    }
    let (cut, message_id) = (shared.cut.clone(), message_id.to_owned());
    shared.background.spawn(async move {
        tokio::select! {
            () = cut.cancelled() => tracing::warn!(message = "AS2 asynchronous MDN cut at shutdown", %message_id, %url),
            sent = request.send() => match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(message = "AS2 asynchronous MDN sent", %message_id, %url);
                }
                Ok(response) => tracing::warn!(message = "AS2 asynchronous MDN refused", %message_id, %url,
                    status = response.status().as_u16()),
                Err(error) => tracing::warn!(message = "AS2 asynchronous MDN failed", %message_id, %url, %error),
            },
        }
    });
}

/// Random boundaries and Message-ID for one MDN.
fn fresh_ids(reporting_ua: &str) -> Ids {
    Ids {
        report_boundary: format!("report-{}", random_hex()),
        signed_boundary: format!("signed-{}", random_hex()),
        message_id: format!("mdn-{}@{}", random_hex(), id_domain(reporting_ua)),
    }
}
