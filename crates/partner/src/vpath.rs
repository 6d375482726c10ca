//! [`VPath`]: a normalised path inside a partner's virtual home.

use std::fmt;

use crate::FsError;

/// The name of the pickup area below the home.
pub const OUTBOX: &str = "outbox";

/// Longest client path accepted, in bytes.
const MAX_INPUT: usize = 4096;

/// A path inside the virtual home: zero or more checked segments below `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VPath {
    segments: Vec<String>,
}

impl VPath {
    /// The home itself.
    pub fn root() -> VPath {
        VPath::default()
    }

    /// Resolves a client path against the session's current directory. `/x` is
    /// `x` below the home; `..` may not climb above `/`; empty segments and `.`
    /// are ignored. Each remaining segment must pass the delivery path rules.
    pub fn resolve(cwd: &VPath, input: &str) -> Result<VPath, FsError> {
        if input.len() > MAX_INPUT {
            return Err(FsError::BadPath("path longer than 4096 bytes".into()));
        }
        let mut segments = if input.starts_with('/') { Vec::new() } else { cwd.segments.clone() };
        for segment in input.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    if segments.pop().is_none() {
                        return Err(FsError::BadPath("'..' climbs above the home directory".into()));
                    }
                }
                name => {
                    envelope::validate_path(name).map_err(|e| FsError::BadPath(e.to_string()))?;
                    segments.push(name.to_owned());
                }
            }
        }
        Ok(VPath { segments })
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The last segment (`None` for the home itself).
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The directory containing this path (the home contains itself).
    pub fn parent(&self) -> VPath {
        let mut segments = self.segments.clone();
        segments.pop();
        VPath { segments }
    }

    /// This path joined with one more name (which must already be checked).
    pub fn join(&self, name: &str) -> Result<VPath, FsError> {
        VPath::resolve(self, name).and_then(|p| if p.parent() == *self { Ok(p) } else { Err(bad_name(name)) })
    }

    /// Whether this path is the pickup area or below it.
    pub fn in_outbox(&self) -> bool {
        self.segments.first().is_some_and(|s| s == OUTBOX)
    }

    /// The path below the home without the leading `/` (`a/b`), as a delivery path.
    pub fn relative(&self) -> String {
        self.segments.join("/")
    }
}

fn bad_name(name: &str) -> FsError {
    FsError::BadPath(format!("{name:?} is not a plain name"))
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        self.segments.iter().try_for_each(|s| write!(f, "/{s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(cwd: &str, input: &str) -> Result<String, FsError> {
        let cwd = VPath::resolve(&VPath::root(), cwd).expect("cwd");
        VPath::resolve(&cwd, input).map(|p| p.to_string())
    }

    #[test]
    fn relative_and_absolute_paths_stay_inside_the_home() {
        assert_eq!(resolve("/", "a/b.txt"), Ok("/a/b.txt".into()));
        assert_eq!(resolve("/a", "b.txt"), Ok("/a/b.txt".into()));
        assert_eq!(resolve("/a", "/etc/passwd"), Ok("/etc/passwd".into()));
        assert_eq!(resolve("/a", "../b//./c"), Ok("/b/c".into()));
        assert_eq!(resolve("/", "."), Ok("/".into()));
        assert_eq!(resolve("/", ""), Ok("/".into()));
    }

    #[test]
    fn climbing_above_the_home_is_refused() {
        assert!(matches!(resolve("/", ".."), Err(FsError::BadPath(_))));
        assert!(matches!(resolve("/a", "../../x"), Err(FsError::BadPath(_))));
        assert!(matches!(resolve("/", "/../etc/passwd"), Err(FsError::BadPath(_))));
    }

    #[test]
    fn nul_control_characters_and_backslashes_are_refused() {
        for bad in ["a\0b", "a\nb", "x\u{7f}", "..\\..\\x", &"n".repeat(256)] {
            assert!(matches!(resolve("/", bad), Err(FsError::BadPath(_))), "{bad:?}");
        }
    }

    #[test]
    fn the_outbox_and_relative_forms() {
        let p = VPath::resolve(&VPath::root(), "outbox/x").expect("path");
        assert!(p.in_outbox());
        assert_eq!(p.relative(), "outbox/x");
        assert_eq!(p.name(), Some("x"));
        assert_eq!(p.parent().to_string(), "/outbox");
        assert!(VPath::root().join("a/b").is_err());
        assert_eq!(VPath::root().join("a").map(|p| p.to_string()), Ok("/a".into()));
    }
}
