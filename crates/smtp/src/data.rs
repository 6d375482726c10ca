//! The DATA stream decoder: end of data (RFC 5321 §4.1.1.4), dot-unstuffing (§4.5.2),
//! the text line limit (§4.5.3.1.6) and the message size limit (RFC 1870 §6).
//!
//! Streaming and split-agnostic: [`DataDecoder::feed`] takes whatever bytes arrived and
//! appends the unstuffed message bytes to a caller's buffer, so a message of any size
//! passes through in bounded memory, and the result is the same however the input is
//! cut into pieces.
//!
//! **End of data is only `CRLF . CRLF`.** A line begins only after a real CR LF pair
//! (or at the start of the data), so `LF . LF`, `LF . CRLF` or `CR . CR` are message
//! text. Receivers that accept any of those as the end disagree with this gateway's
//! downstream about where a message ends, which is what SMTP smuggling exploits; here
//! there is one reading only. The first CRLF of the terminator belongs to the message.
//!
//! A line starting with `.` loses that dot (the sender doubled it); `.` CR followed by
//! anything but LF loses it too (§4.5.2: "the first character is deleted").
//!
//! For the line limit a line ends at any LF, so text with bare LF line ends is not
//! refused for length (those LFs still never end the data). After a limit is broken the
//! decoder emits nothing more (the caller drops what it has) but keeps reading to the end
//! of data, so the session can answer the client once the whole message has been sent.

use crate::header::MessageIdScan;

/// A limit the message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// More than `max_message_bytes` octets (`552 5.3.4`).
    TooBig,
    /// A text line longer than `max_line` octets including CRLF (`554 5.6.0`).
    LineTooLong,
}

/// What one [`DataDecoder::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used; less than given only when the end of data was reached (what
    /// follows it is the next command).
    pub consumed: usize,
    /// The end of data has been reached.
    pub done: bool,
}

/// A message received whole and within the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Octets of the message after unstuffing.
    pub size: u64,
    /// The `Message-ID` header value, trimmed, if the header section had one.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// A `.` at the start of a line (held back).
    Dot,
    /// `.` CR at the start of a line (both held back).
    DotCr,
    /// Inside a line.
    Text,
    /// Just after a CR inside a line.
    Cr,
    /// After `CRLF . CRLF`.
    Done,
}

/// Decodes one DATA stream; see the module header.
#[derive(Debug)]
pub struct DataDecoder {
    state: State,
    max_line: usize,
    max_bytes: u64,
    /// Octets of the current line so far, including its line end.
    line: usize,
    /// Message octets so far (after unstuffing), counted past a violation too.
    size: u64,
    violation: Option<Violation>,
    message_id: MessageIdScan,
}

impl DataDecoder {
    pub fn new(max_line: usize, max_bytes: u64) -> DataDecoder {
        DataDecoder {
            state: State::LineStart,
            max_line,
            max_bytes,
            line: 0,
            size: 0,
            violation: None,
            message_id: MessageIdScan::default(),
        }
    }

    /// Decodes `input`, appending message bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut pos = 0;
        while let Some(&byte) = input.get(pos) {
            match self.state {
                State::Done => break,
                State::LineStart if byte == b'.' => {
                    self.state = State::Dot;
                    pos += 1;
                }
                State::LineStart => self.state = State::Text,
                State::Dot if byte == b'\r' => {
                    self.state = State::DotCr;
                    pos += 1;
                }
                // The leading dot is dropped; the byte is read again as text.
                State::Dot => self.state = State::Text,
                State::DotCr if byte == b'\n' => {
                    self.state = State::Done;
                    pos += 1;
                }
                // `.` CR x: the dot is dropped, the CR is text, x is read again after it.
                State::DotCr => {
                    self.emit(b"\r", out);
                    self.state = State::Cr;
                }
                State::Cr => {
                    self.emit(&[byte], out);
                    pos += 1;
                    self.state = match byte {
                        b'\n' => self.end_line(State::LineStart),
                        b'\r' => State::Cr,
                        _ => State::Text,
                    };
                }
                State::Text => pos += self.text(&input[pos..], out),
            }
        }
        Progress { consumed: pos, done: self.state == State::Done }
    }

    /// Inside a line: everything up to and including the next CR or LF is text.
    fn text(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let Some(at) = memchr::memchr2(b'\r', b'\n', input) else {
            self.emit(input, out);
            return input.len();
        };
        self.emit(&input[..=at], out);
        self.state = if input[at] == b'\r' { State::Cr } else { self.end_line(State::Text) };
        at + 1
    }

    fn end_line(&mut self, next: State) -> State {
        self.line = 0;
        next
    }

    /// Appends message bytes, up to the first byte that breaks a limit (the same byte
    /// however the input was cut).
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let size_room = usize::try_from(self.max_bytes.saturating_sub(self.size)).unwrap_or(usize::MAX);
        let line_room = self.max_line.saturating_sub(self.line);
        self.line = self.line.saturating_add(bytes.len());
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.violation.is_some() {
            return;
        }
        let fits = bytes.len().min(size_room).min(line_room);
        if fits < bytes.len() {
            let too_big = size_room <= line_room;
            self.violation = Some(if too_big { Violation::TooBig } else { Violation::LineTooLong });
        }
        out.extend_from_slice(&bytes[..fits]);
        self.message_id.push(&bytes[..fits]);
    }

    /// Whether a limit has been broken (the rest is being discarded).
    pub fn violation(&self) -> Option<Violation> {
        self.violation
    }

    /// The outcome, once [`Progress::done`].
    pub fn finish(self) -> Result<Decoded, Violation> {
        match self.violation {
            Some(violation) => Err(violation),
            None => Ok(Decoded { size: self.size, message_id: self.message_id.finish() }),
        }
    }
}

#[cfg(test)]
mod tests;
