//! A streaming BER reader (X.690) over any [`Read`], for CMS structures too large to
//! hold in memory: an AS2 message of a gigabyte is one `ContentInfo` whose bulk is a
//! single OCTET STRING, everything else in it is small.
//!
//! **Design.** [`BerReader`] reads element headers one at a time (one-byte tags,
//! definite lengths of up to eight octets, the indefinite length `0x80`) and counts
//! the bytes it consumed, so that a definite-length container knows where it ends
//! ([`Frame`], [`BerReader::next_in`]). Small elements (algorithm identifiers,
//! RecipientInfos, SignerInfos, certificates) are read whole, up to a bound checked
//! *before* anything is allocated, and handed to [`crate::der::Reader`] as their raw
//! TLV bytes ([`BerReader::read_element`]). The bulk content is exposed as a
//! [`Read`] over the content octets of an OCTET STRING ([`OctetReader`]), primitive
//! or constructed from segments, nested at most [`MAX_STREAM_DEPTH`] deep.
//!
//! **Robustness.** No input makes it panic, allocate beyond a caller's bound, recurse
//! without bound, or loop: every step consumes input, and an early end of input is
//! [`BerError::Truncated`]. Input is read through a 64 KiB [`BufReader`] so that
//! byte-wise header reads cost nothing, whatever the underlying reader returns per
//! call.
//!
//! [`sniff`] judges a `ContentInfo`'s type from its first bytes only.

use std::io::{self, BufRead, BufReader, Read};

use crate::cms::CmsKind;
use crate::compress::ID_CT_COMPRESSED_DATA;

/// id-signedData, id-envelopedData (1.2.840.113549.1.7.{2,3}), DER content octets.
pub(crate) const ID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
pub(crate) const ID_ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
/// Bound on an OBJECT IDENTIFIER's encoding.
pub(crate) const MAX_OID: usize = 64;

/// Deepest nesting followed while skipping, copying or reading segments.
pub(crate) const MAX_STREAM_DEPTH: usize = 16;
/// Size of the internal read buffer, and of the chunks users copy in.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A BER constructed OCTET STRING.
pub(crate) const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
/// `[0] IMPLICIT OCTET STRING`, primitive and constructed.
pub(crate) const CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// Why a stream is not the expected encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BerError {
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
    #[error("element larger than allowed")]
    TooLarge,
    #[error("data after the end of the structure")]
    TrailingData,
    #[error("read error: {0}")]
    Io(io::ErrorKind),
}

impl From<io::Error> for BerError {
    /// Recovers a [`BerError`] that travelled inside an `io::Error` (from
    /// [`OctetReader`]); an early EOF is [`BerError::Truncated`].
    fn from(error: io::Error) -> Self {
        if let Some(inner) = error.get_ref().and_then(|inner| inner.downcast_ref::<BerError>()) {
            return *inner;
        }
        match error.kind() {
            io::ErrorKind::UnexpectedEof => BerError::Truncated,
            kind => BerError::Io(kind),
        }
    }
}

impl From<BerError> for io::Error {
    fn from(error: BerError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// An element's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Definite(u64),
    Indefinite,
}

/// One element header as read: its tag, its length and its raw octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub tag: u8,
    pub length: Length,
    raw: [u8; 10],
    raw_len: usize,
}

impl Header {
    pub(crate) fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// The end-of-contents octets `00 00`.
    pub(crate) fn is_end_of_contents(&self) -> bool {
        self.tag == 0 && self.length == Length::Definite(0)
    }

    /// The header's octets as they were read.
    pub(crate) fn raw(&self) -> &[u8] {
        self.raw.get(..self.raw_len).unwrap_or_default()
    }
}

/// Where an open constructed element ends: at a byte count (definite length) or at
/// its end-of-contents octets (indefinite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    end: Option<u64>,
}

/// A streaming BER reader (see the module documentation).
pub(crate) struct BerReader<R> {
    inner: BufReader<R>,
    consumed: u64,
}

