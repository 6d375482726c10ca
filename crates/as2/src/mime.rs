//! Just enough MIME (RFC 2045, 2046) for AS2: an entity's header block and body,
//! `Content-Type` / `Content-Disposition` parameters, the parts of a multipart body
//! with their exact bytes (a signature covers them byte for byte), and the
//! `Content-Transfer-Encoding`s partners use.
//!
//! Lines may end in CRLF or in a bare LF (some products send LF); nothing is
//! re-encoded, so a part's bytes are exactly the bytes the partner signed.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT as BASE64;

/// Largest header block of one entity.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one entity.
const MAX_HEADERS: usize = 128;
/// Most parts looked at in one multipart body (AS2 uses two).
pub(crate) const MAX_PARTS: usize = 16;

/// Why an entity could not be taken apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MimeError {
    #[error("no empty line after the headers")]
    NoHeaderEnd,
    #[error("header block too large")]
    HeadersTooLarge,
    #[error("malformed header line")]
    BadHeader,
    #[error("multipart without a boundary")]
    NoBoundary,
    #[error("multipart body without its parts or closing delimiter")]
    BadMultipart,
    #[error("unsupported Content-Transfer-Encoding {0:?}")]
    UnsupportedEncoding(String),
    #[error("bad {0} body")]
    BadEncoding(&'static str),
}

/// Header fields in received order, names as sent, values unfolded and trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Headers(pairs)
    }

    /// HTTP headers (names lowercase as HTTP/1 has them; values decoded lossily).
    pub(crate) fn from_http(map: &hyper::HeaderMap) -> Self {
        Headers(
            map.iter()
                .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect(),
        )
    }

    /// The first field called `name` (case-insensitive).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `Content-Type`, `text/plain` when absent (RFC 2045 §5.2).
    pub(crate) fn content_type(&self) -> Params {
        self.get("content-type").map_or_else(|| Params::parse("text/plain"), Params::parse)
    }

    /// The filename of `Content-Disposition`, if any and not empty.
    pub(crate) fn filename(&self) -> Option<String> {
        let disposition = Params::parse(self.get("content-disposition")?);
        disposition.param("filename").filter(|name| !name.is_empty()).map(str::to_owned)
    }

    /// The body decoded per `Content-Transfer-Encoding` (binary, 8bit, 7bit as is;
    /// base64; quoted-printable).
    pub(crate) fn decode<'a>(&self, body: &'a [u8]) -> Result<Cow<'a, [u8]>, MimeError> {
        match self.transfer_encoding()?.as_str() {
            "base64" => decode_base64(body).map(Cow::Owned),
            "quoted-printable" => Ok(Cow::Owned(decode_quoted_printable(body))),
            _ => Ok(Cow::Borrowed(body)),
        }
    }

    /// The `Content-Transfer-Encoding`, lowercase: `binary` (also for 8bit, 7bit and
    /// none), `base64` or `quoted-printable`; any other is refused.
    pub(crate) fn transfer_encoding(&self) -> Result<String, MimeError> {
        let encoding = self.get("content-transfer-encoding").unwrap_or("binary").trim().to_ascii_lowercase();
        match encoding.as_str() {
            "" | "binary" | "8bit" | "7bit" => Ok("binary".to_owned()),
            "base64" | "quoted-printable" => Ok(encoding),
            _ => Err(MimeError::UnsupportedEncoding(encoding)),
        }
    }
}

/// A MIME entity: its headers and where its body starts in its bytes.
#[derive(Debug)]
pub(crate) struct Entity<'a> {
    pub headers: Headers,
    pub body: &'a [u8],
}

/// Splits `raw` (headers, empty line, body) into an [`Entity`].
pub(crate) fn parse_entity(raw: &[u8]) -> Result<Entity<'_>, MimeError> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut at = 0;
    loop {
        let newline = memchr::memchr(b'\n', &raw[at..]).ok_or(MimeError::NoHeaderEnd)?;
        let line = trim_cr(&raw[at..at + newline]);
        at += newline + 1;
        if line.is_empty() {
            break;
        }
        if at > MAX_HEADER_BYTES {
            return Err(MimeError::HeadersTooLarge);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            let (_, value) = fields.last_mut().ok_or(MimeError::BadHeader)?;
            value.extend_from_slice(line);
            continue;
        }
        if fields.len() == MAX_HEADERS {
            return Err(MimeError::HeadersTooLarge);
        }
        let colon = memchr::memchr(b':', line).ok_or(MimeError::BadHeader)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
            return Err(MimeError::BadHeader);
        }
        fields.push((String::from_utf8_lossy(name).into_owned(), line[colon + 1..].to_vec()));
    }
    let headers =
        fields.into_iter().map(|(name, value)| (name, String::from_utf8_lossy(&value).trim().to_owned())).collect();
    Ok(Entity { headers: Headers(headers), body: &raw[at..] })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A header value of the form `value; name=value; name="quoted"` (Content-Type,
/// Content-Disposition): the first value lowercased, parameter names lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    pub value: String,
    params: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(text: &str) -> Params {
        let mut pieces = split_outside_quotes(text, ';').into_iter();
        let value = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = pieces
            .filter_map(|piece| {
                let (name, value) = piece.split_once('=')?;
                Some(param(name.trim(), value.trim()))
            })
            .collect();
        Params { value, params }
    }

    /// A parameter's value (name case-insensitive).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One parameter, unquoted; an RFC 2231 `name*=charset''value` is percent-decoded
/// (UTF-8, lossy) and stored under `name`.
fn param(name: &str, value: &str) -> (String, String) {
    let name = name.to_ascii_lowercase();
    if let Some(plain) = name.strip_suffix('*') {
        let encoded = value.splitn(3, '\'').nth(2).unwrap_or(value);
        return (plain.to_owned(), String::from_utf8_lossy(&percent_decode(encoded)).into_owned());
    }
    (name, unquote(value))
}

fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let (mut pieces, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                pieces.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Removes the quotes and backslash escapes of an RFC 5322 quoted-string; a value
/// without quotes is returned as is.
pub(crate) fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(hex_pair)) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
}

