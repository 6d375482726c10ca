//! Many authenticated, idle SFTP sessions, held open by a small paramiko script
//! (`idle_sftp.py`) run with the Python of the virtualenv `tests/run` creates
//! (`PORTCULLIS_TEST_PYTHON`, else `tests/.venv/bin/python`): what a server's
//! memory per session is measured with. Sessions are opened one after another;
//! dropping [`IdleSessions`] closes them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::BoxError;
use super::clients::SftpTarget;

const SCRIPT: &str = include_str!("idle_sftp.py");

/// Sessions held open until dropped.
pub struct IdleSessions {
    child: Child,
    stdin: Option<ChildStdin>,
    /// How many sessions are open, and how long opening them took.
    pub opened: usize,
    pub took: Duration,
    _dir: tempfile::TempDir,
}

impl IdleSessions {
    /// Opens `count` sessions as `target.user` with `target.key`; returns once all
    /// are authenticated with their SFTP channel open.
    pub fn open(target: &SftpTarget, count: usize) -> Result<IdleSessions, BoxError> {
        let python = python()?;
        let dir = crate::enqueue::scratch_dir()?;
        let script = dir.path().join("idle_sftp.py");
        std::fs::write(&script, SCRIPT)?;
        let errors = dir.path().join("stderr.log");
        let mut child = Command::new(&python)
            .arg(&script)
            .args([&target.port.to_string(), &target.user])
            .arg(&target.key)
            .arg(count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors)?)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        let mut sessions = IdleSessions { child, stdin, opened: 0, took: Duration::ZERO, _dir: dir };
        let mut words = line.split_whitespace();
        match (words.next(), words.next().and_then(|n| n.parse().ok()), words.next().and_then(|s| s.parse().ok())) {
            (Some("ready"), Some(opened), Some(secs)) => {
                sessions.opened = opened;
                sessions.took = Duration::from_secs_f64(secs);
                Ok(sessions)
            }
            _ => {
                let _ = sessions.child.wait();
                let said = std::fs::read_to_string(&errors).unwrap_or_default();
                Err(format!("idle_sftp.py: {}", said.trim().lines().last().unwrap_or("no output")).into())
            }
        }
    }
}

impl Drop for IdleSessions {
    fn drop(&mut self) {
        // Closing stdin lets the script close its sessions; killing it closes its sockets anyway.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The virtualenv's Python, with paramiko importable.
fn python() -> Result<PathBuf, BoxError> {
    let python = std::env::var_os("PORTCULLIS_TEST_PYTHON").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/.venv/bin/python")),
        PathBuf::from,
    );
    let imports = Command::new(&python).args(["-c", "import paramiko"]).stderr(Stdio::null()).status();
    match imports {
        Ok(status) if status.success() => Ok(python),
        _ => {
            Err(format!("{} cannot import paramiko: run tests/run once (it creates tests/.venv)", python.display())
                .into())
        }
    }
}
