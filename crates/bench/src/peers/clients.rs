//! The client programs partners use, driven as they would be from a script:
//! OpenSSH `sftp` in batch mode (key login, AES-128-GCM, 128 KiB requests: the
//! fastest settings that work here; 256 KiB requests exceed OpenSSH's packet
//! limit) and `lftp` (passive mode, plain FTP: `ftp:ssl-allow no`, or lftp would
//! switch to TLS wherever the server offers it). Each call is one session and
//! returns the wall time of the whole client run, login included.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::BoxError;
use super::process::require;

/// Where and how `sftp` logs in.
#[derive(Debug, Clone)]
pub struct SftpTarget {
    pub port: u16,
    pub user: String,
    /// Private key (OpenSSH format, no passphrase).
    pub key: PathBuf,
    /// Written by `sftp` on first contact (`StrictHostKeyChecking=accept-new`).
    pub known_hosts: PathBuf,
    /// `cd` here first; `None`: stay in the login directory.
    pub remote_dir: Option<String>,
}

/// Where and how `lftp` logs in.
#[derive(Debug, Clone)]
pub struct FtpTarget {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// `cd` here first; `None`: stay in the login directory.
    pub remote_dir: Option<String>,
}

/// Uploads `file` as `remote_name` in one `sftp` session.
pub fn sftp_put(target: &SftpTarget, file: &Path, remote_name: &str) -> Result<Duration, BoxError> {
    sftp_batch(target, &format!("put \"{}\" \"{remote_name}\"\n", file.display()))
}

/// Uploads every file of `dir` in one `sftp` session (`lcd dir`, `put *`).
pub fn sftp_put_all(target: &SftpTarget, dir: &Path) -> Result<Duration, BoxError> {
    sftp_batch(target, &format!("lcd \"{}\"\nput *\n", dir.display()))
}

/// Uploads `file` as `remote_name` in one `lftp` session.
pub fn lftp_put(target: &FtpTarget, file: &Path, remote_name: &str) -> Result<Duration, BoxError> {
    lftp(target, &format!("put \"{}\" -o \"{remote_name}\"", file.display()))
}

/// Uploads every file of `dir` in one `lftp` session (`lcd dir; mput *`).
pub fn lftp_mput(target: &FtpTarget, dir: &Path) -> Result<Duration, BoxError> {
    lftp(target, &format!("lcd \"{}\"; mput *", dir.display()))
}

/// Runs `commands` (after a `cd` to the remote dir) as an `sftp -b -` batch; a
/// failing command aborts the batch and fails the run.
fn sftp_batch(target: &SftpTarget, commands: &str) -> Result<Duration, BoxError> {
    require("sftp", "openssh-client")?;
    let cd = target.remote_dir.as_ref().map(|d| format!("cd \"{d}\"\n")).unwrap_or_default();
    let mut command = Command::new("sftp");
    command
        .args(["-q", "-P", &target.port.to_string(), "-i"])
        .arg(&target.key)
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", target.known_hosts.display()))
        .args(["-o", "StrictHostKeyChecking=accept-new", "-c", "aes128-gcm@openssh.com", "-B", "131072"])
        .args(["-b", "-"])
        .arg(format!("{}@127.0.0.1", target.user));
    timed("sftp", command, Some(format!("{cd}{commands}")))
}

/// Runs `commands` in one `lftp -c` session; any failing command fails the run.
fn lftp(target: &FtpTarget, commands: &str) -> Result<Duration, BoxError> {
    require("lftp", "lftp")?;
    let cd = target.remote_dir.as_ref().map(|d| format!("cd \"{d}\"; ")).unwrap_or_default();
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 60; set ftp:passive-mode yes; \
         set ftp:ssl-allow no; open -u \"{}\",\"{}\" -p {} 127.0.0.1; {cd}{commands}",
        target.user, target.password, target.port
    );
    let mut command = Command::new("lftp");
    command.arg("-c").arg(script);
    timed("lftp", command, None)
}

/// Runs a client to completion with `stdin` fed in; its wall time, or its
/// output as the error if it fails.
fn timed(name: &str, mut command: Command, stdin: Option<String>) -> Result<Duration, BoxError> {
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or_default().as_bytes())?;
    }
    let output = child.wait_with_output()?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        return Err(format!("{name} failed ({}): {}", output.status, said.trim().replace('\n', " | ")).into());
    }
    Ok(elapsed)
}
