//! Mail addresses in channel config (`smtp_addresses`): checked and kept in one
//! canonical form, lower case, so the DMZ can match `RCPT TO` case-insensitively.

/// The canonical form of `text` (`local@domain`, lower case), or why it is not
/// a usable address. Only plain addresses: no display names, angle brackets,
/// spaces, control characters or source routes.
pub fn normalize_mail_address(text: &str) -> Result<String, &'static str> {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return Err("must be local@domain");
    };
    if local.is_empty() || domain.is_empty() {
        return Err("must be local@domain");
    }
    if local.len() > 64 || domain.len() > 255 {
        return Err("too long (local part ≤ 64, domain ≤ 255 octets)");
    }
    let forbidden = |c: char| c.is_control() || c.is_whitespace() || "<>()[]\\,;:\"".contains(c);
    if text.chars().any(forbidden) || local.contains('@') {
        return Err("a plain address only: no spaces, quotes, brackets or control characters");
    }
    if domain.split('.').any(str::is_empty) {
        return Err("the domain has an empty label");
    }
    Ok(text.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::normalize_mail_address as normalize;

    #[test]
    fn plain_addresses_are_lower_cased() {
        assert_eq!(normalize("Demo@DMZ.localhost"), Ok("demo@dmz.localhost".into()));
        assert_eq!(normalize("a.b+tag@x.example"), Ok("a.b+tag@x.example".into()));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "demo", "@x", "demo@", "<demo@x>", "de mo@x", "a@b@c", "d\u{0}@x", "d@x..y", "\"q\"@x"] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize(&format!("{}@x", "a".repeat(65))).is_err());
    }
}
