//! The on-disk encoding of one queued item (the value under `q:<name>/<seq>`).
//!
//! ```text
//! u8      version (= 1)
//! u128 BE id
//! u64  BE enqueued_at (Unix ms)
//! u8      channel tag: 0 = none, 1 = some, then u32 BE length + UTF-8 bytes
//! u32  BE header length + header bytes
//! u8      payload tag: 0 = none
//!                      1 = inline, then u32 BE length + bytes
//!                      2 = file,   then u64 BE size (file is payloads/<seq hex>)
//! ```
//! Decoding is strict: unknown version or tag, short input or trailing bytes are
//! all [`SpoolError::Corrupt`].

use crate::api::{ItemId, SpoolError};

const VERSION: u8 = 1;

/// Where an item's payload bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadRef {
    None,
    Inline(Vec<u8>),
    /// A file under `payloads/` named after the item's seq.
    File(u64),
}

impl PayloadRef {
    pub(crate) fn size(&self) -> u64 {
        match self {
            PayloadRef::None => 0,
            PayloadRef::Inline(bytes) => bytes.len() as u64,
            PayloadRef::File(size) => *size,
        }
    }
}

/// One queued item as stored in its queue tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub id: ItemId,
    pub enqueued_at: u64,
    pub channel: Option<String>,
    pub header: Vec<u8>,
    pub payload: PayloadRef,
}

impl Record {
    /// Fails only for fields longer than `u32::MAX` bytes.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, SpoolError> {
        let mut out = Vec::with_capacity(64 + self.header.len() + inline_len(&self.payload));
        out.push(VERSION);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.enqueued_at.to_be_bytes());
        match &self.channel {
            None => out.push(0),
            Some(channel) => {
                out.push(1);
                put_bytes(&mut out, channel.as_bytes())?;
            }
        }
        put_bytes(&mut out, &self.header)?;
        match &self.payload {
            PayloadRef::None => out.push(0),
            PayloadRef::Inline(bytes) => {
                out.push(1);
                put_bytes(&mut out, bytes)?;
            }
            PayloadRef::File(size) => {
                out.push(2);
                out.extend_from_slice(&size.to_be_bytes());
            }
        }
        Ok(out)
    }
}

/// A record's payload, borrowed from the encoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadSlice<'a> {
    None,
    Inline(&'a [u8]),
    File(u64),
}

/// A record parsed in place (nothing copied): enough to learn an item's
/// channel, time, quota charge and payload kind without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordRef<'a> {
    pub id: ItemId,
    pub enqueued_at: u64,
    pub channel: Option<&'a str>,
    pub header: &'a [u8],
    pub payload: PayloadSlice<'a>,
}

impl<'a> RecordRef<'a> {
    /// Strict: unknown version or tag, short input or trailing bytes fail.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<RecordRef<'a>, SpoolError> {
        let mut r = Reader { rest: bytes };
        let version = r.u8()?;
        if version != VERSION {
            return Err(corrupt(format!("unknown record version {version}")));
        }
        let id = u128::from_be_bytes(r.array()?);
        let enqueued_at = u64::from_be_bytes(r.array()?);
        let channel = match r.u8()? {
            0 => None,
            1 => Some(std::str::from_utf8(r.bytes()?).map_err(|_| corrupt("channel is not UTF-8".into()))?),
            tag => return Err(corrupt(format!("unknown channel tag {tag}"))),
        };
        let header = r.bytes()?;
        let payload = match r.u8()? {
            0 => PayloadSlice::None,
            1 => PayloadSlice::Inline(r.bytes()?),
            2 => PayloadSlice::File(u64::from_be_bytes(r.array()?)),
            tag => return Err(corrupt(format!("unknown payload tag {tag}"))),
        };
        if !r.rest.is_empty() {
            return Err(corrupt(format!("{} trailing bytes", r.rest.len())));
        }
        Ok(RecordRef { id, enqueued_at, channel, header, payload })
    }

    pub(crate) fn payload_bytes(&self) -> u64 {
        match self.payload {
            PayloadSlice::None => 0,
            PayloadSlice::Inline(bytes) => bytes.len() as u64,
            PayloadSlice::File(size) => size,
        }
    }

    /// Bytes this item counts against the quota: header + payload.
    pub(crate) fn charge(&self) -> u64 {
        self.header.len() as u64 + self.payload_bytes()
    }

    /// The payload is a file under `payloads/`.
    pub(crate) fn has_file(&self) -> bool {
        matches!(self.payload, PayloadSlice::File(_))
    }

    pub(crate) fn to_owned(self) -> Record {
        let payload = match self.payload {
            PayloadSlice::None => PayloadRef::None,
            PayloadSlice::Inline(bytes) => PayloadRef::Inline(bytes.to_vec()),
            PayloadSlice::File(size) => PayloadRef::File(size),
        };
        Record {
            id: self.id,
            enqueued_at: self.enqueued_at,
            channel: self.channel.map(str::to_string),
            header: self.header.to_vec(),
            payload,
        }
    }
}

