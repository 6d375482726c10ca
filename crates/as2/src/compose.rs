//! Building an outbound AS2 message (RFC 4130 §3 and §6, RFC 5402), as pyas2lib and
//! other products build theirs: each layer is the MIME entity of the next, and the
//! outermost one's content headers become HTTP headers.
//!
//! ```text
//! Content-Type: application/octet-stream          the payload entity (binary: no product
//! Content-Transfer-Encoding: binary               re-encodes its line ends)
//! Content-Disposition: attachment; filename="po.edi"
//!   ─▶ compress: application/pkcs7-mime; smime-type=compressed-data (CMS CompressedData, zlib)
//!   ─▶ sign:     multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256
//!                (the entity above byte for byte, then the detached CMS signature)
//!   ─▶ encrypt:  application/pkcs7-mime; smime-type=enveloped-data (CMS EnvelopedData)
//! ```
//!
//! The MIC (RFC 4130 §7.3.1) covers the signed entity when signing, else the entity
//! that is encrypted or sent: headers as written here (the receiver rebuilds the
//! same block from the HTTP headers of an unprotected message), empty line, body.

use std::time::SystemTime;

use crate::cms::{self, EncryptError, Keys, SignError};
use crate::compress;
use crate::headers::{quote_as2_name, quoted_string, valid_as2_name, valid_message_id};
use crate::mdn::{signed_body, signed_content_type};
use crate::mic::Mic;
use crate::mime::{id_domain, random_hex};
use crate::outbound::{As2Outbound, MdnRequest, OutboundMessage};

/// A message ready to POST.
#[derive(Debug)]
pub(crate) struct Composed {
    /// Without angle brackets.
    pub message_id: String,
    /// The AS2 headers, then the outermost entity's content headers.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub mic: Mic,
}

