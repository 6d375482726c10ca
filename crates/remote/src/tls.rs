//! The rustls client configuration for FTPS and HTTPS (aws-lc-rs, TLS 1.2 and
//! 1.3): the system trust store, or pinned PEM certificates. A pinned
//! certificate that is exactly the server's is trusted as is (no name, chain or
//! date check: the pin is the decision); otherwise the pinned certificates are
//! the only roots of an ordinary chain and host name check.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::endpoint::TlsTrust;
use crate::error::RemoteError;

/// A client config trusting what `trust` says, offering `alpn` protocols.
pub(crate) fn client_config(trust: &TlsTrust, alpn: &[&[u8]]) -> Result<ClientConfig, RemoteError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        TlsTrust::System => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| RemoteError::Config(format!("system trust store: {e}")))?,
        ),
        TlsTrust::Pinned(pem) => Arc::new(PinnedVerifier::new(pem, provider.clone())?),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RemoteError::Config(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Trusts exactly the pinned certificates, or chains to them.
#[derive(Debug)]
struct PinnedVerifier {
    pinned: Vec<CertificateDer<'static>>,
    /// `None` when no pinned certificate can serve as a root.
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    fn new(pem: &str, provider: Arc<CryptoProvider>) -> Result<Self, RemoteError> {
        let pinned = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RemoteError::Config(format!("pinned TLS certificate: {e}")))?;
        if pinned.is_empty() {
            return Err(RemoteError::Config("pinned TLS certificate: no PEM certificate found".into()));
        }
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(pinned.iter().cloned());
        let chain = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().ok()
        };
        Ok(PinnedVerifier { pinned, chain, provider })
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|pin| pin.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.chain {
            Some(chain) => chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_without_certificates_is_a_config_error() {
        let result = client_config(&TlsTrust::Pinned("not pem".into()), &[]);
        assert!(matches!(result, Err(RemoteError::Config(_))), "{:?}", result.err());
    }

    #[test]
    fn the_system_store_loads() {
        assert!(client_config(&TlsTrust::System, &[b"http/1.1"]).is_ok());
    }
}
