//! From a request's [`RemoteTarget`] and its opened secret to the clients'
//! settings, and from the clients' errors to [`TransferError`].

use std::path::Path;
use std::time::Duration;

use envelope::{RemoteProtocol, RemoteTarget, SecretKind};
use remote::{Endpoint, Protocol, RemoteError, Secret, Timeouts, TlsTrust};
use zeroize::Zeroize;

use crate::{Plain, TransferError};

/// At most this much of a partner's reply goes into [`TransferError::detail`].
pub const DETAIL_LIMIT: usize = 1000;

/// SMTP and AS2 sends hold the whole message in memory: larger payloads are refused
/// (permanently) before anything is read.
pub const MAX_IN_MEMORY_BYTES: u64 = 64 << 20;

/// The FTP/FTPS/SFTP endpoint of `target`, logged in with `secret`.
pub(crate) fn endpoint(target: &RemoteTarget, secret: &Plain) -> Result<Endpoint, TransferError> {
    let protocol = match target.protocol {
        RemoteProtocol::Ftp => Protocol::Ftp,
        RemoteProtocol::Ftps => Protocol::Ftps,
        RemoteProtocol::Sftp => Protocol::Sftp,
        other => {
            return Err(TransferError::permanent(format!(
                "remote {}: {other} is not a file server (only ftp, ftps and sftp are)",
                target.name
            )));
        }
    };
    let secret = match secret.kind {
        SecretKind::None => Secret::Password(String::new()),
        SecretKind::Password => Secret::Password(password(target, secret)?),
        SecretKind::PrivateKey => Secret::PrivateKey { pem: utf8(target, secret, "private key")?, passphrase: None },
    };
    let mut endpoint = Endpoint::new(protocol, target.host.clone(), target.port, target.user.clone(), secret);
    endpoint.tls = tls(target);
    endpoint.host_key.clone_from(&target.host_key);
    endpoint.accept_any_host_key = target.accept_any_host_key;
    endpoint.timeouts = timeouts(target);
    Ok(endpoint)
}

/// The password of `secret` (empty for none); a key where a password is needed is
/// a configuration error.
pub(crate) fn password(target: &RemoteTarget, secret: &Plain) -> Result<String, TransferError> {
    match secret.kind {
        SecretKind::None => Ok(String::new()),
        SecretKind::Password => utf8(target, secret, "password"),
        SecretKind::PrivateKey => Err(TransferError::permanent(format!(
            "remote {}: a private key cannot log in to {}; a password is needed",
            target.name, target.protocol
        ))),
    }
}

fn utf8(target: &RemoteTarget, secret: &Plain, what: &str) -> Result<String, TransferError> {
    String::from_utf8(secret.bytes.to_vec()).map_err(|error| {
        error.into_bytes().zeroize();
        TransferError::permanent(format!("remote {}: the {what} is not UTF-8", target.name))
    })
}

/// Pinned certificates when the target has some, else the system's trust store.
pub(crate) fn tls(target: &RemoteTarget) -> TlsTrust {
    target.tls_cert_pem.clone().map_or(TlsTrust::System, TlsTrust::Pinned)
}

/// The target's timeouts; 0 keeps the clients' default.
pub(crate) fn timeouts(target: &RemoteTarget) -> Timeouts {
    let default = Timeouts::default();
    let or = |ms: u64, default| if ms == 0 { default } else { Duration::from_millis(ms) };
    Timeouts { connect: or(target.connect_timeout_ms, default.connect), io: or(target.io_timeout_ms, default.io) }
}

/// How long a whole SMTP or AS2 exchange of `size` bytes may take: the connect
/// timeout, then the I/O timeout four times (greeting, replies, the answer) and
/// once more per started MiB (a link slower than 1 MiB per I/O timeout fails).
pub(crate) fn deadline(target: &RemoteTarget, size: u64) -> Duration {
    let Timeouts { connect, io } = timeouts(target);
    let steps = 4 + u32::try_from(size.div_ceil(1 << 20)).unwrap_or(u32::MAX);
    connect.saturating_add(io.saturating_mul(steps))
}

/// `scheme://host:port/path` (IPv6 literals bracketed; no path is `/`).
pub(crate) fn url(scheme: &str, target: &RemoteTarget) -> String {
    let path = target.url_path.as_deref().unwrap_or("/");
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{}{slash}{path}", target.address())
}

