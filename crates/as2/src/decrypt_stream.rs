//! Streaming decryption of a CMS `EnvelopedData` (RFC 5652 §6) with our key: the
//! input is read once through [`BerReader`], the plaintext written out in 64 KiB
//! chunks, so a message of any size costs a bounded amount of memory.
//!
//! ```text
//! ContentInfo ::= SEQUENCE { id-envelopedData, [0] EXPLICIT EnvelopedData ::= SEQUENCE {
//!   version, originatorInfo [0] IMPLICIT OPTIONAL (skipped),
//!   recipientInfos SET (read whole, ≤ 1 MiB),
//!   encryptedContentInfo SEQUENCE { contentType, contentEncryptionAlgorithm (IV),
//!     encryptedContent [0] IMPLICIT OCTET STRING (primitive or segmented: streamed) },
//!   unprotectedAttrs [1] IMPLICIT OPTIONAL (skipped) } }
//! ```
//!
//! **Recipients.** Key transport only (`KeyTransRecipientInfo`): the ones naming our
//! certificate (issuer and serial number, or subject key identifier) are tried, or
//! every one if none names it (some senders' identifiers differ), at most 16. Key encryption:
//! RSA PKCS#1 v1.5, or RSAES-OAEP with SHA-1/224/256/384/512 and MGF1 (label
//! allowed). Content encryption: AES-128/192/256-CBC and DES-EDE3-CBC; anything else
//! is [`DecryptError::UnsupportedAlgorithm`].
//!
//! **No oracle.** If no recipient yields a content key of the right length, a random
//! key is used and the content is still decrypted to its end (as openssl's CMS does
//! against Bleichenbacher's attack): a wrong key, bad RSA padding and bad CBC padding
//! all end in the same [`DecryptError::Failed`], after the same work. The output is
//! written as it is decrypted, so on any error the caller must discard it.

use std::io::{self, Read, Write};

use openssl::error::ErrorStack;
use openssl::md::{Md, MdRef};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};

use crate::ber_stream::{BerError, BerReader, CHUNK, CONTEXT_0_PRIMITIVE, ID_ENVELOPED_DATA, oid_string};
use crate::cms::Keys;
use crate::der::{CONTEXT_0, DerError, INTEGER, NULL, OCTET_STRING, OID, Reader, SEQUENCE, SET, Tlv};

/// Bound on the `recipientInfos` SET.
pub(crate) const MAX_RECIPIENT_INFOS: usize = 1 << 20;
/// Bound on an AlgorithmIdentifier.
const MAX_ALGORITHM: usize = 4096;
/// Most recipients tried with our key (an RSA private-key operation each).
const MAX_TRIALS: usize = 16;

/// rsaEncryption, id-RSAES-OAEP, id-mgf1, id-pSpecified (1.2.840.113549.1.1.{1,7,8,9}).
pub(crate) const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
pub(crate) const RSAES_OAEP: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07];
pub(crate) const MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
const P_SPECIFIED: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09];
/// aes128-CBC, aes192-CBC, aes256-CBC (2.16.840.1.101.3.4.1.{2,22,42}), des-ede3-cbc.
pub(crate) const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
pub(crate) const AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
pub(crate) const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
pub(crate) const DES_EDE3_CBC: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07];
/// sha1 (1.3.14.3.2.26) and sha224/256/384/512 (2.16.840.1.101.3.4.2.{4,1,2,3}).
pub(crate) const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
pub(crate) const SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];
pub(crate) const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
pub(crate) const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
pub(crate) const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];

