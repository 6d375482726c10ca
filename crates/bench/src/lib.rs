//! The benchmarks of `cargo bench -p bench` (`benches/backbone.rs`,
//! `benches/partners.rs` and `benches/mail.rs` run them and print their tables). Scratch data goes
//! under `PORTCULLIS_BENCH_DIR` (default: the system temp dir).
//!
//! [`peers`] starts and drives real third-party servers and clients (OpenSSH,
//! vsftpd, lftp, paramiko); [`partners`] uses them to measure the DMZ's partner
//! SFTP and FTP servers against OpenSSH and vsftpd; [`mail`] the partner SMTP
//! receiver against its target rate.

pub mod enqueue;
pub mod mail;
pub mod partners;
pub mod peers;
pub mod pushback;
