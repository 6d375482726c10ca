//! OpenSSH `sshd` with its own `-f` config: host key, `authorized_keys` (a plain
//! and a passphrase-protected client key), password login without PAM (checked
//! against `/etc/shadow`), `Subsystem sftp internal-sftp`, only the test user.

use std::path::Path;
use std::process::Command;

use super::{Daemon, Scratch, TestUser, free_port, require, run};

const SSHD: &str = "/usr/sbin/sshd";

/// The passphrase of [`Sshd::locked_key_pem`].
pub const KEY_PASSPHRASE: &str = "correct horse battery staple";

pub struct Sshd {
    pub port: u16,
    /// The host key, OpenSSH public key line.
    pub host_key: String,
    /// A client key (OpenSSH PEM, no passphrase) in `authorized_keys`.
    pub key_pem: String,
    /// A client key protected by [`KEY_PASSPHRASE`], also authorized.
    pub locked_key_pem: String,
    _daemon: Daemon,
}

impl Sshd {
    pub fn start(scratch: &Scratch) -> Sshd {
        require(SSHD, "openssh-server");
        require("ssh-keygen", "openssh-client");
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = scratch.path();
        keygen(&dir.join("host_key"), "");
        keygen(&dir.join("client_key"), "");
        keygen(&dir.join("locked_key"), KEY_PASSPHRASE);
        let authorized = [read(&dir.join("client_key.pub")), read(&dir.join("locked_key.pub"))].concat();
        std::fs::write(dir.join("authorized_keys"), authorized).unwrap();
        let port = free_port();
        std::fs::write(dir.join("sshd_config"), config(dir, port, &TestUser::get().name)).unwrap();
        let mut command = Command::new(SSHD);
        command.args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"));
        let mut daemon = Daemon::spawn("sshd", command, &dir.join("sshd.log"));
        daemon.wait_for_port(port);
        Sshd {
            port,
            host_key: read(&dir.join("host_key.pub")).trim().to_owned(),
            key_pem: read(&dir.join("client_key")),
            locked_key_pem: read(&dir.join("locked_key")),
            _daemon: daemon,
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// An ed25519 key pair at `path` and `path.pub`.
pub fn keygen(path: &Path, passphrase: &str) {
    let mut command = Command::new("ssh-keygen");
    command.args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "remote-test", "-f"]).arg(path);
    run(command);
}

fn config(dir: &Path, port: u16, user: &str) -> String {
    let dir = dir.display();
    format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {dir}/authorized_keys\nAllowUsers {user}\nStrictModes no\nUsePAM no\n\
         PubkeyAuthentication yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
         PermitRootLogin no\nX11Forwarding no\nPrintMotd no\nLogLevel ERROR\nMaxStartups 100\n\
         Subsystem sftp internal-sftp\n"
    )
}
