//! Shared test helpers: keys made with ssh-keygen, the OpenSSH `sftp` client in
//! batch mode, servers on loopback port 0.
#![allow(dead_code)]

pub mod gateway;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use std::io::Write;

/// A client key pair made by ssh-keygen in `dir`.
pub struct ClientKey {
    pub private: PathBuf,
    pub public: sftp::keys::PublicKey,
}

pub fn ssh_keygen(dir: &Path, name: &str) -> ClientKey {
    let private = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&private)
        .status()
        .expect("ssh-keygen must be installed (openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
    let line = std::fs::read_to_string(private.with_extension("pub")).expect("read .pub");
    ClientKey { private, public: sftp::keys::parse_public(&line).expect("parse .pub") }
}

pub fn host_key() -> sftp::keys::PrivateKey {
    let dir = tempfile::tempdir().expect("tempdir");
    sftp::keys::load_or_generate(&dir.path().join("host")).expect("host key")
}

/// How a client logs in.
pub enum Auth<'a> {
    Key(&'a Path),
    Password(&'a str),
}

/// The `sftp` command (not yet run) for a batch script read from stdin.
pub fn sftp_command(addr: SocketAddr, user: &str, auth: &Auth<'_>, extra: &[&str]) -> Command {
    let mut cmd = match auth {
        Auth::Key(_) => Command::new("sftp"),
        Auth::Password(p) => {
            let mut c = Command::new("sshpass");
            c.args(["-p", p, "sftp"]);
            c
        }
    };
    cmd.args(["-P", &addr.port().to_string()]);
    cmd.args(["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"]);
    cmd.args(["-o", "ConnectTimeout=20"]);
    match auth {
        Auth::Key(key) => {
            cmd.arg("-i").arg(key);
            cmd.args(["-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey"]);
        }
        Auth::Password(_) => {
            cmd.args(["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"]);
            cmd.args(["-o", "BatchMode=no", "-o", "NumberOfPasswordPrompts=1"]);
        }
    }
    cmd.args(extra);
    cmd.args(["-b", "-"]).arg(format!("{user}@127.0.0.1"));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs a batch script with `sftp` (blocking; call from spawn_blocking).
pub fn run_sftp(addr: SocketAddr, user: &str, auth: &Auth<'_>, extra: &[&str], script: &str) -> Output {
    let mut child = sftp_command(addr, user, auth, extra).spawn().expect("sftp and sshpass must be installed");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write script");
    child.wait_with_output().expect("wait sftp")
}

/// Async wrapper of [`run_sftp`] with owned arguments.
pub async fn sftp(addr: SocketAddr, user: &str, auth: Auth<'_>, script: &str) -> Output {
    let (user, script) = (user.to_owned(), script.to_owned());
    let auth = match auth {
        Auth::Key(k) => OwnedAuth::Key(k.to_owned()),
        Auth::Password(p) => OwnedAuth::Password(p.to_owned()),
    };
    tokio::task::spawn_blocking(move || run_sftp(addr, &user, &auth.borrow(), &[], &script)).await.expect("join")
}

enum OwnedAuth {
    Key(PathBuf),
    Password(String),
}

impl OwnedAuth {
    fn borrow(&self) -> Auth<'_> {
        match self {
            OwnedAuth::Key(k) => Auth::Key(k),
            OwnedAuth::Password(p) => Auth::Password(p),
        }
    }
}

pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Bytes that do not compress or repeat.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
