//! Taking an AS2 message apart (RFC 4130 §3, RFC 5402): peel encryption, signature
//! and compression layers in whatever order the sender nested them, check the
//! partnership's security policy, and compute the MIC.
//!
//! Every layer is a [`FileRegion`]: the request body is a scratch file, decrypting
//! and inflating write the next scratch file, a signed part or an entity's body is
//! a region of the file it is in (see [`crate::scratch`]). Memory stays at a few
//! buffers whatever the message's size; the crypto streams (`decrypt_stream`,
//! `verify_stream`, `inflate_stream`). Blocking: run it off the async workers.

use std::io::{self, Write};

use partner::FileRegion;

use crate::cms::{CmsKind, Keys};
use crate::mdn::ErrorKind;
use crate::mic::{Mic, MicAlg};
use crate::mime::{Headers, parse_entity};
use crate::mime_file::{FileMimeError, decode_in, multipart_parts_in, parse_entity_in};
use crate::scratch::{Hashing, Scratch, mic_of};
use crate::{ber_stream, decrypt_stream, inflate_stream, verify_stream};

/// Most layers peeled before giving up (pyas2lib nests at most three).
const MAX_LAYERS: usize = 8;
/// Largest signature part of a `multipart/signed` (certificates included).
const MAX_SIGNATURE_PART: usize = 1 << 20;
/// Bytes looked at to tell a `pkcs7-mime` without `smime-type` apart.
const SNIFF_BYTES: u64 = 64;

/// What the partnership and the MDN request demand of one message.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub require_signed: bool,
    pub require_encrypted: bool,
    /// The MIC algorithm the sender asked for (`signed-receipt-micalg`).
    pub micalg: Option<MicAlg>,
    /// Largest decompressed content.
    pub limit: u64,
}

/// A message taken apart.
#[derive(Debug, Clone)]
pub(crate) struct Unwrapped {
    pub payload: FileRegion,
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
    /// Our side failed (a scratch file could not be written): not the partner's
    /// fault, so no negative MDN — it should retry (HTTP 503).
    #[error("local error: {0}")]
    Local(String),
}

