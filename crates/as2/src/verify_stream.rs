//! Streaming verification of a detached CMS `SignedData` (RFC 5652 §5), the
//! `application/pkcs7-signature` part of a `multipart/signed`, over signed content
//! read once through a [`Read`] (a signed entity of any size, in 64 KiB chunks).
//!
//! ```text
//! ContentInfo ::= SEQUENCE { id-signedData, [0] EXPLICIT SignedData ::= SEQUENCE {
//!   version, digestAlgorithms SET, encapContentInfo SEQUENCE { id-data } (no eContent),
//!   certificates [0] and crls [1] IMPLICIT OPTIONAL (ignored),
//!   signerInfos SET OF SEQUENCE { version, sid, digestAlgorithm,
//!     signedAttrs [0] IMPLICIT OPTIONAL, signatureAlgorithm, signature, unsignedAttrs [1] OPTIONAL } } }
//! ```
//!
//! The signature structure is small and parsed in memory with [`crate::der`] (at most
//! [`MAX_SIGNATURE`] bytes, [`MAX_SIGNERS`] SignerInfos).
//!
//! **Trust** is that of `cms::verify`: the partner certificate of the partnership,
//! trusted directly, no chain; the certificates the message carries are ignored.
//! Every SignerInfo's signature must verify under the partner certificate's public
//! key (as openssl's `CMS_verify` requires every signer to verify). The `sid` is not
//! compared with the certificate: a signature that verifies under the partner's key
//! was made with the partner's private key, whatever the sid says.
//!
//! **One pass.** All SignerInfos are checked in the same pass over the content: one
//! digest per SignerInfo with signed attributes (its `messageDigest` must match, its
//! `contentType`, if present, must be id-data; the signature covers the attributes'
//! DER re-tagged as SET), one streaming [`Verifier`] per SignerInfo without (the
//! signature covers the content itself).
//!
//! **Algorithms.** Digests SHA-1/224/256/384/512 (MD5 refused); signatures
//! rsaEncryption, sha*WithRSAEncryption and ecdsa-with-SHA* (whose digest must be
//! the SignerInfo's digest algorithm). RSASSA-PSS and anything else:
//! [`VerifyError::UnsupportedAlgorithm`].

use std::io::{self, Read};

use openssl::error::ErrorStack;
use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::{Id, PKey, Public};
use openssl::sign::Verifier;

use crate::ber_stream::{CHUNK, CONTEXT_0_PRIMITIVE, ID_SIGNED_DATA, oid_string};
use crate::cms::{ID_DATA, Keys};
use crate::decrypt_stream::{RSA_ENCRYPTION, SHA1, SHA224, SHA256, SHA384, SHA512};
use crate::der::{CONTEXT_0, DerError, INTEGER, NULL, OCTET_STRING, OID, Reader, SEQUENCE, SET, Tlv};
use crate::mic::MicAlg;

/// Bound on the signature part (ContentInfo of the SignedData).
pub(crate) const MAX_SIGNATURE: usize = 1 << 20;
/// Bound on the SignerInfos of one SignedData.
pub(crate) const MAX_SIGNERS: usize = 8;

/// The content-type and message-digest attributes (1.2.840.113549.1.9.{3,4}).
const ID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const ID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
/// md5 (1.2.840.113549.2.5): refused.
const MD5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05];
/// Prefix of sha*WithRSAEncryption (1.2.840.113549.1.1.x) and ecdsa-with-SHA*
/// (1.2.840.10045.4.x), id-ecPublicKey (1.2.840.10045.2.1).
const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ECDSA_WITH: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// Why a detached signature was not accepted ("authentication-failed").
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    #[error("signature larger than {MAX_SIGNATURE} bytes")]
    TooLarge,
    #[error("malformed SignedData: {0}")]
    Der(#[from] DerError),
    #[error("not a SignedData")]
    NotSignedData,
    #[error("SignedData carries its content: not a detached signature")]
    NotDetached,
    #[error("signed content type is not id-data")]
    ContentType,
    #[error("SignedData without SignerInfo")]
    NoSigner,
    #[error("more than {MAX_SIGNERS} SignerInfos")]
    TooManySigners,
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("signature algorithm does not match the digest algorithm")]
    AlgorithmMismatch,
    #[error("signature algorithm does not fit the partner certificate's key")]
    KeyType,
    #[error("signed attributes without exactly one message digest")]
    MessageDigestAttribute,
    #[error("content digest differs from the signed message digest")]
    DigestMismatch,
    #[error("bad signature")]
    BadSignature,
    #[error("cannot read the signed content: {0}")]
    Read(io::Error),
    #[error("{0}")]
    Openssl(#[from] ErrorStack),
}

