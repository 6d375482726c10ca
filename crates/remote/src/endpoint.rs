//! What a session dials: the partner's server, the login, how its identity is
//! checked, and how long to wait. `Debug` never shows a secret; secrets are wiped
//! from memory when dropped.

use std::time::Duration;

use zeroize::Zeroize;

/// The protocol spoken with the partner's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Plain FTP (passive mode, binary type).
    Ftp,
    /// Explicit FTPS: `AUTH TLS` on the control connection, then `PROT P`.
    Ftps,
    /// SFTP over SSH.
    Sftp,
}

/// How the client proves who it is.
#[derive(Clone)]
pub enum Secret {
    /// A password (FTP, FTPS, SFTP password or keyboard-interactive login).
    Password(String),
    /// An SSH private key (SFTP only): OpenSSH, PKCS#8 or PKCS#1 PEM.
    PrivateKey { pem: String, passphrase: Option<String> },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::PrivateKey { .. } => f.write_str("PrivateKey(<redacted>)"),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        match self {
            Secret::Password(password) => password.zeroize(),
            Secret::PrivateKey { pem, passphrase } => {
                pem.zeroize();
                passphrase.zeroize();
            }
        }
    }
}

/// Which TLS certificates a server may present (FTPS, HTTPS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The system's trust store; the host name must match the certificate.
    #[default]
    System,
    /// PEM certificates: the server's own certificate (matched exactly, host name
    /// not checked), or a CA that issued it (host name checked). Nothing else.
    Pinned(String),
}

/// How long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting, TLS/SSH handshake and login together.
    pub connect: Duration,
    /// Any single step after that (a command's reply, a chunk of a transfer): no
    /// progress for this long fails the operation.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(30), io: Duration::from_secs(60) }
    }
}

/// A partner's server and how to log in to it.
#[derive(Clone)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub secret: Secret,
    /// FTPS: which server certificates are trusted.
    pub tls: TlsTrust,
    /// SFTP: the server's public host key, OpenSSH format (`ssh-ed25519 AAAA…`),
    /// checked before login. `None` refuses to connect unless
    /// `accept_any_host_key` is set.
    pub host_key: Option<String>,
    /// SFTP: connect without checking the host key (tests, first contact). Logged
    /// as a warning with the key's fingerprint on every connection.
    pub accept_any_host_key: bool,
    pub timeouts: Timeouts,
}

impl Endpoint {
    /// An endpoint with system TLS trust, no host key and default timeouts.
    pub fn new(
        protocol: Protocol,
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        secret: Secret,
    ) -> Self {
        Endpoint {
            protocol,
            host: host.into(),
            port,
            user: user.into(),
            secret,
            tls: TlsTrust::System,
            host_key: None,
            accept_any_host_key: false,
            timeouts: Timeouts::default(),
        }
    }

    /// `host:port` for messages (IPv6 literals bracketed).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("secret", &self.secret)
            .field("tls", &self.tls)
            .field("host_key", &self.host_key)
            .field("accept_any_host_key", &self.accept_any_host_key)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let password = Endpoint::new(Protocol::Ftp, "h", 21, "u", Secret::Password("hunter2".into()));
        let key = Endpoint::new(
            Protocol::Sftp,
            "h",
            22,
            "u",
            Secret::PrivateKey { pem: "-----BEGIN KEY-----".into(), passphrase: Some("open sesame".into()) },
        );
        let shown = format!("{password:?} {key:?}");
        for secret in ["hunter2", "BEGIN KEY", "open sesame"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn ipv6_addresses_are_bracketed() {
        let endpoint = Endpoint::new(Protocol::Ftp, "::1", 21, "u", Secret::Password(String::new()));
        assert_eq!(endpoint.address(), "[::1]:21");
    }
}
