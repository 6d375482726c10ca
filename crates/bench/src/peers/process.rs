//! Child processes the benchmarks start. Dropping a [`Daemon`] kills it and the
//! processes it forked (sshd and vsftpd fork one per session). They stay in the
//! bench's process group, so a Ctrl-C at the terminal reaches them too.
//! Readiness is polled on the server's port, never slept for.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BoxError;

const POLL: Duration = Duration::from_millis(20);

/// A started server process, killed with its whole process group on drop.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Spawns `command`, stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Daemon, BoxError> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        command.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file);
        let child = command.spawn().map_err(|e| format!("cannot start {name} ({:?}): {e}", command.get_program()))?;
        Ok(Daemon { name: name.to_owned(), child, log: log.to_owned() })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err (with the log's tail) if the process has exited.
    pub fn check_running(&mut self) -> Result<(), BoxError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!("{} exited ({status}): {}", self.name, log_tail(&self.log, 8)).into()),
        }
    }

    /// Polls until something accepts TCP connections on 127.0.0.1:`port`.
    pub fn wait_for_port(&mut self, port: u16, patience: Duration) -> Result<(), BoxError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        loop {
            self.check_running()?;
            if TcpStream::connect_timeout(&addr, POLL).is_ok() {
                return Ok(());
            }
            if start.elapsed() > patience {
                return Err(format!("{} does not answer on {addr} after {}s", self.name, patience.as_secs()).into());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The last `lines` lines of the process's log, on one line.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Its forks first (by parent PID: exactly the processes it started).
        let parent = self.child.id().to_string();
        let _ = Command::new("pkill").args(["-KILL", "-P", &parent]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = all[all.len().saturating_sub(lines)..].join(" | ");
    if tail.is_empty() { "(no output)".into() } else { tail }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, BoxError> {
    // Never the same port twice in one run: a released port 0 may come back at once.
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return Ok(port);
        }
    }
}

/// `count` consecutive loopback ports that were all free a moment ago (passive
/// FTP ranges).
pub fn free_port_range(count: u16) -> Result<(u16, u16), BoxError> {
    for _ in 0..100 {
        let first = free_port()?;
        let Some(last) = first.checked_add(count - 1) else { continue };
        let all_free = (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok((first, last));
        }
    }
    Err(format!("found no {count} consecutive free ports").into())
}

/// Runs `command` to completion; Err with its stderr if it fails. Returns stdout.
pub fn run(mut command: Command) -> Result<String, BoxError> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("{:?}: {e}", command.get_program()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{:?} failed ({}): {}", command.get_program(), output.status, stderr.trim()).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Err naming the apt package if `binary` is not on the PATH (or not at its path).
pub fn require(binary: &str, package: &str) -> Result<(), BoxError> {
    let found = if binary.contains('/') {
        Path::new(binary).is_file()
    } else {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(binary).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(format!("{binary} not found: install the apt package {package} (tests/run does)").into())
    }
}
