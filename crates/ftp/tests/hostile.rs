//! What partners should not do: escape the home, send control characters or garbage, give up
//! half-way through an upload. None of it may commit anything or harm other sessions.

mod common;

use std::time::Duration;

use common::raw::Raw;
use common::{curl_put, gateway, pattern, start, text, write_file};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_and_control_characters_are_refused() {
    let server = start(gateway(), false).await;
    let mut raw = Raw::login(server.addr, "alice", "secret").await;

    let mkd_up = raw.cmd("MKD ../evil").await;
    let mkd_deep = raw.cmd("MKD /../../etc/evil").await;
    let mkd_ctrl = raw.cmd("MKD bad\u{1}name").await;
    let mkd_bs = raw.cmd("MKD ..\\..\\evil").await;
    let cwd_up = raw.cmd("CWD ..").await;
    let dele = raw.cmd("DELE ../../etc/passwd").await;
    let stor = {
        let data = raw.passive(server.addr).await;
        let _data = TcpStream::connect(data).await.expect("data connection");
        let first = raw.cmd("STOR ../../escape.txt").await;
        if first.0 == 150 { raw.reply().await } else { first }
    };

    for (what, reply) in [("MKD ../", &mkd_up), ("MKD /../..", &mkd_deep), ("MKD ctrl", &mkd_ctrl), ("MKD \\", &mkd_bs)]
    {
        assert_eq!(reply.0, 553, "{what}: {reply:?}");
    }
    assert!(cwd_up.0 >= 500, "{cwd_up:?}");
    assert!(dele.0 >= 500, "{dele:?}");
    assert_eq!(stor.0, 553, "{stor:?}");
    let state = server.gateway.state();
    assert_eq!(state.dirs.iter().collect::<Vec<_>>(), ["outbox"]);
    assert!(state.files.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_cannot_escape_with_dot_dot() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "x.txt", b"escape");
    let url = format!("ftp://alice:secret@127.0.0.1:{}/../../escape.txt", server.port());

    let out =
        common::run("curl", &["-sS", "--path-as-is", "--max-time", "30", "-T", local.to_str().expect("utf-8"), &url])
            .await;

    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.commits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_control_socket_harms_no_other_session() {
    let server = start(gateway(), false).await;
    let mut bystander = Raw::login(server.addr, "alice", "secret").await;

    let mut binary = Raw::connect(server.addr).await.0;
    let _ = binary.send(&pattern(64 * 1024, 5)).await;
    let mut nonsense = Raw::connect(server.addr).await.0;
    let unknown = nonsense.cmd("HELLO THERE").await;
    let not_logged_in = nonsense.cmd("STOR x").await;
    let bad_utf8 = {
        let _ = nonsense.send(b"USER \xff\xfe\r\n").await;
        nonsense.reply().await
    };
    let mut early = Raw::connect(server.addr).await.0;
    let pass_first = early.cmd("PASS secret").await;
    let mut crlf = Raw::connect(server.addr).await.0;
    let _ = crlf.send(b"\r\n\r\n\n\n\0\0\0\r\nNOOP\r\n").await;

    assert_eq!(unknown.0 / 100, 5, "{unknown:?}");
    assert_eq!(not_logged_in.0, 530, "{not_logged_in:?}");
    assert!(bad_utf8.0 == 0 || bad_utf8.0 >= 500, "{bad_utf8:?}");
    assert_eq!(pass_first.0 / 100, 5, "{pass_first:?}");
    assert_eq!(bystander.cmd("NOOP").await.0, 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "after.txt", b"still serving");
    let out = curl_put(&server, "alice", "secret", &local, "after.txt", false).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.commits(), 1);
}

/// Starts `STOR name` and sends `bytes` on the data connection; returns both connections.
async fn half_upload(server: &common::TestServer, name: &str, bytes: &[u8]) -> (Raw, TcpStream) {
    let mut raw = Raw::login(server.addr, "alice", "secret").await;
    assert_eq!(raw.cmd("TYPE I").await.0, 200);
    let data_addr = raw.passive(server.addr).await;
    let mut data = TcpStream::connect(data_addr).await.expect("data connection");
    assert_eq!(raw.cmd(&format!("STOR {name}")).await.0, 150);
    data.write_all(bytes).await.expect("send");
    (raw, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_data_connection_commits_nothing() {
    let server = start(gateway(), false).await;
    let (_raw, data) = half_upload(&server, "reset.bin", &pattern(600 * 1024, 6)).await;

    data.set_zero_linger().expect("linger");
    drop(data);
    server.gateway.wait_discarded(1).await;

    assert_eq!(server.gateway.commits(), 0);
    assert_eq!(server.gateway.file("reset.bin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_gone_before_data_end_commits_nothing() {
    let server = start(gateway(), false).await;
    let (raw, data) = half_upload(&server, "gone.bin", &pattern(600 * 1024, 7)).await;

    drop(raw);
    // Orders the two FINs (control first, as when a client dies); not a readiness wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(data);
    server.gateway.wait_discarded(1).await;

    assert_eq!(server.gateway.commits(), 0);
    assert_eq!(server.gateway.file("gone.bin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_offsets_are_refused() {
    let server = start(gateway(), false).await;
    let mut raw = Raw::login(server.addr, "alice", "secret").await;

    let rest = raw.cmd("REST 100").await;

    assert_eq!(rest.0 / 100, 5, "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_cuts_idle_sessions() {
    let server = common::start_with(gateway(), false, |c| c.shutdown_grace = Duration::from_millis(200)).await;
    let mut idle = Raw::login(server.addr, "alice", "secret").await;

    server.shutdown.cancel();
    let served = tokio::time::timeout(Duration::from_secs(10), server.task).await;

    assert!(matches!(served, Ok(Ok(Ok(())))), "serve returns after the drain");
    assert_eq!(idle.cmd("NOOP").await.0, 0, "the idle session was cut");
    assert!(TcpStream::connect(server.addr).await.is_err(), "no longer accepting");
}
