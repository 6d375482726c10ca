//! Running one role: load config, start, wait for a signal, drain with a deadline.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use std::os::unix::fs::OpenOptionsExt;

use inner::settings::CurrentSettings;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::tools;

/// How long shutdown may take before the process exits anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

pub fn dmz(path: &Path) -> ExitCode {
    let settings = match config::load(path, config::parse_dmz) {
        Ok(settings) => settings,
        Err(problems) => return tools::report(&problems),
    };
    init_tracing(Some(&settings.data_dir));
    runtime().block_on(async {
        let shutdown = CancellationToken::new();
        let node = match dmz::start(settings, shutdown.clone()).await {
            Ok(node) => node,
            Err(error) => return failed(&error),
        };
        wait_for_stop(|| async {}).await;
        shutdown.cancel();
        drain(node.wait()).await
    })
}

pub fn inner(path: &Path) -> ExitCode {
    let settings = match config::load(path, config::parse_inner) {
        Ok(settings) => settings,
        Err(problems) => return tools::report(&problems),
    };
    init_tracing(Some(&settings.data_dir));
    runtime().block_on(async {
        let shutdown = CancellationToken::new();
        let current = CurrentSettings::new(settings, Some(path.to_path_buf()));
        let node = match inner::start(current, shutdown.clone()).await {
            Ok(node) => node,
            Err(error) => return failed(&error),
        };
        wait_for_stop(|| async {
            let _ = node.reload().await;
        })
        .await;
        shutdown.cancel();
        drain(node.wait()).await
    })
}

/// Without `RUST_LOG`: our own info lines, libraries' warnings. libunftp opens an
/// info span per data connection whose fields print its whole session state: on
/// every event of an upload, formatting it cost more CPU than the upload itself.
const DEFAULT_LOG_FILTER: &str = "info,libunftp::server=warn";

/// Log lines to stderr (filtered by `RUST_LOG`); with `audit_dir`, the audit events
/// (target `audit`) also as JSON lines appended to `<audit_dir>/audit.log`. Each line
/// is one `write` (a crash of the process loses none); the file is fsynced once a
/// second, so a power loss costs at most the last second's lines.
pub fn init_tracing(audit_dir: Option<&Path>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    let audit = audit_dir.and_then(|dir| match open_audit_log(dir) {
        Ok(file) => Some(file),
        Err(error) => {
            eprintln!("cannot open {}/{AUDIT_LOG}: {error}; audit events go to stderr only", dir.display());
            None
        }
    });
    let audit = audit.map(|file| {
        let file = std::sync::Arc::new(file);
        sync_every_second(std::sync::Arc::clone(&file));
        let only_audit = tracing_subscriber::filter::Targets::new().with_target("audit", tracing::Level::INFO);
        let json = tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false);
        json.with_span_list(false).with_writer(file).with_filter(only_audit)
    });
    tracing_subscriber::registry().with(stderr).with(audit).init();
}

/// The audit log's name in a node's data dir.
pub const AUDIT_LOG: &str = "audit.log";

/// Fsyncs `file` once a second for the life of the process (a thread of its own:
/// the runtime is not running yet, and an fsync must not hold up its workers).
fn sync_every_second(file: std::sync::Arc<std::fs::File>) {
    let spawned = std::thread::Builder::new().name("audit-sync".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if let Err(error) = file.sync_data() {
                eprintln!("cannot fsync the audit log: {error}");
            }
        }
    });
    if let Err(error) = spawned {
        eprintln!("cannot start the audit log's fsync thread: {error}");
    }
}

fn open_audit_log(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o640).open(dir.join(AUDIT_LOG))
}

pub fn runtime() -> tokio::runtime::Runtime {
    // Without a runtime nothing can run; failing to build one is fatal at start-up.
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the tokio runtime")
}

pub fn failed(error: &dyn std::fmt::Display) -> ExitCode {
    tracing::error!(message = "cannot start", %error);
    ExitCode::FAILURE
}

/// Waits for SIGINT or SIGTERM; runs `on_hangup` at every SIGHUP meanwhile.
pub async fn wait_for_stop<F, Fut>(on_hangup: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (Ok(mut term), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        tracing::error!(message = "cannot install signal handlers; stopping");
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hangup.recv() => on_hangup().await,
        }
    }
    tracing::info!(message = "stopping: draining sessions");
}

/// Waits for the services to stop, at most [`DRAIN_DEADLINE`].
pub async fn drain(done: impl std::future::Future<Output = ()>) -> ExitCode {
    match tokio::time::timeout(DRAIN_DEADLINE, done).await {
        Ok(()) => {
            tracing::info!(message = "stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(_) => {
            tracing::warn!(message = "drain deadline passed; exiting anyway");
            ExitCode::FAILURE
        }
    }
}
