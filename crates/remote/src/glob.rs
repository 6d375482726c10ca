//! File name patterns for fetch jobs: `*` (any run of characters, also none),
//! `?` (one character), `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` (one character in, or
//! not in, the set). Everything else matches itself, case-sensitively. A `[`
//! without its `]` matches a literal `[`. Matching is on characters, not bytes.

/// Whether `name` matches `pattern` as a whole.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches_from(&pattern, &name)
}

/// Iterative matching with one backtrack point (the last `*`): linear for most
/// patterns, never exponential.
fn matches_from(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pattern.get(p) == Some(&'*') {
            star = Some((p, n));
            p += 1;
            continue;
        }
        if let Some((next, true)) = single(pattern, p, name.get(n).copied()) {
            p = next;
            n += 1;
            continue;
        }
        let Some((star_p, star_n)) = star else { return false };
        p = star_p + 1;
        n = star_n + 1;
        star = Some((star_p, star_n + 1));
    }
    pattern.get(p..).unwrap_or_default().iter().all(|c| *c == '*')
}

/// Matches the one-character element at `pattern[p]` against `c`: the index
/// after the element and whether it matched. `None` at the end of the pattern.
fn single(pattern: &[char], p: usize, c: Option<char>) -> Option<(usize, bool)> {
    let c = c?;
    match pattern.get(p)? {
        '?' => Some((p + 1, true)),
        '[' => match class(pattern, p + 1, c) {
            Some((end, hit)) => Some((end, hit)),
            None => Some((p + 1, c == '[')),
        },
        literal => Some((p + 1, *literal == c)),
    }
}

/// A character class starting after its `[` at `start`: the index after its `]`
/// and whether `c` is in it; `None` if the class is not closed.
fn class(pattern: &[char], start: usize, c: char) -> Option<(usize, bool)> {
    let mut i = start;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let current = *pattern.get(i)?;
        if current == ']' && !first {
            return Some((i + 1, hit != negated));
        }
        first = false;
        match (pattern.get(i + 1), pattern.get(i + 2)) {
            (Some('-'), Some(&high)) if high != ']' => {
                hit |= current <= c && c <= high;
                i += 3;
            }
            _ => {
                hit |= current == c;
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pattern_matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(pattern_matches("*", ""));
        assert!(pattern_matches("*", "anything.xml"));
        assert!(pattern_matches("*.xml", "order.xml"));
        assert!(!pattern_matches("*.xml", "order.xml.part"));
        assert!(pattern_matches("ord?r_*.csv", "order_2024.csv"));
        assert!(!pattern_matches("ord?r_*.csv", "odr_2024.csv"));
        assert!(pattern_matches("a*b*c", "aXXbYYbZZc"));
        assert!(!pattern_matches("a*b*c", "aXXbYYbZZ"));
        assert!(pattern_matches("**x", "x"));
        assert!(pattern_matches("exact.txt", "exact.txt"));
        assert!(!pattern_matches("exact.txt", "Exact.txt"));
        assert!(!pattern_matches("?", ""));
        assert!(pattern_matches("?", "é"));
    }

    #[test]
    fn character_classes() {
        assert!(pattern_matches("inv[0-9][0-9].txt", "inv42.txt"));
        assert!(!pattern_matches("inv[0-9].txt", "invx.txt"));
        assert!(pattern_matches("[!.]*", "visible"));
        assert!(!pattern_matches("[!.]*", ".hidden"));
        assert!(pattern_matches("[^.]*", "visible"));
        assert!(pattern_matches("[]x]", "]"));
        assert!(pattern_matches("[a-]", "-"));
        assert!(pattern_matches("file[", "file["));
        assert!(pattern_matches("[abc]*", "cab"));
        assert!(!pattern_matches("[abc]*", "dab"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let name = "a".repeat(2000);
        assert!(!pattern_matches(&format!("{}b", "*a".repeat(50)), &name));
    }
}
