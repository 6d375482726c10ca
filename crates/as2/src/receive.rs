//! Taking an AS2 message apart (RFC 4130 §3, RFC 5402): peel encryption, signature
//! and compression layers in whatever order the sender nested them, check the
//! partnership's security policy, and compute the MIC. Pure: bytes in, payload or
//! failure out.

use crate::cms::{self, CmsKind, Keys, SignedError};
use crate::compress;
use crate::mdn::ErrorKind;
use crate::mic::{Mic, MicAlg};
use crate::mime::{Headers, parse_entity};

/// Most layers peeled before giving up (pyas2lib nests at most three).
const MAX_LAYERS: usize = 8;

/// What the partnership and the MDN request demand of one message.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub require_signed: bool,
    pub require_encrypted: bool,
    /// The MIC algorithm the sender asked for (`signed-receipt-micalg`).
    pub micalg: Option<MicAlg>,
    /// Largest decompressed content.
    pub limit: usize,
}

/// A message taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unwrapped {
    pub payload: Vec<u8>,
    pub filename: Option<String>,
    pub mic: Mic,
    pub signed: bool,
    pub encrypted: bool,
    pub compressed: bool,
}

/// Why a message was refused; the text is for the log (never payload bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    #[error("decryption failed: {0}")]
    Decryption(String),
    #[error("authentication failed: {0}")]
    Authentication(String),
    #[error("decompression failed: {0}")]
    Decompression(String),
    #[error("insufficient message security: {0}")]
    InsufficientSecurity(&'static str),
    #[error("unexpected processing error: {0}")]
    Unexpected(String),
}

impl Failure {
    /// The MDN's error modifier.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Failure::Decryption(_) => ErrorKind::DecryptionFailed,
            Failure::Authentication(_) => ErrorKind::AuthenticationFailed,
            Failure::Decompression(_) => ErrorKind::DecompressionFailed,
            Failure::InsufficientSecurity(_) => ErrorKind::InsufficientMessageSecurity,
            Failure::Unexpected(_) => ErrorKind::UnexpectedProcessingError,
        }
    }
}

fn unexpected(error: impl std::fmt::Display) -> Failure {
    Failure::Unexpected(error.to_string())
}

/// One layer of the message, judged by its headers.
enum Layer {
    Enveloped,
    Compressed,
    Signed { boundary: String, micalg: Option<MicAlg> },
    Payload,
}

fn classify(headers: &Headers, body: &[u8]) -> Result<Layer, Failure> {
    let content_type = headers.content_type();
    match content_type.value.as_str() {
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let smime_type = content_type.param("smime-type").map(str::to_ascii_lowercase);
            let kind = match smime_type.as_deref() {
                Some("enveloped-data") => CmsKind::Enveloped,
                Some("compressed-data") => CmsKind::Compressed,
                _ => cms::kind(&headers.decode(body).map_err(unexpected)?),
            };
            match kind {
                CmsKind::Enveloped => Ok(Layer::Enveloped),
                CmsKind::Compressed => Ok(Layer::Compressed),
                CmsKind::Signed => Err(unexpected("opaque signed-data is not supported")),
                CmsKind::Other => Err(unexpected("pkcs7-mime of an unknown content type")),
            }
        }
        "multipart/signed" => {
            let protocol = content_type.param("protocol").unwrap_or_default().to_ascii_lowercase();
            if protocol != "application/pkcs7-signature" && protocol != "application/x-pkcs7-signature" {
                return Err(Failure::Authentication(format!("unsupported signature protocol {protocol:?}")));
            }
            let boundary =
                content_type.param("boundary").ok_or_else(|| unexpected("multipart/signed without boundary"))?;
            let micalg = content_type.param("micalg").and_then(MicAlg::parse);
            Ok(Layer::Signed { boundary: boundary.to_owned(), micalg })
        }
        _ => Ok(Layer::Payload),
    }
}

/// The layers seen so far and the MICs they give.
#[derive(Default)]
struct Seen {
    signed: bool,
    encrypted: bool,
    compressed: bool,
    signed_mic: Option<Mic>,
    decrypted_mic: Option<Mic>,
}

