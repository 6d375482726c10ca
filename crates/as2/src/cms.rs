//! The CMS (RFC 5652) operations of AS2, over openssl: decrypting an
//! `EnvelopedData` with our key and encrypting one for the partner, verifying a
//! detached `SignedData` against the partner's certificate only (its messages and its
//! MDNs), and signing our MDNs and messages.
//!
//! **Trust.** A partner's certificate is often self-signed, and it is the one the
//! inner configured for this partnership: it is trusted directly, no chain is built.
//! Verification passes only the partner certificate to openssl with `NOINTERN` (the
//! certificates the message carries are ignored, so the signer must be the partner
//! certificate) and `NO_SIGNER_CERT_VERIFY` (no chain, no expiry check).
//!
//! **Signing.** `CMS_sign` in the openssl crate always uses the key's default digest
//! (SHA-256), but the partner chooses the MDN's `micalg`; so the `SignedData` is
//! assembled here with [`crate::der`] (signed attributes content-type and
//! message-digest, signature by openssl) and checked by openssl's verifier in tests.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use openssl::stack::Stack;
use openssl::symm::Cipher;
use openssl::x509::X509;
use partner::As2Partnership;

#[cfg(test)]
use crate::der::Reader;
use crate::der::{self, CONTEXT_0, NULL, OCTET_STRING, OID, SEQUENCE, SET, constructed, tlv};
use crate::mic::MicAlg;
use crate::mime::{multipart_parts, parse_entity};

/// id-data, id-signedData, id-envelopedData (1.2.840.113549.1.7.{1,2,3}).
pub(crate) const ID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const ID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
#[cfg(test)]
const ID_ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
/// The content-type and message-digest attributes (1.2.840.113549.1.9.{3,4}).
const ID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const ID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// rsaEncryption (1.2.840.113549.1.1.1), the usual CMS RSA signature algorithm.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The largest input openssl's memory BIOs take (`c_int`); the server's body limit
/// stays below it.
pub(crate) const MAX_CMS_INPUT: usize = i32::MAX as usize;

/// The certificates and key of one partnership, parsed. Never logged.
pub(crate) struct Keys {
    partner_cert: X509,
    our_cert: X509,
    our_key: PKey<Private>,
}

/// Which part of a partnership's key material is unusable (a configuration
/// problem on our side, not the partner's).
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("partner certificate is not a PEM certificate")]
    PartnerCert,
    #[error("our certificate is not a PEM certificate")]
    OurCert,
    #[error("our private key is not a PEM private key")]
    OurKey,
    #[error("our private key does not belong to our certificate")]
    Mismatch,
}

impl Keys {
    pub(crate) fn load(partnership: &As2Partnership) -> Result<Keys, KeyError> {
        Keys::from_pem(&partnership.partner_cert_pem, &partnership.our_cert_pem, &partnership.our_key_pem)
    }

    /// The keys of a partnership from its PEM texts; our key must belong to our
    /// certificate.
    pub(crate) fn from_pem(partner_cert: &str, our_cert: &str, our_key: &str) -> Result<Keys, KeyError> {
        let partner_cert = X509::from_pem(partner_cert.as_bytes()).map_err(|_| KeyError::PartnerCert)?;
        let our_cert = X509::from_pem(our_cert.as_bytes()).map_err(|_| KeyError::OurCert)?;
        let our_key = PKey::private_key_from_pem(our_key.as_bytes()).map_err(|_| KeyError::OurKey)?;
        let matches = our_cert.public_key().map(|public| public.public_eq(&our_key)).unwrap_or(false);
        if !matches {
            return Err(KeyError::Mismatch);
        }
        Ok(Keys { partner_cert, our_cert, our_key })
    }

    /// The partner's certificate (signatures are checked against it only).
    pub(crate) fn partner_cert(&self) -> &X509 {
        &self.partner_cert
    }

    /// Our certificate (messages are encrypted for it).
    pub(crate) fn our_cert(&self) -> &X509 {
        &self.our_cert
    }

    /// Our private key.
    pub(crate) fn our_key(&self) -> &PKey<Private> {
        &self.our_key
    }
}

/// What a `ContentInfo` holds, judged by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmsKind {
    Enveloped,
    Signed,
    Compressed,
    Other,
}

