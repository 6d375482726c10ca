//! Real partner clients, driven as child processes: OpenSSH `sftp`, `curl`, `lftp`
//! and Python paramiko scripts (from the virtualenv `tests/run` makes); raw TCP probes
//! of what a listener says first.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use super::Item;
use super::cluster::Cluster;

/// The password of every test login (see `DEMO_HASH`).
pub const PASSWORD: &str = "demo";

/// Starts a curl FTP upload of `file` as `slow.bin` at 200 KB/s, as `demo-user`;
/// its output is kept for `wait_with_output`.
pub fn slow_ftp_upload(cluster: &Cluster, file: &Path) -> std::process::Child {
    Command::new("curl")
        .args(["-sS", "--fail", "--limit-rate", "200k", "-u", &format!("demo-user:{PASSWORD}"), "-T"])
        .arg(file)
        .arg(format!("ftp://127.0.0.1:{}/slow.bin", cluster.ports.ftp))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl")
}

/// A partner's SSH key pair made with `ssh-keygen`: (private key file, public line).
pub fn partner_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("partner_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "partner", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (apt: openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    (key, public.trim().to_owned())
}

/// Writes each item's bytes to `dir/<path>` (directories made as needed).
pub fn write_items(dir: &Path, items: &[Item]) {
    for item in items {
        let file = dir.join(&item.path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(&file, &item.bytes).expect("write item");
    }
}

/// How an SFTP client logs in.
pub enum SshAuth<'a> {
    Key(&'a Path),
    Password,
}

/// Runs OpenSSH `sftp -b -` with `commands` on stdin, as `user`.
pub fn sftp_batch(cluster: &Cluster, user: &str, auth: SshAuth<'_>, cwd: &Path, commands: &str) -> Output {
    let known_hosts = cluster.dir.path().join("known_hosts");
    let mut command = match auth {
        SshAuth::Key(_) => Command::new("sftp"),
        SshAuth::Password => {
            let mut c = Command::new("sshpass");
            c.args(["-p", PASSWORD, "sftp", "-o", "PreferredAuthentications=password,keyboard-interactive"]);
            c
        }
    };
    if let SshAuth::Key(key) = auth {
        command.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey"]);
    }
    command
        .args(["-P", &cluster.ports.sftp.to_string(), "-o"])
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=no", "-b", "-"])
        .arg(format!("{user}@127.0.0.1"));
    run_with_stdin(command.current_dir(cwd), commands)
}

/// Runs `curl` with `args` (silent, failing on protocol errors).
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(["-sS", "--fail", "--max-time", "300"]).args(args).output().expect("curl (apt: curl)")
}

/// Runs `lftp` against the cluster's FTP port with `commands`; `tls` forces `AUTH TLS`.
pub fn lftp(cluster: &Cluster, user: &str, tls: bool, cwd: &Path, commands: &str) -> Output {
    let settings = if tls {
        "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ssl:verify-certificate no;"
    } else {
        "set ftp:ssl-allow no;"
    };
    let script = format!("set net:max-retries 1; set cmd:fail-exit yes; {settings} {commands}; bye");
    Command::new("lftp")
        .args(["-u", &format!("{user},{PASSWORD}"), "-e", &script])
        .arg(format!("ftp://127.0.0.1:{}", cluster.ports.ftp))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("lftp (apt: lftp)")
}

/// The Python with paramiko (`tests/run` makes `tests/.venv`).
pub fn python() -> Command {
    let python = std::env::var_os("PORTCULLIS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/.venv/bin/python"));
    assert!(python.exists(), "{} missing: run the tests through tests/run, which makes it", python.display());
    Command::new(python)
}

/// `python tests/e2e/py/sftp_client.py`, ready for its arguments.
pub fn paramiko_command() -> Command {
    let mut command = python();
    command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/py/sftp_client.py"));
    command
}

/// Runs the paramiko client script with `args`.
pub fn paramiko(args: &[&str]) -> Output {
    paramiko_command().args(args).stdin(Stdio::null()).output().expect("python")
}

/// Panics with the client's output unless it exited successfully.
pub fn assert_ok(what: &str, output: &Output, cluster: &Cluster) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        cluster.logs()
    );
}

fn run_with_stdin(command: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start client (apt: openssh-client, sshpass)");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("client output")
}

/// A request that makes the AS2 listener answer (it has no greeting).
pub const HTTP_PROBE: &[u8] = b"GET /as2 HTTP/1.1\r\nHost: dmz.test\r\nConnection: close\r\n\r\n";

/// What a client connecting from `source` reads first: the greeting, or nothing
/// (the connection closed at once). `probe` is written first (AS2 has no greeting).
pub async fn first_bytes(source: Ipv4Addr, port: u16, probe: &[u8]) -> Vec<u8> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((source, 0))).expect("bind the source address");
    let mut stream = socket.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await.expect("connect");
    let _ = stream.write_all(probe).await;
    let mut buffer = vec![0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer)).await.expect("an answer or EOF");
    buffer.truncate(read.unwrap_or(0));
    buffer
}