/// Takes a message apart: `headers` are the request's (its content headers describe
/// the outermost entity), `body` the request body.
pub(crate) fn unwrap(headers: &Headers, body: &[u8], keys: &Keys, policy: &Policy) -> Result<Unwrapped, Failure> {
    let (outer_headers, outer_body) = (headers, body);
    let mut seen = Seen::default();
    let mut inner: Option<Vec<u8>> = None;
    for _ in 0..MAX_LAYERS {
        let entity = match &inner {
            None => None,
            Some(bytes) => Some(parse_entity(bytes).map_err(unexpected)?),
        };
        let (headers, body) = match &entity {
            None => (outer_headers, outer_body),
            Some(entity) => (&entity.headers, entity.body),
        };
        let next = match classify(headers, body)? {
            Layer::Enveloped => decrypt_layer(headers, body, keys, policy, &mut seen)?,
            Layer::Compressed => decompress_layer(headers, body, policy, &mut seen)?,
            Layer::Signed { boundary, micalg } => verify_layer(body, &boundary, micalg, keys, policy, &mut seen)?,
            Layer::Payload => {
                check_policy(&seen, policy)?;
                let payload = headers.decode(body).map_err(unexpected)?.into_owned();
                let mic = match (seen.signed_mic, seen.decrypted_mic) {
                    (Some(mic), _) | (None, Some(mic)) => mic,
                    (None, None) => received_mic(outer_headers, outer_body, policy)?,
                };
                return Ok(Unwrapped {
                    payload,
                    filename: headers.filename(),
                    mic,
                    signed: seen.signed,
                    encrypted: seen.encrypted,
                    compressed: seen.compressed,
                });
            }
        };
        inner = Some(next);
    }
    Err(Failure::Unexpected(format!("more than {MAX_LAYERS} nested layers")))
}

fn decrypt_layer(
    headers: &Headers,
    body: &[u8],
    keys: &Keys,
    policy: &Policy,
    seen: &mut Seen,
) -> Result<Vec<u8>, Failure> {
    let der = headers.decode(body).map_err(|e| Failure::Decryption(e.to_string()))?;
    let plain = cms::decrypt(&der, keys).map_err(|e| Failure::Decryption(e.to_string()))?;
    if seen.decrypted_mic.is_none() && !seen.signed {
        seen.decrypted_mic = Some(mic(policy.micalg.unwrap_or(MicAlg::Sha256), &[&plain])?);
    }
    seen.encrypted = true;
    Ok(plain)
}

fn decompress_layer(headers: &Headers, body: &[u8], policy: &Policy, seen: &mut Seen) -> Result<Vec<u8>, Failure> {
    let der = headers.decode(body).map_err(|e| Failure::Decompression(e.to_string()))?;
    let inflated = compress::decompress(&der, policy.limit).map_err(|e| Failure::Decompression(e.to_string()))?;
    seen.compressed = true;
    Ok(inflated)
}

/// A `multipart/signed`: the first part is the signed entity, byte for byte; the
/// second the detached signature.
fn verify_layer(
    body: &[u8],
    boundary: &str,
    micalg: Option<MicAlg>,
    keys: &Keys,
    policy: &Policy,
    seen: &mut Seen,
) -> Result<Vec<u8>, Failure> {
    let signed = cms::verify_multipart(body, boundary, keys).map_err(|error| match error {
        SignedError::Structure(e) => unexpected(e),
        SignedError::Signature(e) => Failure::Authentication(e),
    })?;
    if !seen.signed {
        let alg = policy.micalg.or(micalg).unwrap_or(MicAlg::Sha256);
        seen.signed_mic = Some(mic(alg, &[signed])?);
    }
    seen.signed = true;
    Ok(signed.to_vec())
}

fn check_policy(seen: &Seen, policy: &Policy) -> Result<(), Failure> {
    if policy.require_encrypted && !seen.encrypted {
        return Err(Failure::InsufficientSecurity("the partnership requires encrypted messages"));
    }
    if policy.require_signed && !seen.signed {
        return Err(Failure::InsufficientSecurity("the partnership requires signed messages"));
    }
    Ok(())
}

/// The MIC of a message neither signed nor encrypted: over the received entity.
fn received_mic(headers: &Headers, body: &[u8], policy: &Policy) -> Result<Mic, Failure> {
    mic(policy.micalg.unwrap_or(MicAlg::Sha256), &[&content_header_block(headers), b"\r\n", body])
}

