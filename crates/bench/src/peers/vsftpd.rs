//! vsftpd as a reference FTP server, run the way it works without its root
//! privileges: `run_as_launching_user=YES` (anonymous only, no chroot), started as
//! an unprivileged user through `setpriv` so the PID is vsftpd's own; its config
//! file must be owned by that user or it exits with status 2 and no message.
//! Anonymous upload is enabled into a temp dir owned by that user; passive mode
//! uses a fixed port range on 127.0.0.1. Killed on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::BoxError;
use super::clients::FtpTarget;
use super::process::{Daemon, free_port, free_port_range, require, run};

/// The unprivileged user vsftpd runs as (created with `useradd` when missing).
pub const FTP_USER: &str = "portcullis-bench";
const PASSIVE_PORTS: u16 = 20;
const PATIENCE: Duration = Duration::from_secs(10);

/// A running vsftpd.
pub struct Vsftpd {
    port: u16,
    dir: tempfile::TempDir,
    /// Dropped before `dir` (fields drop in order).
    _daemon: Daemon,
}

impl Vsftpd {
    /// Creates the user if needed, writes the config, starts vsftpd and waits
    /// until it answers.
    pub fn start() -> Result<Vsftpd, BoxError> {
        require("vsftpd", "vsftpd")?;
        require("setpriv", "util-linux")?;
        let (uid, gid) = ensure_user(FTP_USER)?;
        let dir = crate::enqueue::scratch_dir()?;
        let path = dir.path();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        std::fs::create_dir(path.join("upload"))?;
        std::os::unix::fs::chown(path.join("upload"), Some(uid), Some(gid))?;
        let port = free_port()?;
        let passive = free_port_range(PASSIVE_PORTS)?;
        let conf = path.join("vsftpd.conf");
        std::fs::write(&conf, config(path, port, passive))?;
        std::os::unix::fs::chown(&conf, Some(uid), Some(gid))?;
        let log = path.join("vsftpd.log");
        std::fs::File::create(&log)?;
        std::os::unix::fs::chown(&log, Some(uid), Some(gid))?;
        let mut command = Command::new("setpriv");
        command.args(["--reuid", &uid.to_string(), "--regid", &gid.to_string(), "--init-groups", "vsftpd"]).arg(&conf);
        let mut daemon = Daemon::spawn("vsftpd", command, &path.join("vsftpd.out"))?;
        daemon.wait_for_port(port, PATIENCE)?;
        Ok(Vsftpd { port, dir, _daemon: daemon })
    }

    /// Where uploads land.
    pub fn upload_dir(&self) -> PathBuf {
        self.dir.path().join("upload")
    }

    /// Anonymous login; files go to [`Vsftpd::upload_dir`] (an absolute path: no chroot).
    pub fn target(&self) -> FtpTarget {
        FtpTarget {
            port: self.port,
            user: "anonymous".into(),
            password: "bench@example.com".into(),
            remote_dir: Some(self.upload_dir().display().to_string()),
        }
    }
}

/// The uid and gid of `name`, creating it as a system user without a home or a
/// login shell if it does not exist.
pub fn ensure_user(name: &str) -> Result<(u32, u32), BoxError> {
    if id(name, "-u").is_err() {
        require("useradd", "passwd")?;
        let mut command = Command::new("useradd");
        command.args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]);
        run(command).map_err(|e| format!("cannot create the user {name} (needs root): {e}"))?;
    }
    Ok((id(name, "-u")?, id(name, "-g")?))
}

fn id(name: &str, flag: &str) -> Result<u32, BoxError> {
    let mut command = Command::new("id");
    command.args([flag, name]);
    Ok(run(command)?.trim().parse()?)
}

fn config(dir: &Path, port: u16, (pasv_min, pasv_max): (u16, u16)) -> String {
    let dir = dir.display();
    format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
         run_as_launching_user=YES\nseccomp_sandbox=NO\n\
         anonymous_enable=YES\nlocal_enable=NO\nno_anon_password=YES\nwrite_enable=YES\n\
         anon_upload_enable=YES\nanon_mkdir_write_enable=YES\nanon_other_write_enable=YES\n\
         anon_umask=022\nanon_root={dir}\n\
         pasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port={pasv_min}\npasv_max_port={pasv_max}\n\
         connect_from_port_20=NO\nxferlog_enable=NO\nvsftpd_log_file={dir}/vsftpd.log\n\
         dirmessage_enable=NO\nmax_clients=0\nmax_per_ip=0\n"
    )
}
