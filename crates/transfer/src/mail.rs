//! Send by SMTP (RFC 5321) through `smtp::send`: a payload named `*.eml` is taken
//! as the whole RFC 5322 message (bare LF line ends made CRLF); any other file is
//! attached to a small MIME message (`mail/message.rs`). The message is built in
//! memory: payloads above [`MAX_IN_MEMORY_BYTES`] are refused.
//!
//! STARTTLS is required when the target says `starttls` or pins a certificate
//! (never a fall-back to clear text). The server's certificate is checked against
//! the pinned PEM certificates alone when `tls_cert_pem` is set (as roots: the
//! partner's CA, or the server's own self-signed, non-CA certificate; host name and
//! dates are checked too, see `smtp::SmtpTrust`), else against the system's trust
//! store. AUTH when `user` is set. A 4xx reply or a connection problem is
//! transient; a 5xx reply, a refused certificate or a pin that is no certificate
//! is permanent.

mod message;

use std::path::Path;

use envelope::{RemoteTarget, SendRequest};
use smtp::{SmtpTarget, SmtpTls, SmtpTrust};

use crate::target::{MAX_IN_MEMORY_BYTES, cut, deadline, local, password, timeouts};
use crate::{Plain, TransferError};

pub(crate) async fn send(
    request: &SendRequest,
    secret: &Plain,
    payload: &Path,
    size: u64,
) -> Result<String, TransferError> {
    let target = &request.remote;
    let from = target.mail_from.as_deref().unwrap_or_default();
    check(target, from, size)?;
    let bytes = tokio::fs::read(payload).await.map_err(|e| local(payload, &e))?;
    let message = if request.name.to_ascii_lowercase().ends_with(".eml") {
        message::crlf(bytes)
    } else {
        message::attachment(from, &target.mail_to, &request.name, &bytes)?
    };
    let smtp = smtp_target(target, secret, from, size)?;
    match smtp::send(&smtp, from, &target.mail_to, &message).await {
        Ok(sent) => Ok(cut(format!("{} {}", sent.code, sent.reply))),
        Err(error) => Err(TransferError { transient: error.transient, detail: cut(error.reason) }),
    }
}

/// What the request must say before anything is read.
fn check(target: &RemoteTarget, from: &str, size: u64) -> Result<(), TransferError> {
    let refuse = |why: String| Err(TransferError::permanent(format!("remote {}: {why}", target.name)));
    if from.is_empty() {
        return refuse("no sender address (mail_from)".into());
    }
    if target.mail_to.is_empty() {
        return refuse("no recipient (mail_to)".into());
    }
    if size > MAX_IN_MEMORY_BYTES {
        return refuse(format!("{size} bytes is more than the {MAX_IN_MEMORY_BYTES} an SMTP send takes"));
    }
    Ok(())
}

fn smtp_target(target: &RemoteTarget, secret: &Plain, from: &str, size: u64) -> Result<SmtpTarget, TransferError> {
    let credentials =
        if target.user.is_empty() { None } else { Some((target.user.clone(), password(target, secret)?)) };
    let domain = from.rsplit_once('@').map_or("localhost", |(_, domain)| domain);
    Ok(SmtpTarget {
        host: target.host.clone(),
        port: target.port,
        // A pin means TLS: it is never silently dropped for a clear-text session.
        tls: if target.starttls || target.tls_cert_pem.is_some() { SmtpTls::StartTls } else { SmtpTls::None },
        trust: target.tls_cert_pem.clone().map_or(SmtpTrust::System, SmtpTrust::Pinned),
        credentials,
        hello_name: domain.to_owned(),
        timeout: timeouts(target).io,
        deadline: deadline(target, size),
    })
}