impl<R: Read> BerReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        BerReader { inner: BufReader::with_capacity(CHUNK, inner), consumed: 0 }
    }

    #[cfg(test)]
    /// How many bytes were consumed so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    fn byte(&mut self) -> Result<u8, BerError> {
        let mut one = [0u8; 1];
        self.inner.read_exact(&mut one)?;
        self.consumed += 1;
        let [b] = one;
        Ok(b)
    }

    /// Reads into `buf` (at least one byte unless `buf` is empty); EOF is an error.
    fn some(&mut self, buf: &mut [u8]) -> Result<usize, BerError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.inner.read(buf) {
                Ok(0) => return Err(BerError::Truncated),
                Ok(n) => {
                    self.consumed += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The next element header.
    pub(crate) fn header(&mut self) -> Result<Header, BerError> {
        let tag = self.byte()?;
        if tag & 0x1f == 0x1f {
            return Err(BerError::HighTag);
        }
        let first = self.byte()?;
        let mut raw = [tag, first, 0, 0, 0, 0, 0, 0, 0, 0];
        let length = match first {
            0..=0x7f => Length::Definite(u64::from(first)),
            0x80 => {
                if tag & 0x20 == 0 {
                    return Err(BerError::BadLength);
                }
                Length::Indefinite
            }
            0x81..=0x88 => {
                let mut value = 0u64;
                for slot in raw.iter_mut().skip(2).take(usize::from(first & 0x7f)) {
                    let b = self.byte()?;
                    *slot = b;
                    value = (value << 8) | u64::from(b);
                }
                Length::Definite(value)
            }
            _ => return Err(BerError::BadLength),
        };
        let raw_len = match first {
            0x81..=0x88 => 2 + usize::from(first & 0x7f),
            _ => 2,
        };
        Ok(Header { tag, length, raw, raw_len })
    }

    /// The next element header, which must carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<Header, BerError> {
        let header = self.header()?;
        if header.tag != tag {
            return Err(BerError::UnexpectedTag(header.tag));
        }
        Ok(header)
    }

    /// Opens a constructed element whose header was just read.
    pub(crate) fn open(&self, header: &Header) -> Result<Frame, BerError> {
        if !header.constructed() {
            return Err(BerError::UnexpectedTag(header.tag));
        }
        Ok(self.frame(header))
    }

    fn frame(&self, header: &Header) -> Frame {
        match header.length {
            Length::Definite(n) => Frame { end: Some(self.consumed.saturating_add(n)) },
            Length::Indefinite => Frame { end: None },
        }
    }

    /// The next child header inside `frame`, or `None` at its end (the
    /// end-of-contents octets of an indefinite length are consumed).
    pub(crate) fn next_in(&mut self, frame: &Frame) -> Result<Option<Header>, BerError> {
        match frame.end {
            Some(end) if self.consumed == end => Ok(None),
            Some(end) if self.consumed > end => Err(BerError::BadLength),
            Some(end) => {
                let header = self.header()?;
                if let Length::Definite(n) = header.length
                    && self.consumed.checked_add(n).is_none_or(|child_end| child_end > end)
                {
                    return Err(BerError::BadLength);
                }
                if header.is_end_of_contents() {
                    return Err(BerError::UnexpectedTag(0));
                }
                Ok(Some(header))
            }
            None => {
                let header = self.header()?;
                if header.is_end_of_contents() { Ok(None) } else { Ok(Some(header)) }
            }
        }
    }

    /// The next child inside `frame`, which must exist and carry `tag`.
    pub(crate) fn expect_in(&mut self, frame: &Frame, tag: u8) -> Result<Header, BerError> {
        match self.next_in(frame)? {
            Some(header) if header.tag == tag => Ok(header),
            Some(header) => Err(BerError::UnexpectedTag(header.tag)),
            None => Err(BerError::Truncated),
        }
    }

    /// The next child inside `frame`, which must carry `tag`, whole as raw TLV bytes
    /// of at most `max` bytes.
    pub(crate) fn element_in(&mut self, frame: &Frame, tag: u8, max: usize) -> Result<Vec<u8>, BerError> {
        let header = self.expect_in(frame, tag)?;
        self.read_element(&header, max)
    }

    /// The content octets of the next child inside `frame`, an OBJECT IDENTIFIER.
    pub(crate) fn oid_in(&mut self, frame: &Frame) -> Result<Vec<u8>, BerError> {
        let header = self.expect_in(frame, crate::der::OID)?;
        let mut raw = self.read_element(&header, MAX_OID)?;
        raw.drain(..header.raw_len.min(raw.len()));
        Ok(raw)
    }

    /// Reads the start of a `ContentInfo` (`SEQUENCE { contentType OID, content [0]
    /// EXPLICIT … }`) of content type `expected`: the frames of the SEQUENCE and of
    /// the `[0]`, or `None` if the content type is another.
    pub(crate) fn open_content_info(&mut self, expected: &[u8]) -> Result<Option<(Frame, Frame)>, BerError> {
        let info = self.expect(crate::der::SEQUENCE)?;
        let info = self.open(&info)?;
        if self.oid_in(&info)? != expected {
            return Ok(None);
        }
        let explicit = self.expect_in(&info, crate::der::CONTEXT_0)?;
        let explicit = self.open(&explicit)?;
        Ok(Some((info, explicit)))
    }

    /// Closes the frames of a `ContentInfo` (innermost first) and checks that
    /// nothing follows it.
    pub(crate) fn close_content_info(&mut self, frames: &[Frame]) -> Result<(), BerError> {
        for frame in frames {
            self.close(frame)?;
        }
        self.finish()
    }

    /// Checks that `frame` has no further children and consumes its end.
    pub(crate) fn close(&mut self, frame: &Frame) -> Result<(), BerError> {
        match self.next_in(frame)? {
            None => Ok(()),
            Some(header) => Err(BerError::UnexpectedTag(header.tag)),
        }
    }

    /// Checks that the input has ended.
    pub(crate) fn finish(&mut self) -> Result<(), BerError> {
        let rest = self.inner.fill_buf()?;
        if rest.is_empty() { Ok(()) } else { Err(BerError::TrailingData) }
    }

    /// The whole element whose header was just read, as raw TLV bytes (header
    /// included), if it takes at most `max` bytes; for [`crate::der::Reader`].
    pub(crate) fn read_element(&mut self, header: &Header, max: usize) -> Result<Vec<u8>, BerError> {
        let mut out = Vec::new();
        out.extend_from_slice(header.raw());
        if out.len() > max {
            return Err(BerError::TooLarge);
        }
        self.copy_content(header, &mut out, max, 0)?;
        Ok(out)
    }

    fn copy_content(&mut self, header: &Header, out: &mut Vec<u8>, max: usize, depth: usize) -> Result<(), BerError> {
        if depth >= MAX_STREAM_DEPTH {
            return Err(BerError::TooDeep);
        }
        match header.length {
            Length::Definite(n) => {
                let n = usize::try_from(n).map_err(|_| BerError::TooLarge)?;
                if out.len().saturating_add(n) > max {
                    return Err(BerError::TooLarge);
                }
                let start = out.len();
                out.resize(start + n, 0);
                let mut filled = start;
                while let Some(rest) = out.get_mut(filled..).filter(|rest| !rest.is_empty()) {
                    filled += self.some(rest)?;
                }
                Ok(())
            }
            Length::Indefinite => loop {
                let child = self.header()?;
                if out.len().saturating_add(child.raw_len) > max {
                    return Err(BerError::TooLarge);
                }
                out.extend_from_slice(child.raw());
                if child.is_end_of_contents() {
                    return Ok(());
                }
                self.copy_content(&child, out, max, depth + 1)?;
            },
        }
    }

    /// Skips the content of the element whose header was just read.
    pub(crate) fn skip(&mut self, header: &Header) -> Result<(), BerError> {
        self.skip_content(header, 0)
    }

    fn skip_content(&mut self, header: &Header, depth: usize) -> Result<(), BerError> {
        if depth >= MAX_STREAM_DEPTH {
            return Err(BerError::TooDeep);
        }
        match header.length {
            Length::Definite(mut n) => {
                while n > 0 {
                    let available = self.inner.fill_buf()?.len();
                    if available == 0 {
                        return Err(BerError::Truncated);
                    }
                    let step = usize::try_from(n).map_or(available, |n| n.min(available));
                    self.inner.consume(step);
                    self.consumed += step as u64;
                    n -= step as u64;
                }
                Ok(())
            }
            Length::Indefinite => loop {
                let child = self.header()?;
                if child.is_end_of_contents() {
                    return Ok(());
                }
                self.skip_content(&child, depth + 1)?;
            },
        }
    }

    /// A reader of the content octets of the OCTET STRING whose header was just
    /// read: `0x04` or `0x80` primitive, `0x24` or `0xa0` constructed from segments.
    /// Read it to its end (0) before reading further elements.
    pub(crate) fn octets(&mut self, header: &Header) -> Result<OctetReader<'_, R>, BerError> {
        let mut reader = OctetReader { ber: self, remaining: 0, stack: Vec::new() };
        match header.tag {
            crate::der::OCTET_STRING | CONTEXT_0_PRIMITIVE => match header.length {
                Length::Definite(n) => reader.remaining = n,
                Length::Indefinite => return Err(BerError::BadLength),
            },
            OCTET_STRING_CONSTRUCTED | crate::der::CONTEXT_0 => {
                let frame = reader.ber.frame(header);
                reader.stack.push(frame);
            }
            other => return Err(BerError::UnexpectedTag(other)),
        }
        Ok(reader)
    }
}