/// What a good signature tells the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The first SignerInfo's digest algorithm, if a MIC algorithm (not SHA-224).
    pub mic_alg: Option<MicAlg>,
    /// Bytes of signed content read.
    pub length: u64,
}

/// Verifies the detached signature `signature_der` (the DER/BER `ContentInfo` of a
/// SignedData) over the content read from `content`, against the partner
/// certificate only.
pub(crate) fn verify(signature_der: &[u8], content: &mut impl Read, keys: &Keys) -> Result<(), VerifyError> {
    verify_detached(signature_der, content, keys).map(|_| ())
}

/// [`verify`], telling the signer's digest algorithm and the content length.
pub(crate) fn verify_detached(
    signature_der: &[u8],
    content: &mut impl Read,
    keys: &Keys,
) -> Result<Verified, VerifyError> {
    if signature_der.len() > MAX_SIGNATURE {
        return Err(VerifyError::TooLarge);
    }
    let key = keys.partner_cert().public_key()?;
    let signers = signer_infos(signature_der)?;
    let mut checks = Vec::with_capacity(signers.len());
    for info in &signers {
        checks.push(Check::new(info, &key)?);
    }
    let mut chunk = vec![0u8; CHUNK];
    let mut length = 0u64;
    loop {
        let n = match content.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(VerifyError::Read(e)),
        };
        let bytes = chunk.get(..n).ok_or(VerifyError::Read(io::ErrorKind::InvalidData.into()))?;
        for check in &mut checks {
            check.update(bytes)?;
        }
        length += n as u64;
    }
    for check in checks {
        check.finish(&key)?;
    }
    let mic_alg = signers.first().and_then(|info| info.digest.mic_alg);
    Ok(Verified { mic_alg, length })
}

/// A digest algorithm of a SignerInfo.
#[derive(Clone, Copy)]
struct Digest {
    md: MessageDigest,
    mic_alg: Option<MicAlg>,
    oid: &'static [u8],
}

/// The signature algorithm: the key type it needs, and the digest it names if any.
struct SignatureAlg {
    key: Id,
    digest: Option<&'static [u8]>,
}

/// One SignerInfo, borrowed from the signature bytes.
struct SignerInfo<'a> {
    digest: Digest,
    /// The key type the signature algorithm needs.
    key: Id,
    /// The content of `signedAttrs`, if present.
    attributes: Option<&'a [u8]>,
    signature: &'a [u8],
}

/// The SignerInfos of a detached SignedData (checked for structure and algorithms).
fn signer_infos(der: &[u8]) -> Result<Vec<SignerInfo<'_>>, VerifyError> {
    let mut outer = Reader::new(der);
    let mut info = outer.tagged(SEQUENCE)?.children()?;
    if !outer.is_empty() {
        return Err(DerError::UnexpectedTag(0).into());
    }
    if info.tagged(OID)?.content != ID_SIGNED_DATA {
        return Err(VerifyError::NotSignedData);
    }
    let signed = info.tagged(CONTEXT_0)?.only_child()?;
    if signed.tag != SEQUENCE {
        return Err(DerError::UnexpectedTag(signed.tag).into());
    }
    let mut fields = signed.children()?;
    fields.tagged(INTEGER)?;
    fields.tagged(SET)?;
    let mut encapsulated = fields.tagged(SEQUENCE)?.children()?;
    if encapsulated.tagged(OID)?.content != ID_DATA {
        return Err(VerifyError::ContentType);
    }
    if !encapsulated.is_empty() {
        return Err(VerifyError::NotDetached);
    }
    let mut next = fields.next()?;
    if next.tag == CONTEXT_0 {
        next = fields.next()?; // certificates: ignored
    }
    if next.tag == 0xa1 {
        next = fields.next()?; // crls: ignored
    }
    if next.tag != SET {
        return Err(DerError::UnexpectedTag(next.tag).into());
    }
    if !fields.is_empty() {
        return Err(DerError::UnexpectedTag(0).into());
    }
    let mut infos = next.children()?;
    let mut signers = Vec::new();
    while !infos.is_empty() {
        if signers.len() == MAX_SIGNERS {
            return Err(VerifyError::TooManySigners);
        }
        signers.push(signer_info(infos.tagged(SEQUENCE)?)?);
    }
    if signers.is_empty() {
        return Err(VerifyError::NoSigner);
    }
    Ok(signers)
}

