//! MessagePack encoding (rmp-serde, structs as maps) with a size bound on decoding.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Encodes a value; structs become maps with field names, so fields can be added later.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own types into a Vec cannot fail: they contain no maps with
    // non-string keys and no types that refuse to serialize.
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

/// Decodes untrusted bytes, refusing more than `limit` of them up front.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge { size: bytes.len(), limit });
    }
    rmp_serde::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use proptest::prelude::*;

    fn delivery(payload: Vec<u8>) -> Envelope {
        Envelope {
            id: EnvelopeId::generate(),
            body: Body::Delivery(DeliveryMeta {
                channel: "acme".into(),
                protocol: Protocol::Sftp,
                partner: Partner {
                    login: Some("acme".into()),
                    remote: Some("192.0.2.7:50022".parse().expect("address")),
                },
                path: "in/orders.csv".into(),
                received_at: 1_700_000_000_000,
                size: payload.len() as u64,
                sha256: Sha256([7; 32]),
                mail: None,
                as2: None,
                fetched: None,
            }),
            payload: Some(Payload::Inline(payload)),
        }
    }

    #[test]
    fn frames_round_trip() {
        let frame = Frame {
            envelopes: vec![delivery(b"hello".to_vec()), delivery(Vec::new())],
            acks: vec![Ack { id: EnvelopeId::generate(), outcome: AckOutcome::Committed }],
        };
        let bytes = encode(&frame);
        assert_eq!(decode::<Frame>(&bytes, 1 << 20), Ok(frame));
    }

    #[test]
    fn payload_bytes_are_binary_not_arrays() {
        let bytes = encode(&delivery(vec![0xAB; 10_000]));
        assert!(bytes.len() < 10_400, "payload was not encoded as bin: {}", bytes.len());
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let bytes = encode(&Frame::default());
        assert_eq!(decode::<Frame>(&bytes, 0), Err(DecodeError::TooLarge { size: bytes.len(), limit: 0 }));
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode(&Frame { envelopes: vec![delivery(vec![1; 100])], acks: vec![] });
        for cut in 0..bytes.len() {
            assert!(decode::<Frame>(&bytes[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn huge_length_prefixes_do_not_allocate_or_panic() {
        // array32 claiming 4 billion elements, bin32 claiming 4 GiB, nested arrays.
        let inputs: [&[u8]; 3] = [
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x82, 0xa9, b'e', b'n', b'v', b'e', b'l', b'o', b'p', b'e', b's', 0xc6, 0xff, 0xff, 0xff, 0xff],
            &[0x91; 100_000],
        ];
        for input in inputs {
            assert!(decode::<Frame>(input, 1 << 20).is_err());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Frame>(&bytes, 1 << 20);
            let _ = decode::<Hello>(&bytes, 1 << 20);
        }

        #[test]
        fn mutated_frames_never_panic(flip in 0usize..400, value in any::<u8>()) {
            let mut bytes = encode(&Frame { envelopes: vec![delivery(vec![3; 40])], acks: vec![] });
            let at = flip % bytes.len();
            bytes[at] = value;
            let _ = decode::<Frame>(&bytes, 1 << 20);
        }
    }
}
