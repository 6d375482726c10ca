//! A real DMZ + inner pair: the `portcullis` binary started twice from generated
//! TOML (see [`super::configs`]), each a [`Daemon`] killed on drop. The pair is
//! ready once the DMZ lists the pushed channel; each partner listener is then
//! polled on its own, so a listener the DMZ does not run yet is a reason for
//! "n/a" in its rows, not a failure of the whole run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::configs::{self, CHANNEL, PASSWORD, Ports, USER};
use crate::peers::BoxError;
use crate::peers::clients::{FtpTarget, SftpTarget};
use crate::peers::process::{Daemon, free_port, free_port_range};
use crate::peers::sshd::keygen;

const START_PATIENCE: Duration = Duration::from_secs(30);
const LISTENER_PATIENCE: Duration = Duration::from_secs(10);
/// Forwarding a 1 GiB payload to the inner and delivering it can take a while.
const SETTLE_PATIENCE: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(50);

/// The running pair. Fields drop in order: processes before their data.
pub struct Pair {
    inner: Daemon,
    dmz: Daemon,
    ports: Ports,
    /// Whether the DMZ answers on the pushed SFTP and FTP listeners (Err: why not).
    pub sftp_ready: Result<(), String>,
    pub ftp_ready: Result<(), String>,
    pub smtp_ready: Result<(), String>,
    pub as2_ready: Result<(), String>,
    dir: tempfile::TempDir,
}

impl Pair {
    /// Starts both nodes and waits for the config push, then for each listener.
    pub fn start() -> Result<Pair, BoxError> {
        let binary = portcullis_binary()?;
        let dir = crate::enqueue::scratch_dir()?;
        let path = dir.path();
        std::fs::create_dir(path.join("keys"))?;
        let (inner_key, partner_key) = (path.join("keys/inner"), path.join("keys/partner"));
        keygen(&inner_key)?;
        keygen(&partner_key)?;
        let ports = Ports {
            message_service: free_port()?,
            dmz_admin: free_port()?,
            inner_admin: free_port()?,
            internal_sftp: free_port()?,
            sftp: free_port()?,
            ftp: free_port()?,
            smtp: free_port()?,
            as2: free_port()?,
            passive: free_port_range(20)?,
        };
        let inner_pub = std::fs::read_to_string(path.join("keys/inner.pub"))?;
        let partner_pub = std::fs::read_to_string(path.join("keys/partner.pub"))?;
        as2_identities(&path.join("inner/as2"))?;
        std::fs::write(path.join("dmz.toml"), configs::dmz_toml(&path.join("dmz"), &ports, &inner_pub))?;
        let inner_toml = configs::inner_toml(&path.join("inner"), &ports, &inner_key, &partner_pub);
        std::fs::write(path.join("inner.toml"), inner_toml)?;
        let mut dmz = node(&binary, "dmz", path)?;
        dmz.wait_for_port(ports.dmz_admin, START_PATIENCE)?;
        let inner = node(&binary, "inner", path)?;
        let mut pair = Pair {
            inner,
            dmz,
            ports,
            sftp_ready: Ok(()),
            ftp_ready: Ok(()),
            smtp_ready: Ok(()),
            as2_ready: Ok(()),
            dir,
        };
        pair.wait_for_channel()?;
        pair.sftp_ready = pair.listener("SFTP", ports.sftp);
        pair.ftp_ready = pair.listener("FTP", ports.ftp);
        pair.smtp_ready = pair.listener("SMTP", ports.smtp);
        pair.as2_ready = pair.listener("AS2", ports.as2);
        Ok(pair)
    }

    pub fn dmz_pid(&self) -> u32 {
        self.dmz.pid()
    }

    /// Key login as the channel's user, into the upload area (the home's root).
    pub fn sftp_target(&self) -> SftpTarget {
        SftpTarget {
            port: self.ports.sftp,
            user: USER.into(),
            key: self.dir.path().join("keys/partner"),
            known_hosts: self.dir.path().join("known_hosts"),
            remote_dir: None,
        }
    }

    /// Password login as the channel's user, into the upload area.
    pub fn ftp_target(&self) -> FtpTarget {
        FtpTarget { port: self.ports.ftp, user: USER.into(), password: PASSWORD.into(), remote_dir: None }
    }

    /// The partner SMTP listener's port.
    pub fn smtp_port(&self) -> u16 {
        self.ports.smtp
    }

    /// The partner AS2 listener's port.
    pub fn as2_port(&self) -> u16 {
        self.ports.as2
    }

    /// Where the AS2 certificates are: `partner.{pem,key}` (the partner's, to sign)
    /// and `us.pem` (ours, to encrypt for).
    pub fn as2_dir(&self) -> PathBuf {
        self.dir.path().join("inner/as2")
    }

