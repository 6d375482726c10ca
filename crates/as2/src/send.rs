//! Sending an AS2 message (RFC 4130 §7): compose it, POST it to the partner's URL,
//! classify the answer, and read the synchronous MDN; [`verify_async_mdn`] checks
//! one that arrives later.

use std::error::Error as _;
use std::time::SystemTime;

use crate::cms::Keys;
use crate::compose::{self, Composed};
use crate::headers::http_url;
use crate::mic::Mic;
use crate::mime::Headers;
use crate::outbound::{As2Outbound, MdnOutcome, MdnRequest, OutboundMessage, SendError, Sent};
use crate::receipt::{self, Expected, MicCheck, Receipt};

/// Largest MDN read (a real one is a few KiB).
pub const MAX_MDN_BYTES: usize = 1024 * 1024;
/// How much of an error response's body goes into [`SendError::reason`].
const MAX_ERROR_TEXT: usize = 200;

/// An HTTP client fit for [`send_message`]: no redirects (a partner's AS2 URL that
/// moves is a configuration change, and a POST must not turn into a GET), rustls.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()
}

/// How often and how patiently [`send_with_retry`] tries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait after the first transient failure; doubled after each, up to `max_delay`.
    pub first_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
}

/// [`send_message`], tried again after transient failures (with a growing wait)
/// until `retry.attempts` are used. Every attempt carries the same Message-ID, so a
/// partner that took an earlier attempt whose answer was lost recognises the
/// retry as a duplicate (RFC 4130 §9.4) instead of processing it twice. A permanent
/// failure ends at once.
pub async fn send_with_retry(
    client: &reqwest::Client,
    partnership: &As2Outbound,
    message: &OutboundMessage,
    retry: Retry,
) -> Result<Sent, SendError> {
    let mut pinned = message.clone();
    let id = compose::message_id(partnership, message.message_id.as_deref())
        .map_err(|error| SendError::permanent(format!("composing the message failed: {error}")))?;
    pinned.message_id = Some(id);
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        match send_message(client, partnership, &pinned).await {
            Err(error) if error.transient && attempt < retry.attempts.max(1) => {
                tracing::warn!(message = "AS2 send failed; will retry", partner = %partnership.partner_id, attempt, reason = %error.reason);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(retry.max_delay);
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Sends `message` to the partner: composes it (compressed, signed, encrypted as the
/// partnership says), POSTs it within `partnership.timeout`, and with a synchronous
/// MDN checks it (signature, Message-ID, disposition, MIC). `Ok` means the partner
/// took the message: HTTP 2xx, and a `processed` MDN when one was asked for in the
/// response.
pub async fn send_message(
    client: &reqwest::Client,
    partnership: &As2Outbound,
    message: &OutboundMessage,
) -> Result<Sent, SendError> {
    let url = http_url(&partnership.url).ok_or_else(|| SendError::permanent("the partner URL is not http(s)"))?;
    // Crypto is CPU work: off the async workers.
    let (owned, message) = (partnership.clone(), message.clone());
    let (keys, composed) = tokio::task::spawn_blocking(move || prepare(&owned, message))
        .await
        .map_err(|error| SendError::permanent(format!("composing the message failed: {error}")))??;
    let Composed { message_id, headers, body, mic } = composed;
    let size = body.len();
    let mut request = client.post(url.clone()).timeout(partnership.timeout).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    if response.url() != &url {
        return Err(SendError::permanent(format!("redirected to {}", response.url())).with_status(status));
    }
    if !response.status().is_success() {
        return Err(refused(response).await);
    }
    let mdn = match partnership.mdn {
        MdnRequest::Sync { .. } => {
            let headers = Headers::from_http(response.headers());
            let body = read_capped(response, MAX_MDN_BYTES).await.map_err(|e| e.with_status(status))?;
            let expected = Expected { message_id: &message_id, mic: &mic };
            Some(check(partnership, &keys, &headers, &body, &expected).map_err(|e| e.with_status(status))?)
        }
        MdnRequest::None | MdnRequest::Async { .. } => None,
    };
    tracing::info!(message = "AS2 message sent", partner = %partnership.partner_id, %message_id, size,
        disposition = mdn.as_ref().map(|mdn| mdn.disposition.as_str()));
    Ok(Sent { message_id, mic: mic.to_string(), mdn })
}

/// Checks an asynchronous MDN (RFC 4130 §7.3) that arrived for `sent`: its HTTP
/// headers and body as POSTed by the partner (at most [`MAX_MDN_BYTES`]). Errors are
/// classified like [`send_message`]'s (all permanent: the MDN will not change).
pub fn verify_async_mdn(
    partnership: &As2Outbound,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    sent: &Sent,
) -> Result<MdnOutcome, SendError> {
    if body.len() > MAX_MDN_BYTES {
        return Err(SendError::permanent(format!("MDN larger than {MAX_MDN_BYTES} bytes")));
    }
    let keys = keys(partnership)?;
    let mic = Mic::parse(&sent.mic).ok_or_else(|| SendError::permanent("the sent MIC is not a MIC"))?;
    let expected = Expected { message_id: &sent.message_id, mic: &mic };
    check(partnership, &keys, &Headers::from_http(headers), body, &expected)
}

fn keys(partnership: &As2Outbound) -> Result<Keys, SendError> {
    Keys::from_pem(&partnership.partner_cert_pem, &partnership.our_cert_pem, &partnership.our_key_pem)
        .map_err(|error| SendError::permanent(format!("partnership keys unusable: {error}")))
}

fn prepare(partnership: &As2Outbound, message: OutboundMessage) -> Result<(Keys, Composed), SendError> {
    let keys = keys(partnership)?;
    let composed = compose::compose(partnership, message, &keys, SystemTime::now())
        .map_err(|error| SendError::permanent(format!("message not built: {error}")))?;
    Ok((keys, composed))
}

/// Reads an MDN and judges it: a disposition other than processed, or another MIC
/// in our algorithm, is a permanent failure.
fn check(
    partnership: &As2Outbound,
    keys: &Keys,
    headers: &Headers,
    body: &[u8],
    expected: &Expected<'_>,
) -> Result<MdnOutcome, SendError> {
    let Receipt { outcome, mic } =
        receipt::read(headers, body, keys, expected).map_err(|error| SendError::permanent(error.to_string()))?;
    let failure = if !outcome.processed {
        Some(format!("the partner did not process the message: {}", outcome.disposition))
    } else if mic == MicCheck::Mismatch {
        Some("the MDN's MIC is not ours: the partner received other content".to_owned())
    } else {
        None
    };
    if let Some(reason) = failure {
        return Err(SendError { mdn: Some(outcome), ..SendError::permanent(reason) });
    }
    let signed_asked =
        matches!(partnership.mdn, MdnRequest::Sync { signed: true } | MdnRequest::Async { signed: true, .. });
    if signed_asked && !outcome.signed {
        tracing::warn!(message = "AS2 MDN unsigned although a signed one was asked for",
            partner = %partnership.partner_id, message_id = expected.message_id);
    }
    if mic != MicCheck::Matched {
        tracing::warn!(message = "AS2 MDN does not confirm our MIC", partner = %partnership.partner_id,
            message_id = expected.message_id, mic = ?mic);
    }
    Ok(outcome)
}

/// A non-2xx answer: 5xx, 429 and 408 are worth a retry, the rest is not.
async fn refused(response: reqwest::Response) -> SendError {
    let status = response.status();
    let transient = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
    let text = read_capped(response, 4096).await.map(|body| String::from_utf8_lossy(&body).into_owned());
    let text: String = text.unwrap_or_default().trim().chars().take(MAX_ERROR_TEXT).collect();
    let reason = if status.is_redirection() {
        format!("HTTP {status}: redirect not followed")
    } else if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    };
    let error = if transient { SendError::retryable(reason) } else { SendError::permanent(reason) };
    error.with_status(status.as_u16())
}

/// The body, refused beyond `cap` bytes (permanent); a connection that breaks
/// while reading is transient.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, SendError> {
    let too_large = || SendError::permanent(format!("response larger than {cap} bytes"));
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed exchange: no answer, or an answer cut short. Transient, but for a
/// request that could not even be built.
fn transport(error: reqwest::Error) -> SendError {
    let mut reason = format!("POST failed: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if error.is_builder() { SendError::permanent(reason) } else { SendError::retryable(reason) }
}
