//! Real third-party peers, driven over loopback: reference servers to measure the
//! product against and the client programs that partners use.
//!
//! - [`sshd::Sshd`]: OpenSSH `sshd` as the reference SFTP server (its own config,
//!   host key and `authorized_keys` in a temp dir; key login for the current user).
//! - [`vsftpd::Vsftpd`]: `vsftpd` as the reference FTP server (anonymous upload,
//!   run as an unprivileged user, fixed passive range).
//! - [`clients`]: OpenSSH `sftp` in batch mode and `lftp`, returning the elapsed time.
//! - [`files`]: the payloads (one big file, many small ones), generated on the fly.
//! - [`idle_sftp`]: many authenticated, idle SFTP sessions held open by paramiko.
//!
//! Every server is a [`process::Daemon`]: started on a free port, polled until it
//! answers, killed with its forks on drop. Servers need root (sshd must; vsftpd
//! switches to its own user) and the apt packages `tests/run` installs; a missing
//! program is an error naming its package, never a silent skip.

pub mod clients;
pub mod files;
pub mod idle_sftp;
pub mod process;
pub mod sshd;
pub mod vsftpd;

#[cfg(test)]
mod tests;

/// Errors of the peer drivers: a readable reason is all a benchmark needs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