/// The content octets of an OCTET STRING, segments concatenated (see
/// [`BerReader::octets`]). Errors are `io::Error`s carrying a [`BerError`]; convert
/// back with `BerError::from`.
pub(crate) struct OctetReader<'a, R> {
    ber: &'a mut BerReader<R>,
    /// Bytes left in the current primitive segment.
    remaining: u64,
    /// The constructed segments open around the current one.
    stack: Vec<Frame>,
}

impl<R: Read> OctetReader<'_, R> {
    fn read_octets(&mut self, buf: &mut [u8]) -> Result<usize, BerError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.remaining > 0 {
                let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
                let n = self.ber.some(buf.get_mut(..want).unwrap_or_default())?;
                self.remaining -= n as u64;
                return Ok(n);
            }
            let Some(frame) = self.stack.last().copied() else {
                return Ok(0);
            };
            match self.ber.next_in(&frame)? {
                None => {
                    self.stack.pop();
                }
                Some(segment) => match (segment.tag, segment.length) {
                    (crate::der::OCTET_STRING, Length::Definite(n)) => self.remaining = n,
                    (OCTET_STRING_CONSTRUCTED, _) => {
                        if self.stack.len() >= MAX_STREAM_DEPTH {
                            return Err(BerError::TooDeep);
                        }
                        let frame = self.ber.frame(&segment);
                        self.stack.push(frame);
                    }
                    (tag, _) => return Err(BerError::UnexpectedTag(tag)),
                },
            }
        }
    }
}

