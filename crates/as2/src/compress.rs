//! Compressed AS2 messages (RFC 5402): a CMS `CompressedData` (RFC 3274) holding a
//! zlib stream of a MIME entity. The openssl crate has no wrapper for
//! `CMS_uncompress`, so the structure is walked with [`crate::der`]:
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType OID id-ct-compressedData, content [0] EXPLICIT
//!   CompressedData ::= SEQUENCE { version INTEGER, compressionAlgorithm SEQUENCE { OID zlib },
//!     encapContentInfo SEQUENCE { eContentType OID, eContent [0] EXPLICIT OCTET STRING } } }
//! ```
//!
//! The OCTET STRING may be BER-constructed from segments. Inflating stops at the
//! limit (a zip bomb costs at most `limit` bytes of memory, then fails). The sender
//! writes the same structure in DER ([`compress`]).

#[cfg(test)]
use std::io::Read;

use crate::cms::ID_DATA;
use crate::der::{CONTEXT_0, INTEGER, OID, SEQUENCE};
#[cfg(test)]
use crate::der::{DerError, Reader};

/// id-ct-compressedData, 1.2.840.113549.1.9.16.1.9.
pub(crate) const ID_CT_COMPRESSED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09];
/// id-alg-zlibCompress, 1.2.840.113549.1.9.16.3.8.
const ID_ALG_ZLIB: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x03, 0x08];

#[cfg(test)]
/// Why a compressed layer could not be opened ("decompression-failed").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecompressError {
    #[error("malformed CompressedData: {0}")]
    Der(#[from] DerError),
    #[error("not a CompressedData")]
    NotCompressedData,
    #[error("compression algorithm is not zlib")]
    UnknownAlgorithm,
    #[error("CompressedData without content")]
    NoContent,
    #[error("bad zlib stream")]
    Inflate,
    #[error("decompressed content larger than the message limit")]
    TooLarge,
}

#[cfg(test)]
/// The decompressed content of a DER/BER `ContentInfo` of type CompressedData, at
/// most `limit` bytes.
pub(crate) fn decompress(der: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let info = Reader::new(der).tagged(SEQUENCE)?;
    let mut info = info.children()?;
    if info.tagged(OID)?.content != ID_CT_COMPRESSED_DATA {
        return Err(DecompressError::NotCompressedData);
    }
    let compressed = info.tagged(CONTEXT_0)?.only_child()?;
    if compressed.tag != SEQUENCE {
        return Err(DerError::UnexpectedTag(compressed.tag).into());
    }
    let mut fields = compressed.children()?;
    fields.tagged(INTEGER)?;
    let algorithm = fields.tagged(SEQUENCE)?.children()?.tagged(OID)?;
    if algorithm.content != ID_ALG_ZLIB {
        return Err(DecompressError::UnknownAlgorithm);
    }
    let mut encapsulated = fields.tagged(SEQUENCE)?.children()?;
    encapsulated.tagged(OID)?;
    if encapsulated.is_empty() {
        return Err(DecompressError::NoContent);
    }
    let content = encapsulated.tagged(CONTEXT_0)?.only_child()?;
    let mut zlib = Vec::new();
    content.octets_into(&mut zlib, der.len())?;
    inflate(&zlib, limit)
}

#[cfg(test)]
fn inflate(zlib: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::ZlibDecoder::new(zlib).take(cap).read_to_end(&mut out).map_err(|_| DecompressError::Inflate)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(out)
}

/// A CompressedData (DER) of `content`, zlib at the default level: what RFC 5402
/// senders, pyas2lib among them, produce. Writing into memory does not fail in
/// practice; the `io::Result` is flate2's.
pub(crate) fn compress(content: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;

    use crate::der::{OCTET_STRING, constructed, tlv};
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(content)?;
    let zlib = encoder.finish()?;
    let encapsulated =
        constructed(SEQUENCE, &[&tlv(OID, ID_DATA), &constructed(CONTEXT_0, &[&tlv(OCTET_STRING, &zlib)])]);
    let algorithm = constructed(SEQUENCE, &[&tlv(OID, ID_ALG_ZLIB)]);
    let compressed = constructed(SEQUENCE, &[&tlv(INTEGER, &[0]), &algorithm, &encapsulated]);
    Ok(constructed(SEQUENCE, &[&tlv(OID, ID_CT_COMPRESSED_DATA), &constructed(CONTEXT_0, &[&compressed])]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_trips() {
        let content = b"Content-Type: application/edi-x12\r\n\r\nISA*00*~".repeat(50);
        assert_eq!(decompress(&compress(&content).expect("compress"), 1 << 20), Ok(content));
    }

    #[test]
    fn reads_ber_indefinite_and_segmented_content() {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, b"segmented").expect("compress");
        let zlib = encoder.finish().expect("compress");
        let (a, b) = zlib.split_at(3);
        let mut ber = vec![0x30, 0x80, 0x06, 11];
        ber.extend_from_slice(ID_CT_COMPRESSED_DATA);
        ber.extend_from_slice(&[0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00, 0x30, 13, 0x06, 11]);
        ber.extend_from_slice(ID_ALG_ZLIB);
        ber.extend_from_slice(&[0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);
        ber.extend_from_slice(&[0xa0, 0x80, 0x24, 0x80, 0x04, a.len() as u8]);
        ber.extend_from_slice(a);
        ber.extend_from_slice(&[0x04, b.len() as u8]);
        ber.extend_from_slice(b);
        ber.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decompress(&ber, 100), Ok(b"segmented".to_vec()));
    }

    #[test]
    fn stops_a_zip_bomb_at_the_limit() {
        let bomb = compress(&vec![0u8; 10 << 20]).expect("compress");
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        assert_eq!(decompress(&bomb, 1 << 20), Err(DecompressError::TooLarge));
        assert_eq!(decompress(&bomb, 10 << 20).map(|v| v.len()), Ok(10 << 20));
    }

    #[test]
    fn refuses_what_is_not_compressed_data() {
        let good = compress(b"x").expect("compress");
        assert_eq!(decompress(&good[..good.len() - 3], 100), Err(DecompressError::Der(DerError::Truncated)));
        let mut other = good.clone();
        other[4 + 10] = 0x08; // the OID's last arc
        assert_eq!(decompress(&other, 100), Err(DecompressError::NotCompressedData));
        let mut bad_zlib = good.clone();
        let last = bad_zlib.len() - 5;
        bad_zlib[last] ^= 0xff;
        assert_eq!(decompress(&bad_zlib, 100), Err(DecompressError::Inflate));
        assert!(decompress(b"", 100).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = decompress(&bytes, 4096);
        }

        #[test]
        fn mutated_compressed_data_never_panics(content in proptest::collection::vec(any::<u8>(), 0..256), at in any::<usize>(), byte in any::<u8>()) {
            let mut der = compress(&content).expect("compress");
            let at = at % der.len();
            der[at] = byte;
            let _ = decompress(&der, 4096);
        }
    }
}
