//! A small bounded BER/DER reader (enough to walk a CMS `ContentInfo` and a
//! `CompressedData`, X.690) and DER writer (enough for our MDN's `SignedData`).
//!
//! The reader takes one-byte tags, definite lengths of up to four octets and, since
//! other AS2 products stream their CMS, BER indefinite lengths ended by `00 00`. It
//! never reads past its input, allocates nothing, and nests at most [`MAX_DEPTH`]
//! levels, so no input can make it panic, loop or overflow the stack.

/// Deepest nesting the reader follows (a `CompressedData` needs 6).
pub(crate) const MAX_DEPTH: usize = 16;

/// Universal tags used here.
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
/// `[0]` constructed (EXPLICIT, or IMPLICIT over a constructed type).
pub(crate) const CONTEXT_0: u8 = 0xa0;
#[cfg(test)]
/// A BER constructed OCTET STRING (segments).
const OCTET_STRING_CONSTRUCTED: u8 = 0x24;

/// Why the bytes are not the expected encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DerError {
    #[error("truncated encoding")]
    Truncated,
    #[error("multi-byte tag")]
    HighTag,
    #[error("bad length")]
    BadLength,
    #[error("nested too deeply")]
    TooDeep,
    #[error("unexpected tag {0:#04x}")]
    UnexpectedTag(u8),
    #[cfg(test)]
    #[error("content larger than allowed")]
    TooLarge,
}

/// One element: its tag and its content octets (for an indefinite length, everything
/// between the header and the end-of-contents octets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    depth: usize,
}

impl<'a> Tlv<'a> {
    /// The elements inside a constructed element.
    pub(crate) fn children(&self) -> Result<Reader<'a>, DerError> {
        if self.depth + 1 >= MAX_DEPTH {
            return Err(DerError::TooDeep);
        }
        Ok(Reader { rest: self.content, depth: self.depth + 1 })
    }

    /// The content of a constructed element that must hold exactly one element.
    pub(crate) fn only_child(&self) -> Result<Tlv<'a>, DerError> {
        self.children()?.next()
    }

    #[cfg(test)]
    /// Appends the octets of an OCTET STRING, primitive or (BER) constructed from
    /// segments, refusing to grow `out` beyond `limit` bytes.
    pub(crate) fn octets_into(&self, out: &mut Vec<u8>, limit: usize) -> Result<(), DerError> {
        match self.tag {
            OCTET_STRING => {
                if out.len().saturating_add(self.content.len()) > limit {
                    return Err(DerError::TooLarge);
                }
                out.extend_from_slice(self.content);
                Ok(())
            }
            OCTET_STRING_CONSTRUCTED => {
                let mut segments = self.children()?;
                while !segments.is_empty() {
                    segments.next()?.octets_into(out, limit)?;
                }
                Ok(())
            }
            other => Err(DerError::UnexpectedTag(other)),
        }
    }
}

/// A cursor over consecutive elements.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { rest: input, depth: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element.
    pub(crate) fn next(&mut self) -> Result<Tlv<'a>, DerError> {
        let (tlv, rest) = read(self.rest, self.depth)?;
        self.rest = rest;
        Ok(tlv)
    }

    /// The next element, which must carry `tag`.
    pub(crate) fn tagged(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.next()?;
        if tlv.tag != tag {
            return Err(DerError::UnexpectedTag(tlv.tag));
        }
        Ok(tlv)
    }
}

/// Reads one element from the front of `input`: the element and what follows it.
fn read(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), DerError> {
    if depth >= MAX_DEPTH {
        return Err(DerError::TooDeep);
    }
    let (&tag, after_tag) = input.split_first().ok_or(DerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::HighTag);
    }
    let (&first, after_len) = after_tag.split_first().ok_or(DerError::Truncated)?;
    match first {
        0..=0x7f => definite(tag, usize::from(first), after_len, depth),
        0x80 => indefinite(tag, after_len, depth),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            let bytes = after_len.get(..count).ok_or(DerError::Truncated)?;
            let length = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            definite(tag, length, &after_len[count..], depth)
        }
        _ => Err(DerError::BadLength),
    }
}

fn definite(tag: u8, length: usize, input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), DerError> {
    if length > input.len() {
        return Err(DerError::Truncated);
    }
    let (content, rest) = input.split_at(length);
    Ok((Tlv { tag, content, depth }, rest))
}

/// A BER indefinite length: constructed only; the content is the elements up to the
/// end-of-contents octets `00 00`.
fn indefinite(tag: u8, input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), DerError> {
    if tag & 0x20 == 0 {
        return Err(DerError::BadLength);
    }
    let mut rest = input;
    loop {
        if rest.len() < 2 {
            return Err(DerError::Truncated);
        }
        if rest[0] == 0 && rest[1] == 0 {
            let length = input.len() - rest.len();
            return Ok((Tlv { tag, content: &input[..length], depth }, &rest[2..]));
        }
        rest = read(rest, depth + 1)?.1;
    }
}

