//! [`crate::mime`] over [`FileRegion`]s: an entity's headers and where its body
//! starts, a body decoded per `Content-Transfer-Encoding` into a scratch file, and
//! the parts of a multipart body — each with memory bounded by one buffer, however
//! large the entity. Same rules as the in-memory functions (the tests hold them to
//! it), with one bound more: whitespace after a boundary delimiter is at most
//! [`MAX_PADDING`] bytes.

use std::io::{self, BufRead, BufReader, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT as BASE64;
use partner::FileRegion;

use crate::mime::{Headers, MAX_HEADER_BYTES, MAX_PARTS, MimeError, decode_quoted_printable, parse_entity};
use crate::scratch::{BUFFER, Scratch};

/// Longest quoted-printable line (RFC 2045 allows 76 characters).
const MAX_QP_LINE: u64 = 64 * 1024;
/// Most whitespace between a boundary delimiter and its line break.
const MAX_PADDING: usize = 64;

/// Why a file-backed entity could not be taken apart: the message (a MIME problem)
/// or our disk (an I/O problem, not the partner's fault).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileMimeError {
    #[error("{0}")]
    Mime(#[from] MimeError),
    #[error("scratch file: {0}")]
    Io(#[from] io::Error),
}

/// Splits an entity (headers, empty line, body) into its headers and body.
pub(crate) fn parse_entity_in(raw: &FileRegion) -> Result<(Headers, FileRegion), FileMimeError> {
    let head = raw.slice(0, MAX_HEADER_BYTES as u64 + 2).to_vec(MAX_HEADER_BYTES + 2)?;
    let entity = parse_entity(&head)?;
    let body_start = (head.len() - entity.body.len()) as u64;
    Ok((entity.headers, raw.from(body_start)))
}

/// The body decoded per the headers' `Content-Transfer-Encoding`: the same region
/// for binary, 8bit and 7bit; a new scratch file for base64 and quoted-printable.
pub(crate) fn decode_in(headers: &Headers, body: &FileRegion, scratch: &Scratch) -> Result<FileRegion, FileMimeError> {
    match headers.transfer_encoding()?.as_str() {
        "base64" => scratch.write(|out| base64_to(&mut body.reader(), out)),
        "quoted-printable" => scratch.write(|out| quoted_printable_to(body, out)),
        _ => Ok(body.clone()),
    }
}

/// Base64 decoding, whitespace ignored, padding only at the very end.
fn base64_to(input: &mut impl Read, out: &mut impl Write) -> Result<(), FileMimeError> {
    let bad = || MimeError::BadEncoding("base64");
    let mut buffer = vec![0u8; BUFFER];
    let mut pending: Vec<u8> = Vec::with_capacity(BUFFER + 4);
    let mut padded = false;
    loop {
        let read = input.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        pending.extend(buffer[..read].iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = pending.len() / 4 * 4;
        if whole == 0 {
            continue;
        }
        if padded {
            return Err(bad().into());
        }
        padded = pending[whole - 1] == b'=';
        out.write_all(&BASE64.decode(&pending[..whole]).map_err(|_| bad())?)?;
        pending.drain(..whole);
    }
    if !pending.is_empty() {
        if padded {
            return Err(bad().into());
        }
        out.write_all(&BASE64.decode(&pending).map_err(|_| bad())?)?;
    }
    Ok(())
}

/// Quoted-printable, line by line (a soft line break ends its line).
fn quoted_printable_to(body: &FileRegion, out: &mut impl Write) -> Result<(), FileMimeError> {
    let mut reader = BufReader::with_capacity(BUFFER, body.reader());
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_QP_LINE).read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(());
        }
        if read as u64 == MAX_QP_LINE && line.last() != Some(&b'\n') {
            return Err(MimeError::BadEncoding("quoted-printable").into());
        }
        out.write_all(&decode_quoted_printable(&line))?;
    }
}

/// The parts of a multipart body, as (offset, length) in `body`: the same as
/// [`crate::mime::multipart_parts`] gives for the body in memory.
pub(crate) fn multipart_parts_in(body: &FileRegion, boundary: &str) -> Result<Vec<(u64, u64)>, FileMimeError> {
    multipart_parts_chunked(body, boundary, BUFFER)
}

