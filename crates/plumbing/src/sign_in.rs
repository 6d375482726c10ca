//! The browser's way past the admin token: `GET /sign-in` shows a form, `POST
//! /sign-in` with the right token sets the `portcullis_admin` cookie (HttpOnly,
//! SameSite=Strict) and sends the browser to the status page. A page request
//! without the token is redirected here by the guard.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::admin_auth::{AdminToken, COOKIE};

/// Where the form is served.
pub const PATH: &str = "/sign-in";
/// Where a signed-in browser goes.
const LANDING: &str = "/status";
/// A form body larger than this is not a token.
const MAX_FORM: usize = 4096;

/// The sign-in routes (outside the guard).
pub fn routes(token: AdminToken) -> Router {
    Router::new().route(PATH, get(form).post(sign_in)).with_state(token)
}

async fn form() -> Html<String> {
    Html(page(""))
}

async fn sign_in(
    State(token): State<AdminToken>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let presented = (body.len() <= MAX_FORM).then(|| form_field(&body, "token")).flatten();
    let accepted = presented.as_deref().is_some_and(|t| token.matches(t.trim()));
    tracing::info!(target: "audit", event = "admin", method = "POST", path = PATH, remote = %remote, status = if accepted { 303 } else { 401 }, authorized = accepted);
    match (accepted, presented) {
        (true, Some(presented)) => {
            let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", presented.trim());
            (StatusCode::SEE_OTHER, [(header::LOCATION, LANDING.to_owned()), (header::SET_COOKIE, cookie)])
                .into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, Html(page("That is not this node's admin token."))).into_response(),
    }
}

fn page(problem: &str) -> String {
    let problem = match problem {
        "" => String::new(),
        text => format!("<p class=\"problem\">{}</p>", crate::html::escape(text)),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>portcullis: sign in</title>\
         <style>body{{font-family:sans-serif;max-width:28em;margin:4em auto}}input{{width:100%;padding:.4em}}\
         .problem{{color:#b00}}</style></head><body><h1>portcullis admin</h1>{problem}\
         <form method=\"post\" action=\"{PATH}\"><label for=\"token\">Admin token (the node's admin.token file)</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" autofocus>\
         <p><button id=\"sign-in\" type=\"submit\">Sign in</button></p></form></body></html>"
    )
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = text.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    percent_decode(raw)
}

fn percent_decode(raw: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(byte) = input.next() {
        bytes.push(match byte {
            b'+' => b' ',
            b'%' => {
                let hex = [input.next()?, input.next()?];
                u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
            }
            other => other,
        });
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_percent_decoded() {
        assert_eq!(form_field(b"a=1&token=ab%2Bc+d", "token").as_deref(), Some("ab+c d"));
        assert_eq!(form_field(b"token=abc", "token").as_deref(), Some("abc"));
        assert_eq!(form_field(b"tokens=abc", "token"), None);
        assert_eq!(form_field(b"token=%zz", "token"), None);
        assert_eq!(form_field(b"token=%4", "token"), None);
    }
}
