//! The SMTP sender (RFC 5321 client, via lettre): delivers one message, as raw
//! bytes, to a partner's mail server. Used for responses and sends that go out by
//! mail. Failures say whether a retry may help ([`SendError::transient`]): a `4xx`
//! reply or a connection problem is transient, a `5xx` reply or a refused
//! certificate is not.
//!
//! TLS: [`SmtpTls::StartTls`] (required: no fall-back to clear text),
//! [`SmtpTls::Implicit`] (port 465 style), or [`SmtpTls::None`]. The server's
//! certificate is checked as [`SmtpTrust`] says: against the system's trust store;
//! against pinned PEM certificates alone; or not at all (tests).
//!
//! A pin is a set of trust anchors, not an exact-match list: lettre takes extra
//! roots but no custom rustls verifier, so the chain, the host name and the dates
//! are checked as usual, with the pinned certificates as the only roots. Pin the
//! partner's CA, or the server's own self-signed certificate if it names the host
//! and is not marked as a CA (webpki refuses a CA certificate as the server's own,
//! `CaUsedAsEndEntity`). So unlike `remote`'s pin (the server's own certificate,
//! matched exactly, trusted whatever its name and dates), an expired or misnamed
//! pinned certificate is refused. A refused certificate is a permanent failure, like
//! `remote`'s: retrying does not change the certificate.
//!
//! Credentials are never logged. Nothing here keeps them off a clear-text
//! connection: with [`SmtpTls::None`] they go in clear if the server offers AUTH.

use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters, TlsParametersBuilder};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Implicit,
}

/// Which server certificates the sender trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpTrust {
    /// The system's trust store (rustls-platform-verifier).
    System,
    /// Only these PEM certificates, as roots: the partner's CA, or its server's own
    /// self-signed, non-CA certificate. Host name and dates are still checked.
    Pinned(String),
    /// Any certificate: tests, or a partner whose CA is not installed yet.
    AcceptInvalid,
}

/// Where and how a message goes. `Debug` never shows the password.
#[derive(Clone)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Which server certificates are trusted (meaningless without TLS).
    pub trust: SmtpTrust,
    /// AUTH user and password, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// The name we give in EHLO.
    pub hello_name: String,
    /// Per network operation (connect, each reply).
    pub timeout: Duration,
    /// For the whole delivery: a server that stalls a session between replies
    /// (seen after a refused AUTH) cannot hold a send longer than this.
    pub deadline: Duration,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("trust", &self.trust)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// Trying again later may work (a 4xx reply, a connection problem; not a 5xx
    /// reply, a refused server certificate or a bad target).
    pub transient: bool,
    /// The server's reply code, when it gave one.
    pub code: Option<u16>,
    pub reason: String,
}

/// The server's acceptance: its reply code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub code: u16,
    pub reply: String,
}

/// Sends `message` (a complete RFC 5322 message, CRLF line ends) from `from` to
/// `to` through `target`. `Ok` only after the server answered `250` to the data.
pub async fn send(target: &SmtpTarget, from: &str, to: &[String], message: &[u8]) -> Result<Sent, SendError> {
    let envelope = envelope(from, to)?;
    let transport = transport(target)?;
    // lettre ends the data with CRLF . CRLF after whatever it is given; a message
    // that ends with its own CRLF would arrive with an extra empty line.
    let message = message.strip_suffix(b"\r\n").unwrap_or(message);
    let sent = tokio::time::timeout(target.deadline, transport.send_raw(&envelope, message)).await;
    let Ok(sent) = sent else {
        return Err(SendError {
            transient: true,
            code: None,
            reason: format!("no answer within {:?}", target.deadline),
        });
    };
    match sent {
        Ok(response) => {
            Ok(Sent { code: u16::from(response.code()), reply: response.message().collect::<Vec<_>>().join(" ") })
        }
        Err(error) => Err(SendError {
            transient: !error.is_permanent() && !certificate_refused(&error),
            code: error.status().map(u16::from),
            reason: error.to_string(),
        }),
    }
}

fn envelope(from: &str, to: &[String]) -> Result<Envelope, SendError> {
    let parse = |text: &str| text.parse::<Address>().map_err(|e| permanent(format!("bad address {text:?}: {e}")));
    let sender = if from.is_empty() { None } else { Some(parse(from)?) };
    let recipients = to.iter().map(|t| parse(t)).collect::<Result<Vec<_>, _>>()?;
    Envelope::new(sender, recipients).map_err(|e| permanent(format!("bad envelope: {e}")))
}

fn transport(target: &SmtpTarget) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls = || -> Result<TlsParameters, SendError> {
        let builder = trusting(TlsParameters::builder(target.host.clone()), &target.trust)?;
        builder.build_rustls().map_err(|e| permanent(format!("TLS setup: {e}")))
    };
    let tls = match target.tls {
        SmtpTls::None if matches!(target.trust, SmtpTrust::Pinned(_)) => {
            return Err(permanent("a pinned certificate without TLS".into()));
        }
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls()?),
        SmtpTls::Implicit => Tls::Wrapper(tls()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.clone())
        .port(target.port)
        .tls(tls)
        .hello_name(ClientId::Domain(target.hello_name.clone()))
        .timeout(Some(target.timeout));
    if let Some((user, password)) = &target.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// `builder` trusting what `trust` says.
fn trusting(builder: TlsParametersBuilder, trust: &SmtpTrust) -> Result<TlsParametersBuilder, SendError> {
    let pem = match trust {
        SmtpTrust::System => return Ok(builder),
        SmtpTrust::AcceptInvalid => return Ok(builder.dangerous_accept_invalid_certs(true)),
        SmtpTrust::Pinned(pem) => pem,
    };
    let bad = |e: &dyn std::fmt::Display| permanent(format!("pinned TLS certificate: {e}"));
    let pinned = CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| bad(&e))?;
    if pinned.is_empty() {
        return Err(bad(&"no PEM certificate found"));
    }
    pinned.into_iter().try_fold(builder.certificate_store(CertificateStore::None), |builder, der| {
        Ok(builder.add_root_certificate(Certificate::from_der(der.to_vec()).map_err(|e| bad(&e))?))
    })
}

/// Whether the TLS handshake failed on the server's certificate (rustls'
/// `InvalidCertificate`, inside lettre's connection error and tokio-rustls'
/// `io::Error`): not trusted, expired, another name. `io::Error::source` skips the
/// error it wraps, so each `io::Error` is opened with `get_ref`.
fn certificate_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        let wrapped = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        let candidates = [Some(error), wrapped.map(|e| e as &(dyn std::error::Error + 'static))];
        if candidates
            .into_iter()
            .flatten()
            .any(|e| matches!(e.downcast_ref(), Some(rustls::Error::InvalidCertificate(_))))
        {
            return true;
        }
        next = error.source();
    }
    false
}

fn permanent(reason: String) -> SendError {
    SendError { transient: false, code: None, reason }
}
