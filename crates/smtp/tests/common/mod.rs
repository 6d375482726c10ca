//! Test harness: the real [`smtp::serve`] on loopback over the fake gateway, and a raw
//! SMTP client (plain or TLS) for transcripts and for what real clients would not send.
#![allow(dead_code)]

pub mod gateway;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gateway::FakeGateway;
use smtp::SmtpConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    pub gateway: Arc<FakeGateway>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn connect(&self) -> Client<TcpStream> {
        Client::connect(self.addr).await
    }

    /// Cancels and waits (up to 20 s) for `serve` to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let served = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        assert!(matches!(served, Ok(Ok(Ok(())))), "serve did not end cleanly: {served:?}");
    }
}

/// A server with test defaults (host `mx.test`, STARTTLS offered), adjusted by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut SmtpConfig)) -> TestServer {
    let mut config = SmtpConfig { hostname: "mx.test".into(), tls: Some(tls().0), ..SmtpConfig::default() };
    tweak(&mut config);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let gateway = Arc::new(FakeGateway::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(smtp::serve(listener, config, gateway.clone(), shutdown.clone()));
    TestServer { addr, gateway, shutdown, task }
}

/// A self-signed certificate for `localhost`: the server's config, and a client config
/// that trusts exactly that certificate.
pub fn tls() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    static PAIR: OnceLock<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
        let cert = certified.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("trust anchor");
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    })
    .clone()
}

/// Reply code and full text; code 0 when the server closed the connection.
pub type Reply = (u16, String);

/// A raw SMTP client over any stream.
pub struct Client<S> {
    stream: BufReader<S>,
}

impl Client<TcpStream> {
    /// Connects and checks the greeting.
    pub async fn connect(addr: SocketAddr) -> Client<TcpStream> {
        let mut client = Client::connect_raw(addr).await;
        let (code, text) = client.reply().await;
        assert_eq!(code, 220, "{text}");
        assert_eq!(text, "220 mx.test ESMTP portcullis\r\n");
        client
    }

    /// Connects without reading anything.
    pub async fn connect_raw(addr: SocketAddr) -> Client<TcpStream> {
        Client { stream: BufReader::new(TcpStream::connect(addr).await.expect("connect")) }
    }

    /// `EHLO`, `STARTTLS`, handshake trusting the test certificate.
    pub async fn starttls(mut self) -> Client<TlsStream<TcpStream>> {
        self.cmd("EHLO client.test", 250).await;
        self.cmd("STARTTLS", 220).await;
        self.upgrade().await
    }

    /// The TLS handshake (after a `220` to STARTTLS).
    pub async fn upgrade(self) -> Client<TlsStream<TcpStream>> {
        assert!(self.stream.buffer().is_empty(), "server sent bytes after its 220 to STARTTLS");
        let connector = tokio_rustls::TlsConnector::from(tls().1);
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector.connect(name, self.stream.into_inner()).await.expect("TLS handshake");
        Client { stream: BufReader::new(tls) }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stream = self.stream.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await
    }

    /// Reads one (possibly multi-line) reply; (0, text so far) on end of stream or after 20 s.
    pub async fn reply(&mut self) -> Reply {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(20), self.stream.read_line(&mut line)).await;
            match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => return (0, all),
            }
            all.push_str(&line);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            if let (Some(code), Some(b' ')) = (code, line.as_bytes().get(3)) {
                return (code, all);
            }
        }
    }

    /// Sends `line` and checks the reply's code; returns its text.
    pub async fn cmd(&mut self, line: &str, code: u16) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await.expect("send");
        let (got, text) = self.reply().await;
        assert_eq!(got, code, "{line:?} got {text:?}");
        text
    }

    /// Sends `line`, returns the reply's code.
    pub async fn code(&mut self, line: &str) -> u16 {
        if self.send(format!("{line}\r\n").as_bytes()).await.is_err() {
            return 0;
        }
        self.reply().await.0
    }

    /// Sends a whole transaction for `to` and returns the reply to the end of data.
    pub async fn deliver(&mut self, from: &str, to: &[&str], wire_data: &[u8]) -> Reply {
        self.cmd(&format!("MAIL FROM:<{from}>"), 250).await;
        for rcpt in to {
            self.cmd(&format!("RCPT TO:<{rcpt}>"), 250).await;
        }
        self.cmd("DATA", 354).await;
        self.send(wire_data).await.expect("data");
        self.reply().await
    }

    /// Whether the server closes the connection within 20 s (after sending nothing more
    /// than a TLS alert or a few bytes).
    pub async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), self.stream.read_to_end(&mut rest)).await;
        matches!(read, Ok(Ok(_)) | Ok(Err(_))) && rest.len() < 64
    }
}

/// What a sender puts on the wire for `message` (ending with CRLF): a dot doubled at
/// the start of every line (after CRLF: a bare LF does not start one), then `.` CRLF.
pub fn stuff(message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'.' && (i == 0 || message[..i].ends_with(b"\r\n")) {
            wire.push(b'.');
        }
        wire.push(b);
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

impl Client<TcpStream> {
    /// The bare TCP stream (for a client that never starts its handshake).
    pub fn upgrade_raw(self) -> TcpStream {
        self.stream.into_inner()
    }
}
