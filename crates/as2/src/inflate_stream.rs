//! Streaming decompression of a CMS `CompressedData` (RFC 3274, AS2: RFC 5402), the
//! structure `compress.rs` documents, read once through [`BerReader`]: the zlib
//! stream inside its (possibly segmented) OCTET STRING is inflated with
//! [`flate2::Decompress`] 64 KiB at a time and written out, so memory stays bounded
//! whatever the sizes.
//!
//! Output stops with [`InflateError::TooLarge`] before the limit would be passed (a
//! zip bomb costs nothing but the time to reach the limit). A zlib stream that is
//! bad, ends early, or is followed by more data is [`InflateError::Inflate`]; as
//! with decryption, the caller discards the output on any error.

use std::io::{self, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use crate::ber_stream::{BerError, BerReader, CHUNK, OCTET_STRING_CONSTRUCTED};
use crate::compress::ID_CT_COMPRESSED_DATA;
use crate::der::{CONTEXT_0, DerError, INTEGER, OCTET_STRING, OID, Reader, SEQUENCE};

/// id-alg-zlibCompress, 1.2.840.113549.1.9.16.3.8.
const ID_ALG_ZLIB: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x03, 0x08];

/// Why a compressed layer could not be opened ("decompression-failed"), or its
/// content not written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InflateError {
    #[error("malformed CompressedData: {0}")]
    Ber(#[from] BerError),
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
    #[error("decompressed content larger than the limit")]
    TooLarge,
    #[error("cannot write the decompressed content: {0}")]
    Write(io::Error),
}

/// Inflates the BER `ContentInfo` of a CompressedData read from `input` into `out`,
/// at most `limit` bytes; the number of bytes written.
pub(crate) fn inflate(input: &mut impl Read, out: &mut impl Write, limit: u64) -> Result<u64, InflateError> {
    let mut ber = BerReader::new(input);
    let Some((info, explicit)) = ber.open_content_info(ID_CT_COMPRESSED_DATA)? else {
        return Err(InflateError::NotCompressedData);
    };
    let compressed = ber.expect_in(&explicit, SEQUENCE)?;
    let compressed = ber.open(&compressed)?;
    ber.element_in(&compressed, INTEGER, 64)?;
    let algorithm = ber.element_in(&compressed, SEQUENCE, 4096)?;
    if Reader::new(&algorithm).tagged(SEQUENCE)?.children()?.tagged(OID)?.content != ID_ALG_ZLIB {
        return Err(InflateError::UnknownAlgorithm);
    }
    let encapsulated = ber.expect_in(&compressed, SEQUENCE)?;
    let encapsulated = ber.open(&encapsulated)?;
    ber.oid_in(&encapsulated)?;
    let content = ber.next_in(&encapsulated)?.ok_or(InflateError::NoContent)?;
    if content.tag != CONTEXT_0 {
        return Err(BerError::UnexpectedTag(content.tag).into());
    }
    let content = ber.open(&content)?;
    let octets = ber.next_in(&content)?.ok_or(InflateError::NoContent)?;
    if octets.tag != OCTET_STRING && octets.tag != OCTET_STRING_CONSTRUCTED {
        return Err(BerError::UnexpectedTag(octets.tag).into());
    }
    let written = inflate_octets(&mut ber.octets(&octets)?, out, limit)?;
    ber.close_content_info(&[content, encapsulated, compressed, explicit, info])?;
    Ok(written)
}

