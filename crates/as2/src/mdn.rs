//! The Message Disposition Notification (RFC 3798, RFC 4130 §7.4–7.5): the AS2
//! receipt, as HTTP headers and a MIME body.
//!
//! ```text
//! multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256   (signed receipt only)
//! ├── multipart/report; report-type=disposition-notification
//! │   ├── text/plain                          (for people)
//! │   └── message/disposition-notification    Reporting-UA, Original-Recipient, Final-Recipient,
//! │                                           Original-Message-ID, [Received-Content-MIC], Disposition
//! └── application/pkcs7-signature             (detached CMS signature over the report entity)
//! ```
//!
//! Everything is CRLF and 7-bit, so the signed bytes need no canonicalization.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::cms::{self, Keys, SignError};
use crate::headers::quote_as2_name;
use crate::mic::{Mic, MicAlg};

/// What became of a message (RFC 4130 §7.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Durably accepted (or a duplicate of an accepted message).
    Processed,
    /// Refused; nothing was delivered.
    Failed(ErrorKind),
}

/// The `processed/error` modifiers we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    DecryptionFailed,
    AuthenticationFailed,
    DecompressionFailed,
    InsufficientMessageSecurity,
    UnknownTradingPartner,
    UnexpectedProcessingError,
}

impl ErrorKind {
    pub(crate) fn modifier(self) -> &'static str {
        match self {
            ErrorKind::DecryptionFailed => "decryption-failed",
            ErrorKind::AuthenticationFailed => "authentication-failed",
            ErrorKind::DecompressionFailed => "decompression-failed",
            ErrorKind::InsufficientMessageSecurity => "insufficient-message-security",
            ErrorKind::UnknownTradingPartner => "unknown-trading-partner",
            ErrorKind::UnexpectedProcessingError => "unexpected-processing-error",
        }
    }
}

impl Disposition {
    /// `processed` or `processed/error: <modifier>`.
    pub(crate) fn status(self) -> String {
        match self {
            Disposition::Processed => "processed".to_owned(),
            Disposition::Failed(kind) => format!("processed/error: {}", kind.modifier()),
        }
    }
}

/// What one MDN says, and to whom.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub reporting_ua: &'a str,
    /// Our AS2 name (the message's `AS2-To`) and the partner's (`AS2-From`).
    pub our_id: &'a str,
    pub partner_id: &'a str,
    pub original_message_id: &'a str,
    /// Only on success.
    pub mic: Option<&'a Mic>,
    pub disposition: Disposition,
}

/// Fresh identifiers: the MIME boundaries and the MDN's Message-ID.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub report_boundary: String,
    pub signed_boundary: String,
    pub message_id: String,
}

/// A built MDN: HTTP headers and body.
#[derive(Debug, Clone)]
pub(crate) struct Mdn {
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Builds the MDN; `sign` (our keys and the digest) makes it a signed receipt.
pub(crate) fn build(report: &Report<'_>, ids: &Ids, sign: Option<(&Keys, MicAlg)>) -> Result<Mdn, SignError> {
    let report_type =
        format!("multipart/report; report-type=disposition-notification; boundary=\"{}\"", ids.report_boundary);
    let report_body = report_body(report, &ids.report_boundary);
    let (content_type, body) = match sign {
        None => (report_type, report_body),
        Some((keys, alg)) => {
            let entity = [format!("Content-Type: {report_type}\r\n\r\n").as_bytes(), &report_body].concat();
            let signature = cms::sign(&entity, alg, keys)?;
            (signed_content_type(alg, &ids.signed_boundary), signed_body(&entity, &signature, &ids.signed_boundary))
        }
    };
    let headers = vec![
        ("AS2-Version", "1.2".to_owned()),
        ("AS2-From", quote_as2_name(report.our_id)),
        ("AS2-To", quote_as2_name(report.partner_id)),
        ("Message-ID", format!("<{}>", ids.message_id)),
        ("Subject", "Message Disposition Notification".to_owned()),
        ("MIME-Version", "1.0".to_owned()),
        ("Content-Type", content_type),
    ];
    Ok(Mdn { headers, body })
}

/// The body of the `multipart/report` (ends with the closing delimiter, no CRLF).
fn report_body(report: &Report<'_>, boundary: &str) -> Vec<u8> {
    let mut fields = format!(
        "Reporting-UA: {}\r\nOriginal-Recipient: rfc822; {to}\r\nFinal-Recipient: rfc822; {to}\r\nOriginal-Message-ID: <{}>\r\n",
        report.reporting_ua,
        report.original_message_id,
        to = quote_as2_name(report.our_id),
    );
    if let Some(mic) = report.mic {
        fields.push_str(&format!("Received-Content-MIC: {mic}\r\n"));
    }
    fields.push_str(&format!(
        "Disposition: automatic-action/MDN-sent-automatically; {}\r\n",
        report.disposition.status()
    ));
    format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{fields}\r\n\
         --{boundary}--",
        human_text(report),
    )
    .into_bytes()
}

fn human_text(report: &Report<'_>) -> String {
    match report.disposition {
        Disposition::Processed => format!(
            "The AS2 message <{}> sent to {} has been received and processed.\r\n\
             It is stored and on its way to its recipient.\r\n",
            report.original_message_id,
            quote_as2_name(report.our_id),
        ),
        Disposition::Failed(kind) => format!(
            "The AS2 message <{}> sent to {} could not be processed: {}.\r\n\
             Nothing of it was delivered.\r\n",
            report.original_message_id,
            quote_as2_name(report.our_id),
            kind.modifier(),
        ),
    }
}