fn signer_info(info: Tlv<'_>) -> Result<SignerInfo<'_>, VerifyError> {
    let mut fields = info.children()?;
    fields.tagged(INTEGER)?;
    let sid = fields.next()?;
    if sid.tag != SEQUENCE && sid.tag != CONTEXT_0_PRIMITIVE {
        return Err(DerError::UnexpectedTag(sid.tag).into());
    }
    let digest = digest_algorithm(fields.tagged(SEQUENCE)?)?;
    let mut next = fields.next()?;
    let mut attributes = None;
    if next.tag == CONTEXT_0 {
        attributes = Some(next.content);
        next = fields.next()?;
    }
    if next.tag != SEQUENCE {
        return Err(DerError::UnexpectedTag(next.tag).into());
    }
    let algorithm = signature_algorithm(next)?;
    if algorithm.digest.is_some_and(|oid| oid != digest.oid) {
        return Err(VerifyError::AlgorithmMismatch);
    }
    let signature = fields.tagged(OCTET_STRING)?.content;
    if !fields.is_empty() {
        fields.tagged(0xa1)?; // unsignedAttrs: ignored
    }
    if !fields.is_empty() {
        return Err(DerError::UnexpectedTag(0).into());
    }
    Ok(SignerInfo { digest, key: algorithm.key, attributes, signature })
}

/// An AlgorithmIdentifier's OID, its parameters absent or NULL.
fn algorithm_oid<'a>(algorithm: Tlv<'a>) -> Result<&'a [u8], VerifyError> {
    let mut fields = algorithm.children()?;
    let oid = fields.tagged(OID)?.content;
    if !fields.is_empty() {
        fields.tagged(NULL)?;
    }
    if !fields.is_empty() {
        return Err(DerError::UnexpectedTag(0).into());
    }
    Ok(oid)
}

fn digest_algorithm(algorithm: Tlv<'_>) -> Result<Digest, VerifyError> {
    let oid = algorithm_oid(algorithm)?;
    let (md, mic_alg, oid): (_, _, &'static [u8]) = match oid {
        SHA1 => (MessageDigest::sha1(), Some(MicAlg::Sha1), SHA1),
        SHA224 => (MessageDigest::sha224(), None, SHA224),
        SHA256 => (MessageDigest::sha256(), Some(MicAlg::Sha256), SHA256),
        SHA384 => (MessageDigest::sha384(), Some(MicAlg::Sha384), SHA384),
        SHA512 => (MessageDigest::sha512(), Some(MicAlg::Sha512), SHA512),
        MD5 => return Err(VerifyError::UnsupportedAlgorithm("md5 (refused)".into())),
        other => return Err(VerifyError::UnsupportedAlgorithm(oid_string(other))),
    };
    Ok(Digest { md, mic_alg, oid })
}

fn signature_algorithm(algorithm: Tlv<'_>) -> Result<SignatureAlg, VerifyError> {
    let oid = algorithm.children()?.tagged(OID)?.content;
    let rsa = |digest| Ok(SignatureAlg { key: Id::RSA, digest: Some(digest) });
    let ec = |digest| Ok(SignatureAlg { key: Id::EC, digest });
    if oid == RSA_ENCRYPTION {
        algorithm_oid(algorithm)?;
        return Ok(SignatureAlg { key: Id::RSA, digest: None });
    }
    if oid == EC_PUBLIC_KEY {
        return ec(None);
    }
    match (oid.strip_prefix(PKCS1), oid.strip_prefix(ECDSA_WITH)) {
        (Some([0x05]), _) => rsa(SHA1),
        (Some([0x0e]), _) => rsa(SHA224),
        (Some([0x0b]), _) => rsa(SHA256),
        (Some([0x0c]), _) => rsa(SHA384),
        (Some([0x0d]), _) => rsa(SHA512),
        (_, Some([0x01])) => ec(Some(SHA1)),
        (_, Some([0x03, 0x01])) => ec(Some(SHA224)),
        (_, Some([0x03, 0x02])) => ec(Some(SHA256)),
        (_, Some([0x03, 0x03])) => ec(Some(SHA384)),
        (_, Some([0x03, 0x04])) => ec(Some(SHA512)),
        _ => Err(VerifyError::UnsupportedAlgorithm(oid_string(oid))),
    }
}

