//! Configuration of both roles: `dmz.toml` and `inner.toml`.
//!
//! Loading is a pure function over text ([`parse`], [`parse_dmz`], [`parse_inner`])
//! that returns either validated settings or **every** problem it found, each as one
//! readable line. It works in two steps:
//!
//! 1. the TOML is deserialized into *file* structs ([`dmz::DmzFile`],
//!    [`inner::InnerFile`]) whose error-prone values (addresses, CIDRs, globs,
//!    hashes) are plain strings, and every key the structs do not know is collected
//!    (via `serde_ignored`) instead of stopping at the first one as
//!    `deny_unknown_fields` would;
//! 2. validation turns the file structs into typed *settings*
//!    ([`DmzSettings`], [`InnerSettings`]), recording each bad value and
//!    cross-reference (profile → channel, duplicate names) as it goes.
//!
//! Every file names its role (`role = "dmz"` / `role = "inner"`), so
//! `portcullis check-config FILE` knows which rules apply and a DMZ started with
//! the inner's file is refused before binding a port.
//!
//! Secrets never sit in these files: partner logins are argon2 hashes
//! (`portcullis hash-password`) or public keys.

#![forbid(unsafe_code)]

pub mod dmz;
mod glob;
pub mod inner;
mod load;
mod mail;

pub use dmz::DmzSettings;
pub use glob::PathGlob;
pub use inner::InnerSettings;
pub use load::Problems;
pub use mail::normalize_mail_address;

use serde::Deserialize;

/// How the two nodes reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Both nodes listen; each dials the other.
    Direct,
    /// Only the DMZ listens; the inner dials out and long-polls.
    Pushback,
}

/// Either role's settings, as `check-config` finds them.
#[derive(Debug, Clone)]
pub enum Settings {
    Dmz(Box<DmzSettings>),
    Inner(Box<InnerSettings>),
}

/// Parses a config of either role, told apart by its `role` key.
pub fn parse(text: &str) -> Result<Settings, Vec<String>> {
    match load::role_of(text)?.as_str() {
        "dmz" => parse_dmz(text).map(|s| Settings::Dmz(Box::new(s))),
        "inner" => parse_inner(text).map(|s| Settings::Inner(Box::new(s))),
        other => Err(vec![format!("role: expected \"dmz\" or \"inner\", found {other:?}")]),
    }
}

/// Parses and validates a DMZ config.
pub fn parse_dmz(text: &str) -> Result<DmzSettings, Vec<String>> {
    let (file, mut problems) = load::from_toml::<dmz::DmzFile>(text)?;
    let settings = file.validate(&mut problems);
    problems.into_result(settings)
}

/// Parses and validates an inner config.
pub fn parse_inner(text: &str) -> Result<InnerSettings, Vec<String>> {
    let (file, mut problems) = load::from_toml::<inner::InnerFile>(text)?;
    let settings = file.validate(&mut problems);
    problems.into_result(settings)
}

/// Reads and parses a file; problems are prefixed with the file's path.
pub fn load<T>(path: &std::path::Path, parse: fn(&str) -> Result<T, Vec<String>>) -> Result<T, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    parse(&text).map_err(|problems| problems.into_iter().map(|p| format!("{}: {p}", path.display())).collect())
}
