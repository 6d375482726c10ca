//! What the transfer tests share beyond the real servers of
//! `crates/remote/tests/common` (vsftpd, sshd, axum; included, not copied): a
//! [`DirSink`] test double for the sink (the servers are real), and builders for
//! requests against those servers.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use envelope::{AfterFetch, EnvelopeId, FetchRequest, RemoteProtocol, RemoteTarget, SecretKind, SendRequest};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use transfer::{FetchSink, FetchedFile, Plain, TransferError};

/// What a [`DirSink`] runs before storing a file.
pub type Before = dyn Fn(&FetchedFile) + Send + Sync;

/// Writes each new file to `dir/<name>` (temporary name, fsync, rename) and
/// remembers its id; a known id is a duplicate. With `fail_after`, gives up with
/// a transient error once that many bytes of a file were read; with
/// `duplicates_unread`, answers a known id without reading the file; `before`
/// runs first on every file (to change the server under a running fetch).
pub struct DirSink {
    pub dir: tempfile::TempDir,
    pub ids: Mutex<Vec<EnvelopeId>>,
    pub fail_after: Option<usize>,
    pub duplicates_unread: bool,
    pub before: Option<Box<Before>>,
}

impl DirSink {
    pub fn new() -> DirSink {
        DirSink {
            dir: tempfile::tempdir().unwrap(),
            ids: Mutex::default(),
            fail_after: None,
            duplicates_unread: false,
            before: None,
        }
    }

    pub fn failing_after(bytes: usize) -> DirSink {
        DirSink { fail_after: Some(bytes), ..DirSink::new() }
    }

    pub fn stored(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join(name)).ok()
    }

    pub fn ids(&self) -> Vec<EnvelopeId> {
        self.ids.lock().unwrap().clone()
    }
}

#[async_trait]
impl FetchSink for DirSink {
    async fn store(
        &self,
        id: EnvelopeId,
        _request: &FetchRequest,
        file: &FetchedFile,
        source: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<bool, TransferError> {
        if let Some(before) = &self.before {
            before(file);
        }
        // Permanent on purpose: a refused end must come out transient anyway.
        let failed = |e: std::io::Error| TransferError::permanent(format!("sink: {e}"));
        if let Some(limit) = self.fail_after {
            let mut first = vec![0u8; limit];
            source.read_exact(&mut first).await.map_err(failed)?;
            return Err(TransferError::transient("sink: the spool is full"));
        }
        if self.duplicates_unread && self.ids.lock().unwrap().contains(&id) {
            return Ok(false);
        }
        let temporary = self.dir.path().join(format!(".{}.tmp", file.name));
        let mut out = tokio::fs::File::create(&temporary).await.map_err(failed)?;
        tokio::io::copy(source, &mut out).await.map_err(failed)?;
        out.flush().await.map_err(failed)?;
        out.sync_all().await.map_err(failed)?;
        let mut ids = self.ids.lock().unwrap();
        if ids.contains(&id) {
            std::fs::remove_file(&temporary).map_err(failed)?;
            return Ok(false);
        }
        std::fs::rename(&temporary, self.dir.path().join(&file.name)).map_err(failed)?;
        ids.push(id);
        Ok(true)
    }
}

/// A target on 127.0.0.1 with 10 s timeouts and no TLS pin.
pub fn target(protocol: RemoteProtocol, port: u16, user: &str) -> RemoteTarget {
    RemoteTarget {
        name: "partner".into(),
        protocol,
        host: "127.0.0.1".into(),
        port,
        user: user.into(),
        secret_kind: SecretKind::Password,
        secret: Default::default(),
        tls_cert_pem: None,
        host_key: None,
        accept_any_host_key: false,
        url_path: None,
        http_put: false,
        mail_from: None,
        mail_to: vec![],
        starttls: false,
        as2: None,
        connect_timeout_ms: 10_000,
        io_timeout_ms: 10_000,
    }
}

pub fn password(password: &str) -> Plain {
    Plain { kind: SecretKind::Password, bytes: zeroize::Zeroizing::new(password.as_bytes().to_vec()) }
}

pub fn fetch_request(remote: RemoteTarget, directory: &Path, pattern: &str, after: AfterFetch) -> FetchRequest {
    FetchRequest {
        channel: "orders".into(),
        job: "pull".into(),
        remote,
        directory: directory.display().to_string(),
        pattern: pattern.into(),
        after,
        seen: vec![],
    }
}

/// A payload file in `dir` and the request to send it as `name`.
pub fn send_request(remote: RemoteTarget, dir: &Path, name: &str, bytes: &[u8]) -> (SendRequest, PathBuf) {
    let path = dir.join(format!("payload-{name}"));
    std::fs::write(&path, bytes).unwrap();
    let request = SendRequest {
        channel: "orders".into(),
        name: name.into(),
        remote,
        directory: String::new(),
        size: bytes.len() as u64,
        sha256: envelope::Sha256(Sha256::digest(bytes).into()),
        retries: 0,
        retry_base_ms: 100,
        retry_max_ms: 1000,
        delete_after_pickup: false,
    };
    (request, path)
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The test virtualenv's Python (`PORTCULLIS_TEST_PYTHON`, else `tests/.venv`).
pub fn python() -> PathBuf {
    std::env::var_os("PORTCULLIS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/.venv/bin/python"))
}