/// Why an EnvelopedData could not be decrypted ("decryption-failed"), or the
/// plaintext not written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecryptError {
    #[error("malformed EnvelopedData: {0}")]
    Ber(#[from] BerError),
    #[error("malformed EnvelopedData: {0}")]
    Der(#[from] DerError),
    #[error("not an EnvelopedData")]
    NotEnvelopedData,
    #[error("no key transport recipient")]
    NoRecipient,
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("EnvelopedData without encrypted content")]
    NoContent,
    /// Not for our key, or the ciphertext is corrupt (deliberately not told apart).
    #[error("decryption failed")]
    Failed,
    #[error("cannot write the decrypted content: {0}")]
    Write(io::Error),
    #[error("{0}")]
    Openssl(#[from] ErrorStack),
}

/// Decrypts the BER `ContentInfo` of an EnvelopedData read from `input` with our
/// key, writing the plaintext to `out`; the number of bytes written. On error the
/// output written so far must be discarded.
pub(crate) fn decrypt(input: &mut impl Read, keys: &Keys, out: &mut impl Write) -> Result<u64, DecryptError> {
    let mut ber = BerReader::new(input);
    let Some((info, explicit)) = ber.open_content_info(ID_ENVELOPED_DATA)? else {
        return Err(DecryptError::NotEnvelopedData);
    };
    let enveloped = ber.expect_in(&explicit, SEQUENCE)?;
    let enveloped = ber.open(&enveloped)?;
    ber.element_in(&enveloped, INTEGER, 64)?;
    let mut next = ber.next_in(&enveloped)?.ok_or(BerError::Truncated)?;
    if next.tag == CONTEXT_0 {
        ber.skip(&next)?;
        next = ber.next_in(&enveloped)?.ok_or(BerError::Truncated)?;
    }
    if next.tag != SET {
        return Err(BerError::UnexpectedTag(next.tag).into());
    }
    let recipients = ber.read_element(&next, MAX_RECIPIENT_INFOS)?;
    let encrypted = ber.expect_in(&enveloped, SEQUENCE)?;
    let encrypted = ber.open(&encrypted)?;
    ber.oid_in(&encrypted)?;
    let algorithm = ber.element_in(&encrypted, SEQUENCE, MAX_ALGORITHM)?;
    let (cipher, iv) = content_cipher(&algorithm)?;
    let unwrapped = content_key(&recipients, keys, cipher)?;
    let key = match &unwrapped {
        Some(key) => key.clone(),
        None => {
            let mut random = vec![0u8; cipher.key_len()];
            openssl::rand::rand_bytes(&mut random)?;
            random
        }
    };
    let content = ber.next_in(&encrypted)?.ok_or(DecryptError::NoContent)?;
    if content.tag != CONTEXT_0_PRIMITIVE && content.tag != CONTEXT_0 {
        return Err(BerError::UnexpectedTag(content.tag).into());
    }
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, &key, Some(&iv))?;
    let mut plain = vec![0u8; CHUNK + cipher.block_size()];
    let mut written = 0u64;
    let mut sink = |bytes: &[u8]| -> Result<(), DecryptError> {
        out.write_all(bytes).map_err(DecryptError::Write)?;
        written += bytes.len() as u64;
        Ok(())
    };
    let mut octets = ber.octets(&content)?;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match octets.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BerError::from(e).into()),
        };
        let input = chunk.get(..n).unwrap_or_default();
        let m = crypter.update(input, &mut plain).map_err(|_| DecryptError::Failed)?;
        sink(plain.get(..m).unwrap_or_default())?;
    }
    let finished = crypter.finalize(&mut plain);
    ber.close(&encrypted)?;
    // unprotectedAttrs [1] IMPLICIT, optional; `next_in` consumes the end.
    if let Some(attributes) = ber.next_in(&enveloped)? {
        if attributes.tag != 0xa1 {
            return Err(BerError::UnexpectedTag(attributes.tag).into());
        }
        ber.skip(&attributes)?;
        ber.close(&enveloped)?;
    }
    ber.close_content_info(&[explicit, info])?;
    let m = finished.map_err(|_| DecryptError::Failed)?;
    if unwrapped.is_none() {
        return Err(DecryptError::Failed);
    }
    sink(plain.get(..m).unwrap_or_default())?;
    Ok(written)
}

/// The content-encryption cipher and IV of a `contentEncryptionAlgorithm`.
fn content_cipher(algorithm: &[u8]) -> Result<(Cipher, Vec<u8>), DecryptError> {
    let mut fields = Reader::new(algorithm).tagged(SEQUENCE)?.children()?;
    let oid = fields.tagged(OID)?.content;
    let cipher = match oid {
        AES128_CBC => Cipher::aes_128_cbc(),
        AES192_CBC => Cipher::aes_192_cbc(),
        AES256_CBC => Cipher::aes_256_cbc(),
        DES_EDE3_CBC => Cipher::des_ede3_cbc(),
        other => return Err(DecryptError::UnsupportedAlgorithm(oid_string(other))),
    };
    let iv = fields.tagged(OCTET_STRING)?.content;
    if Some(iv.len()) != cipher.iv_len() {
        return Err(DerError::BadLength.into());
    }
    Ok((cipher, iv.to_vec()))
}

