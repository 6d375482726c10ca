//! The `Message-ID` of a message in transit (RFC 5322 §3.6.4), read from its header
//! section (§2.2; folding §2.2.3; field names are case-insensitive, §1.2.2).
//!
//! Bounded: only the first [`HEADER_WINDOW`] octets are looked at, only whole lines are
//! kept, and scanning stops at the first `Message-ID`, at the empty line that ends the
//! header section, or at a line that is not a header field. The value is unfolded and
//! trimmed; a value that is empty, not UTF-8 or has control characters (tab aside)
//! counts as absent.

/// How far into a message a `Message-ID` is looked for.
pub const HEADER_WINDOW: usize = 64 * 1024;

const NAME: &[u8] = b"message-id";

/// Finds the `Message-ID` in message bytes given in pieces.
#[derive(Debug, Default)]
pub struct MessageIdScan {
    /// The current physical line, until its LF arrives.
    line: Vec<u8>,
    /// Octets looked at so far.
    seen: usize,
    /// The unfolded value of a `Message-ID` field whose continuation lines may follow.
    value: Option<Vec<u8>>,
    found: Option<String>,
    done: bool,
}

impl MessageIdScan {
    /// Looks at the next bytes of the message.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.done {
            return;
        }
        let room = HEADER_WINDOW - self.seen;
        let bytes = &bytes[..bytes.len().min(room)];
        self.seen += bytes.len();
        let mut rest = bytes;
        while !self.done {
            let Some(at) = memchr::memchr(b'\n', rest) else {
                self.line.extend_from_slice(rest);
                break;
            };
            self.line.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            let line = std::mem::take(&mut self.line);
            self.header_line(line.strip_suffix(b"\r").unwrap_or(&line));
        }
        if self.seen >= HEADER_WINDOW && !self.done {
            self.stop();
        }
    }

    /// The value found, if any.
    pub fn finish(mut self) -> Option<String> {
        if !self.done {
            self.stop();
        }
        self.found
    }

    fn header_line(&mut self, line: &[u8]) {
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if let Some(value) = &mut self.value {
                value.extend_from_slice(line);
            }
            return;
        }
        if self.value.is_some() || line.is_empty() {
            return self.stop();
        }
        let Some(colon) = memchr::memchr(b':', line) else { return self.stop() };
        let name = line[..colon].trim_ascii_end();
        if name.eq_ignore_ascii_case(NAME) {
            self.value = Some(line[colon + 1..].to_vec());
        }
    }

    /// Ends the scan, keeping the value collected so far.
    fn stop(&mut self) {
        self.done = true;
        self.line = Vec::new();
        self.found = self.value.take().and_then(|value| {
            let value = String::from_utf8(value).ok()?;
            let value = value.trim_matches([' ', '\t']);
            (!value.is_empty() && !value.chars().any(|c| c.is_control() && c != '\t')).then(|| value.to_owned())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(message: &[u8], piece: usize) -> Option<String> {
        let mut scan = MessageIdScan::default();
        message.chunks(piece.max(1)).for_each(|chunk| scan.push(chunk));
        scan.finish()
    }

    fn all_splits(message: &str) -> Option<String> {
        let whole = scan(message.as_bytes(), message.len());
        for piece in 1..8 {
            assert_eq!(scan(message.as_bytes(), piece), whole, "piece size {piece}");
        }
        whole
    }

    #[test]
    fn finds_the_first_message_id_case_insensitively() {
        let message = "From: a@b\r\nmessage-ID:   <1@x.example>  \r\nMessage-Id: <2@x>\r\n\r\nbody\r\n";
        assert_eq!(all_splits(message).as_deref(), Some("<1@x.example>"));
    }

    #[test]
    fn unfolds_folded_values() {
        let message = "Subject: s\r\nMessage-ID:\r\n <folded@x.example>\r\nTo: c@d\r\n\r\n";
        assert_eq!(all_splits(message).as_deref(), Some("<folded@x.example>"));
        let message = "Message-ID: <a\r\n\t@b>\r\n\r\n";
        assert_eq!(all_splits(message).as_deref(), Some("<a\t@b>"));
    }

    #[test]
    fn a_value_at_the_end_of_the_message_counts() {
        assert_eq!(all_splits("Message-ID: <last@x>\r\n").as_deref(), Some("<last@x>"));
    }

    #[test]
    fn only_the_header_section_is_searched() {
        assert_eq!(all_splits("From: a@b\r\n\r\nMessage-ID: <in-body@x>\r\n"), None);
        assert_eq!(all_splits("not a header line\r\nMessage-ID: <x@y>\r\n"), None);
        assert_eq!(all_splits("\r\nMessage-ID: <x@y>\r\n"), None);
        assert_eq!(all_splits("X-Message-ID: <x@y>\r\n\r\n"), None);
    }

    #[test]
    fn empty_or_garbled_values_are_absent() {
        assert_eq!(all_splits("Message-ID:   \r\n\r\n"), None);
        assert_eq!(scan(b"Message-ID: <\xff@x>\r\n\r\n", 100), None);
        assert_eq!(scan(b"Message-ID: <a\x01b@x>\r\n\r\n", 100), None);
    }

    #[test]
    fn looks_no_further_than_the_window() {
        let filler = format!("X-Filler: {}\r\n", "f".repeat(1000));
        let before = filler.repeat(HEADER_WINDOW / filler.len() - 1);
        let near = format!("{before}Message-ID: <near@x>\r\n\r\n");
        assert_eq!(scan(near.as_bytes(), 4096).as_deref(), Some("<near@x>"));
        let far = format!("{}Message-ID: <far@x>\r\n\r\n", filler.repeat(HEADER_WINDOW / filler.len() + 1));
        assert_eq!(scan(far.as_bytes(), 4096), None);
        let mut endless = MessageIdScan::default();
        for _ in 0..1000 {
            endless.push(&[b'x'; 1024]);
        }
        assert!(endless.line.len() <= HEADER_WINDOW);
        assert_eq!(endless.finish(), None);
    }
}
