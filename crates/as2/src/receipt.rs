//! Reading the MDN a partner returns for one of our messages (RFC 3798, RFC 4130
//! §7.4–7.5), synchronously or asynchronously. The MDN is untrusted input: pure,
//! bounded (the caller caps its size, [`crate::mime`] its header blocks and parts),
//! and never panics.
//!
//! ```text
//! multipart/signed ──── cms::verify_multipart against the partner certificate only
//! └ multipart/report   (or unsigned at the top)
//!   └ message/disposition-notification
//!       Original-Message-ID   must be our Message-ID
//!       Disposition           `…; processed` | `…; processed/warning: x` | `…; processed/error: x` | `…; failed/…`
//!       Received-Content-MIC  compared with ours: matched, missing, other algorithm, mismatch
//! ```

use crate::cms::{self, Keys, SignedError};
use crate::headers::strip_angle_brackets;
use crate::mic::{Mic, MicAlg};
use crate::mime::{Headers, multipart_parts, parse_entity};
use crate::outbound::MdnOutcome;

/// Longest disposition text or detail kept (they go to logs).
const MAX_TEXT: usize = 256;

/// What the MDN must refer to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    /// Our Message-ID, without angle brackets.
    pub message_id: &'a str,
    pub mic: &'a Mic,
}

/// How the returned MIC compares with ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MicCheck {
    Matched,
    /// No Received-Content-MIC.
    Missing,
    /// A MIC in an algorithm other than ours: cannot be compared.
    OtherAlgorithm,
    /// Our algorithm, another digest (or not a digest at all).
    Mismatch,
}

/// An MDN read and checked as far as it can be without judging its disposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub outcome: MdnOutcome,
    pub mic: MicCheck,
}

/// Why a response is not a usable MDN for our message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MdnError {
    #[error("not an MDN: {0}")]
    NotAnMdn(String),
    #[error("malformed MDN: {0}")]
    Malformed(String),
    #[error("MDN signature not accepted: {0}")]
    Signature(String),
    #[error("MDN for another message: Original-Message-ID <{0}>")]
    OtherMessage(String),
}

fn malformed(error: impl std::fmt::Display) -> MdnError {
    MdnError::Malformed(error.to_string())
}

/// Reads an MDN: `headers` are the HTTP headers (their `Content-Type` describes the
/// body), `keys` hold the partner certificate.
pub(crate) fn read(headers: &Headers, body: &[u8], keys: &Keys, expected: &Expected<'_>) -> Result<Receipt, MdnError> {
    let (report_headers, report_body, signed) = report(headers, body, keys)?;
    let fields = notification_fields(&report_headers, report_body)?;
    let original = fields.get("original-message-id").map(strip_angle_brackets);
    let original = original.ok_or_else(|| malformed("no Original-Message-ID"))?;
    if original != expected.message_id {
        return Err(MdnError::OtherMessage(clip(original)));
    }
    let disposition = fields.get("disposition").ok_or_else(|| malformed("no Disposition"))?;
    let (processed, detail) = parse_disposition(disposition)?;
    let mic = check_mic(expected.mic, fields.get("received-content-mic"));
    let outcome =
        MdnOutcome { disposition: clip(disposition), processed, mic_matched: mic == MicCheck::Matched, signed, detail };
    Ok(Receipt { outcome, mic })
}

/// The `multipart/report` entity (headers, body) and whether it was signed.
fn report<'a>(headers: &Headers, body: &'a [u8], keys: &Keys) -> Result<(Headers, &'a [u8], bool), MdnError> {
    let content_type = headers.content_type();
    match content_type.value.as_str() {
        "multipart/report" => Ok((headers.clone(), body, false)),
        "multipart/signed" => {
            let boundary =
                content_type.param("boundary").ok_or_else(|| malformed("multipart/signed without boundary"))?;
            let signed = cms::verify_multipart(body, boundary, keys).map_err(|error| match error {
                SignedError::Structure(e) => MdnError::Malformed(e),
                SignedError::Signature(e) => MdnError::Signature(e),
            })?;
            let entity = parse_entity(signed).map_err(malformed)?;
            let inner = entity.headers.content_type().value;
            if inner != "multipart/report" {
                return Err(MdnError::NotAnMdn(format!("multipart/signed over {}", clip(&inner))));
            }
            Ok((entity.headers, entity.body, true))
        }
        other => Err(MdnError::NotAnMdn(if other.is_empty() { "no content type".into() } else { clip(other) })),
    }
}

