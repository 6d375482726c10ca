//! The HTTP side of `portcullis ctl`: the token, the admin URL, and requests that
//! turn every failure into one line for the operator (never showing the token).
//! Requests have a total timeout, except uploads: a big file takes what it takes.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The environment variable holding the admin token when `--token-file` is absent.
pub const TOKEN_ENV: &str = "PORTCULLIS_ADMIN_TOKEN";

/// Generous: a reload pushes the config to the DMZ before it answers.
const TIMEOUT: Duration = Duration::from_secs(60);

/// For uploads, the only timeout: reaching the node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The token: the trimmed content of `file`, else the trimmed value of `env`.
pub fn token(file: Option<&Path>, env: Option<String>) -> Result<String, String> {
    let text = match (file, env) {
        (Some(file), _) => {
            std::fs::read_to_string(file).map_err(|e| format!("cannot read the token file {}: {e}", file.display()))?
        }
        (None, Some(value)) => value,
        (None, None) => return Err(format!("ctl needs --token-file FILE or {TOKEN_ENV}")),
    };
    let token = text.trim();
    if token.is_empty() {
        return Err("the admin token is empty".into());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the admin token holds characters an HTTP header cannot carry".into());
    }
    Ok(token.to_owned())
}

/// `host:port` means `http://host:port`; no trailing slash.
pub fn base_url(admin: &str) -> String {
    let admin = admin.trim().trim_end_matches('/');
    if admin.contains("://") { admin.to_owned() } else { format!("http://{admin}") }
}

/// Percent-encodes a query or path component.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One node's admin API.
pub struct Admin {
    base: String,
    token: String,
    client: reqwest::Client,
    /// Without the total timeout.
    uploads: reqwest::Client,
}

/// An answer the API gave: its status and body.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    /// The body as JSON, for a success; the operator's error line otherwise.
    pub fn json(self) -> Result<Value, String> {
        if self.status == StatusCode::UNAUTHORIZED {
            return Err("the admin API refused the token (401)".into());
        }
        if !self.status.is_success() {
            return Err(match api_error(&self.body) {
                Some(message) => format!("{message} ({})", self.status.as_u16()),
                None => format!("{} {}", self.status, self.body.trim()).trim_end().to_owned(),
            });
        }
        serde_json::from_str(&self.body).map_err(|e| format!("the admin API answered with something not JSON ({e})"))
    }
}

impl Admin {
    pub fn new(admin: &str, token: String) -> Result<Self, String> {
        let builder = || reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        let set_up = |e| format!("cannot set up the HTTP client: {}", chain(e));
        let client = builder().timeout(TIMEOUT).build().map_err(set_up)?;
        let uploads = builder().build().map_err(set_up)?;
        Ok(Self { base: base_url(admin), token, client, uploads })
    }

    /// The admin API's base URL, for error lines.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request with the token; Err only when no answer came.
    pub async fn send(&self, method: Method, path: &str) -> Result<Answer, String> {
        let request = self.client.request(method, format!("{}{path}", self.base));
        self.answer(request, "cannot reach the admin API").await
    }

    /// POSTs `body` (streamed) without the total timeout; Err only when no answer came.
    pub async fn upload(&self, path: &str, body: reqwest::Body) -> Result<Answer, String> {
        let request = self.uploads.post(format!("{}{path}", self.base)).body(body);
        self.answer(request, "the upload failed to the admin API").await
    }

    /// Sends `request` with the token and reads the answer; a failure is `failed`
    /// (or "cannot reach" when no connection was made) with its causes.
    async fn answer(&self, request: reqwest::RequestBuilder, failed: &str) -> Result<Answer, String> {
        let error = |e: reqwest::Error| {
            let what = if e.is_connect() { "cannot reach the admin API" } else { failed };
            format!("{what} at {}: {}", self.base, chain(e))
        };
        let response = request.bearer_auth(&self.token).send().await.map_err(error)?;
        let status = response.status();
        let body = response.text().await.map_err(error)?;
        Ok(Answer { status, body })
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.send(Method::GET, path).await?.json()
    }

    pub async fn post(&self, path: &str) -> Result<Value, String> {
        self.send(Method::POST, path).await?.json()
    }
}

/// The `error` field of the API's JSON error body, on one line.
fn api_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let message = value.get("error")?.as_str()?;
    Some(super::format::one_line(message))
}

/// An error and its causes, `a: b: c` (reqwest's own text alone says little).
fn chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Value, String> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Answer { status, body: body.into() }.json()
    }

    #[test]
    fn an_error_answer_is_the_apis_message_or_the_status() {
        assert_eq!(
            answer(404, r#"{"error": "channel demo has no remote \"x\""}"#),
            Err(r#"channel demo has no remote "x" (404)"#.into())
        );
        assert_eq!(answer(400, r#"{"error": "bad\nname"}"#), Err("bad name (400)".into()));
        assert_eq!(answer(404, ""), Err("404 Not Found".into()));
        assert_eq!(answer(503, "busy\n"), Err("503 Service Unavailable busy".into()));
        assert_eq!(answer(401, "{}"), Err("the admin API refused the token (401)".into()));
        assert_eq!(answer(202, r#"{"id": "a"}"#), Ok(serde_json::json!({"id": "a"})));
    }
}