#[cfg(test)]
/// The kind of a DER `ContentInfo`, for a `pkcs7-mime` without `smime-type`.
pub(crate) fn kind(der: &[u8]) -> CmsKind {
    let oid = Reader::new(der)
        .tagged(SEQUENCE)
        .and_then(|info| info.children())
        .and_then(|mut fields| fields.tagged(OID))
        .map(|oid| oid.content);
    match oid {
        Ok(ID_ENVELOPED_DATA) => CmsKind::Enveloped,
        Ok(ID_SIGNED_DATA) => CmsKind::Signed,
        Ok(crate::compress::ID_CT_COMPRESSED_DATA) => CmsKind::Compressed,
        _ => CmsKind::Other,
    }
}

#[cfg(test)]
/// Decrypts an `EnvelopedData` addressed to our certificate.
pub(crate) fn decrypt(der: &[u8], keys: &Keys) -> Result<Vec<u8>, ErrorStack> {
    CmsContentInfo::from_der(der)?.decrypt(&keys.our_key, &keys.our_cert)
}

/// Why a message could not be encrypted for the partner.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncryptError {
    #[error("content too large for openssl")]
    TooLarge,
    #[error("{0}")]
    Openssl(#[from] ErrorStack),
}

/// An `EnvelopedData` (DER) of `content` for the partner certificate, content
/// encrypted with `cipher` (key transport: RSA PKCS#1 v1.5, openssl's default).
pub(crate) fn encrypt(content: &[u8], keys: &Keys, cipher: Cipher) -> Result<Vec<u8>, EncryptError> {
    if content.len() > MAX_CMS_INPUT {
        return Err(EncryptError::TooLarge);
    }
    let mut certs = Stack::new()?;
    certs.push(keys.partner_cert.clone())?;
    Ok(CmsContentInfo::encrypt(&certs, content, cipher, CMSOptions::BINARY)?.to_der()?)
}

/// Why a signature was not accepted ("authentication-failed").
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("signed content too large for openssl")]
    TooLarge,
    #[error("{0}")]
    Openssl(#[from] ErrorStack),
}

/// Verifies a detached `SignedData` over `content`: the signer must be the partner
/// certificate and the signature must be good.
pub(crate) fn verify(signature: &[u8], content: &[u8], keys: &Keys) -> Result<(), VerifyError> {
    if content.len() > MAX_CMS_INPUT {
        return Err(VerifyError::TooLarge);
    }
    let mut cms = CmsContentInfo::from_der(signature)?;
    let mut certs = Stack::new()?;
    certs.push(keys.partner_cert.clone())?;
    let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
    cms.verify(Some(&certs), None, Some(content), None, flags)?;
    Ok(())
}

/// Why a `multipart/signed` was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignedError {
    /// Not a multipart body of two parts.
    Structure(String),
    /// The second part is not a good detached signature by the partner over the
    /// first.
    Signature(String),
}

/// The signed entity of a `multipart/signed` body (RFC 5751 §3.4.3: the first part,
/// byte for byte) once the detached signature of its second part verified against
/// the partner certificate: a partner's message or its MDN.
pub(crate) fn verify_multipart<'a>(body: &'a [u8], boundary: &str, keys: &Keys) -> Result<&'a [u8], SignedError> {
    let parts = multipart_parts(body, boundary).map_err(|e| SignedError::Structure(e.to_string()))?;
    let [signed, signature, ..] = parts.as_slice() else {
        return Err(SignedError::Structure("multipart/signed with fewer than two parts".into()));
    };
    let signed = &body[signed.clone()];
    let signature = parse_entity(&body[signature.clone()]).map_err(|e| SignedError::Signature(e.to_string()))?;
    let signature_type = signature.headers.content_type().value;
    if signature_type != "application/pkcs7-signature" && signature_type != "application/x-pkcs7-signature" {
        return Err(SignedError::Signature(format!("signature part is {signature_type}")));
    }
    let der = signature.headers.decode(signature.body).map_err(|e| SignedError::Signature(e.to_string()))?;
    verify(&der, signed, keys).map_err(|e| SignedError::Signature(e.to_string()))?;
    Ok(signed)
}

/// Why our MDN could not be signed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    #[error("our key type is neither RSA nor EC")]
    UnsupportedKey,
    #[error("{0}")]
    Openssl(#[from] ErrorStack),
}

