//! Path globs for profiles: `*` matches within one path segment, `**` matches any
//! number of whole segments, `?` matches one character other than `/`.

use std::fmt;

/// A validated glob over `/`-separated relative paths.
#[derive(Clone, PartialEq, Eq)]
pub struct PathGlob {
    text: String,
}

impl PathGlob {
    /// Accepts any non-empty pattern whose `**` stands alone between slashes.
    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty pattern".into());
        }
        if let Some(bad) = text.split('/').find(|seg| seg.contains("**") && *seg != "**") {
            return Err(format!("`**` must be a whole path segment, not {bad:?}"));
        }
        Ok(PathGlob { text: text.to_string() })
    }

    pub fn matches(&self, path: &str) -> bool {
        let pattern: Vec<&str> = self.text.split('/').collect();
        let segments: Vec<&str> = path.split('/').collect();
        match_segments(&pattern, &segments)
    }
}

impl fmt::Debug for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathGlob({:?})", self.text)
    }
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn match_segments(pattern: &[&str], segments: &[&str]) -> bool {
    match pattern.split_first() {
        None => segments.is_empty(),
        Some((&"**", rest)) => (0..=segments.len()).any(|skip| match_segments(rest, &segments[skip..])),
        Some((first, rest)) => segments
            .split_first()
            .is_some_and(|(seg, tail)| match_segment(first.as_bytes(), seg.as_bytes()) && match_segments(rest, tail)),
    }
}

fn match_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| match_segment(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && match_segment(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && match_segment(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, path: &str, expected: bool) {
        let glob = PathGlob::new(pattern).expect("valid pattern");
        assert_eq!(glob.matches(path), expected, "{pattern} vs {path}");
    }

    #[test]
    fn globs_match_as_documented() {
        check("**", "a", true);
        check("**", "a/b/c.txt", true);
        check("*.csv", "orders.csv", true);
        check("*.csv", "in/orders.csv", false);
        check("**/*.csv", "orders.csv", true);
        check("**/*.csv", "in/deep/orders.csv", true);
        check("in/*", "in/x", true);
        check("in/*", "in/x/y", false);
        check("in/**", "in/x/y", true);
        check("file?.txt", "file1.txt", true);
        check("file?.txt", "file/.txt", false);
        check("a*b*c", "aXXbYYc", true);
        check("a*b*c", "aXXbYY", false);
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(PathGlob::new("").is_err());
        assert!(PathGlob::new("a**").is_err());
        assert!(PathGlob::new("x/**y/z").is_err());
    }
}