/// The check of one SignerInfo while the content streams by.
enum Check<'a> {
    /// Signed attributes: the content digest, compared with `messageDigest`.
    Attributes { hasher: Hasher, info: &'a SignerInfo<'a>, message_digest: &'a [u8] },
    /// No signed attributes: the signature is over the content.
    Content { verifier: Verifier<'a>, signature: &'a [u8] },
}

impl<'a> Check<'a> {
    fn new(info: &'a SignerInfo<'a>, key: &'a PKey<Public>) -> Result<Check<'a>, VerifyError> {
        if key.id() != info.key {
            return Err(VerifyError::KeyType);
        }
        match info.attributes {
            Some(attributes) => {
                let message_digest = signed_attributes(attributes)?;
                Ok(Check::Attributes { hasher: Hasher::new(info.digest.md)?, info, message_digest })
            }
            None => Ok(Check::Content { verifier: Verifier::new(info.digest.md, key)?, signature: info.signature }),
        }
    }

    fn update(&mut self, bytes: &[u8]) -> Result<(), VerifyError> {
        match self {
            Check::Attributes { hasher, .. } => hasher.update(bytes)?,
            Check::Content { verifier, .. } => verifier.update(bytes)?,
        }
        Ok(())
    }

    fn finish(self, key: &PKey<Public>) -> Result<(), VerifyError> {
        let good = match self {
            Check::Attributes { mut hasher, info, message_digest } => {
                if *hasher.finish()? != *message_digest {
                    return Err(VerifyError::DigestMismatch);
                }
                let attributes = info.attributes.unwrap_or_default();
                let mut verifier = Verifier::new(info.digest.md, key)?;
                verifier.update(&crate::der::tlv(SET, attributes))?;
                verifier.verify(info.signature)
            }
            Check::Content { verifier, signature } => verifier.verify(signature),
        };
        // openssl reports a malformed signature as an error, a wrong one as false.
        match good {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(VerifyError::BadSignature),
        }
    }
}

/// The `messageDigest` of signed attributes (the content of `[0] IMPLICIT SET OF
/// Attribute`), after checking `contentType` is id-data if present.
fn signed_attributes(attributes: &[u8]) -> Result<&[u8], VerifyError> {
    let mut reader = Reader::new(attributes);
    let mut message_digest = None;
    let mut content_type_seen = false;
    while !reader.is_empty() {
        let mut attribute = reader.tagged(SEQUENCE)?.children()?;
        let kind = attribute.tagged(OID)?.content;
        let values = attribute.tagged(SET)?;
        if kind == ID_MESSAGE_DIGEST {
            let mut values = values.children()?;
            let digest = values.tagged(OCTET_STRING)?.content;
            if message_digest.is_some() || !values.is_empty() {
                return Err(VerifyError::MessageDigestAttribute);
            }
            message_digest = Some(digest);
        } else if kind == ID_CONTENT_TYPE {
            let mut values = values.children()?;
            if content_type_seen || values.tagged(OID)?.content != ID_DATA || !values.is_empty() {
                return Err(VerifyError::ContentType);
            }
            content_type_seen = true;
        }
    }
    message_digest.ok_or(VerifyError::MessageDigestAttribute)
}

#[cfg(test)]
mod tests {
    use openssl::cms::{CMSOptions, CmsContentInfo};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::Private;
    use openssl::x509::X509;
    use proptest::prelude::*;

    use super::*;
    use crate::ber_stream::tests::trickle;
    use crate::cms::tests::{identity, identity_with};
    use crate::decrypt_stream::tests::pseudo_random;
    use crate::der::constructed;

    /// A signer (its own keys: it signs with "our" key) and the receiver's keys,
    /// whose partner certificate is the signer's.
    struct Pair {
        signer: Keys,
        receiver: Keys,
        cert: String,
        key: String,
    }

    fn pair(ec: bool) -> Pair {
        let (cert, key) = if ec {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
            identity_with("partner-ec", PKey::from_ec_key(EcKey::generate(&group).expect("ec")).expect("pkey"))
        } else {
            identity("partner")
        };
        let (our_cert, our_key) = identity("us");
        let signer = Keys::from_pem(&our_cert, &cert, &key).expect("signer keys");
        let receiver = Keys::from_pem(&cert, &our_cert, &our_key).expect("receiver keys");
        Pair { signer, receiver, cert, key }
    }

