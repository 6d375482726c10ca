//! Partners' own servers for the outbound tests (fetch jobs, sends): the real
//! vsftpd and OpenSSH sshd harness of `crates/remote`'s tests, shared by path
//! (one harness, no copy), an HTTP sink that binds a port the test chooses (so a
//! test can start it only after a send has failed), and the inner's config tables
//! that name them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[path = "../../../crates/remote/tests/common/mod.rs"]
pub mod servers;

pub use servers::sshd::Sshd;
pub use servers::vsftpd::{TestCa, Vsftpd};
pub use servers::{Scratch, TestUser};

/// The partner servers of one test: vsftpd and sshd over the same scratch dir.
pub struct PartnerServers {
    pub scratch: Scratch,
    pub ftp: Vsftpd,
    pub sftp: Sshd,
}

impl PartnerServers {
    pub fn start() -> PartnerServers {
        let scratch = Scratch::new();
        let ca = TestCa::new("partner-test-ca");
        let ftp = Vsftpd::start(&scratch, &ca);
        let sftp = Sshd::start(&scratch);
        PartnerServers { scratch, ftp, sftp }
    }

    /// A directory on the partners' servers (absolute: neither server chroots),
    /// owned by the login user.
    pub fn dir(&self, name: &str) -> String {
        let path = self.scratch.data().join(name);
        if !path.exists() {
            self.scratch.data_subdir(name);
        }
        path.to_string_lossy().into_owned()
    }

    /// Puts a file on the partners' servers, owned by the login user.
    pub fn put(&self, dir: &str, name: &str, bytes: &[u8]) {
        let path = Path::new(dir).join(name);
        std::fs::write(&path, bytes).expect("write partner file");
        let user = TestUser::get();
        std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid)).expect("chown partner file");
    }

    /// Writes the login's password where the inner's config points at it.
    pub fn password_file(&self, secrets: &Path) -> String {
        std::fs::create_dir_all(secrets).expect("secrets dir");
        let path = secrets.join("partner.pw");
        std::fs::write(&path, &TestUser::get().password).expect("password file");
        path.to_string_lossy().into_owned()
    }

    /// `[[channels.remotes]]` tables: `ftp` (vsftpd), `sftp` (sshd, pinned host
    /// key), each also as `-direct` with `via_dmz = false`.
    pub fn remotes(&self, password_file: &str) -> String {
        let user = &TestUser::get().name;
        let mut text = String::new();
        for (suffix, via_dmz) in [("", true), ("-direct", false)] {
            text += &format!(
                "\n[[channels.remotes]]\nname = \"ftp{suffix}\"\nprotocol = \"ftp\"\nhost = \"127.0.0.1\"\n\
                 port = {ftp}\nuser = \"{user}\"\npassword_file = \"{password_file}\"\nvia_dmz = {via_dmz}\n\
                 retries = 2\nretry_base_ms = 100\nretry_max_ms = 200\n\
                 \n[[channels.remotes]]\nname = \"sftp{suffix}\"\nprotocol = \"sftp\"\nhost = \"127.0.0.1\"\n\
                 port = {sftp}\nuser = \"{user}\"\npassword_file = \"{password_file}\"\nhost_key = \"{key}\"\n\
                 via_dmz = {via_dmz}\nretries = 2\nretry_base_ms = 100\nretry_max_ms = 200\n",
                ftp = self.ftp.port,
                sftp = self.sftp.port,
                key = self.sftp.host_key,
            );
        }
        text
    }
}

/// What an [`HttpSink`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The `Content-Disposition` header, if any.
    pub disposition: Option<String>,
    pub body: Vec<u8>,
}

/// An HTTP server on a given loopback port that answers 201 to everything and
/// records it.
pub struct HttpSink {
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpSink {
    pub async fn start(port: u16) -> HttpSink {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("bind sink");
        let log = Arc::clone(&received);
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let log = Arc::clone(&log);
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.map(|b| b.to_vec()).unwrap_or_default();
                let path = parts.uri.path().to_owned();
                let disposition =
                    parts.headers.get("content-disposition").and_then(|v| v.to_str().ok()).map(str::to_owned);
                log.lock().expect("sink log").push(Received {
                    method: parts.method.to_string(),
                    path,
                    disposition,
                    body,
                });
                (axum::http::StatusCode::CREATED, "stored")
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpSink { received, task }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink log").clone()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A partner's mail server: aiosmtpd (`crates/smtp/tests/py/sink.py`) on a free
/// port, storing each message as `<n>.eml`. Killed when dropped.
pub struct MailSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl MailSink {
    pub fn start() -> MailSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/smtp/tests/py/sink.py");
        let (child, port) = ready_child(super::clients::python().arg(script).arg("--dir").arg(dir.path()));
        MailSink { port, dir, child }
    }

    /// The `n`-th message (from 1), once it is there.
    pub fn message(&self, n: usize) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join(format!("{n}.eml"))).ok()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A partner's AS2 server: pyas2lib (`pyas2lib_peer.py serve`) receiving as `org`
/// from `partner`; payloads land as `<n>.bin`. Killed when dropped.
pub struct As2Receiver {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl As2Receiver {
    pub fn start(org: &str, org_key: &Path, partner: &str, partner_cert: &Path) -> As2Receiver {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/as2/tests/py/pyas2lib_peer.py");
        let mut command = super::clients::python();
        command.arg(script).args(["serve", "--org", org, "--partner", partner]).arg("--dir").arg(dir.path());
        command.arg("--org-key").arg(org_key).arg("--partner-cert").arg(partner_cert);
        let (child, port) = ready_child(&mut command);
        As2Receiver { port, dir, child }
    }

    pub fn payload(&self, n: usize) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join(format!("{n}.bin"))).ok()
    }
}

impl Drop for As2Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a script that prints `READY <port>` once it listens; blocks until then.
fn ready_child(command: &mut std::process::Command) -> (std::process::Child, u16) {
    use std::io::BufRead as _;
    let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("python from tests/run's venv");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("READY line");
    match line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) {
        Some(port) => (child, port),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the partner server did not start: {line:?}");
        }
    }
}