/// The fields of the `message/disposition-notification` part of a report.
fn notification_fields(headers: &Headers, body: &[u8]) -> Result<Headers, MdnError> {
    let content_type = headers.content_type();
    let boundary = content_type.param("boundary").ok_or_else(|| malformed("multipart/report without boundary"))?;
    for range in multipart_parts(body, boundary).map_err(malformed)? {
        let Ok(part) = parse_entity(&body[range]) else { continue };
        if part.headers.content_type().value != "message/disposition-notification" {
            continue;
        }
        let text = part.headers.decode(part.body).map_err(malformed)?;
        // The fields are a header block; the part may end without its empty line.
        let start = text.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(text.len());
        let block = [&text[start..], b"\r\n\r\n"].concat();
        return Ok(parse_entity(&block).map_err(malformed)?.headers);
    }
    Err(MdnError::NotAnMdn("no message/disposition-notification part".into()))
}

/// `action-mode/sending-mode; type[/modifier][: text]` (RFC 3798 §3.2.6, RFC 4130
/// §7.5.3): (processed, detail). `processed` and `processed/warning` count as
/// processed; `processed/error`, `failed` and anything else do not.
pub(crate) fn parse_disposition(value: &str) -> Result<(bool, Option<String>), MdnError> {
    let (_modes, kind) = value.split_once(';').ok_or_else(|| malformed("Disposition without a type"))?;
    let (kind, text) = match kind.split_once(':') {
        Some((kind, text)) => (kind, Some(text.trim())),
        None => (kind, None),
    };
    let kind = kind.trim().to_ascii_lowercase();
    let (disposition_type, modifier) = match kind.split_once('/') {
        Some((disposition_type, modifier)) => (disposition_type.trim(), Some(modifier.trim())),
        None => (kind.as_str(), None),
    };
    if disposition_type.is_empty() {
        return Err(malformed("Disposition without a type"));
    }
    let failed = modifier.is_some_and(|m| m.starts_with("error") || m.starts_with("failure"));
    let processed = disposition_type == "processed" && !failed;
    let detail = text.filter(|text| !text.is_empty()).or(modifier).map(clip);
    Ok((processed, detail))
}

/// Compares a Received-Content-MIC field with our MIC.
pub(crate) fn check_mic(ours: &Mic, returned: Option<&str>) -> MicCheck {
    let Some(text) = returned else { return MicCheck::Missing };
    match Mic::parse(text) {
        Some(mic) if mic.alg != ours.alg => MicCheck::OtherAlgorithm,
        Some(mic) if mic.digest == ours.digest => MicCheck::Matched,
        Some(_) => MicCheck::Mismatch,
        None if text.split_once(',').is_some_and(|(_, alg)| MicAlg::parse(alg).is_none()) => MicCheck::OtherAlgorithm,
        None => MicCheck::Mismatch,
    }
}