/// How a recipient's content key is encrypted.
enum KeyWrap {
    Pkcs1,
    Oaep { hash: &'static MdRef, mgf1: &'static MdRef, label: Vec<u8> },
}

struct KeyTrans<'a> {
    named_us: bool,
    wrap: KeyWrap,
    encrypted_key: &'a [u8],
}

/// The content key from the first key transport recipient that yields one of the
/// cipher's key length; `None` if none does (the caller goes on with a random key).
fn content_key(recipients: &[u8], keys: &Keys, cipher: Cipher) -> Result<Option<Vec<u8>>, DecryptError> {
    let issuer = keys.our_cert().issuer_name().to_der()?;
    let serial = keys.our_cert().serial_number().to_bn()?.to_vec();
    let ski = keys.our_cert().subject_key_id().map(|id| id.as_slice().to_vec());
    let mut candidates = Vec::new();
    let mut unsupported = None;
    let mut infos = Reader::new(recipients).tagged(SET)?.children()?;
    while !infos.is_empty() {
        let info = infos.next()?;
        if info.tag != SEQUENCE {
            continue; // kari, kekri, pwri, ori: not for a certificate's RSA key
        }
        match key_trans(info, &issuer, &serial, ski.as_deref())? {
            Ok(recipient) => candidates.push(recipient),
            Err(oid) => unsupported = Some(oid),
        }
    }
    if candidates.is_empty() {
        return Err(unsupported.map_or(DecryptError::NoRecipient, DecryptError::UnsupportedAlgorithm));
    }
    let named: Vec<&KeyTrans<'_>> = candidates.iter().filter(|r| r.named_us).collect();
    let tried = if named.is_empty() { candidates.iter().collect() } else { named };
    for recipient in tried.into_iter().take(MAX_TRIALS) {
        if let Ok(key) = unwrap_key(recipient, keys)
            && key.len() == cipher.key_len()
        {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// A KeyTransRecipientInfo, or the OID of its unsupported key encryption algorithm.
fn key_trans<'a>(
    info: Tlv<'a>,
    issuer: &[u8],
    serial: &[u8],
    ski: Option<&[u8]>,
) -> Result<Result<KeyTrans<'a>, String>, DecryptError> {
    let mut fields = info.children()?;
    fields.tagged(INTEGER)?;
    let rid = fields.next()?;
    let named_us = match rid.tag {
        SEQUENCE => {
            let mut id = rid.children()?;
            let name = id.tagged(SEQUENCE)?;
            let number = id.tagged(INTEGER)?.content;
            let magnitude: Vec<u8> = number.iter().copied().skip_while(|&b| b == 0).collect();
            crate::der::tlv(SEQUENCE, name.content) == issuer && magnitude == serial
        }
        CONTEXT_0_PRIMITIVE => ski.is_some_and(|ski| ski == rid.content),
        other => return Err(DerError::UnexpectedTag(other).into()),
    };
    let algorithm = fields.tagged(SEQUENCE)?;
    let encrypted_key = fields.tagged(OCTET_STRING)?.content;
    let mut alg = algorithm.children()?;
    let oid = alg.tagged(OID)?.content;
    let wrap = match oid {
        RSA_ENCRYPTION => KeyWrap::Pkcs1,
        RSAES_OAEP => match oaep_params(&mut alg)? {
            Some(wrap) => wrap,
            None => return Ok(Err(format!("{} (parameters)", oid_string(oid)))),
        },
        other => return Ok(Err(oid_string(other))),
    };
    Ok(Ok(KeyTrans { named_us, wrap, encrypted_key }))
}

/// RSAES-OAEP-params (RFC 4055 §4.1): every field defaults to SHA-1, MGF1 with
/// SHA-1, an empty label. `None` if a hash or mask function is unsupported.
fn oaep_params(alg: &mut Reader<'_>) -> Result<Option<KeyWrap>, DecryptError> {
    let (mut hash, mut mgf1, mut label) = (Md::sha1(), Md::sha1(), Vec::new());
    if alg.is_empty() {
        return Ok(Some(KeyWrap::Oaep { hash, mgf1, label }));
    }
    let params = alg.next()?;
    if params.tag == NULL {
        return Ok(Some(KeyWrap::Oaep { hash, mgf1, label }));
    }
    if params.tag != SEQUENCE {
        return Err(DerError::UnexpectedTag(params.tag).into());
    }
    let mut fields = params.children()?;
    while !fields.is_empty() {
        let field = fields.next()?;
        let mut inner = field.only_child()?.children()?;
        let oid = inner.tagged(OID)?.content;
        match field.tag {
            0xa0 => match digest(oid) {
                Some(md) => hash = md,
                None => return Ok(None),
            },
            0xa1 => {
                let mgf_hash = inner.tagged(SEQUENCE)?.children()?.tagged(OID)?.content;
                match (oid, digest(mgf_hash)) {
                    (MGF1, Some(md)) => mgf1 = md,
                    _ => return Ok(None),
                }
            }
            0xa2 => {
                if oid != P_SPECIFIED {
                    return Ok(None);
                }
                label = inner.tagged(OCTET_STRING)?.content.to_vec();
            }
            other => return Err(DerError::UnexpectedTag(other).into()),
        }
    }
    Ok(Some(KeyWrap::Oaep { hash, mgf1, label }))
}

fn digest(oid: &[u8]) -> Option<&'static MdRef> {
    match oid {
        SHA1 => Some(Md::sha1()),
        SHA224 => Some(Md::sha224()),
        SHA256 => Some(Md::sha256()),
        SHA384 => Some(Md::sha384()),
        SHA512 => Some(Md::sha512()),
        _ => None,
    }
}