    fn rsa_pair() -> &'static Pair {
        static PAIR: std::sync::OnceLock<Pair> = std::sync::OnceLock::new();
        PAIR.get_or_init(|| pair(false))
    }

    /// openssl's `CMS_sign`, detached, with or without signed attributes.
    fn openssl_sign(content: &[u8], cert: &str, key: &str, attributes: bool) -> Vec<u8> {
        let cert = X509::from_pem(cert.as_bytes()).expect("cert");
        let key: PKey<Private> = PKey::private_key_from_pem(key.as_bytes()).expect("key");
        let mut flags = CMSOptions::DETACHED | CMSOptions::BINARY;
        if !attributes {
            flags |= CMSOptions::NOATTR;
        }
        CmsContentInfo::sign(Some(&cert), Some(&key), None, Some(content), flags).expect("sign").to_der().expect("der")
    }

    /// Verifies from a slice and from a trickle; both must agree.
    fn run(signature: &[u8], content: &[u8], keys: &Keys) -> Result<Verified, VerifyError> {
        let result = verify_detached(signature, &mut &content[..], keys);
        let again = verify_detached(signature, &mut trickle(content), keys);
        match (&result, again) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("slice {a:?} but trickle {b:?}"),
        }
        result
    }

    #[test]
    fn verifies_our_signatures_for_every_digest_and_key_type() {
        for pair in [rsa_pair(), &pair(true)] {
            for alg in [MicAlg::Sha1, MicAlg::Sha256, MicAlg::Sha384, MicAlg::Sha512] {
                let content = pseudo_random(100_003, 8);
                let signature = crate::cms::sign(&content, alg, &pair.signer).expect("sign");
                let verified = run(&signature, &content, &pair.receiver).expect("good signature");
                assert_eq!(verified, Verified { mic_alg: Some(alg), length: 100_003 });
                let mut flipped = content.clone();
                flipped[50_000] ^= 1;
                assert!(matches!(run(&signature, &flipped, &pair.receiver), Err(VerifyError::DigestMismatch)));
            }
        }
    }

    #[test]
    fn verifies_openssl_signatures_with_and_without_attributes() {
        for pair in [rsa_pair(), &pair(true)] {
            for attributes in [true, false] {
                let content = b"Content-Type: application/edi-x12\r\n\r\nISA*00*~\r\n".repeat(2000);
                let signature = openssl_sign(&content, &pair.cert, &pair.key, attributes);
                let verified = run(&signature, &content, &pair.receiver).expect("good signature");
                assert_eq!(verified, Verified { mic_alg: Some(MicAlg::Sha256), length: content.len() as u64 });
                crate::cms::verify(&signature, &content, &pair.receiver).expect("openssl agrees");
                let mut flipped = content.clone();
                flipped[0] ^= 0x20;
                let error = run(&signature, &flipped, &pair.receiver).expect_err("tampered");
                let expected = if attributes { "content digest differs" } else { "bad signature" };
                assert!(error.to_string().contains(expected), "{error}");
                assert!(run(&signature, b"", &pair.receiver).is_err());
            }
        }
    }

    #[test]
    fn refuses_other_signers_truncation_and_attached_content() {
        let pair = rsa_pair();
        let content = b"the signed entity";
        let (other_cert, other_key) = identity("partner");
        for attributes in [true, false] {
            let impostor = openssl_sign(content, &other_cert, &other_key, attributes);
            assert!(matches!(run(&impostor, content, &pair.receiver), Err(VerifyError::BadSignature)));
        }
        let ec = super::tests::pair(true);
        let by_ec = openssl_sign(content, &ec.cert, &ec.key, true);
        assert!(matches!(run(&by_ec, content, &pair.receiver), Err(VerifyError::KeyType)));
        let good = openssl_sign(content, &pair.cert, &pair.key, true);
        for cut in 0..good.len() {
            assert!(run(&good[..cut], content, &pair.receiver).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(run(&trailing, content, &pair.receiver).is_err());
        let cert = X509::from_pem(pair.cert.as_bytes()).expect("cert");
        let key: PKey<Private> = PKey::private_key_from_pem(pair.key.as_bytes()).expect("key");
        let attached = CmsContentInfo::sign(Some(&cert), Some(&key), None, Some(content), CMSOptions::BINARY)
            .expect("sign")
            .to_der()
            .expect("der");
        assert!(matches!(run(&attached, content, &pair.receiver), Err(VerifyError::NotDetached)));
        let enveloped = crate::cms::tests::encrypt_for(content, &pair.cert, openssl::symm::Cipher::aes_128_cbc());
        assert!(matches!(run(&enveloped, content, &pair.receiver), Err(VerifyError::NotSignedData)));
        assert!(matches!(run(&vec![0u8; MAX_SIGNATURE + 1], content, &pair.receiver), Err(VerifyError::TooLarge)));
    }

    /// The SignerInfos of a DER SignedData, and the SignedData rebuilt with others.
    fn signer_info_bytes(der: &[u8]) -> Vec<Vec<u8>> {
        let signed = Reader::new(der).next().expect("info").children().expect("fields");
        let mut signed = signed;
        signed.next().expect("oid");
        let mut fields = signed.next().expect("[0]").only_child().expect("sd").children().expect("fields");
        let mut last = None;
        while !fields.is_empty() {
            last = Some(fields.next().expect("field"));
        }
        let mut infos = last.expect("signerInfos").children().expect("infos");
        let mut out = Vec::new();
        while !infos.is_empty() {
            out.push(crate::der::tlv(SEQUENCE, infos.next().expect("info").content));
        }
        out
    }

    fn with_signer_infos(der: &[u8], infos: &[Vec<u8>]) -> Vec<u8> {
        let mut outer = Reader::new(der).next().expect("info").children().expect("fields");
        let oid = outer.next().expect("oid");
        let mut fields = outer.next().expect("[0]").only_child().expect("sd").children().expect("fields");
        let mut parts = Vec::new();
        while !fields.is_empty() {
            let field = fields.next().expect("field");
            parts.push(crate::der::tlv(field.tag, field.content));
        }
        parts.pop();
        let refs: Vec<&[u8]> = infos.iter().map(Vec::as_slice).collect();
        parts.push(constructed(SET, &refs));
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let signed = constructed(SEQUENCE, &refs);
        constructed(SEQUENCE, &[&crate::der::tlv(OID, oid.content), &constructed(CONTEXT_0, &[&signed])])
    }

    #[test]
    fn checks_every_signer_in_one_pass() {
        let pair = rsa_pair();
        let content = pseudo_random(200_000, 3);
        let sha1 = crate::cms::sign(&content, MicAlg::Sha1, &pair.signer).expect("sign");
        let sha512 = crate::cms::sign(&content, MicAlg::Sha512, &pair.signer).expect("sign");
        let plain = openssl_sign(&content, &pair.cert, &pair.key, false);
        let infos = [signer_info_bytes(&sha1), signer_info_bytes(&sha512), signer_info_bytes(&plain)].concat();
        assert_eq!(infos.len(), 3);
        let three = with_signer_infos(&sha1, &infos);
        let verified = run(&three, &content, &pair.receiver).expect("three good signers");
        assert_eq!(verified.mic_alg, Some(MicAlg::Sha1));
        let (other_cert, other_key) = identity("other");
        let impostor = signer_info_bytes(&openssl_sign(&content, &other_cert, &other_key, true));
        let mixed = with_signer_infos(&sha1, &[infos[0].clone(), impostor[0].clone()]);
        assert!(matches!(run(&mixed, &content, &pair.receiver), Err(VerifyError::BadSignature)));
        assert!(matches!(run(&with_signer_infos(&sha1, &[]), &content, &pair.receiver), Err(VerifyError::NoSigner)));
        let many = vec![infos[0].clone(); MAX_SIGNERS + 1];
        assert!(matches!(
            run(&with_signer_infos(&sha1, &many), &content, &pair.receiver),
            Err(VerifyError::TooManySigners)
        ));
    }

    fn parse(der: &[u8]) -> Tlv<'_> {
        Reader::new(der).next().expect("tlv")
    }

    #[test]
    fn refuses_unsupported_algorithms() {
        let algorithm = |oid: &[u8]| constructed(SEQUENCE, &[&crate::der::tlv(OID, oid), &crate::der::tlv(NULL, &[])]);
        let md5 = algorithm(MD5);
        assert!(
            matches!(digest_algorithm(parse(&md5)), Err(VerifyError::UnsupportedAlgorithm(s)) if s.contains("md5"))
        );
        let sha224 = algorithm(SHA224);
        assert!(digest_algorithm(parse(&sha224)).is_ok_and(|d| d.mic_alg.is_none()));
        let pss = algorithm(&[PKCS1, &[0x0a]].concat());
        assert!(matches!(
            signature_algorithm(parse(&pss)),
            Err(VerifyError::UnsupportedAlgorithm(s)) if s == "1.2.840.113549.1.1.10"
        ));
        let sha256_rsa = algorithm(&[PKCS1, &[0x0b]].concat());
        assert!(signature_algorithm(parse(&sha256_rsa)).is_ok_and(|a| a.key == Id::RSA && a.digest == Some(SHA256)));
        let ecdsa384 = algorithm(&[ECDSA_WITH, &[0x03, 0x03]].concat());
        assert!(signature_algorithm(parse(&ecdsa384)).is_ok_and(|a| a.key == Id::EC && a.digest == Some(SHA384)));
        // A SignerInfo whose signature algorithm names another digest.
        let pair = rsa_pair();
        let der = crate::cms::sign(b"x", MicAlg::Sha256, &pair.signer).expect("sign");
        let rsa = algorithm(RSA_ENCRYPTION);
        let at = der.windows(rsa.len()).rposition(|w| w == rsa).expect("rsaEncryption"); // the SignerInfo's, after the certificate's
        let mut mismatched = der.clone();
        mismatched[at + 4 + PKCS1.len()] = 0x0c; // sha384WithRSAEncryption
        let result = run(&mismatched, b"x", &pair.receiver);
        assert!(matches!(result, Err(VerifyError::AlgorithmMismatch)), "{result:?}");
        mismatched[at + 4 + PKCS1.len()] = 0x0b; // sha256WithRSAEncryption: consistent
        run(&mismatched, b"x", &pair.receiver).expect("sha256WithRSAEncryption");
    }

    #[test]
    fn checks_signed_attributes() {
        let attribute = |oid: &[u8], value: &[u8]| {
            constructed(SEQUENCE, &[&crate::der::tlv(OID, oid), &constructed(SET, &[value])])
        };
        let digest = crate::der::tlv(OCTET_STRING, b"0123");
        let data = crate::der::tlv(OID, ID_DATA);
        let other = crate::der::tlv(OID, ID_SIGNED_DATA);
        assert_eq!(
            signed_attributes(&[attribute(ID_MESSAGE_DIGEST, &digest), attribute(ID_CONTENT_TYPE, &data)].concat())
                .ok(),
            Some(&b"0123"[..])
        );
        assert!(matches!(
            signed_attributes(&attribute(ID_CONTENT_TYPE, &data)),
            Err(VerifyError::MessageDigestAttribute)
        ));
        let twice = [attribute(ID_MESSAGE_DIGEST, &digest), attribute(ID_MESSAGE_DIGEST, &digest)].concat();
        assert!(matches!(signed_attributes(&twice), Err(VerifyError::MessageDigestAttribute)));
        let wrong_type = [attribute(ID_MESSAGE_DIGEST, &digest), attribute(ID_CONTENT_TYPE, &other)].concat();
        assert!(matches!(signed_attributes(&wrong_type), Err(VerifyError::ContentType)));
    }

    /// A reader that fails half-way.
    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk gone"));
            }
            let n = self.0.min(buf.len());
            self.0 -= n;
            buf[..n].fill(b'x');
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_is_an_error() {
        let pair = rsa_pair();
        let signature = crate::cms::sign(&[b'x'; 10], MicAlg::Sha256, &pair.signer).expect("sign");
        assert!(matches!(verify(&signature, &mut Failing(10), &pair.receiver), Err(VerifyError::Read(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_signatures_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = verify(&bytes, &mut &b"content"[..], &rsa_pair().receiver);
        }

        #[test]
        fn mutated_signatures_never_panic(at in any::<usize>(), byte in any::<u8>(), cut in 0usize..3) {
            static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let der = DER.get_or_init(|| crate::cms::sign(b"content", MicAlg::Sha256, &rsa_pair().signer).expect("sign"));
            let mut der = der.clone();
            let at = at % der.len();
            der[at] = byte;
            der.truncate(der.len() - cut);
            let _ = verify(&der, &mut &b"content"[..], &rsa_pair().receiver);
        }
    }
}
