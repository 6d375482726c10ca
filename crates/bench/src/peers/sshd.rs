//! OpenSSH `sshd` as a reference SFTP server: its own `-f` config in a temp dir
//! (host key, pid file, `authorized_keys`, `Subsystem sftp internal-sftp`,
//! `UsePAM no`, `StrictModes no`), listening on a free loopback port; key login
//! for the user running the bench (root: sshd needs it anyway). Killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::BoxError;
use super::clients::SftpTarget;
use super::process::{Daemon, free_port, require, run};

const SSHD: &str = "/usr/sbin/sshd";
const PATIENCE: Duration = Duration::from_secs(10);

/// A running sshd and the files a client needs to log in.
pub struct Sshd {
    port: u16,
    user: String,
    dir: tempfile::TempDir,
    /// Dropped before `dir` (fields drop in order).
    _daemon: Daemon,
}

impl Sshd {
    /// Generates keys and config, starts sshd and waits until it answers.
    pub fn start() -> Result<Sshd, BoxError> {
        require(SSHD, "openssh-server")?;
        require("ssh-keygen", "openssh-client")?;
        ensure_privsep_dir()?;
        let dir = crate::enqueue::scratch_dir()?;
        let path = dir.path();
        keygen(&path.join("host_key"))?;
        keygen(&path.join("client_key"))?;
        std::fs::copy(path.join("client_key.pub"), path.join("authorized_keys"))?;
        std::fs::create_dir(path.join("upload"))?;
        let port = free_port()?;
        let user = current_user()?;
        std::fs::write(path.join("sshd_config"), config(path, port, &user))?;
        let mut command = Command::new(SSHD);
        command.args(["-D", "-e", "-f"]).arg(path.join("sshd_config"));
        let mut daemon = Daemon::spawn("sshd", command, &path.join("sshd.log"))?;
        daemon.wait_for_port(port, PATIENCE)?;
        Ok(Sshd { port, user, dir, _daemon: daemon })
    }

    /// Where uploads land (the target's remote directory).
    pub fn upload_dir(&self) -> PathBuf {
        self.dir.path().join("upload")
    }

    /// How `sftp` reaches this server and where it puts files.
    pub fn target(&self) -> SftpTarget {
        let path = self.dir.path();
        SftpTarget {
            port: self.port,
            user: self.user.clone(),
            key: path.join("client_key"),
            known_hosts: path.join("known_hosts"),
            remote_dir: Some(self.upload_dir().display().to_string()),
        }
    }
}

/// sshd refuses to start without its privilege separation directory.
fn ensure_privsep_dir() -> Result<(), BoxError> {
    std::fs::create_dir_all("/run/sshd").map_err(|e| format!("cannot create /run/sshd (needs root): {e}").into())
}

/// An ed25519 key pair without passphrase at `path` and `path.pub`.
pub fn keygen(path: &Path) -> Result<(), BoxError> {
    let mut command = Command::new("ssh-keygen");
    command.args(["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f"]).arg(path);
    run(command).map(drop)
}

/// The name of the user running this process.
pub fn current_user() -> Result<String, BoxError> {
    let mut command = Command::new("id");
    command.arg("-un");
    Ok(run(command)?.trim().to_owned())
}

fn config(dir: &Path, port: u16, user: &str) -> String {
    let dir = dir.display();
    format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {dir}/authorized_keys\nAllowUsers {user}\nStrictModes no\nUsePAM no\n\
         PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nX11Forwarding no\nPrintMotd no\nLogLevel ERROR\n\
         Subsystem sftp internal-sftp\n"
    )
}
