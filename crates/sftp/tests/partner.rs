//! The partner-facing server driven by the real OpenSSH `sftp` client (and `ssh`,
//! `sshpass`) against a fake gateway.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::gateway::{FakeGateway, PASSWORD, USER};
use common::{Auth, ClientKey, random_bytes, sftp, ssh_keygen, text, wait_until};
use sftp::partner_server::{PartnerSftpConfig, serve};
use tokio_util::sync::CancellationToken;

struct Server {
    addr: SocketAddr,
    gateway: Arc<FakeGateway>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    key: ClientKey,
    dir: tempfile::TempDir,
}

async fn start(configure: impl FnOnce(&mut FakeGateway)) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_keygen(dir.path(), "id_client");
    let mut gateway = FakeGateway::new(Some(key.public.clone()));
    configure(&mut gateway);
    let gateway = Arc::new(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let config = PartnerSftpConfig::new(common::host_key());
    let task = tokio::spawn(serve(listener, config, gateway.clone(), shutdown.clone()));
    Server { addr, gateway, shutdown, task, key, dir }
}

impl Server {
    fn local(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    async fn run(&self, script: &str) -> std::process::Output {
        let script = format!("lcd {}\n{script}", self.dir.path().display());
        sftp(self.addr, USER, Auth::Key(&self.key.private), &script).await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(15), self.task).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "serve did not return cleanly: {result:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_mkdir_ls_rename_rm_with_the_openssh_client() {
    let server = start(|_| {}).await;
    let big = random_bytes(3 * 1024 * 1024 + 17);
    std::fs::write(server.local("big.bin"), &big).expect("write");
    std::fs::write(server.local("empty.bin"), b"").expect("write");
    let out = server
        .run(
            "pwd\nput big.bin\nput -p empty.bin /empty.bin\nmkdir inbox\nput big.bin inbox/copy.bin\nls\n\
             get big.bin back.bin\nget empty.bin back-empty.bin\nrename inbox/copy.bin inbox/renamed.bin\n\
             rm big.bin\nls -l inbox\n",
        )
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Remote working directory: /"), "{stdout}");
    assert!(stdout.contains("renamed.bin"), "{stdout}");

    let committed = server.gateway.committed();
    let expected = [("/big.bin", big.len()), ("/empty.bin", 0), ("/inbox/copy.bin", big.len())];
    let got: Vec<(&str, usize)> = committed.iter().map(|(p, s)| (p.as_str(), *s as usize)).collect();
    assert_eq!(got, expected);
    assert_eq!(std::fs::read(server.local("back.bin")).expect("back.bin"), big, "downloaded bytes differ");
    assert_eq!(std::fs::read(server.local("back-empty.bin")).expect("back-empty").len(), 0);
    assert_eq!(server.gateway.file("/inbox/renamed.bin"), Some(big));
    assert_eq!(server.gateway.file("/big.bin"), None, "rm did not remove");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_while_other_clients_are_served() {
    let server = start(|_| {}).await;
    std::fs::write(server.local("a.txt"), b"hello").expect("write");
    let wrong = sftp(server.addr, USER, Auth::Password("wrong"), "ls\n");
    let good = server.run("put a.txt\n");
    let (wrong, good) = tokio::join!(wrong, good);
    assert!(!wrong.status.success(), "wrong password accepted: {}", text(&wrong));
    assert!(good.status.success(), "{}", text(&good));
    assert!(server.gateway.refused_logins.load(Ordering::SeqCst) >= 1);

    let script = format!("lcd {}\nput a.txt b.txt\n", server.dir.path().display());
    let right = sftp(server.addr, USER, Auth::Password(PASSWORD), &script).await;
    assert!(right.status.success(), "{}", text(&right));
    assert_eq!(server.gateway.file("/b.txt"), Some(b"hello".to_vec()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn climbing_out_of_the_home_is_refused() {
    let server = start(|_| {}).await;
    std::fs::write(server.local("a.txt"), b"x").expect("write");
    for script in ["put a.txt ../escape.txt\n", "get ../../etc/passwd p\n", "cd ..\n", "ls ../..\n"] {
        let out = server.run(script).await;
        assert!(!out.status.success(), "{script:?} succeeded: {}", text(&out));
    }
    let out = server.run("put a.txt ../escape.txt\n").await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("ermission denied"), "{}", text(&out));
    assert!(server.gateway.committed().is_empty());
    assert!(!server.local("p").exists());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_socket_is_disconnected_and_the_server_keeps_serving() {
    let server = start(|_| {}).await;
    for junk in
        [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &random_bytes(70_000), b"SSH-2.0-x\r\n\0\0\0\x10garbage!garbage!"]
    {
        let addr = server.addr;
        let junk = junk.to_vec();
        let closed = tokio::task::spawn_blocking(move || {
            let mut socket = std::net::TcpStream::connect(addr).expect("connect");
            socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            let _ = socket.write_all(&junk);
            let mut sink = Vec::new();
            // EOF, or a reset when the server closed with our junk unread: both are a disconnect.
            match socket.read_to_end(&mut sink) {
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        });
        assert!(closed.await.expect("join"), "server did not close a garbage connection");
    }
    std::fs::write(server.local("a.txt"), b"still here").expect("write");
    let out = server.run("put a.txt\n").await;
    assert!(out.status.success(), "{}", text(&out));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_connection_is_killed_is_never_committed() {
    let server = start(|g| g.stall_at = Some(1024 * 1024)).await;
    std::fs::write(server.local("big.bin"), random_bytes(8 * 1024 * 1024)).expect("write");
    let script = format!("lcd {}\nput big.bin\n", server.dir.path().display());
    let mut cmd = common::sftp_command(server.addr, USER, &Auth::Key(&server.key.private), &[]);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().expect("spawn sftp");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("script");
    let gateway = server.gateway.clone();
    let started = wait_until(Duration::from_secs(20), || gateway.progress.load(Ordering::SeqCst) >= 1024 * 1024).await;
    assert!(started, "upload never reached the stall point");

    let group = format!("-{}", child.id());
    let killed = std::process::Command::new("kill").args(["-KILL", "--", &group]).status().expect("kill");
    assert!(killed.success());
    let _ = child.wait();
    server.gateway.release_stall();
    let dropped = wait_until(Duration::from_secs(20), || gateway.live_uploads.load(Ordering::SeqCst) == 0).await;
    assert!(dropped, "the upload of a dead connection was never dropped");
    assert!(server.gateway.committed().is_empty(), "a killed upload was committed");
    assert_eq!(server.gateway.file("/big.bin"), None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_and_exec_are_refused() {
    let server = start(|_| {}).await;
    let out = tokio::process::Command::new("ssh")
        .args(["-p", &server.addr.port().to_string(), "-i"])
        .arg(&server.key.private)
        .args(["-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "BatchMode=yes", "-T", &format!("{USER}@127.0.0.1"), "echo pwned"])
        .output()
        .await
        .expect("ssh must be installed");
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pwned"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_upload_in_flight_finish_and_then_stops() {
    let server = start(|g| g.stall_at = Some(1024 * 1024)).await;
    let big = random_bytes(4 * 1024 * 1024);
    std::fs::write(server.local("big.bin"), &big).expect("write");
    let upload = tokio::spawn({
        let (addr, key, dir) = (server.addr, server.key.private.clone(), server.dir.path().to_owned());
        async move { sftp(addr, USER, Auth::Key(&key), &format!("lcd {}\nput big.bin\n", dir.display())).await }
    });
    let gateway = server.gateway.clone();
    let started = wait_until(Duration::from_secs(20), || gateway.progress.load(Ordering::SeqCst) >= 1024 * 1024).await;
    assert!(started, "upload never reached the stall point");
    server.shutdown.cancel();
    server.gateway.release_stall();
    let out = upload.await.expect("join");
    assert!(out.status.success(), "the upload in flight was cut: {}", text(&out));
    assert_eq!(server.gateway.file("/big.bin"), Some(big));
    let after = sftp(server.addr, USER, Auth::Key(&server.key.private), "ls\n").await;
    assert!(!after.status.success(), "a new session was accepted after shutdown");
    server.stop().await;
}