/// Inflates the zlib stream read from `zlib`, which must end exactly with it.
fn inflate_octets(zlib: &mut impl Read, out: &mut impl Write, limit: u64) -> Result<u64, InflateError> {
    let mut inflater = Decompress::new(true);
    let mut chunk = vec![0u8; CHUNK];
    let mut plain = vec![0u8; CHUNK];
    let mut written = 0u64;
    let mut ended = false;
    loop {
        let n = zlib.read(&mut chunk).map_err(BerError::from)?;
        if n == 0 {
            break;
        }
        if ended {
            return Err(InflateError::Inflate);
        }
        let mut input = chunk.get(..n).unwrap_or_default();
        loop {
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status =
                inflater.decompress(input, &mut plain, FlushDecompress::None).map_err(|_| InflateError::Inflate)?;
            let used = usize::try_from(inflater.total_in() - in_before).map_err(|_| InflateError::Inflate)?;
            let produced = usize::try_from(inflater.total_out() - out_before).map_err(|_| InflateError::Inflate)?;
            input = input.get(used..).ok_or(InflateError::Inflate)?;
            if written.saturating_add(produced as u64) > limit {
                return Err(InflateError::TooLarge);
            }
            out.write_all(plain.get(..produced).unwrap_or_default()).map_err(InflateError::Write)?;
            written += produced as u64;
            if status == Status::StreamEnd {
                if !input.is_empty() {
                    return Err(InflateError::Inflate);
                }
                ended = true;
                break;
            }
            if input.is_empty() && produced < plain.len() {
                break; // wants more input
            }
            if used == 0 && produced == 0 {
                return Err(InflateError::Inflate);
            }
        }
    }
    if !ended {
        return Err(InflateError::Inflate);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ber_stream::tests::{indefinite, segmented, trickle};
    use crate::cms::ID_DATA;
    use crate::compress::compress;
    use crate::decrypt_stream::tests::pseudo_random;
    use crate::der::tlv;

    /// Inflates from a slice and from a trickle; both must agree.
    fn run(der: &[u8], limit: u64) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        let result = inflate(&mut &der[..], &mut out, limit).map(|n| {
            assert_eq!(n, out.len() as u64);
            out
        });
        let mut trickled = Vec::new();
        match (&result, inflate(&mut trickle(der), &mut trickled, limit)) {
            (Ok(plain), Ok(_)) => assert_eq!(plain, &trickled),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("slice {a:?} but trickle {b:?}"),
        }
        result
    }

    fn zlib(content: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(content).expect("compress");
        encoder.finish().expect("compress")
    }

    /// A CompressedData with indefinite lengths and the zlib stream in segments.
    fn ber(zlib: &[u8], segment: usize) -> Vec<u8> {
        let algorithm = crate::der::constructed(SEQUENCE, &[&tlv(OID, ID_ALG_ZLIB)]);
        let content = indefinite(CONTEXT_0, &[&segmented(OCTET_STRING_CONSTRUCTED, zlib, segment)]);
        let encapsulated = indefinite(SEQUENCE, &[&tlv(OID, ID_DATA), &content]);
        let compressed = indefinite(SEQUENCE, &[&tlv(INTEGER, &[0]), &algorithm, &encapsulated]);
        indefinite(SEQUENCE, &[&tlv(OID, ID_CT_COMPRESSED_DATA), &indefinite(CONTEXT_0, &[&compressed])])
    }

    #[test]
    fn round_trips_what_compress_writes() {
        for content in [Vec::new(), b"x".to_vec(), b"ISA*00*~".repeat(10_000), pseudo_random(300_000, 4)] {
            let der = compress(&content).expect("compress");
            assert_eq!(run(&der, 1 << 30).expect("inflate"), content);
            assert_eq!(run(&der, content.len() as u64).expect("exactly the limit"), content);
        }
    }

    #[test]
    fn reads_indefinite_and_segmented_forms() {
        let content = b"Content-Type: application/edi-x12\r\n\r\nISA*00*~".repeat(3000);
        for segment in [1, 5, 4096, 1 << 20] {
            assert_eq!(run(&ber(&zlib(&content), segment), 1 << 20).expect("inflate"), content, "{segment}");
        }
    }

    #[test]
    fn stops_a_zip_bomb_at_the_limit() {
        let bomb = compress(&vec![0u8; 10 << 20]).expect("compress");
        assert!(matches!(run(&bomb, 1 << 20), Err(InflateError::TooLarge)));
        assert!(matches!(run(&bomb, (10 << 20) - 1), Err(InflateError::TooLarge)));
        let mut sink = io::sink();
        assert_eq!(inflate(&mut &bomb[..], &mut sink, 10 << 20).expect("inflate"), 10 << 20);
    }

    #[test]
    fn refuses_corrupt_truncated_and_foreign_input() {
        let content = pseudo_random(5000, 2);
        let stream = zlib(&content);
        let mut bad = stream.clone();
        let last = bad.len() - 2; // the Adler-32 checksum
        bad[last] ^= 0xff;
        assert!(matches!(run(&ber(&bad, 100), 1 << 20), Err(InflateError::Inflate)));
        let short = &stream[..stream.len() - 4];
        assert!(matches!(run(&ber(short, 100), 1 << 20), Err(InflateError::Inflate)));
        let mut longer = stream.clone();
        longer.push(0);
        assert!(matches!(run(&ber(&longer, 100), 1 << 20), Err(InflateError::Inflate)));
        assert!(matches!(run(&ber(b"not zlib", 3), 1 << 20), Err(InflateError::Inflate)));
        let good = ber(&stream, 700);
        for cut in (0..good.len()).step_by(7) {
            assert!(run(&good[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0x30);
        assert!(matches!(run(&trailing, 1 << 20), Err(InflateError::Ber(BerError::TrailingData))));
        let mut other_algorithm = compress(b"x").expect("compress");
        let at = other_algorithm.windows(ID_ALG_ZLIB.len()).position(|w| w == ID_ALG_ZLIB).expect("oid");
        other_algorithm[at + ID_ALG_ZLIB.len() - 1] = 0x09;
        assert!(matches!(run(&other_algorithm, 100), Err(InflateError::UnknownAlgorithm)));
        let (_, cert, _) = crate::decrypt_stream::tests::fixture();
        let enveloped = crate::cms::tests::encrypt_for(b"x", cert, openssl::symm::Cipher::aes_128_cbc());
        assert!(matches!(run(&enveloped, 100), Err(InflateError::NotCompressedData)));
        let no_content = indefinite(
            SEQUENCE,
            &[
                &tlv(OID, ID_CT_COMPRESSED_DATA),
                &indefinite(
                    CONTEXT_0,
                    &[&indefinite(
                        SEQUENCE,
                        &[
                            &tlv(INTEGER, &[0]),
                            &crate::der::constructed(SEQUENCE, &[&tlv(OID, ID_ALG_ZLIB)]),
                            &indefinite(SEQUENCE, &[&tlv(OID, ID_DATA)]),
                        ],
                    )],
                ),
            ],
        );
        assert!(matches!(run(&no_content, 100), Err(InflateError::NoContent)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = inflate(&mut &bytes[..], &mut io::sink(), 4096);
        }

        #[test]
        fn mutated_compressed_data_never_panics(
            content in proptest::collection::vec(any::<u8>(), 0..256),
            at in any::<usize>(),
            byte in any::<u8>(),
        ) {
            let mut der = ber(&zlib(&content), 17);
            let at = at % der.len();
            der[at] = byte;
            let _ = inflate(&mut &der[..], &mut io::sink(), 4096);
        }
    }
}
