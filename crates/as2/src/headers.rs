//! The AS2 request headers (RFC 4130 §6 and §7.3): who sends to whom, the message's
//! id, and what kind of receipt (MDN) the sender asks for.
//!
//! ```text
//! AS2-From: "Acme EU"                     AS2-To: PORTCULLIS     (§6.2: 1-128 printable ASCII, may be quoted)
//! Message-ID: <20240101.1@acme.example>   (angle brackets stripped)
//! Disposition-Notification-To: x@acme     (present: an MDN is requested)
//! Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature;
//!     signed-receipt-micalg=optional, sha256, sha1
//! Receipt-Delivery-Option: https://acme.example/as2/mdn   (present: asynchronous MDN)
//! ```

use crate::mic::MicAlg;
use crate::mime::{Headers, unquote};

/// Longest AS2 name (RFC 4130 §6.2).
const MAX_AS2_NAME: usize = 128;
/// Longest Message-ID accepted (RFC 5322's line limit).
const MAX_MESSAGE_ID: usize = 998;

/// The AS2 envelope of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct As2Headers {
    /// `AS2-From` and `AS2-To`, unquoted.
    pub from: String,
    pub to: String,
    /// `Message-ID` without angle brackets.
    pub message_id: String,
    /// `None`: no MDN requested.
    pub mdn: Option<MdnRequest>,
}

/// What kind of MDN the sender asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MdnRequest {
    /// `signed-receipt-protocol` names `pkcs7-signature`.
    pub signed: bool,
    /// The first supported algorithm of `signed-receipt-micalg`, if any.
    pub micalg: Option<MicAlg>,
    /// `Receipt-Delivery-Option`: where to POST an asynchronous MDN (unchecked).
    pub async_url: Option<String>,
}

/// A request without a usable AS2 envelope (HTTP 400, no MDN: there is no one to
/// address it to).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid {0} header")]
    Invalid(&'static str),
}

/// Reads the AS2 headers of a request.
pub(crate) fn parse(headers: &Headers) -> Result<As2Headers, HeaderError> {
    let from = as2_name(headers, "AS2-From")?;
    let to = as2_name(headers, "AS2-To")?;
    let message_id = message_id(headers)?;
    let mdn = headers.get("disposition-notification-to").map(|_| {
        let (signed, micalg) = headers.get("disposition-notification-options").map(options).unwrap_or((false, None));
        let async_url = headers.get("receipt-delivery-option").map(str::trim).filter(|url| !url.is_empty());
        MdnRequest { signed, micalg, async_url: async_url.map(str::to_owned) }
    });
    Ok(As2Headers { from, to, message_id, mdn })
}

fn as2_name(headers: &Headers, name: &'static str) -> Result<String, HeaderError> {
    let raw = headers.get(name).ok_or(HeaderError::Missing(name))?;
    let value = unquote(raw.trim());
    if !valid_as2_name(&value) {
        return Err(HeaderError::Invalid(name));
    }
    Ok(value)
}

/// An AS2 name (unquoted): 1 to 128 printable ASCII characters (RFC 4130 §6.2).
pub(crate) fn valid_as2_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_AS2_NAME && name.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// A Message-ID without its angle brackets: 1 to 998 visible ASCII characters.
pub(crate) fn valid_message_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_MESSAGE_ID && id.bytes().all(|b| (0x21..0x7f).contains(&b))
}

fn message_id(headers: &Headers) -> Result<String, HeaderError> {
    let raw = headers.get("message-id").ok_or(HeaderError::Missing("Message-ID"))?.trim();
    let id = strip_angle_brackets(raw);
    if !valid_message_id(id) {
        return Err(HeaderError::Invalid("Message-ID"));
    }
    Ok(id.to_owned())
}

/// `<id>` → `id` (trimmed); a value without brackets as is.
pub(crate) fn strip_angle_brackets(raw: &str) -> &str {
    let raw = raw.trim();
    raw.strip_prefix('<').and_then(|id| id.strip_suffix('>')).unwrap_or(raw).trim()
}

/// `Disposition-Notification-Options` (RFC 4130 §7.3): `name=importance, value, …`
/// parameters separated by `;`. Returns (signed receipt requested, MIC algorithm).
fn options(text: &str) -> (bool, Option<MicAlg>) {
    let (mut signed, mut micalg) = (false, None);
    for parameter in text.split(';') {
        let Some((name, values)) = parameter.split_once('=') else { continue };
        // The first value is the importance (`required` / `optional`).
        let mut values = values.split(',').map(str::trim).skip(1);
        match name.trim().to_ascii_lowercase().as_str() {
            "signed-receipt-protocol" => signed = values.any(|v| v.eq_ignore_ascii_case("pkcs7-signature")),
            "signed-receipt-micalg" => micalg = MicAlg::first_supported(values),
            _ => {}
        }
    }
    (signed, micalg)
}

