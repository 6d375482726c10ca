//! The SMTP sender (RFC 5321 client, via lettre): delivers one message, as raw
//! bytes, to a partner's mail server. Used for responses and sends that go out by
//! mail. Failures say whether a retry may help ([`SendError::transient`]): a `4xx`
//! reply or a connection problem is transient, a `5xx` reply is not.
//!
//! TLS: [`SmtpTls::StartTls`] (required: no fall-back to clear text),
//! [`SmtpTls::Implicit`] (port 465 style), or [`SmtpTls::None`]. The server's
//! certificate is checked against the system's trust store unless the target says
//! `accept_invalid_certs` (tests, or a partner with a private CA not installed yet).
//! Credentials are used only with TLS unless the target allows clear text; they are
//! never logged.

use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Implicit,
}

/// Where and how a message goes. `Debug` never shows the password.
#[derive(Clone)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub accept_invalid_certs: bool,
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
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// Trying again later may work (a 4xx reply, a connection or TLS problem).
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
            transient: !error.is_permanent(),
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
    let tls = || {
        TlsParameters::builder(target.host.clone())
            .dangerous_accept_invalid_certs(target.accept_invalid_certs)
            .build_rustls()
            .map_err(|e| permanent(format!("TLS setup: {e}")))
    };
    let tls = match target.tls {
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

fn permanent(reason: String) -> SendError {
    SendError { transient: false, code: None, reason }
}