impl<R: Read> Read for OctetReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_octets(buf).map_err(io::Error::from)
    }
}

/// An OBJECT IDENTIFIER's content octets in dotted decimal, for error messages.
pub(crate) fn oid_string(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for &b in content {
        value = match value.checked_mul(128) {
            Some(v) => v | u64::from(b & 0x7f),
            None => return "(invalid OID)".into(),
        };
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    if arcs.is_empty() || content.last().is_some_and(|b| b & 0x80 != 0) {
        return "(invalid OID)".into();
    }
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// The kind of a BER `ContentInfo` judged from its first bytes (64 are plenty): the
/// outer SEQUENCE header, definite or indefinite, then the content type OID.
pub(crate) fn sniff(prefix: &[u8]) -> CmsKind {
    let mut ber = BerReader::new(prefix);
    let oid = ber.expect(crate::der::SEQUENCE).and_then(|_| ber.expect(crate::der::OID)).and_then(|oid| {
        if oid.length == Length::Definite(0) {
            return Err(BerError::BadLength);
        }
        ber.read_element(&oid, MAX_OID)
    });
    let Ok(oid) = oid else {
        return CmsKind::Other;
    };
    match crate::der::Reader::new(&oid).tagged(crate::der::OID).map(|oid| oid.content) {
        Ok(ID_ENVELOPED_DATA) => CmsKind::Enveloped,
        Ok(ID_SIGNED_DATA) => CmsKind::Signed,
        Ok(ID_CT_COMPRESSED_DATA) => CmsKind::Compressed,
        _ => CmsKind::Other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::der::{CONTEXT_0, NULL, OCTET_STRING, SEQUENCE, constructed, tlv};

    /// A reader that returns at most `step` (1..=7, cycling) bytes per call.
    pub(crate) struct Trickle<R> {
        pub inner: R,
        pub calls: usize,
    }

    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            let step = 1 + self.calls % 7;
            let n = step.min(buf.len());
            self.inner.read(&mut buf[..n])
        }
    }

    pub(crate) fn trickle(bytes: &[u8]) -> Trickle<&[u8]> {
        Trickle { inner: bytes, calls: 0 }
    }

    /// BER: `tag` indefinite, holding `parts`, ended by `00 00`.
    pub(crate) fn indefinite(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        out.extend_from_slice(&parts.concat());
        out.extend_from_slice(&[0, 0]);
        out
    }

    /// `content` as a constructed indefinite OCTET STRING of `tag`, in segments of
    /// `size` bytes, the second segment nested one level deeper.
    pub(crate) fn segmented(tag: u8, content: &[u8], size: usize) -> Vec<u8> {
        let segments: Vec<Vec<u8>> = content.chunks(size.max(1)).map(|c| tlv(OCTET_STRING, c)).collect();
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for (i, segment) in segments.into_iter().enumerate() {
            if i == 1 {
                parts.push(indefinite(OCTET_STRING_CONSTRUCTED, &[&segment, &tlv(OCTET_STRING, &[])]));
            } else {
                parts.push(segment);
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        indefinite(tag, &refs)
    }

    fn all_octets(bytes: &[u8]) -> Result<Vec<u8>, BerError> {
        let mut ber = BerReader::new(trickle(bytes));
        let header = ber.header()?;
        let mut out = Vec::new();
        ber.octets(&header)?.read_to_end(&mut out)?;
        ber.finish()?;
        Ok(out)
    }

    #[test]
    fn reads_headers_lengths_and_counts_bytes() {
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        let mut bytes = constructed(SEQUENCE, &[&long, &tlv(NULL, &[])]);
        bytes.extend_from_slice(&[0x04, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 9]);
        let mut ber = BerReader::new(trickle(&bytes));
        let seq = ber.expect(SEQUENCE).expect("sequence");
        assert_eq!(seq.length, Length::Definite(306));
        let frame = ber.open(&seq).expect("open");
        let first = ber.next_in(&frame).expect("child").expect("some");
        assert_eq!(
            (first.tag, first.length, first.raw()),
            (OCTET_STRING, Length::Definite(300), &[4, 0x82, 1, 44][..])
        );
        assert_eq!(ber.consumed(), 8);
        assert_eq!(ber.read_element(&first, 299 + 4), Err(BerError::TooLarge));
    }

    #[test]
    fn reads_skips_and_closes_elements() {
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        let inner = indefinite(SEQUENCE, &[&tlv(NULL, &[]), &indefinite(CONTEXT_0, &[&long])]);
        let mut bytes = constructed(SEQUENCE, &[&long, &inner, &tlv(NULL, &[])]);
        bytes.extend_from_slice(&[0x04, 0x88, 0, 0, 0, 0, 0, 0, 0, 1, 9]);
        let mut ber = BerReader::new(trickle(&bytes));
        let seq = ber.expect(SEQUENCE).expect("sequence");
        let frame = ber.open(&seq).expect("open");
        let first = ber.next_in(&frame).expect("child").expect("some");
        assert_eq!(ber.read_element(&first, 304).expect("element"), long);
        let second = ber.next_in(&frame).expect("child").expect("some");
        assert_eq!(ber.read_element(&second, 1000).expect("element"), inner);
        let null = ber.expect_in(&frame, NULL).expect("null");
        ber.skip(&null).expect("skip");
        ber.close(&frame).expect("end of sequence");
        let last = ber.header().expect("last");
        assert_eq!(last.length, Length::Definite(1));
        assert_eq!(ber.finish(), Err(BerError::TrailingData));
        ber.skip(&last).expect("skip");
        ber.finish().expect("end");
        assert_eq!(ber.consumed(), bytes.len() as u64);

        let mut ber = BerReader::new(&bytes[..]);
        let seq = ber.header().expect("sequence");
        let frame = ber.open(&seq).expect("open");
        let first = ber.next_in(&frame).expect("child").expect("some");
        ber.skip(&first).expect("skip");
        let second = ber.next_in(&frame).expect("child").expect("some");
        ber.skip(&second).expect("skip indefinite");
        assert_eq!(ber.close(&frame), Err(BerError::UnexpectedTag(NULL)));
    }

    #[test]
    fn child_longer_than_its_parent_is_refused() {
        let bytes = [0x30, 0x03, 0x04, 0x05, 1, 2, 3, 4, 5];
        let mut ber = BerReader::new(&bytes[..]);
        let seq = ber.header().expect("sequence");
        let frame = ber.open(&seq).expect("open");
        assert_eq!(ber.next_in(&frame), Err(BerError::BadLength));
    }

    #[test]
    fn reads_primitive_and_segmented_octet_strings() {
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(all_octets(&tlv(OCTET_STRING, &content)), Ok(content.clone()));
        assert_eq!(all_octets(&tlv(CONTEXT_0_PRIMITIVE, &content)), Ok(content.clone()));
        for size in [1, 7, 1000, 20_000] {
            assert_eq!(all_octets(&segmented(CONTEXT_0, &content, size)), Ok(content.clone()), "{size}");
            assert_eq!(all_octets(&segmented(OCTET_STRING_CONSTRUCTED, &content, size)), Ok(content.clone()));
        }
        let definite = constructed(CONTEXT_0, &[&tlv(OCTET_STRING, b"ab"), &tlv(OCTET_STRING, b"cd")]);
        assert_eq!(all_octets(&definite), Ok(b"abcd".to_vec()));
        assert_eq!(all_octets(&[0x24, 0x80, 0, 0]), Ok(Vec::new()));
        assert_eq!(all_octets(&[0x04, 0x00]), Ok(Vec::new()));
    }

    #[test]
    fn refuses_malformed_octet_strings() {
        let content = b"0123456789".repeat(10);
        let good = segmented(OCTET_STRING_CONSTRUCTED, &content, 9);
        for cut in 0..good.len() {
            assert!(all_octets(&good[..cut]).is_err(), "cut at {cut}");
        }
        let cases: &[(&[u8], BerError)] = &[
            (&[], BerError::Truncated),
            (&[0x04, 0x80, 0, 0], BerError::BadLength),
            (&[0x24, 0x80, 0x05, 0x00, 0, 0], BerError::UnexpectedTag(NULL)),
            (&[0x24, 0x80, 0x04, 0x80, 0, 0], BerError::BadLength),
            (&[0x24, 0x03, 0x04, 0x02, 1, 2], BerError::BadLength),
            (&[0x24, 0x04, 0x04, 0x02, 1, 2, 0x04, 0x00], BerError::TrailingData),
            (&[0x30, 0x00], BerError::UnexpectedTag(SEQUENCE)),
            (&[0x04, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1], BerError::BadLength),
            (&[0x1f, 0x01], BerError::HighTag),
            (&[0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1], BerError::Truncated),
        ];
        for (bytes, error) in cases {
            assert_eq!(all_octets(bytes), Err(*error), "{bytes:02x?}");
        }
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x24, 0x80]);
        }
        assert_eq!(all_octets(&deep), Err(BerError::TooDeep));
        let mut ber = BerReader::new(&deep[..]);
        let header = ber.header().expect("header");
        assert_eq!(ber.skip(&header), Err(BerError::TooDeep));
        let mut ber = BerReader::new(&deep[..]);
        let header = ber.header().expect("header");
        assert_eq!(ber.read_element(&header, 1 << 20), Err(BerError::TooDeep));
    }

    #[test]
    fn huge_declared_lengths_allocate_nothing() {
        let bytes = [0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2];
        let mut ber = BerReader::new(&bytes[..]);
        let header = ber.header().expect("header");
        assert_eq!(ber.read_element(&header, 1 << 20), Err(BerError::TooLarge));
        let mut ber = BerReader::new(&bytes[..]);
        let header = ber.header().expect("header");
        assert_eq!(ber.skip(&header), Err(BerError::Truncated));
    }

    #[test]
    fn sniffs_from_a_prefix() {
        let (_, cert, key) = crate::cms::tests::partnership();
        let signed = crate::cms::tests::partner_sign(b"x", &cert, &key);
        let enveloped = crate::cms::tests::encrypt_for(b"x", &cert, openssl::symm::Cipher::aes_128_cbc());
        let compressed = crate::compress::compress(b"x").expect("compress");
        for (der, kind) in
            [(&signed, CmsKind::Signed), (&enveloped, CmsKind::Enveloped), (&compressed, CmsKind::Compressed)]
        {
            assert_eq!(sniff(&der[..der.len().min(64)]), kind);
            assert_eq!(sniff(der), kind);
            assert_eq!(sniff(&der[..der.len().min(20)]), kind);
            let mut ber = vec![0x30, 0x80];
            let content_start = der.len() - crate::der::Reader::new(der).next().expect("tlv").content.len();
            ber.extend_from_slice(&der[content_start..]);
            assert_eq!(sniff(&ber[..30]), kind);
        }
        assert_eq!(sniff(b""), CmsKind::Other);
        assert_eq!(sniff(b"\x30\x80\x06\x01\x00"), CmsKind::Other);
        assert_eq!(sniff(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"), CmsKind::Other);
        assert_eq!(sniff(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"), CmsKind::Other);
        assert_eq!(sniff(b"\x30\x03\x06\x00"), CmsKind::Other);
    }

    #[test]
    fn formats_oids() {
        assert_eq!(oid_string(ID_ENVELOPED_DATA), "1.2.840.113549.1.7.3");
        assert_eq!(oid_string(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e]), "2.16.840.1.101.3.4.1.46");
        assert_eq!(oid_string(&[0x2a, 0x86]), "(invalid OID)");
        assert_eq!(oid_string(&[]), "(invalid OID)");
        assert_eq!(oid_string(&[0xff; 12]), "(invalid OID)");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = all_octets(&bytes);
            let _ = sniff(&bytes);
            let mut ber = BerReader::new(&bytes[..]);
            while let Ok(header) = ber.header() {
                if ber.read_element(&header, 256).is_err() {
                    break;
                }
            }
            let mut ber = BerReader::new(&bytes[..]);
            while let Ok(header) = ber.header() {
                if ber.skip(&header).is_err() {
                    break;
                }
            }
        }

        #[test]
        fn segmented_content_reads_back(content in proptest::collection::vec(any::<u8>(), 0..3000), size in 1usize..600) {
            prop_assert_eq!(all_octets(&segmented(CONTEXT_0, &content, size)), Ok(content.clone()));
        }
    }
}