/// At most [`MAX_TEXT`] characters of partner-supplied text.
fn clip(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mdn::{self, Disposition, ErrorKind, Ids, Mdn, Report};

    const MESSAGE_ID: &str = "order-1@acme.example";

    struct Fixture {
        /// The sender's keys (partner certificate: the receiver's).
        ours: Keys,
        /// The receiver's keys, which sign its MDNs.
        theirs: Keys,
        mic: Mic,
    }

    fn fixture() -> Fixture {
        let (_, ours, theirs) = crate::compose::tests::sender();
        Fixture { ours, theirs, mic: Mic::of(MicAlg::Sha256, &[b"entity"]).expect("mic") }
    }

    /// An MDN as our receiver builds it.
    fn mdn(mic: Option<&Mic>, disposition: Disposition, sign: Option<&Keys>) -> Mdn {
        let report = Report {
            reporting_ua: "portcullis",
            our_id: "PORTCULLIS",
            partner_id: "Acme EU",
            original_message_id: MESSAGE_ID,
            mic,
            disposition,
        };
        let ids = Ids { report_boundary: "r".into(), signed_boundary: "s".into(), message_id: "mdn@p".into() };
        mdn::build(&report, &ids, sign.map(|keys| (keys, MicAlg::Sha256))).expect("mdn")
    }

    fn headers_of(mdn: &Mdn) -> Headers {
        Headers::from_pairs(mdn.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect())
    }

    fn read_mdn(f: &Fixture, mdn: &Mdn) -> Result<Receipt, MdnError> {
        read(&headers_of(mdn), &mdn.body, &f.ours, &Expected { message_id: MESSAGE_ID, mic: &f.mic })
    }

    #[test]
    fn a_signed_processed_mdn_with_our_mic() {
        let f = fixture();
        let receipt = read_mdn(&f, &mdn(Some(&f.mic), Disposition::Processed, Some(&f.theirs))).expect("mdn");
        assert_eq!(receipt.mic, MicCheck::Matched);
        assert_eq!(
            receipt.outcome,
            MdnOutcome {
                disposition: "automatic-action/MDN-sent-automatically; processed".into(),
                processed: true,
                mic_matched: true,
                signed: true,
                detail: None,
            }
        );
        let unsigned = read_mdn(&f, &mdn(Some(&f.mic), Disposition::Processed, None)).expect("mdn");
        assert_eq!(
            (unsigned.outcome.signed, unsigned.outcome.processed, unsigned.mic),
            (false, true, MicCheck::Matched)
        );
    }

    #[test]
    fn an_error_disposition_is_read_with_its_modifier() {
        let f = fixture();
        let failed = Disposition::Failed(ErrorKind::AuthenticationFailed);
        let receipt = read_mdn(&f, &mdn(None, failed, Some(&f.theirs))).expect("mdn");
        assert_eq!(
            (receipt.outcome.processed, receipt.outcome.detail.as_deref(), receipt.mic),
            (false, Some("authentication-failed"), MicCheck::Missing)
        );
    }

    #[test]
    fn signatures_by_anyone_but_the_partner_or_over_other_bytes_are_refused() {
        let f = fixture();
        let by_us = mdn(Some(&f.mic), Disposition::Processed, Some(&f.ours));
        assert!(matches!(read_mdn(&f, &by_us), Err(MdnError::Signature(_))), "{:?}", read_mdn(&f, &by_us));
        let mut tampered = mdn(Some(&f.mic), Disposition::Processed, Some(&f.theirs));
        let at = tampered.body.windows(9).position(|w| w == b"processed").expect("disposition");
        tampered.body[at..at + 9].copy_from_slice(b"Processed");
        assert!(matches!(read_mdn(&f, &tampered), Err(MdnError::Signature(_))));
    }

    #[test]
    fn an_mdn_for_another_message_or_without_fields_is_refused() {
        let f = fixture();
        let signed = mdn(Some(&f.mic), Disposition::Processed, Some(&f.theirs));
        let other = read(&headers_of(&signed), &signed.body, &f.ours, &Expected { message_id: "other@x", mic: &f.mic });
        assert_eq!(other, Err(MdnError::OtherMessage(MESSAGE_ID.into())));
        let headers = Headers::from_pairs(vec![("content-type".into(), "multipart/report; boundary=b".into())]);
        let expected = Expected { message_id: MESSAGE_ID, mic: &f.mic };
        let cases: &[(&[u8], &str)] = &[
            (b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--", "not an MDN"),
            (b"--b\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: x; processed\r\n--b--", "no Original"),
            (
                b"--b\r\nContent-Type: message/disposition-notification\r\n\r\nOriginal-Message-ID: <order-1@acme.example>\r\n--b--",
                "no Disposition",
            ),
            (b"no parts", "malformed"),
        ];
        for (body, error) in cases {
            let read = read(&headers, body, &f.ours, &expected).expect_err("refused").to_string();
            assert!(read.contains(error), "{read}");
        }
        let text = Headers::from_pairs(vec![("content-type".into(), "text/plain".into())]);
        assert_eq!(read(&text, b"ok", &f.ours, &expected), Err(MdnError::NotAnMdn("text/plain".into())));
    }

    /// pyas2lib's spelling: lowercase `content`, fields not ended by an empty line,
    /// `processed/Error`.
    #[test]
    fn reads_pyas2lib_mdns() {
        let f = fixture();
        let headers = Headers::from_pairs(vec![(
            "Content-Type".into(),
            "multipart/report; report-type=disposition-notification; boundary=\"===15==\"".into(),
        )]);
        let body = format!(
            "--===15==\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThe AS2 message could not be processed.\r\n\r\n\
             --===15==\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
             Reporting-UA: pyAS2 Open Source AS2 Software\r\nOriginal-Recipient: rfc822; PORTCULLIS\r\n\
             Final-Recipient: rfc822; PORTCULLIS\r\nOriginal-Message-ID: <{MESSAGE_ID}>\r\n\
             Disposition: automatic-action/MDN-sent-automatically; processed/Error: authentication-failed\r\n\
             Received-content-MIC: {}\r\n\r\n--===15==--\r\n",
            f.mic
        );
        let receipt = read(&headers, body.as_bytes(), &f.ours, &Expected { message_id: MESSAGE_ID, mic: &f.mic })
            .expect("pyas2lib MDN");
        assert_eq!(receipt.outcome.detail.as_deref(), Some("authentication-failed"));
        assert_eq!((receipt.outcome.processed, receipt.outcome.signed, receipt.mic), (false, false, MicCheck::Matched));
    }

    #[test]
    fn dispositions() {
        let cases: &[(&str, bool, Option<&str>)] = &[
            ("automatic-action/MDN-sent-automatically; processed", true, None),
            ("automatic-action/MDN-sent-automatically;processed ", true, None),
            (
                "automatic-action/MDN-sent-automatically; processed/warning: duplicate-document",
                true,
                Some("duplicate-document"),
            ),
            (
                "automatic-action/MDN-sent-automatically; processed/error: decryption-failed",
                false,
                Some("decryption-failed"),
            ),
            (
                "automatic-action/MDN-sent-automatically; processed/Error: authentication-failed",
                false,
                Some("authentication-failed"),
            ),
            ("automatic-action/MDN-sent-automatically; failed/Failure: ", false, Some("failure")),
            (
                "automatic-action/MDN-sent-automatically; failed/failure: unsupported format",
                false,
                Some("unsupported format"),
            ),
            ("manual-action/MDN-sent-manually; deleted", false, None),
            ("automatic-action/MDN-sent-automatically; PROCESSED", true, None),
        ];
        for (value, processed, detail) in cases {
            let parsed = parse_disposition(value).expect(value);
            assert_eq!((parsed.0, parsed.1.as_deref()), (*processed, *detail), "{value}");
        }
        for bad in ["processed", "automatic-action; ", "x;/error", ""] {
            assert!(parse_disposition(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mic_comparison() {
        let ours = Mic::of(MicAlg::Sha256, &[b"entity"]).expect("mic");
        let other = Mic::of(MicAlg::Sha256, &[b"other"]).expect("mic");
        let sha1 = Mic::of(MicAlg::Sha1, &[b"entity"]).expect("mic");
        let text = ours.to_string();
        let digest = text.split_once(',').expect("comma").0;
        let cases = [
            (Some(text.clone()), MicCheck::Matched),
            (Some(format!("{digest},SHA-256")), MicCheck::Matched),
            (Some(format!("  {digest} , sha256  ")), MicCheck::Matched),
            (None, MicCheck::Missing),
            (Some(other.to_string()), MicCheck::Mismatch),
            (Some(sha1.to_string()), MicCheck::OtherAlgorithm),
            (Some(format!("{digest}, md5")), MicCheck::OtherAlgorithm),
            (Some("!!!, sha256".into()), MicCheck::Mismatch),
            (Some(digest.to_owned()), MicCheck::Mismatch),
        ];
        for (returned, expected) in cases {
            assert_eq!(check_mic(&ours, returned.as_deref()), expected, "{returned:?}");
        }
    }

    thread_local! {
        static FIXTURE: Fixture = fixture();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn arbitrary_bytes_never_panic(
            content_type in prop_oneof![
                Just("multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b"),
                Just("multipart/report; report-type=disposition-notification; boundary=b"),
                Just("multipart/report"),
                Just("text/plain"),
            ],
            body in proptest::collection::vec(
                prop_oneof![Just(b'-'), Just(b'\r'), Just(b'\n'), Just(b'b'), Just(b':'), Just(b';'), any::<u8>()],
                0..2048,
            ),
        ) {
            let headers = Headers::from_pairs(vec![("content-type".into(), content_type.into())]);
            FIXTURE.with(|f| {
                let _ = read(&headers, &body, &f.ours, &Expected { message_id: MESSAGE_ID, mic: &f.mic });
            });
        }

        #[test]
        fn a_mutated_signed_mdn_reads_as_the_original_or_not_at_all(at in any::<usize>(), byte in any::<u8>()) {
            FIXTURE.with(|f| {
                let original = mdn(Some(&f.mic), Disposition::Processed, Some(&f.theirs));
                let mut mutated = original.clone();
                let at = at % mutated.body.len();
                mutated.body[at] = byte;
                if let Ok(receipt) = read_mdn(f, &mutated) {
                    assert_eq!(Ok(receipt), read_mdn(f, &original));
                }
            });
        }

        #[test]
        fn arbitrary_fields_never_panic(disposition in ".{0,200}", mic in ".{0,120}", id in ".{0,80}") {
            let _ = parse_disposition(&disposition);
            let ours = Mic { alg: MicAlg::Sha256, digest: vec![0; 32] };
            let _ = check_mic(&ours, Some(&mic));
            let _ = strip_angle_brackets(&id);
        }
    }
}
