//! [`serve`]: the accept loop (hyper HTTP/1.1 per connection), the session limit,
//! the HTTP side of a request (path, method, body limits) and the drain on shutdown.
//!
//! Shutdown: the listener is dropped (no new connections), idle keep-alive
//! connections are closed at once, a request being received or processed gets
//! `As2Config::drain_grace` to finish (its answer is sent), then whatever is left is
//! cut; a `deliver` already started runs to its end in its own task. Asynchronous MDNs
//! in flight get the same grace.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use envelope::Protocol;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use partner::accept::{SessionCap, Socket, accept_until_shutdown};
use partner::{As2Gateway, FileRegion, Peer};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::exchange::{self, Reply, Shared};
use crate::mime::Headers;
use crate::scratch::{BUFFER, Scratch};
use crate::{AS2_PATH, As2Config};

/// A request's headers must arrive within this (slow-loris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// What a connection over the session limit is told before it is closed.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Serves AS2 on `listener` until `shutdown` is cancelled, then drains. Accept errors
/// are logged and retried, so this returns `Ok` once drained; `Err` only if the
/// HTTP client for asynchronous MDNs cannot be built.
pub async fn serve(
    listener: TcpListener,
    mut config: As2Config,
    gateway: Arc<dyn As2Gateway>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    config.reporting_ua.retain(|c| c.is_ascii_graphic() || c == ' ');
    let client = reqwest::Client::builder()
        .timeout(config.async_mdn_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(io::Error::other)?;
    let (limit, scratch) = (config.max_message_bytes, Scratch::new(config.scratch_dir.clone()));
    let (max_sessions, grace) = (config.max_sessions, config.drain_grace);
    let cut = CancellationToken::new();
    let shared =
        Arc::new(Shared { config, gateway, limit, scratch, client, background: TaskTracker::new(), cut: cut.clone() });
    let sessions = TaskTracker::new();
    let cap = SessionCap { protocol: "AS2", max_sessions, busy: BUSY.to_vec() };
    let admit = |remote| shared.gateway.admission(Peer { remote, protocol: Protocol::As2 });
    accept_until_shutdown(listener, cap, &sessions, &shutdown, admit, |stream, remote, ticket| {
        let connection = connection(stream, remote, shared.clone(), shutdown.clone(), cut.clone());
        sessions.spawn(async move {
            let _ticket = ticket;
            connection.await;
        });
    })
    .await;
    sessions.close();
    shared.background.close();
    if !sessions.is_empty() || !shared.background.is_empty() {
        tracing::info!(
            message = "AS2 shutting down: draining",
            sessions = sessions.len(),
            async_mdns = shared.background.len()
        );
    }
    let drained = async {
        sessions.wait().await;
        shared.background.wait().await;
    };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::info!(
            message = "AS2 drain grace over: cutting",
            sessions = sessions.len(),
            async_mdns = shared.background.len()
        );
        cut.cancel();
        sessions.wait().await;
        shared.background.wait().await;
    }
    Ok(())
}

/// Serves one connection until the client closes it, shutdown drains it, or the
/// drain grace cuts it.
async fn connection(
    stream: Socket,
    remote: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    cut: CancellationToken,
) {
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, remote, request).await) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection.as_mut() => result,
                () = cut.cancelled() => {
                    tracing::info!(message = "AS2 connection cut at shutdown", peer = %remote);
                    Ok(())
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(message = "AS2 connection ended with an error", peer = %remote, %error);
    }
}

/// One HTTP request: `POST /as2` with a bounded body, then [`exchange::process`].
async fn handle(shared: &Arc<Shared>, remote: SocketAddr, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != AS2_PATH {
        return text(StatusCode::NOT_FOUND, "not found\r\n");
    }
    if request.method() != Method::POST {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: POST AS2 messages\r\n");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > shared.limit) {
        tracing::warn!(message = "AS2 message refused: too large", peer = %remote, size = declared);
        return text(StatusCode::PAYLOAD_TOO_LARGE, "message too large\r\n");
    }
    let (parts, body) = request.into_parts();
    let received =
        tokio::time::timeout(shared.config.request_timeout, receive_body(body, shared.limit, &shared.scratch));
    let body = match received.await {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => {
            tracing::warn!(message = "AS2 message refused: too large", peer = %remote);
            return text(StatusCode::PAYLOAD_TOO_LARGE, "message too large\r\n");
        }
        Ok(Err(BodyError::Read(error))) => {
            tracing::warn!(message = "AS2 message body could not be read", peer = %remote, %error);
            return text(StatusCode::BAD_REQUEST, "message body could not be read\r\n");
        }
        Ok(Err(BodyError::Scratch(error))) => {
            tracing::error!(message = "AS2 message not received: scratch file", peer = %remote, %error);
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unable to receive, retry later\r\n");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return response;
        }
        Err(_) => {
            tracing::warn!(message = "AS2 message refused: body not received in time", peer = %remote);
            return text(StatusCode::REQUEST_TIMEOUT, "message not received in time\r\n");
        }
    };
    let headers = Headers::from_http(&parts.headers);
    let peer = Peer { remote, protocol: envelope::Protocol::As2 };
    into_response(exchange::process(shared, peer, headers, body).await)
}

/// Why a request body was not received.
enum BodyError {
    TooLarge,
    /// The client's side: the connection broke, the framing was bad.
    Read(hyper::Error),
    /// Ours: the scratch file could not be written.
    Scratch(io::Error),
}

/// Writes the request body to a scratch file as it arrives, at most `limit` bytes.
async fn receive_body(mut body: Incoming, limit: u64, scratch: &Scratch) -> Result<FileRegion, BodyError> {
    let file = scratch.file().map_err(BodyError::Scratch)?;
    let mut file = BufWriter::with_capacity(BUFFER, tokio::fs::File::from_std(file));
    let mut size = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyError::Read)?.into_data() else { continue };
        size += data.len() as u64;
        if size > limit {
            return Err(BodyError::TooLarge);
        }
        file.write_all(&data).await.map_err(BodyError::Scratch)?;
    }
    file.flush().await.map_err(BodyError::Scratch)?;
    let file = file.into_inner().into_std().await;
    FileRegion::whole(file).map_err(BodyError::Scratch)
}

fn into_response(reply: Reply) -> Response<Full<Bytes>> {
    match reply {
        Reply::Refused(status, reason) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = text(status, &format!("{reason}\r\n"));
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            response
        }
        Reply::Text(body) => text(StatusCode::OK, &body),
        Reply::Empty => Response::new(Full::new(Bytes::new())),
        Reply::Mdn(mdn) => {
            let mut response = Response::new(Full::new(Bytes::from(mdn.body)));
            for (name, value) in mdn.headers {
                match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                    (Ok(name), Ok(value)) => {
                        response.headers_mut().insert(name, value);
                    }
                    _ => tracing::warn!(message = "AS2 MDN header dropped: not a valid header", name),
                }
            }
            response
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=us-ascii"));
    response
}