fn unwrap_key(recipient: &KeyTrans<'_>, keys: &Keys) -> Result<Vec<u8>, ErrorStack> {
    let mut ctx = PkeyCtx::new(keys.our_key())?;
    ctx.decrypt_init()?;
    match &recipient.wrap {
        KeyWrap::Pkcs1 => ctx.set_rsa_padding(Padding::PKCS1)?,
        KeyWrap::Oaep { hash, mgf1, label } => {
            ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
            ctx.set_rsa_oaep_md(hash)?;
            ctx.set_rsa_mgf1_md(mgf1)?;
            if !label.is_empty() {
                ctx.set_rsa_oaep_label(label)?;
            }
        }
    }
    let mut key = Vec::new();
    ctx.decrypt_to_vec(recipient.encrypted_key, &mut key)?;
    Ok(key)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::OnceLock;

    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::cms::CmsContentInfo;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::extension::SubjectKeyIdentifier;
    use openssl::x509::{X509, X509NameBuilder};
    use proptest::prelude::*;

    use super::*;
    use crate::ber_stream::tests::{indefinite, segmented, trickle};
    use crate::cms::ID_DATA;
    use crate::cms::tests::{encrypt_for, identity};
    use crate::der::{constructed, tlv};

    /// Our keys, our certificate (PEM) and another certificate (PEM).
    pub(crate) fn fixture() -> &'static (Keys, String, String) {
        static FIXTURE: OnceLock<(Keys, String, String)> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let (partnership, partner_cert, _) = crate::cms::tests::partnership();
            let keys = Keys::load(&partnership).expect("keys");
            (keys, partnership.our_cert_pem, partner_cert)
        })
    }

    /// Pseudo-random bytes (xorshift), reproducible.
    pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    /// Decrypts `der` twice, from a slice and from a trickle, and insists on the
    /// same outcome.
    fn run(der: &[u8], keys: &Keys) -> Result<Vec<u8>, DecryptError> {
        let mut out = Vec::new();
        let result = decrypt(&mut &der[..], keys, &mut out).map(|n| {
            assert_eq!(n, out.len() as u64);
            out
        });
        if der.len() < 200_000 {
            let mut trickled = Vec::new();
            let again = decrypt(&mut trickle(der), keys, &mut trickled);
            match (&result, again) {
                (Ok(plain), Ok(_)) => assert_eq!(plain, &trickled),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("slice {a:?} but trickle {b:?}"),
            }
        }
        result
    }

    #[derive(Clone, Copy)]
    enum Wrap {
        Pkcs1,
        /// OAEP, parameters an empty SEQUENCE (SHA-1 defaults).
        OaepDefault,
        /// OAEP, parameters absent (not RFC 4055, accepted; openssl refuses it).
        OaepAbsent,
        /// OAEP with SHA-256 and MGF1-SHA-256 spelled out.
        OaepSha256,
    }

    #[derive(Clone, Copy)]
    enum Rid {
        IssuerSerial,
        Ski,
        Elsewhere,
    }

    /// A KeyTransRecipientInfo for `cert` carrying `key`.
    fn recipient(cert: &X509, key: &[u8], wrap: Wrap, rid: Rid) -> Vec<u8> {
        let public = cert.public_key().expect("public key");
        let mut ctx = PkeyCtx::new(&public).expect("ctx");
        ctx.encrypt_init().expect("init");
        let sha256 = || constructed(SEQUENCE, &[&tlv(OID, SHA256), &tlv(NULL, &[])]);
        let algorithm = match wrap {
            Wrap::Pkcs1 => {
                ctx.set_rsa_padding(Padding::PKCS1).expect("padding");
                constructed(SEQUENCE, &[&tlv(OID, RSA_ENCRYPTION), &tlv(NULL, &[])])
            }
            Wrap::OaepDefault => {
                ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("padding");
                constructed(SEQUENCE, &[&tlv(OID, RSAES_OAEP), &tlv(SEQUENCE, &[])])
            }
            Wrap::OaepAbsent => {
                ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("padding");
                constructed(SEQUENCE, &[&tlv(OID, RSAES_OAEP)])
            }
            Wrap::OaepSha256 => {
                ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("padding");
                ctx.set_rsa_oaep_md(Md::sha256()).expect("md");
                ctx.set_rsa_mgf1_md(Md::sha256()).expect("mgf1");
                let mgf = constructed(SEQUENCE, &[&tlv(OID, MGF1), &sha256()]);
                let params = constructed(SEQUENCE, &[&constructed(0xa0, &[&sha256()]), &constructed(0xa1, &[&mgf])]);
                constructed(SEQUENCE, &[&tlv(OID, RSAES_OAEP), &params])
            }
        };
        let mut encrypted_key = Vec::new();
        ctx.encrypt_to_vec(key, &mut encrypted_key).expect("wrap");
        let issuer_serial = |cert: &X509| {
            let serial = cert.serial_number().to_bn().expect("bn").to_vec();
            constructed(
                SEQUENCE,
                &[&cert.issuer_name().to_der().expect("issuer"), &crate::der::unsigned_integer(&serial)],
            )
        };
        let (version, rid) = match rid {
            Rid::IssuerSerial => (0, issuer_serial(cert)),
            Rid::Ski => (2, tlv(0x80, cert.subject_key_id().expect("ski").as_slice())),
            Rid::Elsewhere => {
                let other = X509::from_pem(fixture().2.as_bytes()).expect("cert");
                (0, issuer_serial(&other))
            }
        };
        constructed(SEQUENCE, &[&tlv(INTEGER, &[version]), &rid, &algorithm, &tlv(OCTET_STRING, &encrypted_key)])
    }

    /// An EnvelopedData as other AS2 products stream it: indefinite lengths, the
    /// ciphertext in segments of `segment` bytes; DER with definite lengths if
    /// `segment` is 0.
    fn envelop(
        content: &[u8],
        cert: &X509,
        cipher: Cipher,
        oid: &[u8],
        wrap: Wrap,
        rid: Rid,
        segment: usize,
    ) -> Vec<u8> {
        let mut key = vec![0u8; cipher.key_len()];
        let mut iv = vec![0u8; cipher.iv_len().expect("iv")];
        openssl::rand::rand_bytes(&mut key).expect("rand");
        openssl::rand::rand_bytes(&mut iv).expect("rand");
        let ciphertext = openssl::symm::encrypt(cipher, &key, Some(&iv), content).expect("encrypt");
        let recipients = constructed(SET, &[&recipient(cert, &key, wrap, rid)]);
        let algorithm = constructed(SEQUENCE, &[&tlv(OID, oid), &tlv(OCTET_STRING, &iv)]);
        let seq =
            |parts: &[&[u8]]| if segment == 0 { constructed(SEQUENCE, parts) } else { indefinite(SEQUENCE, parts) };
        let explicit =
            |parts: &[&[u8]]| if segment == 0 { constructed(CONTEXT_0, parts) } else { indefinite(CONTEXT_0, parts) };
        let content = if segment == 0 {
            tlv(CONTEXT_0_PRIMITIVE, &ciphertext)
        } else {
            segmented(CONTEXT_0, &ciphertext, segment)
        };
        let encrypted = seq(&[&tlv(OID, ID_DATA), &algorithm, &content]);
        let enveloped = seq(&[&tlv(INTEGER, &[if matches!(rid, Rid::Ski) { 2 } else { 0 }]), &recipients, &encrypted]);
        seq(&[&tlv(OID, ID_ENVELOPED_DATA), &explicit(&[&enveloped])])
    }

    fn our_cert() -> X509 {
        X509::from_pem(fixture().1.as_bytes()).expect("cert")
    }

    /// What openssl's CMS makes of `der` (to show the test encoder is right).
    fn openssl_decrypt(der: &[u8], key: &PKey<Private>, cert: &X509) -> Vec<u8> {
        CmsContentInfo::from_der(der).expect("parse").decrypt(key, cert).expect("openssl decrypts")
    }

    #[test]
    fn decrypts_openssl_output_for_every_cipher_and_size() {
        let (keys, cert, _) = fixture();
        for cipher in [Cipher::aes_128_cbc(), Cipher::aes_192_cbc(), Cipher::aes_256_cbc(), Cipher::des_ede3_cbc()] {
            for size in [0, 1, 7, 8, 9, 15, 16, 17, 1000, 70_000] {
                let content = pseudo_random(size, size as u64 + 3);
                let der = encrypt_for(&content, cert, cipher);
                assert_eq!(run(&der, keys).expect("decrypt"), content, "{:?} {size}", cipher.nid());
            }
        }
        let content = pseudo_random(3 << 20, 11);
        let der = encrypt_for(&content, cert, Cipher::aes_256_cbc());
        assert_eq!(run(&der, keys).expect("decrypt"), content);
        let mut trickled = Vec::new();
        decrypt(&mut trickle(&der), keys, &mut trickled).expect("decrypt");
        assert!(trickled == content);
    }

    #[test]
    fn decrypts_indefinite_segmented_oaep_and_ski_forms() {
        let (keys, _, _) = fixture();
        let cert = our_cert();
        let content = pseudo_random(100_000, 5);
        for (segment, wrap, rid) in [
            (1000, Wrap::Pkcs1, Rid::IssuerSerial),
            (1, Wrap::Pkcs1, Rid::IssuerSerial),
            (65_537, Wrap::OaepDefault, Rid::IssuerSerial),
            (0, Wrap::OaepSha256, Rid::IssuerSerial),
            (4096, Wrap::OaepSha256, Rid::Elsewhere),
            (100, Wrap::OaepAbsent, Rid::IssuerSerial),
        ] {
            let ber = envelop(&content, &cert, Cipher::aes_192_cbc(), AES192_CBC, wrap, rid, segment);
            assert_eq!(run(&ber, keys).expect("decrypt"), content, "segment {segment}");
            if !matches!((rid, wrap), (Rid::Elsewhere, _) | (_, Wrap::OaepAbsent)) {
                assert!(openssl_decrypt(&ber, keys.our_key(), &cert) == content, "openssl: segment {segment}");
            }
        }
        // A certificate with a subject key identifier, named by it.
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("key");
        let ski_cert = cert_with_ski(&key);
        let pem = |bytes: Vec<u8>| String::from_utf8(bytes).expect("pem");
        let ski_keys = Keys::from_pem(
            &fixture().2,
            &pem(ski_cert.to_pem().expect("pem")),
            &pem(key.private_key_to_pem_pkcs8().expect("pem")),
        )
        .expect("keys");
        let ber = envelop(b"by key id", &ski_cert, Cipher::aes_128_cbc(), AES128_CBC, Wrap::Pkcs1, Rid::Ski, 3);
        assert_eq!(run(&ber, &ski_keys).expect("decrypt"), b"by key id");
        assert_eq!(openssl_decrypt(&ber, &key, &ski_cert), b"by key id");
        assert!(matches!(run(&ber, keys), Err(DecryptError::Failed)));
    }

    fn cert_with_ski(key: &PKey<Private>) -> X509 {
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "ski").expect("cn");
        let name = name.build();
        let mut builder = X509::builder().expect("builder");
        builder.set_version(2).expect("version");
        builder.set_serial_number(&BigNum::from_u32(7).expect("bn").to_asn1_integer().expect("int")).expect("serial");
        builder.set_subject_name(&name).expect("subject");
        builder.set_issuer_name(&name).expect("issuer");
        builder.set_pubkey(key).expect("pubkey");
        builder.set_not_before(&Asn1Time::days_from_now(0).expect("time")).expect("from");
        builder.set_not_after(&Asn1Time::days_from_now(1).expect("time")).expect("until");
        let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None)).expect("ski");
        builder.append_extension(ski).expect("ext");
        builder.sign(key, MessageDigest::sha256()).expect("sign");
        builder.build()
    }

    /// `openssl cms -encrypt -stream` (BER, indefinite lengths, as streaming senders
    /// write it) with an OAEP-wrapped key; skipped if the CLI is missing.
    #[test]
    fn decrypts_the_openssl_cli_streamed_oaep_form() {
        let (keys, cert, _) = fixture();
        let dir = tempfile::tempdir().expect("dir");
        let cert_path = dir.path().join("cert.pem");
        let input = dir.path().join("in");
        let output = dir.path().join("out.der");
        let content = pseudo_random(200_000, 9);
        std::fs::write(&cert_path, cert).expect("write");
        std::fs::write(&input, &content).expect("write");
        for (cipher, md) in [("-aes256", "sha1"), ("-des3", "sha256")] {
            let status = std::process::Command::new("openssl")
                .args(["cms", "-encrypt", "-stream", "-binary", "-outform", "DER", cipher])
                .arg("-in")
                .arg(&input)
                .arg("-out")
                .arg(&output)
                .arg("-recip")
                .arg(&cert_path)
                .args(["-keyopt", "rsa_padding_mode:oaep", "-keyopt", &format!("rsa_oaep_md:{md}")])
                .status();
            let Ok(status) = status else {
                eprintln!("no openssl CLI: skipped");
                return;
            };
            assert!(status.success());
            let der = std::fs::read(&output).expect("read");
            assert_eq!(&der[..2], &[0x30, 0x80], "indefinite length");
            let mut out = Vec::new();
            decrypt(&mut std::fs::File::open(&output).expect("open"), keys, &mut out).expect("decrypt");
            assert!(out == content, "{cipher} {md}");
        }
    }

    #[test]
    fn refuses_other_recipients_corruption_and_trailing_data() {
        let (keys, cert, other) = fixture();
        let content = pseudo_random(1000, 1); // 1000 % 16 = 8: eight padding bytes of 8
        let der = encrypt_for(&content, other, Cipher::aes_128_cbc());
        assert!(matches!(run(&der, keys), Err(DecryptError::Failed)));
        let good = encrypt_for(&content, cert, Cipher::aes_128_cbc());
        let mut corrupt = good.clone();
        let at = corrupt.len() - 17; // flips the last padding byte to 0x48
        corrupt[at] ^= 0x40;
        assert!(matches!(run(&corrupt, keys), Err(DecryptError::Failed)));
        let mut short = good.clone();
        // Drops the last block from the ciphertext and its length.
        short.truncate(short.len() - 16);
        assert!(run(&short, keys).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(run(&trailing, keys), Err(DecryptError::Ber(BerError::TrailingData))));
        for cut in (0..good.len()).step_by(97) {
            assert!(run(&good[..cut], keys).is_err(), "cut at {cut}");
        }
        assert!(matches!(run(&good[..good.len() - 1], keys), Err(DecryptError::Ber(BerError::Truncated))));
    }

    #[test]
    fn refuses_unsupported_algorithms_and_other_content() {
        let (keys, cert, _) = fixture();
        let der = encrypt_for(b"x", cert, Cipher::aes_128_cbc());
        let at = der.windows(AES128_CBC.len()).position(|w| w == AES128_CBC).expect("cipher oid");
        let mut gcm = der.clone();
        gcm[at + AES128_CBC.len() - 1] = 0x06; // aes128-GCM
        assert!(
            matches!(run(&gcm, keys), Err(DecryptError::UnsupportedAlgorithm(oid)) if oid == "2.16.840.1.101.3.4.1.6")
        );
        let at = der.windows(RSA_ENCRYPTION.len()).position(|w| w == RSA_ENCRYPTION).expect("key alg");
        let mut other_wrap = der.clone();
        other_wrap[at + RSA_ENCRYPTION.len() - 1] = 0x0a; // RSASSA-PSS: not a key transport
        assert!(
            matches!(run(&other_wrap, keys), Err(DecryptError::UnsupportedAlgorithm(oid)) if oid == "1.2.840.113549.1.1.10")
        );
        let (_, partner_cert, partner_key) = crate::cms::tests::partnership();
        let signed = crate::cms::tests::partner_sign(b"x", &partner_cert, &partner_key);
        assert!(matches!(run(&signed, keys), Err(DecryptError::NotEnvelopedData)));
        let compressed = crate::compress::compress(b"x").expect("compress");
        assert!(matches!(run(&compressed, keys), Err(DecryptError::NotEnvelopedData)));
        assert!(matches!(run(b"", keys), Err(DecryptError::Ber(BerError::Truncated))));
        let _ = identity; // the fixture's identities come from cms::tests
    }

    /// The input of a large streamed EnvelopedData, generated as it is read: the
    /// ciphertext of `total` pseudo-random bytes in 64 KiB segments.
    struct Generated {
        pending: Vec<u8>,
        at: usize,
        crypter: Option<Crypter>,
        left: u64,
        state: u64,
        plain_sum: u64,
    }

    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.pending.len() {
                self.refill();
            }
            let n = buf.len().min(self.pending.len() - self.at);
            buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    impl Generated {
        fn refill(&mut self) {
            self.at = 0;
            self.pending.clear();
            let Some(crypter) = self.crypter.as_mut() else { return };
            let mut ciphertext = vec![0u8; CHUNK + 16];
            let n = if self.left > 0 {
                let len = self.left.min(CHUNK as u64) as usize;
                let mut plain = vec![0u8; len];
                for byte in &mut plain {
                    self.state = self.state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    *byte = (self.state >> 33) as u8;
                    self.plain_sum = self.plain_sum.wrapping_add(u64::from(*byte));
                }
                self.left -= len as u64;
                crypter.update(&plain, &mut ciphertext).expect("encrypt")
            } else {
                let n = crypter.finalize(&mut ciphertext).expect("final");
                self.crypter = None;
                n
            };
            self.pending.extend_from_slice(&[0x04, 0x83]);
            self.pending.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
            self.pending.extend_from_slice(&ciphertext[..n]);
            if self.crypter.is_none() {
                self.pending.extend_from_slice(&[0; 10]);
            }
        }
    }

    /// A sink that keeps a byte count and sum only.
    struct Sum(u64, u64);

    impl Write for Sum {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            self.1 = buf.iter().fold(self.1, |sum, &b| sum.wrapping_add(u64::from(b)));
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn streams_64_mib_without_holding_it() {
        let (keys, _, _) = fixture();
        let cert = our_cert();
        let cipher = Cipher::aes_256_cbc();
        let key = [7u8; 32];
        let iv = [9u8; 16];
        let recipients = constructed(SET, &[&recipient(&cert, &key, Wrap::Pkcs1, Rid::IssuerSerial)]);
        let algorithm = constructed(SEQUENCE, &[&tlv(OID, AES256_CBC), &tlv(OCTET_STRING, &iv)]);
        let mut prefix = vec![0x30, 0x80, 0x06, 0x09];
        prefix.extend_from_slice(ID_ENVELOPED_DATA);
        prefix.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00]);
        prefix.extend_from_slice(&recipients);
        prefix.extend_from_slice(&[0x30, 0x80]);
        prefix.extend_from_slice(&tlv(OID, ID_DATA));
        prefix.extend_from_slice(&algorithm);
        prefix.extend_from_slice(&[0xa0, 0x80]);
        let total = 64u64 << 20;
        let mut input = Generated {
            pending: prefix,
            at: 0,
            crypter: Some(Crypter::new(cipher, Mode::Encrypt, &key, Some(&iv)).expect("crypter")),
            left: total,
            state: 42,
            plain_sum: 0,
        };
        let mut sink = Sum(0, 0);
        assert_eq!(decrypt(&mut input, keys, &mut sink).expect("decrypt"), total);
        assert_eq!(sink.0, total);
        assert_eq!(sink.1, input.plain_sum);
        let mut input = Generated { pending: Vec::new(), ..input };
        input.left = 1;
        assert!(decrypt(&mut input, keys, &mut io::sink()).is_err(), "no prefix: not a ContentInfo");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decrypt(&mut &bytes[..], &fixture().0, &mut io::sink());
        }

        #[test]
        fn mutated_messages_never_panic(at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            static DER: OnceLock<Vec<u8>> = OnceLock::new();
            let der = DER.get_or_init(|| {
                envelop(b"mutated", &our_cert(), Cipher::aes_128_cbc(), AES128_CBC, Wrap::OaepSha256, Rid::IssuerSerial, 3)
            });
            let mut der = der.clone();
            let at = at % der.len();
            der[at] = byte;
            der.truncate(der.len() - cut % 4);
            let _ = decrypt(&mut &der[..], &fixture().0, &mut io::sink());
        }
    }
}
