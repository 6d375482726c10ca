//! `portcullis`: the one binary of both roles. Thin: parse the command line, set up
//! tracing, load config (exit 64 on a bad one, before binding any port), start,
//! wait for a signal, drain with a deadline.

#![forbid(unsafe_code)]

mod ctl;
mod demo;
mod demo_certs;
mod run;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Store-and-forward gateway for business file exchange across a DMZ.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the DMZ node.
    Dmz {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the inner node (SIGHUP re-reads the config and pushes it to the DMZ).
    Inner {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run a DMZ and an inner node together on 127.0.0.1 with the demo config.
    Demo {
        /// Where both nodes keep their data.
        #[arg(long, value_name = "DIR", default_value = "data/demo")]
        data: PathBuf,
    },
    /// Validate a dmz.toml or inner.toml and report every problem (exit 64 if any).
    CheckConfig { file: PathBuf },
    /// Read a password from standard input and print its argon2id hash for a config.
    HashPassword,
    /// Make an ed25519 SSH key at FILE (kept if it exists) and print its public line,
    /// e.g. the inner's key for the DMZ's `internal_sftp.authorized_keys`.
    Keygen { file: PathBuf },
    /// Operate a running node over its admin API: status, queues, channels,
    /// connections, transfers, stats, dead letters, replay, reload, send (with
    /// progress), pause/drain/resume.
    Ctl(ctl::CtlArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => tools::check_config(&file),
        Command::HashPassword => tools::hash_password(),
        Command::Keygen { file } => tools::keygen(&file),
        Command::Dmz { config } => run::dmz(&config),
        Command::Inner { config } => run::inner(&config),
        Command::Demo { data } => demo::run(&data),
        Command::Ctl(args) => ctl::run(args),
    }
}
