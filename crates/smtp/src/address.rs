//! Reverse and forward paths: RFC 5321 §4.1.2 (`Path`, `Mailbox`, `Local-part`,
//! `Domain`, `address-literal`), §4.1.1.3 (`<Postmaster>`), §4.5.3.1.1–3 (size limits).
//!
//! ASCII only (SMTPUTF8 is not offered). A source route (`<@relay:user@host>`) is
//! accepted and dropped, as §4.1.2 asks of servers. The mailbox is returned exactly as
//! written (a quoted local part keeps its quotes).

use crate::command::CommandError;

/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain (§4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest path, angle brackets and source route included (§4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// Which path is parsed: a reverse path may be `<>`, a forward path may be `<Postmaster>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Reverse,
    Forward,
}

/// Parses `<path>` at the start of `text`: the mailbox without brackets and source
/// route (empty for `<>`), and the text after the `>`.
pub fn parse_path(text: &str, kind: PathKind) -> Result<(String, &str), CommandError> {
    let error = match kind {
        PathKind::Reverse => CommandError::Sender,
        PathKind::Forward => CommandError::Recipient,
    };
    let mut cursor = Cursor { bytes: text.as_bytes(), pos: 0 };
    let (start, end) = path(&mut cursor, kind).ok_or(error)?;
    if cursor.pos > MAX_PATH {
        return Err(error);
    }
    let mailbox = text.get(start..end).ok_or(error)?;
    let rest = text.get(cursor.pos..).ok_or(error)?;
    Ok((mailbox.to_owned(), rest))
}

/// The byte range of the mailbox; `cursor` ends after the closing `>`.
fn path(cursor: &mut Cursor<'_>, kind: PathKind) -> Option<(usize, usize)> {
    cursor.expect(b'<')?;
    if cursor.eat(b'>') {
        return (kind == PathKind::Reverse).then_some((1, 1));
    }
    if cursor.peek() == Some(b'@') {
        source_route(cursor)?;
    }
    let start = cursor.pos;
    local_part(cursor)?;
    if cursor.pos - start > MAX_LOCAL_PART {
        return None;
    }
    if cursor.eat(b'@') {
        let domain_start = cursor.pos;
        domain_or_literal(cursor)?;
        if cursor.pos - domain_start > MAX_DOMAIN {
            return None;
        }
    } else {
        let local = cursor.bytes.get(start..cursor.pos)?;
        if kind != PathKind::Forward || !local.eq_ignore_ascii_case(b"postmaster") {
            return None;
        }
    }
    let end = cursor.pos;
    cursor.expect(b'>')?;
    Some((start, end))
}

/// `A-d-l ":"`: `@one.example,@two.example:`.
fn source_route(cursor: &mut Cursor<'_>) -> Option<()> {
    loop {
        cursor.expect(b'@')?;
        domain(cursor)?;
        if !cursor.eat(b',') {
            return cursor.expect(b':');
        }
    }
}

/// `Dot-string / Quoted-string`.
fn local_part(cursor: &mut Cursor<'_>) -> Option<()> {
    if cursor.eat(b'"') {
        return quoted_string(cursor);
    }
    loop {
        cursor.many(is_atext)?;
        if !cursor.eat(b'.') {
            return Some(());
        }
    }
}

/// The rest of a quoted string after its opening quote.
fn quoted_string(cursor: &mut Cursor<'_>) -> Option<()> {
    loop {
        match cursor.next()? {
            b'"' => return Some(()),
            b'\\' => {
                cursor.next().filter(|b| (32..=126).contains(b))?;
            }
            b if b == 32 || b == 33 || (35..=91).contains(&b) || (93..=126).contains(&b) => {}
            _ => return None,
        }
    }
}

fn domain_or_literal(cursor: &mut Cursor<'_>) -> Option<()> {
    if cursor.eat(b'[') {
        cursor.many(|b| (33..=90).contains(&b) || (94..=126).contains(&b))?;
        return cursor.expect(b']');
    }
    domain(cursor)
}

/// `sub-domain *("." sub-domain)`, a sub-domain being letters, digits and inner hyphens.
fn domain(cursor: &mut Cursor<'_>) -> Option<()> {
    loop {
        let start = cursor.pos;
        cursor.many(|b| b.is_ascii_alphanumeric() || b == b'-')?;
        let label = cursor.bytes.get(start..cursor.pos)?;
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return None;
        }
        if !cursor.eat(b'.') {
            return Some(());
        }
    }
}

/// RFC 5322 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> bool {
        let hit = self.peek() == Some(want);
        self.pos += usize::from(hit);
        hit
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        self.eat(want).then_some(())
    }

    /// One or more bytes matching `ok`.
    fn many(&mut self, ok: impl Fn(u8) -> bool) -> Option<()> {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(text: &str) -> Result<(String, &str), CommandError> {
        parse_path(text, PathKind::Forward)
    }

    #[test]
    fn mailboxes_are_returned_as_written() {
        assert_eq!(forward("<a.b+tag@mx-1.example.com>"), Ok(("a.b+tag@mx-1.example.com".into(), "")));
        assert_eq!(
            forward("<\"john doe\\\"\"@x.example> SIZE=1"),
            Ok(("\"john doe\\\"\"@x.example".into(), " SIZE=1"))
        );
        assert_eq!(forward("<\"a>b\"@x>"), Ok(("\"a>b\"@x".into(), "")));
        assert_eq!(forward("<ops@[192.0.2.7]>"), Ok(("ops@[192.0.2.7]".into(), "")));
        assert_eq!(forward("<@r1.example,@r2.example:u@h.example>"), Ok(("u@h.example".into(), "")));
        assert_eq!(forward("<postMaster>"), Ok(("postMaster".into(), "")));
        assert_eq!(parse_path("<>", PathKind::Reverse), Ok((String::new(), "")));
    }

    #[test]
    fn malformed_paths_are_refused() {
        let bad = [
            "",
            "<",
            "<>",
            "a@b",
            "<a@b",
            "<a@>",
            "<@b>",
            "<a b@c>",
            "<a@-b>",
            "<a@b->",
            "<a@b..c>",
            "<a..b@c>",
            "<.a@c>",
            "<a.@c>",
            "<\"unterminated@c>",
            "<a@[1.2.3.4>",
            "<@r:>",
            "<user>",
            "<j\u{f6}rg@x>",
            "<a@b_c>",
        ];
        for text in bad {
            assert_eq!(forward(text), Err(CommandError::Recipient), "{text:?}");
        }
        assert_eq!(parse_path("<postmaster>", PathKind::Reverse), Err(CommandError::Sender));
    }

    #[test]
    fn length_limits() {
        let local = "l".repeat(MAX_LOCAL_PART);
        assert!(forward(&format!("<{local}@x>")).is_ok());
        assert!(forward(&format!("<{local}l@x>")).is_err());
        // `<a@` + domain + `>`: the 256-octet path limit leaves 252 for the domain.
        let domain = format!("{}.{}", "d".repeat(63), "e".repeat(188));
        assert!(forward(&format!("<a@{domain}>")).is_ok());
        assert!(forward(&format!("<a@{domain}x>")).is_err());
        let long = format!("<{local}@{domain}>");
        assert!(long.len() > MAX_PATH);
        assert_eq!(forward(&long), Err(CommandError::Recipient));
    }
}