/// The `Content-Type` of a `multipart/signed` (RFC 5751 §3.4.3.2); MDNs and
/// outbound messages share it.
pub(crate) fn signed_content_type(alg: MicAlg, boundary: &str) -> String {
    format!(
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={}; boundary=\"{boundary}\"",
        alg.micalg_param()
    )
}

/// The body of a `multipart/signed`: `entity` exactly as signed, then the detached
/// signature in base64 (ends with the closing delimiter and CRLF).
pub(crate) fn signed_body(entity: &[u8], signature: &[u8], boundary: &str) -> Vec<u8> {
    let encoded = BASE64.encode(signature);
    let lines: Vec<&str> =
        encoded.as_bytes().chunks(76).map(|line| std::str::from_utf8(line).unwrap_or_default()).collect();
    [
        format!("--{boundary}\r\n").as_bytes(),
        entity,
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"; smime-type=signed-data\r\n\
             Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n\
             {}\r\n--{boundary}--\r\n",
            lines.join("\r\n"),
        )
        .as_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use openssl::cms::{CMSOptions, CmsContentInfo};
    use openssl::stack::Stack;
    use openssl::x509::X509;

    use super::*;
    use crate::mime::{multipart_parts, parse_entity};

    fn ids() -> Ids {
        Ids { report_boundary: "r-1".into(), signed_boundary: "s-1".into(), message_id: "mdn-1@portcullis".into() }
    }

    fn report(mic: Option<&Mic>, disposition: Disposition) -> Report<'_> {
        Report {
            reporting_ua: "portcullis",
            our_id: "PORTCULLIS",
            partner_id: "Acme EU",
            original_message_id: "abc@acme",
            mic,
            disposition,
        }
    }

    #[test]
    fn unsigned_processed_report_reads_as_rfc_3798() {
        let mic = Mic { alg: MicAlg::Sha256, digest: vec![0; 32] };
        let mdn = build(&report(Some(&mic), Disposition::Processed), &ids(), None).expect("mdn");
        let header = |name: &str| mdn.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("AS2-From"), Some("PORTCULLIS"));
        assert_eq!(header("AS2-To"), Some("\"Acme EU\""));
        assert_eq!(header("AS2-Version"), Some("1.2"));
        assert_eq!(header("Message-ID"), Some("<mdn-1@portcullis>"));
        assert_eq!(
            header("Content-Type"),
            Some("multipart/report; report-type=disposition-notification; boundary=\"r-1\"")
        );
        let body = String::from_utf8(mdn.body.clone()).expect("ascii");
        let expected = "--r-1\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
            Reporting-UA: portcullis\r\nOriginal-Recipient: rfc822; PORTCULLIS\r\nFinal-Recipient: rfc822; PORTCULLIS\r\n\
            Original-Message-ID: <abc@acme>\r\n\
            Received-Content-MIC: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, sha256\r\n\
            Disposition: automatic-action/MDN-sent-automatically; processed\r\n\r\n--r-1--";
        assert!(body.ends_with(expected), "{body}");
        assert!(body.starts_with("--r-1\r\nContent-Type: text/plain"), "{body}");
        assert_eq!(multipart_parts(&mdn.body, "r-1").expect("parts").len(), 2);
    }

    #[test]
    fn failure_reports_carry_the_modifier_and_no_mic() {
        let mdn = build(&report(None, Disposition::Failed(ErrorKind::DecryptionFailed)), &ids(), None).expect("mdn");
        let body = String::from_utf8(mdn.body).expect("ascii");
        assert!(
            body.contains(
                "Disposition: automatic-action/MDN-sent-automatically; processed/error: decryption-failed\r\n"
            )
        );
        assert!(body.contains("could not be processed: decryption-failed."));
        assert!(!body.contains("Received-Content-MIC"));
    }

    #[test]
    fn signed_report_verifies_over_the_first_part() {
        let (partnership, _, _) = crate::cms::tests::partnership();
        let keys = Keys::load(&partnership).expect("keys");
        let mdn = build(&report(None, Disposition::Processed), &ids(), Some((&keys, MicAlg::Sha512))).expect("mdn");
        let content_type = &mdn.headers.iter().find(|(n, _)| *n == "Content-Type").expect("ct").1;
        assert!(content_type.starts_with("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-512"));
        let parts = multipart_parts(&mdn.body, "s-1").expect("parts");
        let first = &mdn.body[parts[0].clone()];
        assert!(first.starts_with(b"Content-Type: multipart/report;"));
        assert!(first.ends_with(b"--r-1--"));
        let signature = parse_entity(&mdn.body[parts[1].clone()]).expect("signature part");
        let der = signature.headers.decode(signature.body).expect("base64");
        let mut cms = CmsContentInfo::from_der(&der).expect("cms");
        let mut certs = Stack::new().expect("stack");
        certs.push(X509::from_pem(partnership.our_cert_pem.as_bytes()).expect("cert")).expect("push");
        let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
        cms.verify(Some(&certs), None, Some(first), None, flags).expect("signature verifies");
    }
}