/// Why no message could be built: our configuration or the caller's input.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ComposeError {
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("compression failed: {0}")]
    Compress(std::io::Error),
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
    #[error("encryption failed: {0}")]
    Encrypt(#[from] EncryptError),
    #[error("digest failed: {0}")]
    Digest(#[from] openssl::error::ErrorStack),
}

/// One MIME entity: content headers and body.
struct Entity {
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Entity {
    fn header_block(&self) -> Vec<u8> {
        let mut block = String::new();
        for (name, value) in &self.headers {
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str("\r\n");
        block.into_bytes()
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.header_block();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Builds the message; `message` is taken by value so that its payload becomes the
/// innermost body without a copy.
pub(crate) fn compose(
    partnership: &As2Outbound,
    message: OutboundMessage,
    keys: &Keys,
    now: SystemTime,
) -> Result<Composed, ComposeError> {
    let message_id = message_id(partnership, message.message_id.as_deref())?;
    let mut headers = as2_headers(partnership, &message_id, now)?;
    let mut entity = payload_entity(message)?;
    if partnership.compress {
        let der = compress::compress(&entity.to_bytes()).map_err(ComposeError::Compress)?;
        entity = pkcs7_mime("compressed-data", "smime.p7z", der);
    }
    let mic;
    if partnership.sign {
        let signed = entity.to_bytes();
        mic = Mic::of(partnership.digest, &[&signed])?;
        let signature = cms::sign(&signed, partnership.digest, keys)?;
        let boundary = format!("signed-{}", random_hex());
        let content_type = signed_content_type(partnership.digest, &boundary);
        entity =
            Entity { headers: vec![("Content-Type", content_type)], body: signed_body(&signed, &signature, &boundary) };
    } else {
        mic = Mic::of(partnership.digest, &[&entity.header_block(), &entity.body])?;
    }
    if partnership.encrypt {
        let der = cms::encrypt(&entity.to_bytes(), keys, partnership.cipher.openssl())?;
        entity = pkcs7_mime("enveloped-data", "smime.p7m", der);
    }
    headers.extend(entity.headers);
    Ok(Composed { message_id, headers, body: entity.body, mic })
}

/// The caller's Message-ID (angle brackets optional), or `<uuid-like>@<our name>`.
pub(crate) fn message_id(partnership: &As2Outbound, given: Option<&str>) -> Result<String, ComposeError> {
    let Some(given) = given else {
        let hex = random_hex(); // always 32 digits
        let (a, rest) = hex.split_at(8);
        let (b, rest) = rest.split_at(4);
        let (c, rest) = rest.split_at(4);
        let (d, e) = rest.split_at(4);
        return Ok(format!("{a}-{b}-{c}-{d}-{e}@{}", id_domain(&partnership.our_id)));
    };
    let id = crate::headers::strip_angle_brackets(given);
    if !valid_message_id(id) || id.contains(['<', '>']) {
        return Err(ComposeError::Invalid("Message-ID"));
    }
    Ok(id.to_owned())
}

fn as2_headers(
    partnership: &As2Outbound,
    message_id: &str,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, ComposeError> {
    if !valid_as2_name(&partnership.our_id) {
        return Err(ComposeError::Invalid("our AS2 name"));
    }
    if !valid_as2_name(&partnership.partner_id) {
        return Err(ComposeError::Invalid("partner AS2 name"));
    }
    let mut headers = vec![
        ("AS2-Version", "1.2".to_owned()),
        ("AS2-From", quote_as2_name(&partnership.our_id)),
        ("AS2-To", quote_as2_name(&partnership.partner_id)),
        ("Message-ID", format!("<{message_id}>")),
        ("Subject", "AS2 message".to_owned()),
        ("Date", rfc5322_date(now)),
        ("MIME-Version", "1.0".to_owned()),
    ];
    let (signed, async_url) = match &partnership.mdn {
        MdnRequest::None => return Ok(headers),
        MdnRequest::Sync { signed } => (*signed, None),
        MdnRequest::Async { url, signed } => {
            let url = crate::headers::http_url(url).ok_or(ComposeError::Invalid("asynchronous MDN URL"))?;
            (*signed, Some(url))
        }
    };
    // Not read by AS2 receivers (RFC 4130 §7.3: its presence asks for an MDN).
    headers.push(("Disposition-Notification-To", format!("as2@{}", id_domain(&partnership.our_id))));
    if signed {
        let micalg = partnership.digest.micalg_param();
        headers.push((
            "Disposition-Notification-Options",
            format!("signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, {micalg}"),
        ));
    }
    if let Some(url) = async_url {
        headers.push(("Receipt-Delivery-Option", url.to_string()));
    }
    Ok(headers)
}

fn payload_entity(message: OutboundMessage) -> Result<Entity, ComposeError> {
    let content_type = message.content_type.trim();
    let printable = content_type.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable || !content_type.contains('/') || content_type.starts_with('/') {
        return Err(ComposeError::Invalid("content type"));
    }
    let mut headers =
        vec![("Content-Type", content_type.to_owned()), ("Content-Transfer-Encoding", "binary".to_owned())];
    if let Some(name) = message.filename.as_deref().filter(|name| !name.is_empty()) {
        headers.push(("Content-Disposition", attachment(name)));
    }
    Ok(Entity { headers, body: message.payload })
}

/// A CMS layer as a MIME entity (binary, as pyas2lib sends it).
fn pkcs7_mime(smime_type: &str, name: &str, der: Vec<u8>) -> Entity {
    Entity {
        headers: vec![
            ("Content-Type", format!("application/pkcs7-mime; smime-type={smime_type}; name=\"{name}\"")),
            ("Content-Transfer-Encoding", "binary".to_owned()),
            ("Content-Disposition", format!("attachment; filename=\"{name}\"")),
        ],
        body: der,
    }
}

/// `attachment; filename="…"`, or RFC 2231's `filename*=utf-8''…` for a name that is
/// not printable ASCII (no control character ever reaches the header).
fn attachment(name: &str) -> String {
    if name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return format!("attachment; filename={}", quoted_string(name));
    }
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=utf-8''{encoded}")
}

/// An RFC 5322 date in UTC: `Tue, 07 Jan 2025 09:05:03 +0000`.
fn rfc5322_date(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, time) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        time / 3600,
        time % 3600 / 60,
        time % 60,
    )
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mic::MicAlg;
    use crate::mime::{Headers, Params, parse_entity};
    use crate::outbound::Cipher;
    use crate::receive::{self, Policy};
    use crate::scratch::Scratch;
    use crate::scratch::tests::region;

    const PAYLOAD: &[u8] = b"ISA*00*~\r\nGS*PO\nbin\x00\xff\r\n";

    /// (the sender's partnership, the receiver's keys): the fixture's partner sends
    /// to "us".
    pub(crate) fn sender() -> (As2Outbound, Keys, Keys) {
        let (receiver, partner_cert, partner_key) = crate::cms::tests::partnership();
        let outbound = As2Outbound {
            our_id: "Acme EU".into(),
            partner_id: "PORTCULLIS".into(),
            our_cert_pem: partner_cert,
            our_key_pem: partner_key,
            partner_cert_pem: receiver.our_cert_pem.clone(),
            url: "http://127.0.0.1:1/as2".into(),
            sign: true,
            encrypt: true,
            compress: false,
            digest: MicAlg::Sha256,
            cipher: Cipher::Aes256Cbc,
            mdn: MdnRequest::Sync { signed: true },
            timeout: Duration::from_secs(5),
        };
        let ours = Keys::from_pem(&outbound.partner_cert_pem, &outbound.our_cert_pem, &outbound.our_key_pem)
            .expect("sender keys");
        let theirs = Keys::load(&receiver).expect("receiver keys");
        (outbound, ours, theirs)
    }

    fn message() -> OutboundMessage {
        OutboundMessage { filename: Some("po 1.edi".into()), ..OutboundMessage::new(PAYLOAD.to_vec()) }
    }

    fn header<'a>(composed: &'a Composed, name: &str) -> Option<&'a str> {
        composed.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// What our receiver makes of a composed message.
    fn receive(composed: &Composed, keys: &Keys) -> receive::Unwrapped {
        let headers =
            Headers::from_pairs(composed.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect());
        let as2 = crate::headers::parse(&headers).expect("AS2 headers");
        let policy = Policy {
            require_signed: false,
            require_encrypted: false,
            micalg: as2.mdn.and_then(|mdn| mdn.micalg),
            limit: 1 << 20,
        };
        receive::unwrap(&headers, &region(&composed.body), keys, &policy, &Scratch::new(std::env::temp_dir()))
            .expect("our receiver takes it")
    }

    #[test]
    fn every_layering_round_trips_through_our_receiver_with_the_same_mic() {
        let (mut outbound, ours, theirs) = sender();
        for layers in 0..8 {
            (outbound.sign, outbound.encrypt, outbound.compress) = (layers & 1 != 0, layers & 2 != 0, layers & 4 != 0);
            for (digest, cipher) in [(MicAlg::Sha256, Cipher::Aes256Cbc), (MicAlg::Sha1, Cipher::TripleDesCbc)] {
                (outbound.digest, outbound.cipher) = (digest, cipher);
                let composed = compose(&outbound, message(), &ours, SystemTime::now()).expect("composed");
                let unwrapped = receive(&composed, &theirs);
                let name = format!("{layers:03b} {digest:?}");
                assert_eq!(unwrapped.payload.to_vec(1 << 20).expect("payload"), PAYLOAD, "{name}");
                assert_eq!(unwrapped.filename.as_deref(), Some("po 1.edi"), "{name}");
                assert_eq!(
                    (unwrapped.signed, unwrapped.encrypted, unwrapped.compressed),
                    (outbound.sign, outbound.encrypt, outbound.compress),
                    "{name}"
                );
                assert_eq!(unwrapped.mic, composed.mic, "{name}");
                assert_eq!(composed.mic.alg, digest, "{name}");
            }
        }
    }

    #[test]
    fn the_layers_are_the_mime_entities_partners_expect() {
        let (mut outbound, ours, _) = sender();
        (outbound.compress, outbound.encrypt) = (true, false);
        let composed = compose(&outbound, message(), &ours, SystemTime::now()).expect("composed");
        let content_type = Params::parse(header(&composed, "Content-Type").expect("content type"));
        assert_eq!(content_type.value, "multipart/signed");
        assert_eq!(content_type.param("protocol"), Some("application/pkcs7-signature"));
        assert_eq!(content_type.param("micalg"), Some("sha-256"));
        let boundary = content_type.param("boundary").expect("boundary");
        let signed = crate::cms::verify_multipart(&composed.body, boundary, &ours).err();
        assert!(signed.is_some(), "signed by us, not by the partner certificate");
        let parts = crate::mime::multipart_parts(&composed.body, boundary).expect("parts");
        let compressed = parse_entity(&composed.body[parts[0].clone()]).expect("entity");
        assert_eq!(
            compressed.headers.get("content-type"),
            Some("application/pkcs7-mime; smime-type=compressed-data; name=\"smime.p7z\"")
        );
        assert_eq!(compressed.headers.get("content-transfer-encoding"), Some("binary"));
        let inner = compress::decompress(compressed.body, 1 << 20).expect("inflates");
        let expected = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
            Content-Disposition: attachment; filename=\"po 1.edi\"\r\n\r\n";
        assert_eq!(inner, [&expected[..], PAYLOAD].concat());
        assert_eq!(composed.mic, Mic::of(MicAlg::Sha256, &[&composed.body[parts[0].clone()]]).expect("mic"));
    }

    #[test]
    fn as2_headers_quote_names_and_ask_for_the_mdn() {
        let (mut outbound, ours, _) = sender();
        let mut message = message();
        message.message_id = Some("<order-1@acme.example>".into());
        let composed = compose(&outbound, message.clone(), &ours, SystemTime::UNIX_EPOCH).expect("composed");
        assert_eq!(composed.message_id, "order-1@acme.example");
        for (name, value) in [
            ("AS2-Version", "1.2"),
            ("AS2-From", "\"Acme EU\""),
            ("AS2-To", "PORTCULLIS"),
            ("Message-ID", "<order-1@acme.example>"),
            ("MIME-Version", "1.0"),
            ("Date", "Thu, 01 Jan 1970 00:00:00 +0000"),
            ("Disposition-Notification-To", "as2@AcmeEU"),
            (
                "Disposition-Notification-Options",
                "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256",
            ),
            ("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\""),
            ("Content-Transfer-Encoding", "binary"),
        ] {
            assert_eq!(header(&composed, name), Some(value), "{name}");
        }
        assert_eq!(header(&composed, "Receipt-Delivery-Option"), None);
        outbound.mdn = MdnRequest::Async { url: "https://us.example/mdn".into(), signed: false };
        let composed = compose(&outbound, message.clone(), &ours, SystemTime::UNIX_EPOCH).expect("composed");
        assert_eq!(header(&composed, "Receipt-Delivery-Option"), Some("https://us.example/mdn"));
        assert_eq!(header(&composed, "Disposition-Notification-Options"), None);
        outbound.mdn = MdnRequest::None;
        let composed = compose(&outbound, message, &ours, SystemTime::UNIX_EPOCH).expect("composed");
        assert_eq!(header(&composed, "Disposition-Notification-To"), None);
        let generated = compose(&outbound, OutboundMessage::new(vec![]), &ours, SystemTime::now()).expect("composed");
        let (left, right) = generated.message_id.split_once('@').expect("id@domain");
        assert_eq!((left.len(), left.matches('-').count(), right), (36, 4, "AcmeEU"));
    }

    #[test]
    fn refuses_what_would_break_the_headers() {
        let (outbound, ours, _) = sender();
        let refused = |edit: fn(&mut As2Outbound, &mut OutboundMessage)| {
            let (mut outbound, mut message) = (outbound.clone(), message());
            edit(&mut outbound, &mut message);
            compose(&outbound, message, &ours, SystemTime::now()).err().map(|e| e.to_string())
        };
        assert_eq!(refused(|_, _| {}), None);
        assert_eq!(refused(|o, _| o.our_id = "Acme\r\nX: y".into()).as_deref(), Some("invalid our AS2 name"));
        assert_eq!(refused(|o, _| o.partner_id = "x".repeat(129)).as_deref(), Some("invalid partner AS2 name"));
        assert_eq!(refused(|_, m| m.message_id = Some("a b@c".into())).as_deref(), Some("invalid Message-ID"));
        assert_eq!(refused(|_, m| m.message_id = Some("<a<b@c>".into())).as_deref(), Some("invalid Message-ID"));
        assert_eq!(
            refused(|_, m| m.content_type = "text/plain\r\nX: y".into()).as_deref(),
            Some("invalid content type")
        );
        assert_eq!(refused(|_, m| m.content_type = "edi".into()).as_deref(), Some("invalid content type"));
        let ftp = |o: &mut As2Outbound, _: &mut OutboundMessage| {
            o.mdn = MdnRequest::Async { url: "ftp://x/".into(), signed: true };
        };
        assert_eq!(refused(ftp).as_deref(), Some("invalid asynchronous MDN URL"));
    }

    #[test]
    fn filenames_are_quoted_or_rfc2231_encoded() {
        assert_eq!(attachment("po.edi"), "attachment; filename=\"po.edi\"");
        assert_eq!(attachment("a \"b\"\\c"), "attachment; filename=\"a \\\"b\\\"\\\\c\"");
        assert_eq!(attachment("naïve\r\n.txt"), "attachment; filename*=utf-8''na%C3%AFve%0D%0A.txt");
        for name in ["po.edi", "a \"b\"\\c", "naïve 100%.txt"] {
            let disposition = Params::parse(&attachment(name));
            assert_eq!(disposition.param("filename"), Some(name), "our receiver reads {name:?} back");
        }
    }

    #[test]
    fn dates_are_rfc5322() {
        let at = |seconds: u64| rfc5322_date(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(at(1_736_240_703), "Tue, 07 Jan 2025 09:05:03 +0000");
        assert_eq!(at(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 +0000");
    }
}