    /// A scratch directory for the bench's own files, removed with the pair.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until the DMZ has forwarded everything and `files` files (of
    /// `bytes` in all) are in the inner's inbox; then empties the inbox, so
    /// that the next case starts quiet and the disk does not fill up.
    pub fn settle(&mut self, files: usize, bytes: u64) -> Result<(), BoxError> {
        let inbox = self.dir.path().join("inner/inbox").join(CHANNEL);
        let start = Instant::now();
        loop {
            self.dmz.check_running()?;
            self.inner.check_running()?;
            let depth = self.get("/api/v1/status")?["queues"]["to-inner"]["depth"].as_u64();
            let delivered = if inbox.is_dir() { tree_size(&inbox)? } else { (0, 0) };
            if depth == Some(0) && delivered == (files, bytes) {
                return if inbox.is_dir() { crate::peers::files::empty_dir(&inbox) } else { Ok(()) };
            }
            if start.elapsed() > SETTLE_PATIENCE {
                let (n, b) = delivered;
                return Err(format!(
                    "after {}s: DMZ queue depth {depth:?}, inbox {n} files / {b} bytes, expected {files} / {bytes}",
                    SETTLE_PATIENCE.as_secs()
                )
                .into());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The DMZ's last log lines, for "n/a" reasons.
    pub fn dmz_log(&self) -> String {
        self.dmz.log_tail(3)
    }

    fn wait_for_channel(&mut self) -> Result<(), BoxError> {
        let start = Instant::now();
        loop {
            self.dmz.check_running()?;
            self.inner.check_running()?;
            let channels = self.get("/api/v1/channels").unwrap_or(Value::Null);
            if channels.as_array().is_some_and(|cs| cs.iter().any(|c| c["name"] == CHANNEL)) {
                return Ok(());
            }
            if start.elapsed() > START_PATIENCE {
                return Err(
                    format!("the DMZ did not list the pushed channel within {}s", START_PATIENCE.as_secs()).into()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn listener(&mut self, protocol: &str, port: u16) -> Result<(), String> {
        self.dmz
            .wait_for_port(port, LISTENER_PATIENCE)
            .map_err(|_| format!("the DMZ does not answer on its pushed {protocol} listener 127.0.0.1:{port}"))
    }

    /// GET on the DMZ's admin API (plain HTTP/1.0: nothing more is needed), with the
    /// token the DMZ made in its data dir on its first start.
    fn get(&self, path: &str) -> Result<Value, BoxError> {
        let token = std::fs::read_to_string(self.dir.path().join("dmz/admin.token"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.ports.dmz_admin));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let token = token.trim();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("HTTP response without a body")?;
        if head.split_whitespace().nth(1).is_none_or(|code| code != "200") {
            return Err(format!("GET {path}: {}", head.lines().next().unwrap_or("")).into());
        }
        Ok(serde_json::from_str(body)?)
    }
}

/// `PORTCULLIS_BIN`, else `portcullis` in this bench's target profile directory
/// (`target/release/` under `cargo bench`).
fn portcullis_binary() -> Result<PathBuf, BoxError> {
    if let Some(path) = std::env::var_os("PORTCULLIS_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(Path::parent).ok_or("cannot locate the target directory")?;
    let binary = profile_dir.join("portcullis");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not built: `cargo build --release -p portcullis` first, or set PORTCULLIS_BIN",
            binary.display()
        )
        .into())
    }
}

fn node(binary: &Path, role: &str, dir: &Path) -> Result<Daemon, BoxError> {
    let mut command = Command::new(binary);
    command.args([role, "--config"]).arg(dir.join(format!("{role}.toml"))).env("RUST_LOG", "warn");
    Daemon::spawn(&format!("portcullis {role}"), command, &dir.join(format!("{role}.log")))
}

/// Self-signed AS2 identities for us and the partner under `dir`.
fn as2_identities(dir: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    for name in ["us", "partner"] {
        let (cert, key) = as2::identity::self_signed(&format!("bench {name}"), 30).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{name}.pem")), cert)?;
        std::fs::write(dir.join(format!("{name}.key")), key)?;
    }
    Ok(())
}

/// Delivered files under `dir` (recursively) and their total size. The inner's
/// temporary `.part` files do not count: a file is delivered once renamed (one
/// renamed between the listing and its stat is counted at the next poll).
fn tree_size(dir: &Path) -> Result<(usize, u64), BoxError> {
    let mut total = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if meta.is_dir() {
            let (n, b) = tree_size(&entry.path())?;
            total = (total.0 + n, total.1 + b);
        } else if meta.is_file() && !entry.file_name().to_string_lossy().ends_with(".part") {
            total = (total.0 + 1, total.1 + meta.len());
        }
    }
    Ok(total)
}