/// A client's error: transient as the client classified it, with its text (the
/// server's reply included, never a secret).
pub(crate) fn remote_error(error: &RemoteError) -> TransferError {
    TransferError { transient: error.is_transient(), detail: cut(error.to_string()) }
}

/// The payload's size, checked against the request: a file that is not what the
/// request describes is not sent.
pub(crate) async fn payload_size(payload: &Path, expected: u64) -> Result<u64, TransferError> {
    let metadata = tokio::fs::metadata(payload).await.map_err(|e| local(payload, &e))?;
    if metadata.len() != expected {
        return Err(TransferError::permanent(format!(
            "the payload {} has {} bytes, the request says {expected}",
            payload.display(),
            metadata.len()
        )));
    }
    Ok(metadata.len())
}

/// Our own file could not be read: final if it is missing or forbidden.
pub(crate) fn local(path: &Path, error: &std::io::Error) -> TransferError {
    use std::io::ErrorKind::{InvalidData, InvalidInput, NotFound, PermissionDenied};
    let detail = format!("reading {}: {error}", path.display());
    let permanent = matches!(error.kind(), NotFound | PermissionDenied | InvalidInput | InvalidData);
    TransferError { transient: !permanent, detail }
}

/// `text`, at most [`DETAIL_LIMIT`] bytes (cut at a character boundary, marked).
pub(crate) fn cut(mut text: String) -> String {
    if text.len() > DETAIL_LIMIT {
        let mut end = DETAIL_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" […]");
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn target(protocol: RemoteProtocol) -> RemoteTarget {
        RemoteTarget {
            name: "acme".into(),
            protocol,
            host: "::1".into(),
            port: 8443,
            user: "u".into(),
            secret_kind: SecretKind::Password,
            secret: Default::default(),
            tls_cert_pem: None,
            host_key: None,
            accept_any_host_key: false,
            url_path: Some("/in?x=1".into()),
            http_put: false,
            mail_from: None,
            mail_to: vec![],
            starttls: false,
            as2: None,
            connect_timeout_ms: 0,
            io_timeout_ms: 2000,
        }
    }

    fn plain(kind: SecretKind, bytes: &[u8]) -> Plain {
        Plain { kind, bytes: zeroize::Zeroizing::new(bytes.to_vec()) }
    }

    #[test]
    fn only_file_servers_make_endpoints() {
        let secret = plain(SecretKind::Password, b"pw");
        for protocol in [RemoteProtocol::Http, RemoteProtocol::Smtp, RemoteProtocol::As2, RemoteProtocol::Pickup] {
            let error = endpoint(&target(protocol), &secret).expect_err("not a file server");
            assert!(!error.transient && error.detail.contains("not a file server"), "{error:?}");
        }
        let sftp = endpoint(&target(RemoteProtocol::Sftp), &plain(SecretKind::PrivateKey, b"KEY")).expect("sftp");
        assert!(matches!(&sftp.secret, Secret::PrivateKey { pem, passphrase: None } if pem == "KEY"));
        assert_eq!(sftp.timeouts.io, Duration::from_secs(2));
        assert_eq!(sftp.timeouts.connect, Timeouts::default().connect);
    }

    #[test]
    fn secrets_never_reach_the_detail() {
        let error = endpoint(&target(RemoteProtocol::Ftp), &plain(SecretKind::Password, b"hunter2\xff"))
            .expect_err("not UTF-8");
        assert!(!error.detail.contains("hunter2"), "{error:?}");
        let error = password(&target(RemoteProtocol::Http), &plain(SecretKind::PrivateKey, b"KEY")).expect_err("key");
        assert!(!error.detail.contains("KEY"), "{error:?}");
    }

    #[test]
    fn urls_and_details() {
        assert_eq!(url("https", &target(RemoteProtocol::Https)), "https://[::1]:8443/in?x=1");
        let mut bare = target(RemoteProtocol::Http);
        bare.url_path = None;
        assert_eq!(url("http", &bare), "http://[::1]:8443/");
        let long = cut("é".repeat(DETAIL_LIMIT));
        assert!(long.len() <= DETAIL_LIMIT + 8 && long.ends_with("[…]"), "{}", long.len());
        assert_eq!(cut("short".into()), "short");
    }
}
