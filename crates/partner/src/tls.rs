//! TLS for the partner listeners (explicit FTPS, SMTP STARTTLS): the rustls server
//! config (aws-lc-rs, explicitly) and a self-signed certificate for installations
//! that have none yet.
//!
//! The generated certificate is an end-entity certificate (`basicConstraints CA:FALSE`,
//! `extendedKeyUsage serverAuth`): rustls-based clients reject a CA certificate used as a
//! server certificate. Files are written atomically (temporary file, fsync, rename, fsync of
//! the directory); the key file is created with mode 0600. Existing files are never
//! replaced: an operator's certificate, or one generated on an earlier start, is reused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerSessionMemoryCache;

/// The certificate chain and private key (PEM files) of a partner listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS material could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("only one of {cert} and {key} exists; refusing to replace it")]
    HalfPair { cert: PathBuf, key: PathBuf },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Makes sure `cert` and `key` exist: keeps existing files, otherwise writes a new
/// self-signed end-entity certificate for `names` (DNS names or IP addresses).
pub fn load_or_generate_self_signed(cert: &Path, key: &Path, names: &[String]) -> Result<(), TlsError> {
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok(()),
        (false, false) => {}
        _ => return Err(TlsError::HalfPair { cert: cert.to_owned(), key: key.to_owned() }),
    }
    let key_pair = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let common_name = names.first().map_or("portcullis", String::as_str);
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let certificate = params.self_signed(&key_pair)?;
    write_atomically(key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(cert, certificate.pem().as_bytes(), 0o644)?;
    tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    Ok(())
}

/// The rustls server config (FTPS control and data connections, SMTP STARTTLS):
/// aws-lc-rs, TLS 1.2 and 1.3.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_error = |path: &Path| {
        let path = path.to_owned();
        move |e: rustls::pki_types::pem::Error| TlsError::Pem { path, reason: e.to_string() }
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(pem_error(&files.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(&files.cert))?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: files.cert.clone(), reason: "no certificate found".into() });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(pem_error(&files.key))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.session_storage = ServerSessionMemoryCache::new(4096);
    // FTPS: TLS 1.3 tickets arrive after the handshake; an uploading client never reads its data
    // connection, so its close() with the tickets unread sends a reset instead of a FIN, and
    // the server then sees the end of a complete upload as an error (426). No tickets: TLS 1.3
    // data connections do a full handshake; TLS 1.2 still resumes by session id.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let io_error = |source| TlsError::Io { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&temp); // a leftover of a crash; create_new applies `mode` only to a new file
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(e));
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error)
}
