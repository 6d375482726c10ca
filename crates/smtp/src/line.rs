//! Command lines out of the input buffer: RFC 5321 §2.3.8 (lines end with CRLF),
//! §4.5.3.1.4 (512 octets at least; `max_line` here, CRLF included) and §4.2.2
//! (`500 5.5.2 line too long`).
//!
//! A line ends at LF; a CR before it is dropped (clients that end commands with a bare
//! LF are tolerated: in command mode it cannot change where a message ends). A line
//! longer than `max_line` is discarded as it arrives, so the buffer never holds more
//! than `max_line` octets of one line; the session answers it once its LF arrives, or
//! gives up on the connection when [`RUNAWAY_LINE`] octets came without one.

/// A line this long without LF is not a client that will ever send one.
pub const RUNAWAY_LINE: usize = 64 * 1024;

/// The next thing in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line, CRLF stripped.
    Complete(&'a [u8]),
    /// An over-long line has ended.
    TooLong,
    /// An over-long line went on past [`RUNAWAY_LINE`] octets.
    Runaway,
    /// No complete line yet: read more.
    NeedMore,
}

/// Splits buffered input into command lines; see the module header.
#[derive(Debug)]
pub struct LineReader {
    max_line: usize,
    runaway: usize,
    /// Octets of an over-long line discarded so far.
    discarding: Option<usize>,
}

impl LineReader {
    pub fn new(max_line: usize) -> LineReader {
        LineReader { max_line, runaway: RUNAWAY_LINE.max(max_line), discarding: None }
    }

    /// The next line in `buffer`, and how many bytes of `buffer` are used up by it.
    pub fn next<'a>(&mut self, buffer: &'a [u8]) -> (usize, Line<'a>) {
        let newline = memchr::memchr(b'\n', buffer);
        if let Some(discarded) = self.discarding {
            return match newline {
                Some(at) => {
                    self.discarding = None;
                    (at + 1, Line::TooLong)
                }
                None => self.discard(discarded, buffer.len()),
            };
        }
        match newline {
            Some(at) if at + 1 > self.max_line => (at + 1, Line::TooLong),
            Some(at) => {
                let line = &buffer[..at];
                (at + 1, Line::Complete(line.strip_suffix(b"\r").unwrap_or(line)))
            }
            None if buffer.len() >= self.max_line => self.discard(0, buffer.len()),
            None => (0, Line::NeedMore),
        }
    }

    fn discard(&mut self, before: usize, now: usize) -> (usize, Line<'static>) {
        let total = before.saturating_add(now);
        if total > self.runaway {
            self.discarding = None;
            return (now, Line::Runaway);
        }
        self.discarding = Some(total);
        (now, Line::NeedMore)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All lines of `input` fed in pieces of `piece` bytes through a buffer.
    fn lines(input: &[u8], max_line: usize, piece: usize) -> Vec<Result<Vec<u8>, &'static str>> {
        let mut reader = LineReader::new(max_line);
        let mut buffer = Vec::new();
        let mut found = Vec::new();
        for chunk in input.chunks(piece) {
            buffer.extend_from_slice(chunk);
            loop {
                let (used, line) = reader.next(&buffer);
                let item = match line {
                    Line::Complete(line) => Ok(line.to_vec()),
                    Line::TooLong => Err("too long"),
                    Line::Runaway => {
                        found.push(Err("runaway"));
                        return found;
                    }
                    Line::NeedMore => {
                        buffer.drain(..used);
                        assert!(buffer.len() < max_line, "an incomplete line stays under max_line");
                        break;
                    }
                };
                buffer.drain(..used);
                found.push(item);
            }
        }
        found
    }

    #[test]
    fn splits_at_lf_and_strips_cr() {
        for piece in [1, 2, 3, 100] {
            let found = lines(b"EHLO a\r\nNOOP\nQUIT\r\npartial", 1000, piece);
            assert_eq!(found, vec![Ok(b"EHLO a".to_vec()), Ok(b"NOOP".to_vec()), Ok(b"QUIT".to_vec())]);
        }
    }

    #[test]
    fn limit_includes_the_crlf() {
        let fits = [vec![b'x'; 8], b"\r\n".to_vec()].concat();
        assert_eq!(lines(&fits, 10, 3), vec![Ok(vec![b'x'; 8])]);
        let over = [vec![b'x'; 9], b"\r\nNOOP\r\n".to_vec()].concat();
        for piece in [1, 4, 100] {
            assert_eq!(lines(&over, 10, piece), vec![Err("too long"), Ok(b"NOOP".to_vec())], "{piece}");
        }
    }

    #[test]
    fn an_endless_line_is_a_runaway_and_memory_stays_bounded() {
        let endless = vec![b'A'; 10 * 1024 * 1024];
        let found = lines(&endless, 1000, 4096);
        assert_eq!(found, vec![Err("runaway")]);
        let long_but_ended = [vec![b'A'; RUNAWAY_LINE - 10], b"\r\nQUIT\r\n".to_vec()].concat();
        assert_eq!(lines(&long_but_ended, 1000, 4096), vec![Err("too long"), Ok(b"QUIT".to_vec())]);
    }
}