/// A detached `SignedData` (DER) over `content`, by our key, digest `alg` (an MDN or
/// an outbound message).
pub(crate) fn sign(content: &[u8], alg: MicAlg, keys: &Keys) -> Result<Vec<u8>, SignError> {
    let signature_algorithm = signature_algorithm(keys.our_key.id(), alg)?;
    let digest_algorithm = constructed(SEQUENCE, &[&tlv(OID, alg.oid())]);
    // DER orders a SET OF by encoding; the signature covers it tagged SET, the
    // SignerInfo carries the same content tagged `[0] IMPLICIT`.
    let attributes = der::sorted_set_content(vec![
        constructed(SEQUENCE, &[&tlv(OID, ID_CONTENT_TYPE), &constructed(SET, &[&tlv(OID, ID_DATA)])]),
        constructed(
            SEQUENCE,
            &[&tlv(OID, ID_MESSAGE_DIGEST), &constructed(SET, &[&tlv(OCTET_STRING, &alg.hash(&[content])?)])],
        ),
    ]);
    let mut signer = Signer::new(alg.digest(), &keys.our_key)?;
    signer.update(&tlv(SET, &attributes))?;
    let signature = signer.sign_to_vec()?;
    let serial = keys.our_cert.serial_number().to_bn()?.to_vec();
    let signer_id = constructed(SEQUENCE, &[&keys.our_cert.issuer_name().to_der()?, &der::unsigned_integer(&serial)]);
    let signer_info = constructed(
        SEQUENCE,
        &[
            &tlv(der::INTEGER, &[1]),
            &signer_id,
            &digest_algorithm,
            &tlv(CONTEXT_0, &attributes),
            &signature_algorithm,
            &tlv(OCTET_STRING, &signature),
        ],
    );
    let signed_data = constructed(
        SEQUENCE,
        &[
            &tlv(der::INTEGER, &[1]),
            &constructed(SET, &[&digest_algorithm]),
            &constructed(SEQUENCE, &[&tlv(OID, ID_DATA)]),
            &constructed(CONTEXT_0, &[&keys.our_cert.to_der()?]),
            &constructed(SET, &[&signer_info]),
        ],
    );
    Ok(constructed(SEQUENCE, &[&tlv(OID, ID_SIGNED_DATA), &constructed(CONTEXT_0, &[&signed_data])]))
}