/// The byte ranges of the parts of a multipart `body` (RFC 2046 §5.1.1): each part
/// runs from the line after its delimiter to the line break before the next one
/// (that line break belongs to the delimiter). The preamble and epilogue are
/// ignored; the closing delimiter must be there.
pub(crate) fn multipart_parts(body: &[u8], boundary: &str) -> Result<Vec<Range<usize>>, MimeError> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(MimeError::NoBoundary);
    }
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    for at in memchr::memmem::find_iter(body, delimiter.as_bytes()) {
        if at > 0 && body[at - 1] != b'\n' {
            continue;
        }
        let after = &body[at + delimiter.len()..];
        let closing = after.starts_with(b"--");
        let rest = if closing { &after[2..] } else { after };
        let padding = rest.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        let line_end = match &rest[padding..] {
            [] if closing => 0,
            [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            _ => continue, // a longer boundary that starts like ours, or text
        };
        if let Some(start) = open.take() {
            let end = if at == 0 { 0 } else { at - 1 };
            let end = if end > start && body[end - 1] == b'\r' { end - 1 } else { end };
            parts.push(start..end.max(start));
        }
        if closing {
            return if parts.is_empty() { Err(MimeError::BadMultipart) } else { Ok(parts) };
        }
        if parts.len() == MAX_PARTS {
            return Err(MimeError::BadMultipart);
        }
        open = Some(at + delimiter.len() + padding + line_end);
    }
    Err(MimeError::BadMultipart)
}

/// 32 random hex digits, for boundaries and Message-IDs.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what matters here: fall back to the clock.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The right side of a Message-ID made from a name (`Reporting-UA`, an AS2 name):
/// its letters, digits, dots and dashes, at most 64; `as2` if none.
pub(crate) fn id_domain(name: &str) -> String {
    let domain: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')).take(64).collect();
    if domain.is_empty() { "as2".to_owned() } else { domain }
}