/// The MIME header fields of an entity (RFC 2045 §3 and RFC 2183); HTTP's own
/// `Content-Length` / `Content-Encoding` are transport, not content.
const MIME_CONTENT_HEADERS: [&str; 5] =
    ["content-type", "content-transfer-encoding", "content-disposition", "content-id", "content-description"];

/// The MIME header block of the outermost entity, rebuilt from the request's MIME
/// content headers in received order (HTTP/1 lowercases names; MIME spells them
/// `Content-Type`).
fn content_header_block(headers: &Headers) -> Vec<u8> {
    let mut block = String::new();
    let is_mime = |name: &str| MIME_CONTENT_HEADERS.iter().any(|mime| mime.eq_ignore_ascii_case(name));
    for (name, value) in headers.iter().filter(|(name, _)| is_mime(name)) {
        let mut upper = true;
        for c in name.chars() {
            block.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
            upper = c == '-';
        }
        block.push_str(": ");
        block.push_str(value);
        block.push_str("\r\n");
    }
    block.into_bytes()
}

fn mic(alg: MicAlg, parts: &[&[u8]]) -> Result<Mic, Failure> {
    Mic::of(alg, parts).map_err(unexpected)
}

#[cfg(test)]
mod tests {
    use openssl::symm::Cipher;
    use partner::As2Partnership;
    use proptest::prelude::*;

    use super::*;
    use crate::cms::tests::{encrypt_for, identity, partner_sign, partnership};

    const PAYLOAD: &[u8] = b"ISA*00*          *00*          *ZZ*ACME\r\nbinary \x00\xff\r\n";

    fn policy() -> Policy {
        Policy { require_signed: false, require_encrypted: false, micalg: None, limit: 1 << 20 }
    }

    fn headers(content_type: &str) -> Headers {
        Headers::from_pairs(vec![("content-type".into(), content_type.into())])
    }

    /// The payload entity as pyas2lib builds it (octet-stream, binary, a filename).
    fn payload_entity() -> Vec<u8> {
        [
            &b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
               Content-Disposition: attachment; filename=\"order.edi\"\r\n\r\n"[..],
            PAYLOAD,
        ]
        .concat()
    }