fn signature_algorithm(key: Id, alg: MicAlg) -> Result<Vec<u8>, SignError> {
    match key {
        Id::RSA => Ok(constructed(SEQUENCE, &[&tlv(OID, RSA_ENCRYPTION), &tlv(NULL, &[])])),
        Id::EC => {
            let last: &[u8] = match alg {
                MicAlg::Sha1 => &[0x01],
                MicAlg::Sha256 => &[0x03, 0x02],
                MicAlg::Sha384 => &[0x03, 0x03],
                MicAlg::Sha512 => &[0x03, 0x04],
            };
            // ecdsa-with-SHA1 1.2.840.10045.4.1, ecdsa-with-SHA2xx 1.2.840.10045.4.3.x
            let oid = [&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04][..], last].concat();
            Ok(constructed(SEQUENCE, &[&tlv(OID, &oid)]))
        }
        _ => Err(SignError::UnsupportedKey),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    use super::*;

    /// A key and a self-signed certificate for `name`, as PEM: (cert, key).
    pub(crate) fn identity(name: &str) -> (String, String) {
        crate::identity::self_signed(name, 365).expect("identity")
    }

    pub(crate) fn identity_with(name: &str, key: PKey<Private>) -> (String, String) {
        crate::identity::self_signed_with(name, 365, key).expect("identity")
    }

    /// A partnership between two fresh identities: (partnership, partner cert, partner key).
    pub(crate) fn partnership() -> (As2Partnership, String, String) {
        let (partner_cert, partner_key) = identity("partner");
        let (our_cert, our_key) = identity("us");
        let partnership = As2Partnership {
            channel: "acme".into(),
            partner_id: "ACME".into(),
            our_id: "PORTCULLIS".into(),
            partner_cert_pem: partner_cert.clone(),
            our_cert_pem: our_cert,
            our_key_pem: our_key,
            require_signed: false,
            require_encrypted: false,
        };
        (partnership, partner_cert, partner_key)
    }

    /// A detached signature as a partner makes it (openssl's `CMS_sign`).
    pub(crate) fn partner_sign(content: &[u8], cert_pem: &str, key_pem: &str) -> Vec<u8> {
        let cert = X509::from_pem(cert_pem.as_bytes()).expect("cert");
        let key = PKey::private_key_from_pem(key_pem.as_bytes()).expect("key");
        let flags = CMSOptions::DETACHED | CMSOptions::BINARY;
        CmsContentInfo::sign(Some(&cert), Some(&key), None, Some(content), flags).expect("sign").to_der().expect("der")
    }

    /// An EnvelopedData of `content` for the certificate `cert_pem`.
    pub(crate) fn encrypt_for(content: &[u8], cert_pem: &str, cipher: Cipher) -> Vec<u8> {
        let mut certs = Stack::new().expect("stack");
        certs.push(X509::from_pem(cert_pem.as_bytes()).expect("cert")).expect("push");
        CmsContentInfo::encrypt(&certs, content, cipher, CMSOptions::BINARY).expect("encrypt").to_der().expect("der")
    }

    #[test]
    fn loads_keys_and_refuses_broken_or_mismatched_material() {
        let (partnership, _, partner_key) = partnership();
        assert!(Keys::load(&partnership).is_ok());
        let broken = |edit: fn(&mut As2Partnership)| {
            let mut p = partnership.clone();
            edit(&mut p);
            Keys::load(&p).err().map(|e| e.to_string())
        };
        assert!(broken(|p| p.partner_cert_pem = "junk".into()).is_some_and(|e| e.contains("partner")));
        assert!(broken(|p| p.our_cert_pem.truncate(40)).is_some_and(|e| e.contains("our certificate")));
        assert!(broken(|p| p.our_key_pem.clear()).is_some_and(|e| e.contains("private key is not")));
        let mut swapped = partnership.clone();
        swapped.our_key_pem = partner_key;
        assert!(matches!(Keys::load(&swapped), Err(KeyError::Mismatch)));
    }

    #[test]
    fn decrypts_what_was_encrypted_for_us_only() {
        let (partnership, partner_cert, _) = partnership();
        let keys = Keys::load(&partnership).expect("keys");
        let der = encrypt_for(b"secret\r\n", &partnership.our_cert_pem, Cipher::aes_256_cbc());
        assert_eq!(kind(&der), CmsKind::Enveloped);
        assert_eq!(decrypt(&der, &keys).expect("decrypt"), b"secret\r\n");
        let elsewhere = encrypt_for(b"secret", &partner_cert, Cipher::aes_128_cbc());
        assert!(decrypt(&elsewhere, &keys).is_err());
        assert!(decrypt(b"\x30\x03\x02\x01\x00", &keys).is_err());
    }

    #[test]
    fn verifies_the_partner_signature_only() {
        let (partnership, partner_cert, partner_key) = partnership();
        let keys = Keys::load(&partnership).expect("keys");
        let signature = partner_sign(b"content", &partner_cert, &partner_key);
        assert_eq!(kind(&signature), CmsKind::Signed);
        verify(&signature, b"content", &keys).expect("good signature");
        assert!(verify(&signature, b"Content", &keys).is_err(), "tampered content");
        let (other_cert, other_key) = identity("partner");
        let impostor = partner_sign(b"content", &other_cert, &other_key);
        assert!(verify(&impostor, b"content", &keys).is_err(), "signed by another certificate");
        assert!(verify(b"junk", b"content", &keys).is_err());
    }

    #[test]
    fn our_signatures_verify_with_openssl_for_every_digest_and_key_type() {
        let (mut partnership, _, _) = partnership();
        let ec = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group")).expect("ec"),
        )
        .expect("pkey");
        let (ec_cert, ec_key) = identity_with("us-ec", ec);
        let rsa = Keys::load(&partnership).expect("keys");
        partnership.our_cert_pem = ec_cert;
        partnership.our_key_pem = ec_key;
        let ec = Keys::load(&partnership).expect("keys");
        for keys in [&rsa, &ec] {
            for alg in [MicAlg::Sha1, MicAlg::Sha256, MicAlg::Sha384, MicAlg::Sha512] {
                let content = b"Content-Type: text/plain\r\n\r\nreport";
                let der = sign(content, alg, keys).expect("sign");
                let mut cms = CmsContentInfo::from_der(&der).expect("parse");
                let mut certs = Stack::new().expect("stack");
                certs.push(keys.our_cert.clone()).expect("push");
                let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
                cms.verify(Some(&certs), None, Some(content), None, flags).expect("openssl accepts our signature");
                let mut cms = CmsContentInfo::from_der(&der).expect("parse");
                assert!(cms.verify(Some(&certs), None, Some(b"other"), None, flags).is_err());
            }
        }
    }

    #[test]
    fn sniffs_content_types() {
        assert_eq!(kind(&crate::compress::compress(b"x").expect("compress")), CmsKind::Compressed);
        assert_eq!(kind(b""), CmsKind::Other);
        assert_eq!(kind(b"\x30\x80\x06\x01\x00\x00\x00"), CmsKind::Other);
    }
}
