//! Send by AS2 (RFC 4130) through `as2::send_message`: composed (compressed,
//! signed, encrypted as the channel's [`As2Send`] says), POSTed, and the
//! synchronous MDN checked (signature by the partner's certificate, Message-ID,
//! disposition, MIC). The as2 sender composes in memory: payloads above
//! [`MAX_IN_MEMORY_BYTES`] are refused.
//!
//! - URL: `https://host:port{url_path}` when the target pins a certificate
//!   (`tls_cert_pem`, trusted alone: no system roots), else `http://…`.
//! - The Message-ID is derived from channel, name, size and sha-256 of the
//!   request, so every attempt of one send carries the same one and a partner
//!   that took an attempt whose answer was lost recognises the retry (RFC 4130
//!   §9.4). A deliberate resend of the same file under the same name is then a
//!   duplicate to the partner too.
//! - Transient: connection failures, timeouts, HTTP 5xx/429/408 (the as2
//!   sender's classification); everything else is permanent.

use std::path::Path;

use as2::{As2Outbound, Cipher, MdnRequest, MicAlg, OutboundMessage, Sent};
use envelope::{As2Send, SendRequest};
use sha2::{Digest, Sha256};

use crate::TransferError;
use crate::target::{MAX_IN_MEMORY_BYTES, cut, deadline, local, timeouts, url};

pub(crate) async fn send(
    request: &SendRequest,
    our_key_pem: Option<&str>,
    payload: &Path,
    size: u64,
) -> Result<String, TransferError> {
    let target = &request.remote;
    let Some(settings) = &target.as2 else {
        return Err(TransferError::permanent(format!("remote {}: no AS2 partnership (as2) is set", target.name)));
    };
    let Some(key) = our_key_pem else {
        return Err(TransferError::permanent(format!("our AS2 private key for {} is not loaded", settings.our_id)));
    };
    if size > MAX_IN_MEMORY_BYTES {
        return Err(TransferError::permanent(format!(
            "{size} bytes is more than the {MAX_IN_MEMORY_BYTES} an AS2 send takes"
        )));
    }
    let scheme = if target.tls_cert_pem.is_some() { "https" } else { "http" };
    let partnership = partnership(settings, key, url(scheme, target), deadline(target, size));
    let client = client(target)?;
    let mut message = OutboundMessage::new(tokio::fs::read(payload).await.map_err(|e| local(payload, &e))?);
    message.filename = Some(request.name.clone());
    message.message_id = Some(message_id(request, &settings.our_id));
    match as2::send_message(&client, &partnership, &message).await {
        Ok(sent) => Ok(cut(words(&sent))),
        Err(error) => Err(TransferError { transient: error.transient, detail: cut(error.reason) }),
    }
}

fn partnership(settings: &As2Send, key: &str, url: String, timeout: std::time::Duration) -> As2Outbound {
    As2Outbound {
        our_id: settings.our_id.clone(),
        partner_id: settings.partner_id.clone(),
        our_cert_pem: settings.our_cert_pem.clone(),
        our_key_pem: key.to_owned(),
        partner_cert_pem: settings.partner_cert_pem.clone(),
        url,
        sign: settings.sign,
        encrypt: settings.encrypt,
        compress: settings.compress,
        digest: MicAlg::default(),
        cipher: Cipher::default(),
        mdn: MdnRequest::Sync { signed: settings.signed_mdn },
        timeout,
    }
}

/// Like `as2::client()` (no redirects), trusting only the pinned certificate(s)
/// when the target has some.
fn client(target: &envelope::RemoteTarget) -> Result<reqwest::Client, TransferError> {
    let config = |e: reqwest::Error| TransferError::permanent(format!("remote {}: HTTP client: {e}", target.name));
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts(target).connect);
    if let Some(pem) = &target.tls_cert_pem {
        builder = builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(config)?);
    }
    builder.build().map_err(config)
}

/// `<32 hex digits>@<our AS2 name, letters, digits, '.', '-' only>`.
fn message_id(request: &SendRequest, our_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"as2-send\0")
        .chain_update(request.channel.as_bytes())
        .chain_update(b"\0")
        .chain_update(request.name.as_bytes())
        .chain_update(b"\0")
        .chain_update(request.size.to_string().as_bytes())
        .chain_update(b"\0")
        .chain_update(request.sha256.to_string().as_bytes())
        .finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let domain: String =
        our_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    format!("{hex}@{domain}")
}

/// "MDN processed, MIC ok (Message-ID …)" and its variants.
fn words(sent: &Sent) -> String {
    let Some(mdn) = &sent.mdn else {
        return format!("accepted, no MDN asked for (Message-ID {})", sent.message_id);
    };
    let state = if mdn.processed { "processed" } else { "not processed" };
    let detail = mdn.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    let mic = if mdn.mic_matched { "MIC ok" } else { "MIC not returned" };
    let signed = if mdn.signed { "signed " } else { "" };
    format!("{signed}MDN {state}{detail}, {mic} (Message-ID {})", sent.message_id)
}
