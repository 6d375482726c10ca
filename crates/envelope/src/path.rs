//! The one rule for delivery paths, applied by the DMZ when it accepts a delivery and
//! again by the inner before it writes anything (it trusts nothing from the DMZ).
//!
//! A path is relative and `/`-separated; each segment is a plain name: not empty, not
//! `.` or `..`, no NUL, control characters or backslashes, at most 255 bytes; the whole
//! path at most 4096 bytes.

/// Why a path or name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is longer than 4096 bytes")]
    TooLong,
    #[error("path must be relative")]
    Absolute,
    #[error("path has an empty, '.' or '..' segment")]
    BadSegment,
    #[error("path segment longer than 255 bytes")]
    SegmentTooLong,
    #[error("path contains NUL, control characters or a backslash")]
    BadCharacter,
    #[error("name must not start with '.'")]
    Hidden,
}

/// Checks a relative delivery path like `in/orders/2026-11-22.csv`.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > 4096 {
        return Err(PathError::TooLong);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    path.split('/').try_for_each(check_segment)
}

/// Checks a single name (a channel name, a file name): a segment that is also not
/// hidden, since the inner uses dot-names for its own temporary files.
pub fn validate_segment(name: &str) -> Result<(), PathError> {
    if name.contains('/') {
        return Err(PathError::BadSegment);
    }
    check_segment(name)?;
    if name.starts_with('.') {
        return Err(PathError::Hidden);
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), PathError> {
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(PathError::BadSegment);
    }
    if segment.len() > 255 {
        return Err(PathError::SegmentTooLong);
    }
    if segment.chars().any(|c| c.is_control() || c == '\\') {
        return Err(PathError::BadCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass() {
        for ok in ["a", "in/orders.csv", "deep/er/file name.txt", "ünïcode/ok", "..x/y..", "a/.hidden-file"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn escapes_and_garbage_are_refused() {
        let cases = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute),
            ("../x", PathError::BadSegment),
            ("a/../../x", PathError::BadSegment),
            ("a//b", PathError::BadSegment),
            ("a/./b", PathError::BadSegment),
            ("a/", PathError::BadSegment),
            ("a\0b", PathError::BadCharacter),
            ("a\nb", PathError::BadCharacter),
            ("a\\..\\b", PathError::BadCharacter),
        ];
        for (path, error) in cases {
            assert_eq!(validate_path(path), Err(error), "{path:?}");
        }
        assert_eq!(validate_path(&"x".repeat(300)), Err(PathError::SegmentTooLong));
        assert_eq!(validate_path(&"x/".repeat(2100)), Err(PathError::TooLong));
    }

    #[test]
    fn names_may_not_be_hidden() {
        assert_eq!(validate_segment(".part"), Err(PathError::Hidden));
        assert_eq!(validate_segment("a/b"), Err(PathError::BadSegment));
        assert_eq!(validate_segment("acme"), Ok(()));
    }
}
