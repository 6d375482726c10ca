//! 128-bit, time-sortable envelope ids (ULID layout: 48 bits of Unix milliseconds,
//! then 80 random bits), printed as 26 characters of Crockford base32.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of one envelope. Ids made by one process are strictly increasing, so sorting
/// by id sorts by creation time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvelopeId(u128);

/// Last id handed out by this process; new ids are strictly greater.
static LAST: Mutex<u128> = Mutex::new(0);

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl EnvelopeId {
    /// A new id, greater than any id this process made before.
    pub fn generate() -> Self {
        let candidate = (u128::from(crate::now_millis()) << 80) | (rand::random::<u128>() >> 48);
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = candidate.max(last.wrapping_add(1));
        *last = id;
        EnvelopeId(id)
    }

    pub const fn from_u128(value: u128) -> Self {
        EnvelopeId(value)
    }

    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Big-endian bytes: byte order equals id order, which makes them good keys.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        EnvelopeId(u128::from_be_bytes(bytes))
    }

    /// The Unix milliseconds the id was made at.
    pub const fn millis(self) -> u64 {
        (self.0 >> 80) as u64
    }
}

impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *slot = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
        // The alphabet is ASCII, so this cannot fail.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvelopeId({self})")
    }
}

/// Why a string is not an [`EnvelopeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an envelope id (26 characters of Crockford base32 expected)")]
pub struct ParseIdError;

impl FromStr for EnvelopeId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        // 26 × 5 = 130 bits: the first character may only carry 3.
        if bytes.len() != 26 || digit(bytes[0]).is_none_or(|d| d > 7) {
            return Err(ParseIdError);
        }
        bytes
            .iter()
            .try_fold(0u128, |acc, &b| Some((acc << 5) | u128::from(digit(b)?)))
            .map(EnvelopeId)
            .ok_or(ParseIdError)
    }
}

fn digit(b: u8) -> Option<u8> {
    let upper = b.to_ascii_uppercase();
    ALPHABET.iter().position(|&a| a == upper).map(|p| p as u8)
}

impl Serialize for EnvelopeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for EnvelopeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes::ByteBuf = Deserialize::deserialize(deserializer)?;
        let array: [u8; 16] =
            bytes.as_slice().try_into().map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"16 bytes"))?;
        Ok(EnvelopeId::from_bytes(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_round_trip_as_text() {
        let ids: Vec<EnvelopeId> = (0..1000).map(|_| EnvelopeId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for id in ids {
            assert_eq!(id.to_string().parse::<EnvelopeId>(), Ok(id));
        }
    }

    #[test]
    fn text_order_is_id_order() {
        let a = EnvelopeId::from_u128(5);
        let b = EnvelopeId::from_u128(u128::MAX);
        assert!(a.to_string() < b.to_string());
        assert_eq!(b.to_string().parse::<EnvelopeId>(), Ok(b));
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in ["", "0", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "0000000000000000000000000U", "00000000000000000000000000X"]
        {
            assert_eq!(bad.parse::<EnvelopeId>(), Err(ParseIdError), "{bad}");
        }
    }

    #[test]
    fn millis_are_recent() {
        let id = EnvelopeId::generate();
        assert!(crate::now_millis() - id.millis() < 10_000);
    }
}
