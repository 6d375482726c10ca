//! A profile's `respond` table: after the profile delivered a file, a response
//! (an acknowledgement) is sent back to the partner through one of the channel's
//! remotes. Its name and text are templates:
//!
//! | placeholder | value |
//! |---|---|
//! | `{name}` | the delivered file's name (last path segment) |
//! | `{stem}` | that name without its last extension |
//! | `{path}` | the path the partner delivered to |
//! | `{channel}` | the channel |
//! | `{size}` | bytes delivered |
//! | `{sha256}` | hex sha-256 of what was delivered |
//! | `{id}` | the delivery's id |

use serde::Deserialize;

use super::Channel;
use crate::Problems;

/// A validated response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// A remote of the delivery's channel.
    pub remote: String,
    /// The response file's name (a template; must render to a plain name).
    pub name: String,
    /// The response's content (a template).
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponseFile {
    remote: String,
    #[serde(default = "default_name")]
    name: String,
    #[serde(default = "default_text")]
    text: String,
}

fn default_name() -> String {
    "{name}.ack".into()
}

fn default_text() -> String {
    "received {path} ({size} bytes, sha-256 {sha256}) as delivery {id}\n".into()
}

const PLACEHOLDERS: [&str; 7] = ["name", "stem", "path", "channel", "size", "sha256", "id"];

impl ResponseFile {
    /// Checks the remote exists (in the profile's channel; for a `*` profile it
    /// must exist in every channel) and the templates name known placeholders.
    pub(super) fn validate(
        self,
        field: &str,
        channel: &str,
        channels: &[Channel],
        problems: &mut Problems,
    ) -> Response {
        let named: Vec<&Channel> = channels.iter().filter(|c| channel == "*" || c.name == channel).collect();
        for found in named {
            if found.remote(&self.remote).is_none() {
                problems
                    .push(format!("{field}.respond.remote: channel {} has no remote {:?}", found.name, self.remote));
            }
        }
        for (part, template) in [("name", &self.name), ("text", &self.text)] {
            if let Err(unknown) = check_template(template) {
                problems.push(format!("{field}.respond.{part}: unknown placeholder {{{unknown}}}"));
            }
        }
        if self.name.contains('/') || self.name.is_empty() {
            problems.push(format!("{field}.respond.name: a plain file name is needed, not {:?}", self.name));
        }
        Response { remote: self.remote, name: self.name, text: self.text }
    }
}

/// Every `{...}` in `template` names a known placeholder; else the first unknown.
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find('}') else { return Ok(()) };
        let name = after.get(..close).unwrap_or_default();
        if !PLACEHOLDERS.contains(&name) {
            return Err(name.to_owned());
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    Ok(())
}

/// `template` with each `{placeholder}` replaced by its value from `values`.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_only_known_placeholders() {
        assert_eq!(check_template("{stem}.ack for {path} {sha256}"), Ok(()));
        assert_eq!(check_template("{nmae}.ack"), Err("nmae".into()));
        assert_eq!(check_template("no placeholders, a { alone"), Ok(()));
    }

    #[test]
    fn rendering_fills_every_occurrence() {
        let text = render("{stem}.ack: {name} {name}", &[("name", "a.xml"), ("stem", "a")]);
        assert_eq!(text, "a.ack: a.xml a.xml");
    }
}
