//! The mail a non-`.eml` payload travels in (RFC 5322, MIME RFC 2045/2046): From,
//! To, Date, Message-ID, `Subject` = the file name, a one-line text part, and the
//! file as a base64 attachment named like it (RFC 2047 / RFC 2231 encoded when not
//! plain ASCII).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::TransferError;

/// `bytes` with every bare LF made CRLF (a message's lines end in CRLF on the wire).
pub(crate) fn crlf(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.iter().enumerate().any(|(n, &b)| b == b'\n' && (n == 0 || bytes[n - 1] != b'\r')) {
        return bytes;
    }
    let mut fixed = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (n, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (n == 0 || bytes[n - 1] != b'\r') {
            fixed.push(b'\r');
        }
        fixed.push(b);
    }
    fixed
}

/// A message from `from` to `to` with `payload` attached as `name`.
pub(crate) fn attachment(from: &str, to: &[String], name: &str, payload: &[u8]) -> Result<Vec<u8>, TransferError> {
    for text in std::iter::once(from).chain(to.iter().map(String::as_str)).chain([name]) {
        if text.chars().any(char::is_control) {
            return Err(TransferError::permanent(format!("{text:?} cannot go into a mail header")));
        }
    }
    let domain = from.rsplit_once('@').map_or("localhost", |(_, domain)| domain);
    let boundary = format!("=_portcullis_{}", random_hex());
    let mut text = format!(
        "From: <{from}>\r\nTo: {}\r\nDate: {}\r\nMessage-ID: <{}@{domain}>\r\nSubject: {}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {name} ({} bytes) is attached.\r\n--{boundary}\r\n\
         Content-Type: application/octet-stream; {}\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; {}\r\n\r\n",
        to.iter().map(|to| format!("<{to}>")).collect::<Vec<_>>().join(", "),
        rfc5322_date(SystemTime::now()),
        random_hex(),
        encoded_word(name),
        payload.len(),
        parameter("name", name),
        parameter("filename", name),
    );
    let encoded = STANDARD.encode(payload);
    text.reserve(encoded.len() + encoded.len() / 38 + boundary.len() + 16);
    for line in encoded.as_bytes().chunks(76) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push_str("\r\n");
    }
    text.push_str(&format!("--{boundary}--\r\n"));
    Ok(text.into_bytes())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // A failing system RNG leaves zeros: the ids are then only less unique.
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Plain ASCII as is, else an RFC 2047 encoded word.
fn encoded_word(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.to_owned()
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(text))
    }
}

/// `key="value"`, or RFC 2231's `key*=utf-8''percent-encoded` when the value
/// is not plain ASCII or holds a quote or backslash.
fn parameter(key: &str, value: &str) -> String {
    if value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        return format!("{key}=\"{value}\"");
    }
    let encoded: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{key}*=utf-8''{encoded}")
}

/// `Thu, 03 Dec 2026 08:25:00 +0000`.
fn rfc5322_date(now: SystemTime) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let weekday = WEEKDAYS.get((days % 7) as usize).unwrap_or(&"Thu");
    let month = MONTHS.get(month.saturating_sub(1) as usize).unwrap_or(&"Jan");
    format!("{weekday}, {day:02} {month} {year} {:02}:{:02}:{:02} +0000", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31) (H. Hinnant's algorithm).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        let later = UNIX_EPOCH + Duration::from_secs(1_796_286_300); // 2026-12-03 08:25:00
        assert_eq!(rfc5322_date(later), "Thu, 03 Dec 2026 08:25:00 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc5322_date(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn bare_line_feeds_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"\na".to_vec()), b"\r\na");
        assert_eq!(crlf(b"a\r\n".to_vec()), b"a\r\n");
    }

    #[test]
    fn names_are_encoded_and_headers_cannot_be_injected() {
        assert_eq!(parameter("filename", "a b.csv"), "filename=\"a b.csv\"");
        assert_eq!(parameter("filename", "ü\".csv"), "filename*=utf-8''%C3%BC%22.csv");
        assert_eq!(encoded_word("ü"), "=?utf-8?B?w7w=?=");
        let to = vec!["b@y".to_owned()];
        assert!(attachment("a@x", &to, "a\r\nBcc: c@z", b"x").is_err());
        let mail = String::from_utf8(attachment("a@x", &to, "r.csv", &[0u8; 100]).expect("mail")).expect("ascii");
        assert!(mail.contains("Subject: r.csv\r\n") && mail.contains("filename=\"r.csv\""), "{mail}");
        assert!(mail.lines().all(|line| line.len() <= 998), "{mail}");
    }
}
