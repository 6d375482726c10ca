//! `portcullis ctl`: an operator's command line over a node's admin API (either
//! role). Tables for people, `--json` for scripts; any failure is one `error:` line
//! on standard error and exit status 1. The token is sent, never printed.

mod client;
mod connections;
mod follow;
mod format;
mod progress;
mod send;
mod table;
mod upload;
mod views;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use client::{Admin, TOKEN_ENV, encode};

#[derive(Args)]
pub struct CtlArgs {
    /// The node's admin API, e.g. http://127.0.0.1:9001.
    #[arg(long, value_name = "URL")]
    admin: String,
    /// The file holding the admin token (default: the token in $PORTCULLIS_ADMIN_TOKEN).
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<PathBuf>,
    /// Print the API's JSON (pretty-printed) instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand)]
enum CtlCommand {
    /// The node, its link to the other node, its spool and queues.
    Status,
    /// The spool queues: depth, bytes, the oldest item's age.
    Queues,
    /// The configured channels.
    Channels,
    /// The most recent deliveries (inner), newest first.
    Transfers {
        /// Only this channel's deliveries.
        #[arg(long, value_name = "C")]
        channel: Option<String>,
        /// How many to show (also with --json).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
    },
    /// The node's counters since it started.
    Stats,
    /// Sends that failed for good (inner).
    DeadLetters,
    /// Send a dead letter again as a new send (inner); prints the new send's id.
    Replay { id: String },
    /// Re-read the config file and push it to the DMZ (inner).
    Reload,
    /// Refuse new partner connections; open sessions finish (DMZ).
    Pause,
    /// Like pause; the status says `drained` once no partner session is open (DMZ).
    Drain,
    /// Accept partner connections again (DMZ).
    Resume,
    /// The open partner connections (DMZ).
    Connections,
    /// Send a file to a channel's remote (inner): progress on standard error, then
    /// wait until it is delivered or failed.
    Send(send::SendArgs),
}

pub fn run(args: CtlArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(execute(args)),
        Err(e) => Err(format!("cannot start the runtime: {e}")),
    };
    match result {
        Ok(text) => {
            // A closed pipe (`| head`) is not worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What to print on success.
async fn execute(args: CtlArgs) -> Result<String, String> {
    let token = client::token(args.token_file.as_deref(), std::env::var(TOKEN_ENV).ok())?;
    let admin = Admin::new(&args.admin, token)?;
    let json = args.json;
    let show = |value: &Value, table: fn(&Value) -> String| if json { pretty(value) } else { table(value) };
    Ok(match args.command {
        CtlCommand::Status => {
            let status = admin.get("/api/v1/status").await?;
            if json { pretty(&status) } else { views::status(&status, format::now_millis()) }
        }
        CtlCommand::Queues => {
            let status = admin.get("/api/v1/status").await?;
            if json { pretty(status.get("queues").unwrap_or(&Value::Null)) } else { views::queues(&status) }
        }
        CtlCommand::Channels => show(&admin.get("/api/v1/channels").await?, views::channels),
        CtlCommand::Transfers { channel, limit } => {
            let query = channel.map(|c| format!("?channel={}", encode(&c))).unwrap_or_default();
            let records = admin.get(&format!("/api/v1/deliveries{query}")).await?;
            let recent = views::recent_transfers(&records, limit);
            if json { pretty(&Value::Array(recent)) } else { views::transfers(&recent) }
        }
        CtlCommand::Stats => show(&admin.get("/api/v1/stats").await?, views::stats),
        CtlCommand::DeadLetters => show(&admin.get("/api/v1/dead-letters").await?, views::dead_letters),
        CtlCommand::Replay { id } => {
            show(&admin.post(&format!("/api/v1/dead-letters/{}/replay", encode(&id))).await?, views::replayed)
        }
        CtlCommand::Reload => {
            let answer = admin.send(Method::POST, "/api/v1/reload").await?;
            if !json
                && answer.status == StatusCode::BAD_REQUEST
                && let Ok(problems) = serde_json::from_str::<Value>(&answer.body)
            {
                return Err(views::reload(&problems).trim_end().to_owned());
            }
            show(&answer.json()?, views::reload)
        }
        CtlCommand::Pause => show(&dmz_only(&admin, Method::POST, "/api/v1/listeners/pause").await?, views::listeners),
        CtlCommand::Drain => show(&dmz_only(&admin, Method::POST, "/api/v1/listeners/drain").await?, views::listeners),
        CtlCommand::Resume => {
            show(&dmz_only(&admin, Method::POST, "/api/v1/listeners/resume").await?, views::listeners)
        }
        CtlCommand::Connections => {
            let answer = dmz_only(&admin, Method::GET, connections::PATH).await?;
            if json { pretty(&answer) } else { connections::table(&answer, format::now_millis()) }
        }
        CtlCommand::Send(send) => send::run(&admin, send, json).await?,
    })
}

/// A route only the DMZ serves: a 404 means the node is not the DMZ.
async fn dmz_only(admin: &Admin, method: Method, path: &str) -> Result<Value, String> {
    let answer = admin.send(method, path).await?;
    if answer.status == StatusCode::NOT_FOUND {
        return Err(format!("{} has no {path} (404): this command is for the DMZ node's admin API", admin.base()));
    }
    answer.json()
}

fn pretty(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    format!("{text}\n")
}