fn decode_base64(body: &[u8]) -> Result<Vec<u8>, MimeError> {
    let compact: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode(compact).map_err(|_| MimeError::BadEncoding("base64"))
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes and `=` soft line breaks; a
/// malformed escape is kept as is (the RFC's advice for robust decoders).
pub(crate) fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        match &body[i + 1..] {
            [b'\r', b'\n', ..] => i += 3,
            [b'\n', ..] => i += 2,
            rest => match rest.get(..2).and_then(hex_pair) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'=');
                    i += 1;
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splits_headers_and_body_with_crlf_or_lf() {
        for raw in [
            &b"Content-Type: application/edi-x12\r\nContent-Disposition: attachment;\r\n\tfilename=\"a b.edi\"\r\n\r\nISA*00\r\n"[..],
            &b"Content-Type: application/edi-x12\nContent-Disposition: attachment;\n\tfilename=\"a b.edi\"\n\nISA*00\r\n"[..],
        ] {
            let entity = parse_entity(raw).expect("entity");
            assert_eq!(entity.body, b"ISA*00\r\n");
            assert_eq!(entity.headers.content_type().value, "application/edi-x12");
            assert_eq!(entity.headers.get("CONTENT-disposition"), Some("attachment;\tfilename=\"a b.edi\""));
            assert_eq!(entity.headers.filename().as_deref(), Some("a b.edi"));
        }
        let bare = parse_entity(b"\r\nbody").expect("no headers");
        assert_eq!((bare.body, bare.headers.content_type().value.as_str()), (&b"body"[..], "text/plain"));
    }

    #[test]
    fn refuses_malformed_header_blocks() {
        assert_eq!(parse_entity(b"Content-Type: x\r\n").err(), Some(MimeError::NoHeaderEnd));
        assert_eq!(parse_entity(b" folded: first\r\n\r\n").err(), Some(MimeError::BadHeader));
        assert_eq!(parse_entity(b"no colon\r\n\r\n").err(), Some(MimeError::BadHeader));
        assert_eq!(parse_entity(b"Bad Name: x\r\n\r\n").err(), Some(MimeError::BadHeader));
        let many = "X: y\r\n".repeat(MAX_HEADERS + 1) + "\r\n";
        assert_eq!(parse_entity(many.as_bytes()).err(), Some(MimeError::HeadersTooLarge));
        let long = format!("X: {}\r\n\r\n", "y".repeat(MAX_HEADER_BYTES));
        assert_eq!(parse_entity(long.as_bytes()).err(), Some(MimeError::HeadersTooLarge));
    }

    #[test]
    fn parses_parameters() {
        let ct = Params::parse(
            r#"Multipart/Signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="a;b\"c""#,
        );
        assert_eq!(ct.value, "multipart/signed");
        assert_eq!(ct.param("Protocol"), Some("application/pkcs7-signature"));
        assert_eq!(ct.param("micalg"), Some("sha-256"));
        assert_eq!(ct.param("boundary"), Some("a;b\"c"));
        assert_eq!(ct.param("missing"), None);
        let cd = Params::parse("attachment; filename*=UTF-8''na%C3%AFve%20file.txt");
        assert_eq!(cd.param("filename"), Some("naïve file.txt"));
        assert_eq!(Params::parse("").value, "");
    }

    #[test]
    fn finds_parts_exactly() {
        let body = b"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1  \r\nsig\r\n--b1--\r\nepilogue";
        let parts = multipart_parts(body, "b1").expect("parts");
        let texts: Vec<&[u8]> = parts.iter().map(|r| &body[r.clone()]).collect();
        assert_eq!(texts, [&b"Content-Type: text/plain\r\n\r\nhello"[..], b"sig"]);
        // LF only, delimiter at the very start, no epilogue newline.
        let body = b"--b1\nA: b\n\nx\n--b1\ny\n--b1--";
        let parts = multipart_parts(body, "b1").expect("parts");
        assert_eq!(&body[parts[0].clone()], b"A: b\n\nx");
        assert_eq!(&body[parts[1].clone()], b"y");
    }

    #[test]
    fn ignores_look_alike_boundaries_and_refuses_unclosed_bodies() {
        let body = b"--b1\r\nx\r\n--b12\r\nstill x\r\n--b1--\r\n";
        let parts = multipart_parts(body, "b1").expect("parts");
        assert_eq!(&body[parts[0].clone()], b"x\r\n--b12\r\nstill x");
        assert_eq!(multipart_parts(b"--b1\r\nx\r\n--b1\r\ny\r\n", "b1"), Err(MimeError::BadMultipart));
        assert_eq!(multipart_parts(b"--b1--\r\n", "b1"), Err(MimeError::BadMultipart));
        assert_eq!(multipart_parts(b"x", ""), Err(MimeError::NoBoundary));
        assert_eq!(multipart_parts(b"text --b1\r\n", "b1"), Err(MimeError::BadMultipart));
    }

    #[test]
    fn decodes_transfer_encodings() {
        let headers = |cte: &str| Headers::from_pairs(vec![("Content-Transfer-Encoding".into(), cte.into())]);
        assert_eq!(headers("base64").decode(b"aGVs\r\nbG8=\r\n").expect("b64").as_ref(), b"hello");
        assert_eq!(headers("BINARY").decode(b"\x00\xff").expect("binary").as_ref(), b"\x00\xff");
        assert_eq!(headers("quoted-printable").decode(b"a=3Db=\r\nc=ZZ=").expect("qp").as_ref(), b"a=bc=ZZ=");
        assert_eq!(headers("base64").decode(b"!!!").err(), Some(MimeError::BadEncoding("base64")));
        assert!(matches!(headers("x-uuencode").decode(b""), Err(MimeError::UnsupportedEncoding(_))));
        assert_eq!(Headers::default().decode(b"raw").expect("default").as_ref(), b"raw");
    }

    #[test]
    fn unquotes() {
        assert_eq!(unquote(r#""Acme \"EU\" Ltd""#), "Acme \"EU\" Ltd");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\"unterminated"), "unterminated");
        assert_eq!(unquote("\"trailing\\\""), "trailing\"");
    }

    proptest! {
        #[test]
        fn arbitrary_entities_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(entity) = parse_entity(&raw) {
                let ct = entity.headers.content_type();
                let _ = entity.headers.filename();
                let _ = entity.headers.decode(entity.body);
                if let Some(boundary) = ct.param("boundary") {
                    let _ = multipart_parts(entity.body, boundary);
                }
            }
        }

        #[test]
        fn arbitrary_multipart_bodies_never_panic(
            body in proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'\r'), Just(b'\n'), Just(b'b'), Just(b' '), any::<u8>()], 0..512),
        ) {
            if let Ok(parts) = multipart_parts(&body, "b") {
                for part in parts {
                    prop_assert!(part.start <= part.end && part.end <= body.len());
                }
            }
        }

        #[test]
        fn arbitrary_parameters_never_panic(text in ".{0,200}") {
            let params = Params::parse(&text);
            let _ = params.param("boundary");
            let _ = percent_decode(&text);
            let _ = decode_quoted_printable(text.as_bytes());
        }
    }
}