    /// `multipart/signed` over `entity`: (content type, body).
    fn signed(entity: &[u8], cert: &str, key: &str) -> (String, Vec<u8>) {
        let signature = partner_sign(entity, cert, key);
        let body = [
            &b"--sig\r\n"[..],
            entity,
            b"\r\n--sig\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
              Content-Transfer-Encoding: base64\r\n\r\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signature).as_bytes(),
            b"\r\n--sig--\r\n",
        ]
        .concat();
        ("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"sig\"".into(), body)
    }

    fn as_entity(content_type: &str, body: &[u8]) -> Vec<u8> {
        [format!("Content-Type: {content_type}\r\n\r\n").as_bytes(), body].concat()
    }

    struct Fixture {
        partnership: As2Partnership,
        partner_cert: String,
        partner_key: String,
        keys: Keys,
    }

    fn fixture() -> Fixture {
        let (partnership, partner_cert, partner_key) = partnership();
        let keys = Keys::load(&partnership).expect("keys");
        Fixture { partnership, partner_cert, partner_key, keys }
    }

    /// encrypt(sign(payload)), as pyas2lib sends by default.
    fn signed_and_encrypted(f: &Fixture) -> (Headers, Vec<u8>) {
        let (content_type, body) = signed(&payload_entity(), &f.partner_cert, &f.partner_key);
        let der = encrypt_for(&as_entity(&content_type, &body), &f.partnership.our_cert_pem, Cipher::aes_256_cbc());
        (headers("application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\""), der)
    }

    #[test]
    fn signed_and_encrypted_round_trip() {
        let f = fixture();
        let (headers, body) = signed_and_encrypted(&f);
        let strict = Policy { require_signed: true, require_encrypted: true, ..policy() };
        let unwrapped = unwrap(&headers, &body, &f.keys, &strict).expect("unwrapped");
        assert_eq!(unwrapped.payload, PAYLOAD);
        assert_eq!(unwrapped.filename.as_deref(), Some("order.edi"));
        assert!(unwrapped.signed && unwrapped.encrypted && !unwrapped.compressed);
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&payload_entity()]).expect("mic"));
    }

    #[test]
    fn mic_follows_the_requested_algorithm() {
        let f = fixture();
        let (headers, body) = signed_and_encrypted(&f);
        let sha1 = Policy { micalg: Some(MicAlg::Sha1), ..policy() };
        let unwrapped = unwrap(&headers, &body, &f.keys, &sha1).expect("unwrapped");
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha1, &[&payload_entity()]).expect("mic"));
    }

    #[test]
    fn tampered_signature_is_an_authentication_failure() {
        let f = fixture();
        let (content_type, mut body) = signed(&payload_entity(), &f.partner_cert, &f.partner_key);
        let at = body.windows(4).position(|w| w == b"ISA*").expect("payload");
        body[at] = b'J';
        let failure = unwrap(&headers(&content_type), &body, &f.keys, &policy()).expect_err("tampered");
        assert_eq!(failure.kind(), ErrorKind::AuthenticationFailed, "{failure}");
        let (other_cert, other_key) = identity("impostor");
        let (content_type, body) = signed(&payload_entity(), &other_cert, &other_key);
        let failure = unwrap(&headers(&content_type), &body, &f.keys, &policy()).expect_err("impostor");
        assert_eq!(failure.kind(), ErrorKind::AuthenticationFailed, "{failure}");
    }

    #[test]
    fn message_for_another_certificate_is_a_decryption_failure() {
        let f = fixture();
        let der = encrypt_for(&payload_entity(), &f.partner_cert, Cipher::aes_128_cbc());
        let failure = unwrap(&headers("application/pkcs7-mime; smime-type=enveloped-data"), &der, &f.keys, &policy())
            .expect_err("not for us");
        assert_eq!(failure.kind(), ErrorKind::DecryptionFailed, "{failure}");
    }

    #[test]
    fn compressed_layers_in_either_order() {
        let f = fixture();
        let compressed = as_entity(
            "application/pkcs7-mime; smime-type=compressed-data; name=\"smime.p7z\"",
            &compress::compress(&payload_entity()).expect("compress"),
        );
        // sign(compress(payload)), then encrypt: pyas2lib's order.
        let (content_type, body) = signed(&compressed, &f.partner_cert, &f.partner_key);
        let der = encrypt_for(&as_entity(&content_type, &body), &f.partnership.our_cert_pem, Cipher::des_ede3_cbc());
        let unwrapped = unwrap(&headers("application/pkcs7-mime; smime-type=enveloped-data"), &der, &f.keys, &policy())
            .expect("unwrapped");
        assert_eq!((unwrapped.payload.as_slice(), unwrapped.compressed), (PAYLOAD, true));
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&compressed]).expect("mic"));
        // compress(sign(payload)), no smime-type: sniffed.
        let (content_type, body) = signed(&payload_entity(), &f.partner_cert, &f.partner_key);
        let der = compress::compress(&as_entity(&content_type, &body)).expect("compress");
        let unwrapped = unwrap(&headers("application/pkcs7-mime"), &der, &f.keys, &policy()).expect("unwrapped");
        assert_eq!((unwrapped.payload.as_slice(), unwrapped.signed), (PAYLOAD, true));
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&payload_entity()]).expect("mic"));
    }

    #[test]
    fn compressed_only_mic_covers_the_received_entity() {
        let f = fixture();
        let der = compress::compress(&payload_entity()).expect("compress");
        let h = headers("application/pkcs7-mime; smime-type=compressed-data");
        let unwrapped = unwrap(&h, &der, &f.keys, &policy()).expect("unwrapped");
        assert_eq!((unwrapped.payload.as_slice(), unwrapped.compressed), (PAYLOAD, true));
        let block = b"Content-Type: application/pkcs7-mime; smime-type=compressed-data\r\n\r\n";
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[block, &der]).expect("mic"));
    }

    #[test]
    fn corrupt_compression_is_a_decompression_failure() {
        let f = fixture();
        let mut der = compress::compress(&payload_entity()).expect("compress");
        let last = der.len() - 6;
        der[last] ^= 0x55;
        let failure = unwrap(&headers("application/pkcs7-mime; smime-type=compressed-data"), &der, &f.keys, &policy())
            .expect_err("corrupt");
        assert_eq!(failure.kind(), ErrorKind::DecompressionFailed, "{failure}");
    }

    #[test]
    fn plain_messages_and_the_security_policy() {
        let f = fixture();
        let headers = Headers::from_pairs(vec![
            ("content-type".into(), "application/edi-x12".into()),
            ("content-length".into(), "10".into()),
            ("content-transfer-encoding".into(), "base64".into()),
            ("as2-from".into(), "ACME".into()),
        ]);
        let body = b"SVNBKjAw\r\n";
        let unwrapped = unwrap(&headers, body, &f.keys, &policy()).expect("plain");
        assert_eq!(unwrapped.payload, b"ISA*00");
        let block = b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: base64\r\n\r\n";
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[block, body]).expect("mic"));
        assert!(!unwrapped.signed && !unwrapped.encrypted);
        for strict in [Policy { require_signed: true, ..policy() }, Policy { require_encrypted: true, ..policy() }] {
            let failure = unwrap(&headers, body, &f.keys, &strict).expect_err("policy");
            assert_eq!(failure.kind(), ErrorKind::InsufficientMessageSecurity);
        }
        // Encrypted but unsigned: the MIC covers the decrypted entity.
        let der = encrypt_for(&payload_entity(), &f.partnership.our_cert_pem, Cipher::aes_256_cbc());
        let encrypted = Headers::from_pairs(vec![("Content-Type".into(), "application/pkcs7-mime".into())]);
        let unwrapped = unwrap(&encrypted, &der, &f.keys, &Policy { require_encrypted: true, ..policy() }).expect("ok");
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&payload_entity()]).expect("mic"));
        let failure = unwrap(&encrypted, &der, &f.keys, &Policy { require_signed: true, ..policy() }).expect_err("x");
        assert_eq!(failure.kind(), ErrorKind::InsufficientMessageSecurity);
    }

    #[test]
    fn malformed_structures_are_unexpected_errors() {
        let f = fixture();
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8]);
        let cases: &[Case<'_>] = &[
            (&[("content-type", "multipart/signed; protocol=\"application/pkcs7-signature\"")], b"--x\r\n\r\n--x--"),
            (
                &[("content-type", "multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=x")],
                b"--x\r\nA: b\r\n\r\nc\r\n--x--",
            ),
            (&[("content-type", "application/pkcs7-mime")], b"not der"),
            (&[("content-type", "text/plain"), ("content-transfer-encoding", "x-unknown")], b""),
        ];
        for (pairs, body) in cases {
            let h = Headers::from_pairs(pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect());
            let failure = unwrap(&h, body, &f.keys, &policy()).expect_err("malformed");
            assert_eq!(failure.kind(), ErrorKind::UnexpectedProcessingError, "{pairs:?}: {failure}");
        }
        let wrong_protocol = headers("multipart/signed; protocol=\"application/pgp-signature\"; boundary=x");
        let failure = unwrap(&wrong_protocol, b"--x\r\n\r\n--x--", &f.keys, &policy()).expect_err("pgp");
        assert_eq!(failure.kind(), ErrorKind::AuthenticationFailed);
    }

    #[test]
    fn nesting_is_bounded() {
        let f = fixture();
        let mut der = compress::compress(&payload_entity()).expect("compress");
        for _ in 0..MAX_LAYERS {
            der = compress::compress(&as_entity("application/pkcs7-mime; smime-type=compressed-data", &der))
                .expect("compress");
        }
        let failure = unwrap(&headers("application/pkcs7-mime; smime-type=compressed-data"), &der, &f.keys, &policy())
            .expect_err("too deep");
        assert!(matches!(failure, Failure::Unexpected(_)), "{failure}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bodies_never_panic(
            content_type in prop_oneof![
                Just("application/pkcs7-mime; smime-type=enveloped-data"),
                Just("application/pkcs7-mime; smime-type=compressed-data"),
                Just("application/pkcs7-mime"),
                Just("multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b"),
                Just("application/octet-stream"),
            ],
            body in proptest::collection::vec(any::<u8>(), 0..1024),
        ) {
            let f = FIXTURE.with(|f| Keys::load(&f.partnership).expect("keys"));
            let _ = unwrap(&headers(content_type), &body, &f, &policy());
        }
    }

    thread_local! {
        static FIXTURE: Fixture = fixture();
    }
}
