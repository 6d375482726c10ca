//! Real servers on loopback for the integration tests, the way `crates/bench`
//! drives them: OpenSSH `sshd` and `vsftpd` started on free ports with their own
//! config in a temp dir, polled until they answer (never slept for), killed with
//! their forks on drop. They need root and the apt packages `openssh-server`,
//! `openssh-client` and `vsftpd` (`tests/run` installs them); a missing program
//! fails the test with the package's name.
//!
//! Both servers log in one local user, [`TestUser`]: `portcullis-remote`, a
//! system user whose home is an empty root-owned directory
//! (`/var/lib/portcullis-remote-test`: vsftpd refuses a login without one),
//! created with `useradd` when missing, whose
//! password is set to a fresh random value by every test process (`chpasswd`).
//! vsftpd checks it through PAM, whose `pam_shells` wants a shell from
//! `/etc/shells`: the user's shell is `/bin/sh`. Neither server listens beyond
//! 127.0.0.1, and sshd allows only this user.

#![allow(dead_code, clippy::unwrap_used)]

pub mod exercise;
pub mod http_server;
pub mod sshd;
pub mod vsftpd;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);
const PATIENCE: Duration = Duration::from_secs(10);

/// The local user both servers log in.
pub struct TestUser {
    pub name: String,
    pub password: String,
    pub uid: u32,
    pub gid: u32,
}

impl TestUser {
    /// Creates the user if needed and gives it a fresh password, once per process.
    pub fn get() -> &'static TestUser {
        static USER: OnceLock<TestUser> = OnceLock::new();
        USER.get_or_init(|| {
            const NAME: &str = "portcullis-remote";
            require("useradd", "passwd");
            require("chpasswd", "passwd");
            const HOME: &str = "/var/lib/portcullis-remote-test";
            std::fs::create_dir_all(HOME).unwrap();
            if id(NAME, "-u").is_none() {
                let mut useradd = Command::new("useradd");
                useradd.args(["--system", "--no-create-home", "--home-dir", HOME, "--shell", "/bin/sh", NAME]);
                run(useradd);
            }
            let password = random_password();
            let mut chpasswd = Command::new("chpasswd");
            chpasswd.stdin(Stdio::piped());
            let mut child = chpasswd.spawn().expect("chpasswd (needs root)");
            use std::io::Write;
            child.stdin.take().unwrap().write_all(format!("{NAME}:{password}\n").as_bytes()).unwrap();
            assert!(child.wait().unwrap().success(), "chpasswd failed (needs root)");
            TestUser { name: NAME.into(), password, uid: id(NAME, "-u").unwrap(), gid: id(NAME, "-g").unwrap() }
        })
    }
}

fn random_password() -> String {
    use rand::Rng;
    rand::rng().sample_iter(&rand::distr::Alphanumeric).take(24).map(char::from).collect()
}

fn id(name: &str, flag: &str) -> Option<u32> {
    let output = Command::new("id").args([flag, name]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A scratch dir the servers can traverse, with `data/` owned by the test user
/// (where the sessions read and write).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new().prefix("remote-test-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let user = TestUser::get();
        std::os::unix::fs::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
        Scratch { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The session's directory, as an absolute path (no chroot in either server).
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A directory under `data/`, owned by the test user.
    pub fn data_subdir(&self, name: &str) -> PathBuf {
        let dir = self.data().join(name);
        std::fs::create_dir(&dir).unwrap();
        let user = TestUser::get();
        std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid)).unwrap();
        dir
    }
}

/// A started server, killed with its forks on drop.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Daemon {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        command.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file);
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon { name: name.into(), child, log: log.to_owned() }
    }

    /// Polls until 127.0.0.1:`port` accepts connections; panics with the log if
    /// the process exits or never answers.
    pub fn wait_for_port(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited ({status}): {}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            if TcpStream::connect_timeout(&addr, POLL).is_ok() {
                return;
            }
            assert!(start.elapsed() < PATIENCE, "{} does not answer on {addr}", self.name);
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let parent = self.child.id().to_string();
        let _ = Command::new("pkill").args(["-KILL", "-P", &parent]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago (never the same twice per process).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut handed_out = HANDED_OUT.lock().unwrap();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

/// `count` consecutive free loopback ports (vsftpd's passive range).
pub fn free_port_range(count: u16) -> (u16, u16) {
    for _ in 0..100 {
        let first = free_port();
        let Some(last) = first.checked_add(count - 1) else { continue };
        if (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return (first, last);
        }
    }
    panic!("found no {count} consecutive free ports");
}

/// Runs `command`; panics with its stderr if it fails. Returns stdout.
pub fn run(mut command: Command) -> String {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Panics naming the apt package if `binary` is missing.
pub fn require(binary: &str, package: &str) {
    let found = if binary.contains('/') {
        Path::new(binary).is_file()
    } else {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(binary).is_file()))
    };
    assert!(found, "{binary} not found: install the apt package {package} (tests/run does)");
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    free_port()
}

/// Deterministic, incompressible-looking bytes.
pub fn payload(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