/// Queue tree key: the seq, big-endian, so that key order is FIFO order.
pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn decode_seq_key(key: &[u8]) -> Result<u64, SpoolError> {
    let array: [u8; 8] = key.try_into().map_err(|_| corrupt(format!("queue key of {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(array))
}

/// `seen` tree value: when the id was first enqueued (Unix ms, BE).
pub(crate) fn decode_seen_value(value: &[u8]) -> Result<u64, SpoolError> {
    let array: [u8; 8] = value.try_into().map_err(|_| corrupt(format!("seen value of {} bytes", value.len())))?;
    Ok(u64::from_be_bytes(array))
}

fn inline_len(payload: &PayloadRef) -> usize {
    match payload {
        PayloadRef::Inline(bytes) => bytes.len(),
        _ => 0,
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), SpoolError> {
    let len = u32::try_from(bytes.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("item field of {} bytes is too long", bytes.len()),
        )
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn corrupt(message: String) -> SpoolError {
    SpoolError::Corrupt(message)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpoolError> {
        if self.rest.len() < n {
            return Err(corrupt(format!("record truncated: wanted {n} bytes")));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SpoolError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SpoolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn bytes(&mut self) -> Result<&'a [u8], SpoolError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(payload: PayloadRef, channel: Option<&str>) -> Record {
        Record {
            id: 0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            enqueued_at: 1_700_000_000_123,
            channel: channel.map(str::to_string),
            header: b"hdr".to_vec(),
            payload,
        }
    }

    #[test]
    fn round_trips_every_shape() {
        for payload in [PayloadRef::None, PayloadRef::Inline(vec![1, 2, 3]), PayloadRef::File(1 << 40)] {
            for channel in [None, Some("ch"), Some("")] {
                let record = sample(payload.clone(), channel);
                let encoded = record.encode().expect("small record");
                assert_eq!(RecordRef::parse(&encoded).ok().map(RecordRef::to_owned), Some(record));
            }
        }
    }

    #[test]
    fn rejects_damage() {
        let encoded = sample(PayloadRef::Inline(vec![9; 10]), Some("c")).encode().expect("small record");
        for cut in 0..encoded.len() {
            assert!(matches!(RecordRef::parse(&encoded[..cut]), Err(SpoolError::Corrupt(_))));
        }
        let mut longer = encoded.clone();
        longer.push(0);
        assert!(matches!(RecordRef::parse(&longer), Err(SpoolError::Corrupt(_))));
        let mut wrong_version = encoded;
        wrong_version[0] = 2;
        assert!(matches!(RecordRef::parse(&wrong_version), Err(SpoolError::Corrupt(_))));
    }

    #[test]
    fn charge_counts_header_and_payload() {
        for (payload, charge) in [(PayloadRef::File(100), 103), (PayloadRef::None, 3)] {
            let encoded = sample(payload, None).encode().expect("small record");
            assert_eq!(RecordRef::parse(&encoded).map(|r| r.charge()).ok(), Some(charge));
        }
    }

    #[test]
    fn parse_in_place_agrees_with_decode() {
        for payload in [PayloadRef::None, PayloadRef::Inline(vec![1, 2, 3]), PayloadRef::File(1 << 40)] {
            let record = sample(payload, Some("ch"));
            let encoded = record.encode().expect("small record");
            let parsed = RecordRef::parse(&encoded).expect("valid");
            assert_eq!(parsed.channel, Some("ch"));
            assert_eq!(parsed.payload_bytes(), record.payload.size());
            assert_eq!(parsed.has_file(), matches!(record.payload, PayloadRef::File(_)));
            assert_eq!(parsed.to_owned(), record);
        }
    }
}
