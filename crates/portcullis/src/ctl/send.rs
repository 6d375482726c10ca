//! `portcullis ctl send` (inner): a file to a channel's remote through
//! `POST /api/v1/sends`, streamed with a progress line on standard error, then
//! followed until delivered or failed (unless `--no-wait`). Standard output gets the
//! send's id and status as a table, or its record with `--json`; a failed send is
//! an error line with the partner's detail.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::client::{Admin, encode};
use super::follow::{self, record_path, status};
use super::format::{cell, number, size};
use super::table::Table;
use super::upload;

#[derive(Args)]
pub struct SendArgs {
    /// The channel whose remote gets the file.
    #[arg(long, value_name = "C")]
    channel: String,
    /// The remote (partner server) of the channel.
    #[arg(long, value_name = "R")]
    remote: String,
    /// The file's name at the partner (default: FILE's name).
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// The directory at the partner (default: the remote's own).
    #[arg(long, value_name = "D")]
    directory: Option<String>,
    /// Print the send's id once the inner has taken the file; do not wait for the outcome.
    #[arg(long)]
    no_wait: bool,
    /// The file to send.
    file: PathBuf,
}

/// What to print on success.
pub async fn run(admin: &Admin, args: SendArgs, json: bool) -> Result<String, String> {
    let source = upload::open(&args.file).await?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => file_name(&args.file)?,
    };
    let terminal = std::io::stderr().is_terminal();
    let answer = upload::upload(admin, &submit_path(&args, &name), source, &name, terminal).await?.json()?;
    let id = answer.get("id").and_then(Value::as_str).ok_or("the admin API answered the upload without an id")?;
    let record =
        if args.no_wait { admin.get(&record_path(id)).await? } else { follow::follow(admin, id, terminal).await? };
    if status(&record) == "failed" {
        return Err(failed(id, &record));
    }
    Ok(if json { super::pretty(&record) } else { sent(&record) })
}

/// FILE's last component, which must be text.
fn file_name(file: &Path) -> Result<String, String> {
    let name = file.file_name().ok_or_else(|| format!("{} names no file; give --name", file.display()))?;
    let name = name.to_str().ok_or_else(|| format!("the name of {} is not UTF-8; give --name", file.display()))?;
    Ok(name.to_owned())
}

/// `/api/v1/sends?channel=C&remote=R&name=N[&directory=D]`.
fn submit_path(args: &SendArgs, name: &str) -> String {
    let mut path = format!(
        "/api/v1/sends?channel={}&remote={}&name={}",
        encode(&args.channel),
        encode(&args.remote),
        encode(name)
    );
    if let Some(directory) = &args.directory {
        path.push_str(&format!("&directory={}", encode(directory)));
    }
    path
}

/// `send ID failed after 3 attempt(s): DETAIL`.
fn failed(id: &str, record: &Value) -> String {
    let attempts = number(record.get("attempts"), |n| format!(" after {n} attempt(s)"));
    let attempts = if attempts == "-" { String::new() } else { attempts };
    match cell(record.get("detail")).trim() {
        "-" => format!("send {id} failed{attempts}"),
        detail => format!("send {id} failed{attempts}: {detail}"),
    }
}

/// The send as one table row.
fn sent(record: &Value) -> String {
    let mut table = Table::new(["ID", "CHANNEL", "REMOTE", "NAME", "SIZE", "STATUS", "ATTEMPTS", "DETAIL"]);
    let field = |name: &str| record.get(name);
    table.row([
        cell(field("id")),
        cell(field("channel")),
        cell(field("remote")),
        cell(field("name")),
        number(field("size"), size),
        cell(field("status")),
        cell(field("attempts")),
        cell(field("detail")),
    ]);
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(directory: Option<&str>) -> SendArgs {
        SendArgs {
            channel: "out bound".into(),
            remote: "acme".into(),
            name: None,
            directory: directory.map(str::to_owned),
            no_wait: false,
            file: PathBuf::from("/tmp/x"),
        }
    }

    #[test]
    fn the_query_is_encoded() {
        assert_eq!(submit_path(&args(None), "a&b.bin"), "/api/v1/sends?channel=out%20bound&remote=acme&name=a%26b.bin");
        assert_eq!(
            submit_path(&args(Some("/in")), "x"),
            "/api/v1/sends?channel=out%20bound&remote=acme&name=x&directory=%2Fin"
        );
    }

    #[test]
    fn the_name_defaults_to_the_file_name() {
        assert_eq!(file_name(Path::new("/data/out/invoice.bin")), Ok("invoice.bin".into()));
        assert_eq!(file_name(Path::new("/")), Err("/ names no file; give --name".into()));
    }

    #[test]
    fn the_outcome_is_a_row_or_an_error_line() {
        let record = json!({"id": "0190", "channel": "demo", "remote": "web", "name": "x.bin", "size": 3_145_728,
                            "status": "delivered", "attempts": 1, "detail": "201 Created", "directory": ""});
        assert_eq!(
            sent(&record),
            "ID    CHANNEL  REMOTE  NAME   SIZE     STATUS     ATTEMPTS  DETAIL\n\
             0190  demo     web     x.bin  3.0 MiB  delivered  1         201 Created\n"
        );
        let failure = json!({"status": "failed", "attempts": 3, "detail": "connection refused\n"});
        assert_eq!(failed("0190", &failure), "send 0190 failed after 3 attempt(s): connection refused");
        assert_eq!(failed("0190", &json!({"status": "failed"})), "send 0190 failed");
    }
}
