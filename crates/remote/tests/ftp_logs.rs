//! The FTP password never reaches a log, even with suppaftp's own `log` records
//! (which trace every control line) forwarded to tracing at TRACE level, as a
//! tracing-subscriber with its default `tracing-log` bridge does.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::vsftpd::{TestCa, Vsftpd};
use common::{Scratch, TestUser};
use remote::{Endpoint, Protocol, Secret};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_not_in_trace_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let scratch = Scratch::new();
    let server = Vsftpd::start(&scratch, &TestCa::new("log test CA"));
    let user = TestUser::get();
    let endpoint = Endpoint::new(
        Protocol::Ftp,
        "127.0.0.1",
        server.port,
        user.name.clone(),
        Secret::Password(user.password.clone()),
    );
    let mut session = remote::connect(&endpoint).await.unwrap();
    session.list("").await.unwrap();
    session.close().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("CC OUT: PASS"), "suppaftp's command trace was captured: {logs}");
    assert!(!logs.contains(&user.password), "the password is in the logs");
}
