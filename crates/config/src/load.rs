//! TOML → file structs, collecting unknown keys, and the [`Problems`] collector.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::DeserializeOwned;

use crate::Mode;

/// Every problem found so far, one readable line each.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    /// The settings if nothing was wrong, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }

    /// Parses `host:port`, recording a problem under `field` if it is not one.
    pub fn socket_addr(&mut self, field: &str, text: &str) -> SocketAddr {
        text.parse().unwrap_or_else(|_| {
            self.push(format!("{field}: {text:?} is not an address like \"127.0.0.1:8020\""));
            SocketAddr::from(([0, 0, 0, 0], 0))
        })
    }

    /// Checks an OpenSSH public key line (`ssh-ed25519 AAAA… comment`) by its shape.
    pub fn public_key(&mut self, field: &str, key: &str) {
        let mut parts = key.split_whitespace();
        let (kind, blob) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-")) || blob.is_empty() {
            self.push(format!("{field}: {key:?} is not an OpenSSH public key line"));
        }
    }

    /// Parses a list of CIDRs (a bare address means a single host).
    pub fn cidrs(&mut self, field: &str, texts: &[String]) -> Vec<IpNet> {
        texts
            .iter()
            .filter_map(|text| {
                let parsed =
                    text.parse::<IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from));
                if parsed.is_none() {
                    self.push(format!("{field}: {text:?} is not a CIDR like \"10.0.0.0/8\""));
                }
                parsed
            })
            .collect()
    }

    /// Checks an `http://host:port` URL (the MessageService has no TLS yet).
    pub fn http_url(&mut self, field: &str, text: &str) -> String {
        let rest = text.strip_prefix("http://");
        let valid = rest.is_some_and(|r| {
            let host_port = r.trim_end_matches('/');
            !host_port.is_empty() && !host_port.contains('/') && host_port.contains(':')
        });
        if !valid {
            self.push(format!("{field}: {text:?} is not a URL like \"http://10.0.0.5:8020\""));
        }
        text.trim_end_matches('/').to_string()
    }

    /// A setting of direct mode only: required there, refused in pushback mode
    /// (`pushback_note` says why).
    pub fn direct_only<'a>(
        &mut self,
        field: &str,
        mode: Mode,
        value: Option<&'a str>,
        pushback_note: &str,
    ) -> Option<&'a str> {
        match (mode, value) {
            (Mode::Direct, None) => {
                self.push(format!("{field}: required in direct mode"));
                None
            }
            (Mode::Pushback, Some(_)) => {
                self.push(format!("{field}: {pushback_note} in pushback mode; remove it"));
                None
            }
            (_, value) => value,
        }
    }

    /// `<table>.long_poll_secs` and `<table>.reconnect_max_ms`, checked.
    pub fn link_timing(&mut self, table: &str, long_poll_secs: u64, reconnect_max_ms: u64) -> (Duration, Duration) {
        self.range(&format!("{table}.long_poll_secs"), long_poll_secs, 1, 300);
        self.range(&format!("{table}.reconnect_max_ms"), reconnect_max_ms, 10, 600_000);
        (Duration::from_secs(long_poll_secs), Duration::from_millis(reconnect_max_ms))
    }

    /// Records a problem unless `value` is within `min..=max`.
    pub fn range(&mut self, field: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.push(format!("{field}: {value} is outside {min}..={max}"));
        }
    }
}

/// Reads the `role` key without validating anything else.
pub(crate) fn role_of(text: &str) -> Result<String, Vec<String>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| vec![one_line(&e)])?;
    match table.get("role") {
        Some(toml::Value::String(role)) => Ok(role.clone()),
        Some(_) => Err(vec!["role: expected a string, \"dmz\" or \"inner\"".into()]),
        None => Err(vec!["role: missing; say role = \"dmz\" or role = \"inner\"".into()]),
    }
}

/// Deserializes the file struct, collecting every unknown key as a problem.
pub(crate) fn from_toml<T: DeserializeOwned>(text: &str) -> Result<(T, Problems), Vec<String>> {
    let mut problems = Problems::default();
    let deserializer = toml::Deserializer::parse(text).map_err(|e| vec![one_line(&e)])?;
    let result = serde_ignored::deserialize(deserializer, |path| {
        problems.push(format!("{path}: unknown key"));
    });
    match result {
        Ok(value) => Ok((value, problems)),
        Err(error) => {
            problems.push(one_line(&error));
            Err(problems.0)
        }
    }
}

/// toml's errors span several lines with a source excerpt; keep them, indented.
fn one_line(error: &toml::de::Error) -> String {
    error.to_string().trim_end().replace('\n', "\n    ")
}
