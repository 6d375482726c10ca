//! The reference servers and client drivers work end to end: bytes uploaded with
//! the real clients arrive identical.

#![allow(clippy::unwrap_used)]

use super::clients::{lftp_mput, lftp_put, sftp_put, sftp_put_all};
use super::files::{big_file, small_files};
use super::sshd::Sshd;
use super::vsftpd::Vsftpd;

fn same_files(local: &std::path::Path, remote: &std::path::Path, names: &[&str]) {
    for name in names {
        let (sent, got) = (std::fs::read(local.join(name)).unwrap(), std::fs::read(remote.join(name)).unwrap());
        assert!(sent == got, "{name} differs after upload");
    }
}

#[test]
fn sshd_takes_sftp_batch_uploads() {
    let scratch = tempfile::tempdir().unwrap();
    let big = big_file(scratch.path(), "big.bin", 3 << 20).unwrap();
    let small = small_files(scratch.path(), "small", 5, 4096).unwrap();
    let sshd = Sshd::start().unwrap();
    sftp_put(&sshd.target(), &big, "big.bin").unwrap();
    sftp_put_all(&sshd.target(), &small).unwrap();
    same_files(scratch.path(), &sshd.upload_dir(), &["big.bin"]);
    same_files(&small, &sshd.upload_dir(), &["f00000.bin", "f00004.bin"]);
}

#[test]
fn vsftpd_takes_lftp_put_and_mput() {
    let scratch = tempfile::tempdir().unwrap();
    let big = big_file(scratch.path(), "big.bin", 3 << 20).unwrap();
    let small = small_files(scratch.path(), "small", 5, 4096).unwrap();
    let vsftpd = Vsftpd::start().unwrap();
    lftp_put(&vsftpd.target(), &big, "big.bin").unwrap();
    lftp_mput(&vsftpd.target(), &small).unwrap();
    same_files(scratch.path(), &vsftpd.upload_dir(), &["big.bin"]);
    same_files(&small, &vsftpd.upload_dir(), &["f00000.bin", "f00004.bin"]);
}

#[test]
fn paramiko_holds_idle_sftp_sessions_open() {
    let sshd = Sshd::start().unwrap();
    let sessions = super::idle_sftp::IdleSessions::open(&sshd.target(), 3).unwrap();
    assert_eq!(sessions.opened, 3);
}
