//! The admin API's bearer token. Every admin route (the API, `/metrics`, the status
//! page) needs `Authorization: Bearer <token>`; the status page also takes the token
//! from the `portcullis_admin` cookie its sign-in form sets. Without it: 401.
//!
//! The token lives in a file: `admin.token_file`, or `<data_dir>/admin.token`, made
//! (32 random bytes, hex, mode 0600) on the first start when missing. It is compared in
//! constant time and never logged.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::StartError;

/// The cookie the status page's sign-in form sets.
pub const COOKIE: &str = "portcullis_admin";

/// Shortest token a file may hold: anything shorter is guessable.
const MIN_LEN: usize = 16;

/// The admin token of one node.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// Reads `configured`, or `<data_dir>/admin.token`, making the latter when missing.
    pub fn load(configured: Option<&Path>, data_dir: &Path) -> Result<AdminToken, StartError> {
        let (path, may_create) = match configured {
            Some(path) => (path.to_path_buf(), false),
            None => (default_path(data_dir), true),
        };
        let failed = |e: std::io::Error| StartError::Material(format!("admin token {}: {e}", path.display()));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                parse(&text).map_err(|why| StartError::Material(format!("admin token {}: {why}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => create(&path).map_err(failed),
            Err(e) => Err(failed(e)),
        }
    }

    /// Whether `presented` is this token (constant time in its length).
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Whether the request carries the token as a bearer header or the page's cookie.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        bearer(headers).is_some_and(|t| self.matches(t)) || cookie(headers).is_some_and(|t| self.matches(t))
    }

    /// `router` with every route behind the token.
    pub fn guard(&self, router: Router) -> Router {
        router.layer(middleware::from_fn_with_state(self.clone(), require))
    }
}

/// Where a node keeps its token when the config names none.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.token")
}

fn parse(text: &str) -> Result<AdminToken, String> {
    let token = text.trim();
    if token.len() < MIN_LEN {
        return Err(format!("shorter than {MIN_LEN} characters"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be one line of printable ASCII".into());
    }
    Ok(AdminToken(token.into()))
}

fn create(path: &Path) -> std::io::Result<AdminToken> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(message = "admin token created", path = %path.display());
    Ok(AdminToken(token.into()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn wants_html(request: &Request) -> bool {
    let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
    accept.is_some_and(|accept| accept.contains("text/html"))
}

async fn require(State(token): State<AdminToken>, request: Request, next: Next) -> Response {
    let admitted = token.admits(request.headers());
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let remote = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let response = match admitted {
        true => next.run(request).await,
        // A browser asking for a page signs in first.
        false if method == Method::GET && wants_html(&request) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, crate::sign_in::PATH)]).into_response()
        }
        false => {
            let challenge = [(header::WWW_AUTHENTICATE, "Bearer realm=\"portcullis admin\"")];
            (StatusCode::UNAUTHORIZED, challenge, "admin token required\n").into_response()
        }
    };
    // Actions (anything but a read) and every refusal go to the audit log.
    if !admitted || method != Method::GET {
        let remote = remote.map_or_else(|| "-".to_owned(), |r| r.to_string());
        let status = response.status().as_u16();
        tracing::info!(target: "audit", event = "admin", %method, path, remote, status, authorized = admitted);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_missing_default_token_is_made_private_and_read_afterwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = AdminToken::load(None, dir.path()).expect("create");
        let mode = std::fs::metadata(default_path(dir.path())).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = AdminToken::load(None, dir.path()).expect("read");
        assert!(again.matches(&first.0));
        assert_eq!(first.0.len(), 64);
    }

    #[test]
    fn a_configured_token_file_must_exist_and_be_long_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        assert!(AdminToken::load(Some(&path), dir.path()).is_err(), "never made for a configured path");
        std::fs::write(&path, "short\n").expect("write");
        assert!(AdminToken::load(Some(&path), dir.path()).is_err());
        std::fs::write(&path, "0123456789abcdef0123\n").expect("write");
        let token = AdminToken::load(Some(&path), dir.path()).expect("read");
        assert!(token.matches("0123456789abcdef0123"));
    }

    #[test]
    fn bearer_and_cookie_are_accepted_anything_else_is_not() {
        let token = AdminToken("0123456789abcdef".into());
        let with = |name, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_str(value).expect("header"));
            headers
        };
        assert!(token.admits(&with(header::AUTHORIZATION, "Bearer 0123456789abcdef")));
        assert!(token.admits(&with(header::AUTHORIZATION, "bearer  0123456789abcdef")));
        assert!(token.admits(&with(header::COOKIE, "a=b; portcullis_admin=0123456789abcdef")));
        assert!(!token.admits(&with(header::AUTHORIZATION, "Bearer 0123456789abcdee")));
        assert!(!token.admits(&with(header::AUTHORIZATION, "Basic 0123456789abcdef")));
        assert!(!token.admits(&with(header::COOKIE, "portcullis_admin=0123")));
        assert!(!token.admits(&HeaderMap::new()));
    }
}