/// An AS2 name as it goes into a header: quoted when it holds a space, a quote or a
/// backslash (RFC 4130 §6.2).
pub(crate) fn quote_as2_name(name: &str) -> String {
    if !name.contains([' ', '"', '\\']) {
        return name.to_owned();
    }
    quoted_string(name)
}

/// An RFC 5322 quoted-string: in quotes, `"` and `\` escaped with a backslash.
pub(crate) fn quoted_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A URL we may POST to (an asynchronous MDN, an outbound message): absolute,
/// `http` or `https`.
pub(crate) fn http_url(text: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse(text.trim()).ok().filter(|url| matches!(url.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from_pairs(pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect())
    }

    const BASE: [(&str, &str); 3] =
        [("as2-from", "\"Acme \\\"EU\\\"\""), ("AS2-To", "PORTCULLIS"), ("message-id", "<abc.123@acme>")];

    #[test]
    fn reads_the_envelope() {
        let parsed = parse(&headers(&BASE)).expect("headers");
        assert_eq!(parsed.from, "Acme \"EU\"");
        assert_eq!(parsed.to, "PORTCULLIS");
        assert_eq!(parsed.message_id, "abc.123@acme");
        assert_eq!(parsed.mdn, None);
        assert_eq!(quote_as2_name(&parsed.from), "\"Acme \\\"EU\\\"\"");
        assert_eq!(quote_as2_name("PORTCULLIS"), "PORTCULLIS");
    }

    #[test]
    fn reads_the_mdn_request() {
        let mut pairs = BASE.to_vec();
        pairs.push(("Disposition-Notification-To", "as2@acme"));
        pairs.push((
            "Disposition-Notification-Options",
            "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, md5, SHA-384, sha1",
        ));
        pairs.push(("Receipt-Delivery-Option", " https://acme.example/mdn "));
        let mdn = parse(&headers(&pairs)).expect("headers").mdn.expect("mdn requested");
        assert_eq!(
            mdn,
            MdnRequest {
                signed: true,
                micalg: Some(MicAlg::Sha384),
                async_url: Some("https://acme.example/mdn".into())
            }
        );
        // pyas2lib's spelling
        let (signed, micalg) =
            options("signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=optional, sha256");
        assert_eq!((signed, micalg), (true, Some(MicAlg::Sha256)));
        assert_eq!(options("garbage;;=;signed-receipt-protocol"), (false, None));
        let plain = parse(&headers(&[BASE[0], BASE[1], BASE[2], ("Disposition-Notification-To", "x")])).expect("h");
        assert_eq!(plain.mdn, Some(MdnRequest { signed: false, micalg: None, async_url: None }));
    }

    #[test]
    fn refuses_missing_or_invalid_envelopes() {
        let cases: &[(&[(&str, &str)], HeaderError)] = &[
            (&[BASE[1], BASE[2]], HeaderError::Missing("AS2-From")),
            (&[BASE[0], BASE[2]], HeaderError::Missing("AS2-To")),
            (&[BASE[0], BASE[1]], HeaderError::Missing("Message-ID")),
            (&[("AS2-From", "\"\""), BASE[1], BASE[2]], HeaderError::Invalid("AS2-From")),
            (&[BASE[0], ("AS2-To", "a\u{7}b"), BASE[2]], HeaderError::Invalid("AS2-To")),
            (&[BASE[0], BASE[1], ("Message-ID", "<>")], HeaderError::Invalid("Message-ID")),
            (&[BASE[0], BASE[1], ("Message-ID", "<a b>")], HeaderError::Invalid("Message-ID")),
        ];
        for (pairs, error) in cases {
            assert_eq!(parse(&headers(pairs)).as_ref().err(), Some(error), "{pairs:?}");
        }
        let long = "x".repeat(MAX_AS2_NAME + 1);
        assert_eq!(
            parse(&headers(&[("AS2-From", &long), BASE[1], BASE[2]])).err(),
            Some(HeaderError::Invalid("AS2-From"))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(from in ".{0,80}", to in ".{0,80}", id in ".{0,80}", options in ".{0,120}") {
            let h = headers(&[("AS2-From", &from), ("AS2-To", &to), ("Message-ID", &id),
                ("Disposition-Notification-To", "x"), ("Disposition-Notification-Options", &options)]);
            if let Ok(parsed) = parse(&h) {
                prop_assert!(!parsed.from.is_empty() && !parsed.message_id.contains(['\r', '\n', ' ']));
                prop_assert_eq!(unquote(&quote_as2_name(&parsed.from)), parsed.from);
            }
        }
    }
}
