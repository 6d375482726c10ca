//! Pushing a file to a partner's HTTP(S) endpoint: one POST or PUT, the body
//! streamed from the file (with its `Content-Length`), never whole in memory.
//! 2xx is success; anything else is an [`RemoteError::Http`] carrying the status
//! and the start of the body. Redirects are not followed (a streamed body cannot
//! be sent twice): a 3xx is a permanent failure naming its `Location`.
//! TLS is rustls with the same trust choices as FTPS ([`TlsTrust`]), HTTP/1.1.

mod watchdog;

use std::path::Path;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use zeroize::Zeroize;

use crate::endpoint::{Timeouts, TlsTrust};
use crate::error::RemoteError;
use watchdog::{Progress, Touching};

/// At most this much of a reply body is kept.
pub const EXCERPT_LIMIT: usize = 64 << 10;

/// The HTTP method of a push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    Post,
    Put,
}

/// How the request authenticates.
#[derive(Clone, Default)]
pub enum HttpAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpAuth::None => f.write_str("None"),
            HttpAuth::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            HttpAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Drop for HttpAuth {
    fn drop(&mut self) {
        match self {
            HttpAuth::None => {}
            HttpAuth::Basic { password, .. } => password.zeroize(),
            HttpAuth::Bearer(token) => token.zeroize(),
        }
    }
}

/// One push: where, how, and with which headers.
#[derive(Clone)]
pub struct HttpSend {
    pub method: HttpMethod,
    /// `http://` or `https://` URL.
    pub url: String,
    pub content_type: String,
    pub auth: HttpAuth,
    /// Extra headers (their values may be secrets: never shown by `Debug`).
    pub headers: Vec<(String, String)>,
    pub tls: TlsTrust,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for HttpSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HttpSend")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("auth", &self.auth)
            .field("headers", &header_names)
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// A 2xx answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// The start of the body (at most [`EXCERPT_LIMIT`] bytes, lossy UTF-8).
    pub excerpt: String,
    /// Whether the body was longer than the excerpt.
    pub truncated: bool,
}

/// Sends the file at `source` as the body of `request`.
pub async fn http_send(request: &HttpSend, source: &Path) -> Result<HttpReply, RemoteError> {
    let client = client(request)?;
    let local = |source| RemoteError::Local { what: "HTTP body".into(), source };
    let file = tokio::fs::File::open(source).await.map_err(local)?;
    let length = file.metadata().await.map_err(local)?.len();
    let progress = Progress::new();
    let reader = Touching { inner: file, progress: progress.clone() };
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(reader, 256 << 10));
    let builder = headers(request, client.request(method(request.method), &request.url))?
        .header(CONTENT_TYPE, &request.content_type)
        .header(CONTENT_LENGTH, length)
        .body(body);
    let stall = request.timeouts.io;
    let what = format!("{:?} {}", request.method, request.url).to_uppercase();
    let response = match progress.watch(stall, builder.send()).await {
        Some(result) => result.map_err(|e| classify(&request.url, e))?,
        None => return Err(RemoteError::Timeout { what, after: stall }),
    };
    reply(response, stall, &what).await
}

fn client(request: &HttpSend) -> Result<reqwest::Client, RemoteError> {
    let tls = crate::tls::client_config(&request.tls, &[b"http/1.1"])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(request.timeouts.connect)
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .build()
        .map_err(|e| RemoteError::Config(format!("HTTP client: {e}")))
}

fn method(method: HttpMethod) -> reqwest::Method {
    match method {
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
    }
}

/// Authentication and the extra headers (marked sensitive: never logged by reqwest).
fn headers(request: &HttpSend, builder: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, RemoteError> {
    let mut builder = match &request.auth {
        HttpAuth::None => builder,
        HttpAuth::Basic { user, password } => builder.basic_auth(user, Some(password)),
        HttpAuth::Bearer(token) => builder.bearer_auth(token),
    };
    for (name, value) in &request.headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| RemoteError::Config(format!("invalid HTTP header name {name:?}")))?;
        let mut value = HeaderValue::try_from(value.as_str())
            .map_err(|_| RemoteError::Config(format!("invalid value for HTTP header {name}")))?;
        value.set_sensitive(true);
        builder = builder.header(name, value);
    }
    Ok(builder)
}

/// 2xx: the reply; else the error with status and excerpt.
async fn reply(mut response: reqwest::Response, stall: Duration, what: &str) -> Result<HttpReply, RemoteError> {
    let status = response.status();
    let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).map(str::to_owned);
    let (excerpt, truncated) = excerpt(&mut response, stall, what).await?;
    if status.is_success() {
        return Ok(HttpReply { status: status.as_u16(), excerpt, truncated });
    }
    let excerpt = match location {
        Some(location) if status.is_redirection() => format!("redirected to {location} (not followed) {excerpt}"),
        _ => excerpt,
    };
    Err(RemoteError::Http { status: status.as_u16(), excerpt })
}

/// The first [`EXCERPT_LIMIT`] bytes of the body; the rest is not read.
async fn excerpt(response: &mut reqwest::Response, stall: Duration, what: &str) -> Result<(String, bool), RemoteError> {
    let mut kept = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(stall, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Ok((String::from_utf8_lossy(&kept).into_owned(), false)),
            Ok(Err(e)) => return Err(RemoteError::Broken { what: what.to_owned(), reason: e.to_string() }),
            Err(_) => return Err(RemoteError::Timeout { what: format!("{what} (reply body)"), after: stall }),
        };
        let room = EXCERPT_LIMIT - kept.len();
        if chunk.len() >= room {
            kept.extend_from_slice(chunk.get(..room).unwrap_or_default());
            let truncated =
                chunk.len() > room || matches!(tokio::time::timeout(stall, response.chunk()).await, Ok(Ok(Some(_))));
            return Ok((String::from_utf8_lossy(&kept).into_owned(), truncated));
        }
        kept.extend_from_slice(&chunk);
    }
}

/// reqwest's failures: a refused certificate is permanent; connecting and
/// broken exchanges are transient.
fn classify(url: &str, error: reqwest::Error) -> RemoteError {
    if let Some(reason) = tls_refusal(&error) {
        return RemoteError::Tls { peer: url.to_owned(), reason };
    }
    let reason = chain(&error);
    if error.is_builder() {
        RemoteError::Config(reason)
    } else if error.is_connect() {
        RemoteError::Connect { address: url.to_owned(), reason }
    } else {
        RemoteError::Broken { what: url.to_owned(), reason }
    }
}

/// A rustls certificate or alert refusal somewhere in the error's causes
/// (hyper wraps it in nested `io::Error`s, whose `source` skips it: descend
/// into them with `get_ref`).
fn tls_refusal(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>()
            && matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::AlertReceived(_))
        {
            return Some(tls.to_string());
        }
        cause = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

/// The error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}
