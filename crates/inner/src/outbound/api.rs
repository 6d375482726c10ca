//! The admin API's outbound routes:
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/v1/jobs/<job>/run` | start a run of a fetch job now: 202, 404 no such job, 409 still running |
//! | `POST /api/v1/sends?channel=C&remote=R&name=N[&directory=D]` | body = the file; 202 `{"id"}` once committed; 404 unknown channel/remote, 400 bad name |
//! | `GET /api/v1/sends/<id>` | the send's record (`status`: queued, sent, delivered, failed; `detail`; `attempts`) |
//! | `GET /api/v1/dead-letters` | sends that finally failed, with their payload kept |
//! | `POST /api/v1/dead-letters/<id>/replay` | sends it again as a new send: 202 `{"id"}` |
//! | `GET /api/v1/pickups` | complete downloads of pickup files the DMZ reported, oldest first |

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

use super::record::{self, DEAD_PREFIX};
use super::{NewSend, StartError, SubmitError, picked_up_records};
use crate::admin::AdminState;

type Answer = (StatusCode, Json<Value>);

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/jobs/{job}/run", post(run_job))
        // Streamed to a staging file: bounded by the spool's quota, not by memory.
        .route("/api/v1/sends", post(submit).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/sends/{id}", get(send_status))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/dead-letters/{id}/replay", post(replay))
        .route("/api/v1/pickups", get(pickups))
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    (status, Json(json!({"error": message.to_string()})))
}

async fn run_job(State(state): State<AdminState>, Path(job): Path<String>) -> Answer {
    match state.jobs.start(&job) {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({"job": job, "started": true}))),
        Err(e @ StartError::NoSuchJob(_)) => error(StatusCode::NOT_FOUND, e),
        Err(e @ StartError::Running(_)) => error(StatusCode::CONFLICT, e),
    }
}

#[derive(Deserialize)]
struct SendQuery {
    channel: String,
    remote: String,
    name: String,
    directory: Option<String>,
}

/// Streams the body into a staging file (hashing it), then commits the send. The
/// commit runs in its own task: a client that goes away cannot cut it in half.
async fn submit(State(state): State<AdminState>, Query(query): Query<SendQuery>, body: Body) -> Answer {
    let mut staging = match state.spool.stage().await {
        Ok(staging) => staging,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut hasher = sha2::Sha256::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let chunk = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(chunk) => chunk,
                Err(_) => continue,
            },
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
        };
        hasher.update(&chunk);
        if let Err(e) = staging.write_all(&chunk).await {
            return error(StatusCode::INSUFFICIENT_STORAGE, e);
        }
    }
    let sha256 = envelope::Sha256(hasher.finalize().into());
    let sends = state.sends.clone();
    let committed = tokio::spawn(async move {
        let staged = staging.finish().await?;
        let send =
            NewSend { channel: query.channel, remote: query.remote, name: query.name, directory: query.directory };
        sends.submit(send, staged, sha256).await
    })
    .await;
    match committed {
        Ok(Ok(id)) => (StatusCode::ACCEPTED, Json(json!({"id": id}))),
        Ok(Err(e @ (SubmitError::NoChannel(_) | SubmitError::NoRemote(..)))) => error(StatusCode::NOT_FOUND, e),
        Ok(Err(e @ SubmitError::BadName(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn send_status(State(state): State<AdminState>, Path(id): Path<String>) -> Answer {
    match record::read(state.spool.as_ref(), &record::send_key(&id)) {
        Ok(Some(record)) => (StatusCode::OK, Json(json!(record))),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no send {id}")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn dead_letters(State(state): State<AdminState>) -> Answer {
    match record::list(state.spool.as_ref(), DEAD_PREFIX) {
        Ok(records) => (StatusCode::OK, Json(json!(records))),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn replay(State(state): State<AdminState>, Path(id): Path<String>) -> Answer {
    let sends = state.sends.clone();
    match tokio::spawn(async move { sends.replay(&id).await }).await {
        Ok(Ok(new)) => (StatusCode::ACCEPTED, Json(json!({"id": new}))),
        Ok(Err(e @ SubmitError::NoDeadLetter(_))) => error(StatusCode::NOT_FOUND, e),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn pickups(State(state): State<AdminState>) -> Answer {
    match picked_up_records(state.spool.as_ref()) {
        Ok(records) => (StatusCode::OK, Json(json!(records))),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