// ---- writer ----

/// One DER element.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A constructed element holding `parts` in order (SEQUENCE, `[0]`, …).
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// The content of a DER SET OF: the elements sorted by their encodings (X.690
/// §11.6; distinct complete encodings are never prefixes of one another, so a plain
/// byte order is the DER order).
pub(crate) fn sorted_set_content(mut items: Vec<Vec<u8>>) -> Vec<u8> {
    items.sort();
    items.concat()
}

/// An INTEGER from a big-endian unsigned magnitude.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv(INTEGER, &content)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_definite_and_long_lengths() {
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let outer = constructed(SEQUENCE, &[&tlv(INTEGER, &[1]), &long]);
        let seq = Reader::new(&outer).tagged(SEQUENCE).expect("sequence");
        let mut children = seq.children().expect("children");
        assert_eq!(children.tagged(INTEGER).expect("integer").content, &[1]);
        assert_eq!(children.tagged(OCTET_STRING).expect("octets").content.len(), 300);
        assert!(children.is_empty());
    }

    #[test]
    fn reads_indefinite_lengths_and_constructed_octet_strings() {
        // [0] indefinite { OCTET STRING constructed indefinite { "ab", "cd" } }
        let bytes = [0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x02, b'c', b'd', 0, 0, 0, 0, 0x05, 0x00];
        let mut reader = Reader::new(&bytes);
        let explicit = reader.tagged(CONTEXT_0).expect("[0]");
        let mut out = Vec::new();
        explicit.only_child().expect("child").octets_into(&mut out, 10).expect("octets");
        assert_eq!(out, b"abcd");
        assert_eq!(reader.tagged(NULL).expect("null").content, b"");
        assert!(reader.is_empty());
        let mut small = Vec::new();
        assert_eq!(explicit.only_child().expect("child").octets_into(&mut small, 3), Err(DerError::TooLarge));
    }

    #[test]
    fn refuses_malformed_input() {
        let cases: &[(&[u8], DerError)] = &[
            (&[], DerError::Truncated),
            (&[0x30], DerError::Truncated),
            (&[0x30, 0x05, 1, 2], DerError::Truncated),
            (&[0x1f, 0x01, 0x00], DerError::HighTag),
            (&[0x30, 0x85, 0, 0, 0, 0, 1], DerError::BadLength),
            (&[0x30, 0x82, 0x01], DerError::Truncated),
            (&[0x04, 0x80, 0, 0], DerError::BadLength),
            (&[0x30, 0x80, 0x04, 0x01, 1], DerError::Truncated),
        ];
        for (bytes, error) in cases {
            assert_eq!(Reader::new(bytes).next().map(|t| t.tag), Err(*error), "{bytes:02x?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[0x30, 0x80]);
        }
        assert_eq!(Reader::new(&bytes).next().map(|t| t.tag), Err(DerError::TooDeep));
        let mut nested = tlv(NULL, &[]);
        for _ in 0..MAX_DEPTH + 2 {
            nested = constructed(SEQUENCE, &[&nested]);
        }
        let mut tlv = Reader::new(&nested).next().expect("outer");
        let mut error = None;
        for _ in 0..MAX_DEPTH + 2 {
            match tlv.only_child() {
                Ok(child) => tlv = child,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        assert_eq!(error, Some(DerError::TooDeep));
    }

    #[test]
    fn writes_integers_and_sorted_sets() {
        assert_eq!(unsigned_integer(&[0x00, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(sorted_set_content(vec![vec![0x05, 0x00], vec![0x02, 0x01, 0x01]]), [0x02, 0x01, 0x01, 0x05, 0x00]);
    }

    /// Walks every element of `bytes` (as far as it parses) and returns how many.
    fn walk(reader: &mut Reader<'_>) -> usize {
        let mut count = 0;
        while let Ok(tlv) = reader.next() {
            count += 1;
            if tlv.tag & 0x20 != 0
                && let Ok(mut children) = tlv.children()
            {
                count += walk(&mut children);
            }
            let _ = tlv.octets_into(&mut Vec::new(), 64);
        }
        count
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            walk(&mut Reader::new(&bytes));
        }

        #[test]
        fn written_elements_read_back(content in proptest::collection::vec(any::<u8>(), 0..70_000)) {
            let encoded = constructed(SEQUENCE, &[&tlv(OCTET_STRING, &content)]);
            let seq = Reader::new(&encoded).tagged(SEQUENCE).expect("sequence");
            let mut out = Vec::new();
            seq.only_child().expect("child").octets_into(&mut out, usize::MAX).expect("octets");
            prop_assert_eq!(out, content);
        }
    }
}