/// A delimiter's verdict, once enough bytes after it are there.
enum Delimiter {
    /// Not a delimiter line (text, or a longer boundary).
    No,
    /// A delimiter; `next` is where the line after it starts.
    Yes { closing: bool, next: usize },
}

/// Judges the candidate at `at` of `window`; `None` if more bytes are needed.
fn judge(window: &[u8], at: usize, delimiter_len: usize, eof: bool) -> Option<Delimiter> {
    let after = &window[at + delimiter_len..];
    let closing = after.starts_with(b"--");
    if !closing && after.len() < 2 && !eof {
        return None;
    }
    let rest = if closing { &after[2..] } else { after };
    let padding = rest.iter().take(MAX_PADDING + 1).take_while(|&&b| b == b' ' || b == b'\t').count();
    if padding > MAX_PADDING {
        return Some(Delimiter::No);
    }
    let line_end = match &rest[padding..] {
        [] if closing && eof => 0,
        [] | [b'\r'] if !eof => return None,
        [b'\n', ..] => 1,
        [b'\r', b'\n', ..] => 2,
        _ => return Some(Delimiter::No),
    };
    Some(Delimiter::Yes { closing, next: at + delimiter_len + usize::from(closing) * 2 + padding + line_end })
}

/// [`multipart_parts_in`] reading `chunk` bytes at a time (small in tests).
fn multipart_parts_chunked(body: &FileRegion, boundary: &str, chunk: usize) -> Result<Vec<(u64, u64)>, FileMimeError> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(MimeError::NoBoundary.into());
    }
    let delimiter = format!("--{boundary}");
    let mut reader = body.reader();
    let mut buffer = vec![0u8; chunk];
    // `window` holds the body from offset `base`; candidates before `search` are done.
    let (mut window, mut base, mut search, mut eof) = (Vec::new(), 0u64, 0usize, false);
    let mut parts = Vec::new();
    let mut open: Option<u64> = None;
    loop {
        if !eof {
            let read = reader.read(&mut buffer)?;
            eof = read == 0;
            window.extend_from_slice(&buffer[..read]);
        }
        let mut waiting = false;
        while let Some(found) = memchr::memmem::find(&window[search..], delimiter.as_bytes()) {
            let at = search + found;
            if at > 0 && window[at - 1] != b'\n' {
                // (`at` is 0 only at the body's start: two bytes before it are kept.)
                search = at + 1;
                continue;
            }
            let verdict = match judge(&window, at, delimiter.len(), eof) {
                Some(verdict) => verdict,
                None => {
                    waiting = true;
                    break;
                }
            };
            search = at + 1;
            let Delimiter::Yes { closing, next } = verdict else { continue };
            if let Some(start) = open.take() {
                let mut end = (base + at as u64).saturating_sub(1);
                if end > start && at >= 2 && window[at - 2] == b'\r' {
                    end -= 1;
                }
                parts.push((start, end.max(start) - start));
            }
            if closing {
                return if parts.is_empty() { Err(MimeError::BadMultipart.into()) } else { Ok(parts) };
            }
            if parts.len() == MAX_PARTS {
                return Err(MimeError::BadMultipart.into());
            }
            open = Some(base + next as u64);
        }
        if eof {
            return Err(MimeError::BadMultipart.into());
        }
        if !waiting {
            // No delimiter starts before the last `delimiter.len() - 1` bytes.
            search = search.max(window.len().saturating_sub(delimiter.len() - 1));
        }
        // Keep what a candidate still needs: its two bytes before, and a partial
        // delimiter at the end.
        let keep_from = search.min(window.len().saturating_sub(delimiter.len() + MAX_PADDING + 4)).saturating_sub(2);
        window.drain(..keep_from);
        base += keep_from as u64;
        search -= keep_from;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mime::multipart_parts;
    use crate::scratch::tests::region;

    fn scratch() -> Scratch {
        Scratch::new(std::env::temp_dir())
    }

    fn headers(cte: &str) -> Headers {
        Headers::from_pairs(vec![("Content-Transfer-Encoding".into(), cte.into())])
    }

    #[test]
    fn splits_entities_on_disk() {
        let raw = region(b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n");
        let (headers, body) = parse_entity_in(&raw).expect("entity");
        assert_eq!(headers.content_type().value, "text/plain");
        assert_eq!(decode_in(&headers, &body, &scratch()).expect("decode").to_vec(100).expect("read"), b"hello");
        let long = format!("X: {}\r\n\r\n", "y".repeat(MAX_HEADER_BYTES + 10));
        assert!(matches!(parse_entity_in(&region(long.as_bytes())), Err(FileMimeError::Mime(_))));
    }

    #[test]
    fn decodes_like_the_in_memory_decoder() {
        let big: Vec<u8> = (0..3 * BUFFER as u32 + 7).map(|i| (i * 7 + i / 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
        let folded: Vec<u8> = encoded.as_bytes().chunks(76).flat_map(|line| [line, b"\r\n"].concat()).collect();
        let decoded = decode_in(&headers("base64"), &region(&folded), &scratch()).expect("decode");
        assert_eq!(decoded.to_vec(big.len()).expect("read"), big);
        for (cte, input) in [
            ("quoted-printable", &b"a=3Db=\r\nc=ZZ=\r\nline two\r\n"[..]),
            ("base64", b"aGVsbG8"),
            ("binary", b"\x00\xff"),
            ("7bit", b"text"),
        ] {
            let expected = headers(cte).decode(input).expect("memory").into_owned();
            let decoded = decode_in(&headers(cte), &region(input), &scratch()).expect("file");
            assert_eq!(decoded.to_vec(1 << 20).expect("read"), expected, "{cte}");
        }
        for bad in [&b"!!!!"[..], b"aGk=aGk=", b"aGk=a"] {
            assert!(decode_in(&headers("base64"), &region(bad), &scratch()).is_err(), "{bad:?}");
        }
        assert!(decode_in(&headers("x-uuencode"), &region(b""), &scratch()).is_err());
        let long_line = vec![b'a'; MAX_QP_LINE as usize + 1];
        assert!(decode_in(&headers("quoted-printable"), &region(&long_line), &scratch()).is_err());
    }

    fn same_parts(body: &[u8], boundary: &str, chunk: usize) {
        let memory = multipart_parts(body, boundary)
            .map(|parts| parts.into_iter().map(|r| (r.start as u64, (r.end - r.start) as u64)).collect::<Vec<_>>());
        let file = multipart_parts_chunked(&region(body), boundary, chunk);
        match (memory, file) {
            (Ok(memory), Ok(file)) => assert_eq!(memory, file, "{:?}", String::from_utf8_lossy(body)),
            (Err(_), Err(_)) => {}
            (memory, file) => panic!("{memory:?} vs {file:?} for {:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn finds_the_parts_the_in_memory_splitter_finds() {
        let cases: [&[u8]; 6] = [
            b"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1  \r\nsig\r\n--b1--\r\nepilogue",
            b"--b1\nA: b\n\nx\n--b1\ny\n--b1--",
            b"--b1\r\nx\r\n--b12\r\nstill x\r\n--b1--\r\n",
            b"--b1\r\nx\r\n--b1\r\ny\r\n",
            b"--b1--\r\n",
            b"text --b1\r\n",
        ];
        for body in cases {
            for chunk in [1, 2, 3, 5, 8, 64, 4096] {
                same_parts(body, "b1", chunk);
            }
        }
    }

    #[test]
    fn large_parts_are_found_with_a_small_window() {
        let payload = vec![b'x'; 5 * BUFFER + 3];
        let body = [&b"--sig\r\n"[..], &payload, b"\r\n--sig\r\nsignature\r\n--sig--\r\n"].concat();
        let parts = multipart_parts_in(&region(&body), "sig").expect("parts");
        assert_eq!(parts, [(7, payload.len() as u64), (7 + payload.len() as u64 + 9, 9)]);
    }

    proptest! {
        #[test]
        fn agrees_with_the_in_memory_splitter(
            body in proptest::collection::vec(
                prop_oneof![Just(b'-'), Just(b'\r'), Just(b'\n'), Just(b'b'), Just(b' '), any::<u8>()], 0..300),
            chunk in 1usize..40,
        ) {
            same_parts(&body, "b", chunk);
        }
    }
}