impl Failure {
    /// The MDN's error modifier; `None` for a local failure (no MDN).
    pub(crate) fn kind(&self) -> Option<ErrorKind> {
        match self {
            Failure::Decryption(_) => Some(ErrorKind::DecryptionFailed),
            Failure::Authentication(_) => Some(ErrorKind::AuthenticationFailed),
            Failure::Decompression(_) => Some(ErrorKind::DecompressionFailed),
            Failure::InsufficientSecurity(_) => Some(ErrorKind::InsufficientMessageSecurity),
            Failure::Unexpected(_) => Some(ErrorKind::UnexpectedProcessingError),
            Failure::Local(_) => None,
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Local(error.to_string())
    }
}

fn unexpected(error: impl std::fmt::Display) -> Failure {
    Failure::Unexpected(error.to_string())
}

/// A MIME problem becomes `as_failure`; a scratch-file problem stays local.
fn mime_failure(as_failure: fn(String) -> Failure) -> impl Fn(FileMimeError) -> Failure {
    move |error| match error {
        FileMimeError::Mime(error) => as_failure(error.to_string()),
        FileMimeError::Io(error) => Failure::from(error),
    }
}

/// One layer of the message, judged by its headers (and the first bytes of a
/// `pkcs7-mime` that does not say what it is).
enum Layer {
    /// The CMS, transfer encoding decoded.
    Enveloped(FileRegion),
    Compressed(FileRegion),
    Signed {
        boundary: String,
        micalg: Option<MicAlg>,
    },
    Payload,
}

fn classify(headers: &Headers, body: &FileRegion, scratch: &Scratch) -> Result<Layer, Failure> {
    let content_type = headers.content_type();
    match content_type.value.as_str() {
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => {
            let smime_type = content_type.param("smime-type").map(str::to_ascii_lowercase);
            match smime_type.as_deref() {
                Some("enveloped-data") => {
                    Ok(Layer::Enveloped(decode_in(headers, body, scratch).map_err(mime_failure(Failure::Decryption))?))
                }
                Some("compressed-data") => Ok(Layer::Compressed(
                    decode_in(headers, body, scratch).map_err(mime_failure(Failure::Decompression))?,
                )),
                _ => {
                    let der = decode_in(headers, body, scratch).map_err(mime_failure(Failure::Unexpected))?;
                    match ber_stream::sniff(&der.slice(0, SNIFF_BYTES).to_vec(SNIFF_BYTES as usize)?) {
                        CmsKind::Enveloped => Ok(Layer::Enveloped(der)),
                        CmsKind::Compressed => Ok(Layer::Compressed(der)),
                        CmsKind::Signed => Err(unexpected("opaque signed-data is not supported")),
                        CmsKind::Other => Err(unexpected("pkcs7-mime of an unknown content type")),
                    }
                }
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
/// the outermost entity), `body` the request body. Scratch files for new layers
/// go to `scratch`; the payload is a region of one of them (or of `body`).
pub(crate) fn unwrap(
    headers: &Headers,
    body: &FileRegion,
    keys: &Keys,
    policy: &Policy,
    scratch: &Scratch,
) -> Result<Unwrapped, Failure> {
    let mut seen = Seen::default();
    let mut inner: Option<FileRegion> = None;
    for _ in 0..MAX_LAYERS {
        let (layer_headers, layer_body) = match &inner {
            None => (headers.clone(), body.clone()),
            Some(entity) => parse_entity_in(entity).map_err(mime_failure(Failure::Unexpected))?,
        };
        let next = match classify(&layer_headers, &layer_body, scratch)? {
            Layer::Enveloped(der) => decrypt_layer(&der, keys, policy, &mut seen, scratch)?,
            Layer::Compressed(der) => decompress_layer(&der, policy, &mut seen, scratch)?,
            Layer::Signed { boundary, micalg } => {
                verify_layer(&layer_body, &boundary, micalg, keys, policy, &mut seen)?
            }
            Layer::Payload => {
                check_policy(&seen, policy)?;
                let payload =
                    decode_in(&layer_headers, &layer_body, scratch).map_err(mime_failure(Failure::Unexpected))?;
                let mic = match (seen.signed_mic, seen.decrypted_mic) {
                    (Some(mic), _) | (None, Some(mic)) => mic,
                    (None, None) => received_mic(headers, body, policy)?,
                };
                return Ok(Unwrapped {
                    payload,
                    filename: layer_headers.filename(),
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
    der: &FileRegion,
    keys: &Keys,
    policy: &Policy,
    seen: &mut Seen,
    scratch: &Scratch,
) -> Result<FileRegion, Failure> {
    let wants_mic = seen.decrypted_mic.is_none() && !seen.signed;
    let alg = wants_mic.then(|| policy.micalg.unwrap_or(MicAlg::Sha256));
    let mut mic = None;
    let plain = scratch.write(|out| {
        let mut out = Hashing::new(out, alg)?;
        decrypt_stream::decrypt(&mut der.reader(), keys, &mut out).map_err(decrypt_failure)?;
        out.flush()?;
        mic = out.finish()?;
        Ok::<_, Failure>(())
    })?;
    seen.decrypted_mic = seen.decrypted_mic.take().or(mic);
    seen.encrypted = true;
    Ok(plain)
}

fn decompress_layer(
    der: &FileRegion,
    policy: &Policy,
    seen: &mut Seen,
    scratch: &Scratch,
) -> Result<FileRegion, Failure> {
    let inflated = scratch.write(|out| {
        inflate_stream::inflate(&mut der.reader(), out, policy.limit).map_err(inflate_failure)?;
        Ok::<_, Failure>(())
    })?;
    seen.compressed = true;
    Ok(inflated)
}

/// A `multipart/signed`: the first part is the signed entity, byte for byte (a
/// region of `body`, not a copy); the second the detached signature.
fn verify_layer(
    body: &FileRegion,
    boundary: &str,
    micalg: Option<MicAlg>,
    keys: &Keys,
    policy: &Policy,
    seen: &mut Seen,
) -> Result<FileRegion, Failure> {
    let parts = multipart_parts_in(body, boundary).map_err(mime_failure(Failure::Unexpected))?;
    let [(signed_at, signed_len), (signature_at, signature_len), ..] = parts.as_slice() else {
        return Err(unexpected("multipart/signed with fewer than two parts"));
    };
    let signed = body.slice(*signed_at, *signed_len);
    let der = signature_der(&body.slice(*signature_at, *signature_len))?;
    let alg = (!seen.signed).then(|| policy.micalg.or(micalg).unwrap_or(MicAlg::Sha256));
    let mut content = Hashing::new(signed.reader(), alg)?;
    verify_stream::verify(&der, &mut content, keys).map_err(verify_failure)?;
    if alg.is_some() {
        seen.signed_mic = if content.count() == signed.len() {
            content.finish()?
        } else {
            alg.map(|alg| mic_of(alg, b"", &signed)).transpose()?
        };
    }
    seen.signed = true;
    Ok(signed)
}

/// The DER of the signature part of a `multipart/signed`.
fn signature_der(part: &FileRegion) -> Result<Vec<u8>, Failure> {
    let authentication = |error: &dyn std::fmt::Display| Failure::Authentication(error.to_string());
    let raw = part.to_vec(MAX_SIGNATURE_PART).map_err(|e| authentication(&e))?;
    let entity = parse_entity(&raw).map_err(|e| authentication(&e))?;
    let signature_type = entity.headers.content_type().value;
    if signature_type != "application/pkcs7-signature" && signature_type != "application/x-pkcs7-signature" {
        return Err(Failure::Authentication(format!("signature part is {signature_type}")));
    }
    Ok(entity.headers.decode(entity.body).map_err(|e| authentication(&e))?.into_owned())
}

/// Writing the scratch file is our problem (local); anything else the message's.
fn decrypt_failure(error: decrypt_stream::DecryptError) -> Failure {
    match error {
        decrypt_stream::DecryptError::Write(error) => Failure::from(error),
        other => Failure::Decryption(other.to_string()),
    }
}

fn inflate_failure(error: inflate_stream::InflateError) -> Failure {
    match error {
        inflate_stream::InflateError::Write(error) => Failure::from(error),
        other => Failure::Decompression(other.to_string()),
    }
}

/// The content is read from our scratch file: a read error is local.
fn verify_failure(error: verify_stream::VerifyError) -> Failure {
    match error {
        verify_stream::VerifyError::Read(error) => Failure::from(error),
        other => Failure::Authentication(other.to_string()),
    }
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
fn received_mic(headers: &Headers, body: &FileRegion, policy: &Policy) -> Result<Mic, Failure> {
    let prefix = [content_header_block(headers), b"\r\n".to_vec()].concat();
    Ok(mic_of(policy.micalg.unwrap_or(MicAlg::Sha256), &prefix, body)?)
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

#[cfg(test)]
mod tests {
    use openssl::symm::Cipher;
    use partner::As2Partnership;
    use proptest::prelude::*;

    use super::*;
    use crate::cms::tests::{encrypt_for, identity, partner_sign, partnership};
    use crate::compress;
    use crate::scratch::tests::region;

    /// [`super::unwrap`] of a body in memory.
    fn unwrap(headers: &Headers, body: &[u8], keys: &Keys, policy: &Policy) -> Result<Unwrapped, Failure> {
        super::unwrap(headers, &region(body), keys, policy, &Scratch::new(std::env::temp_dir()))
    }

    fn payload(unwrapped: &Unwrapped) -> Vec<u8> {
        unwrapped.payload.to_vec(1 << 30).expect("payload")
    }

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
        assert_eq!(payload(&unwrapped), PAYLOAD);
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
        assert_eq!(failure.kind(), Some(ErrorKind::AuthenticationFailed), "{failure}");
        let (other_cert, other_key) = identity("impostor");
        let (content_type, body) = signed(&payload_entity(), &other_cert, &other_key);
        let failure = unwrap(&headers(&content_type), &body, &f.keys, &policy()).expect_err("impostor");
        assert_eq!(failure.kind(), Some(ErrorKind::AuthenticationFailed), "{failure}");
    }

    #[test]
    fn message_for_another_certificate_is_a_decryption_failure() {
        let f = fixture();
        let der = encrypt_for(&payload_entity(), &f.partner_cert, Cipher::aes_128_cbc());
        let failure = unwrap(&headers("application/pkcs7-mime; smime-type=enveloped-data"), &der, &f.keys, &policy())
            .expect_err("not for us");
        assert_eq!(failure.kind(), Some(ErrorKind::DecryptionFailed), "{failure}");
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
        assert_eq!((payload(&unwrapped).as_slice(), unwrapped.compressed), (PAYLOAD, true));
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&compressed]).expect("mic"));
        // compress(sign(payload)), no smime-type: sniffed.
        let (content_type, body) = signed(&payload_entity(), &f.partner_cert, &f.partner_key);
        let der = compress::compress(&as_entity(&content_type, &body)).expect("compress");
        let unwrapped = unwrap(&headers("application/pkcs7-mime"), &der, &f.keys, &policy()).expect("unwrapped");
        assert_eq!((payload(&unwrapped).as_slice(), unwrapped.signed), (PAYLOAD, true));
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&payload_entity()]).expect("mic"));
    }

    #[test]
    fn compressed_only_mic_covers_the_received_entity() {
        let f = fixture();
        let der = compress::compress(&payload_entity()).expect("compress");
        let h = headers("application/pkcs7-mime; smime-type=compressed-data");
        let unwrapped = unwrap(&h, &der, &f.keys, &policy()).expect("unwrapped");
        assert_eq!((payload(&unwrapped).as_slice(), unwrapped.compressed), (PAYLOAD, true));
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
        assert_eq!(failure.kind(), Some(ErrorKind::DecompressionFailed), "{failure}");
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
        assert_eq!(payload(&unwrapped), b"ISA*00");
        let block = b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: base64\r\n\r\n";
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[block, body]).expect("mic"));
        assert!(!unwrapped.signed && !unwrapped.encrypted);
        for strict in [Policy { require_signed: true, ..policy() }, Policy { require_encrypted: true, ..policy() }] {
            let failure = unwrap(&headers, body, &f.keys, &strict).expect_err("policy");
            assert_eq!(failure.kind(), Some(ErrorKind::InsufficientMessageSecurity));
        }
        // Encrypted but unsigned: the MIC covers the decrypted entity.
        let der = encrypt_for(&payload_entity(), &f.partnership.our_cert_pem, Cipher::aes_256_cbc());
        let encrypted = Headers::from_pairs(vec![("Content-Type".into(), "application/pkcs7-mime".into())]);
        let unwrapped = unwrap(&encrypted, &der, &f.keys, &Policy { require_encrypted: true, ..policy() }).expect("ok");
        assert_eq!(unwrapped.mic, Mic::of(MicAlg::Sha256, &[&payload_entity()]).expect("mic"));
        let failure = unwrap(&encrypted, &der, &f.keys, &Policy { require_signed: true, ..policy() }).expect_err("x");
        assert_eq!(failure.kind(), Some(ErrorKind::InsufficientMessageSecurity));
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
            assert_eq!(failure.kind(), Some(ErrorKind::UnexpectedProcessingError), "{pairs:?}: {failure}");
        }
        let wrong_protocol = headers("multipart/signed; protocol=\"application/pgp-signature\"; boundary=x");
        let failure = unwrap(&wrong_protocol, b"--x\r\n\r\n--x--", &f.keys, &policy()).expect_err("pgp");
        assert_eq!(failure.kind(), Some(ErrorKind::AuthenticationFailed));
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
