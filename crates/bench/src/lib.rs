//! The benchmarks of `cargo bench -p bench` (`benches/backbone.rs`,
//! `benches/partners.rs`, `benches/mail.rs` and `benches/as2.rs` run them and print their tables). Scratch data goes
//! under `PORTCULLIS_BENCH_DIR` (default: the system temp dir).
//!
//! [`peers`] starts and drives real third-party servers and clients (OpenSSH,
//! vsftpd, lftp, paramiko); [`partners`] uses them to measure the DMZ's partner
//! SFTP and FTP servers against OpenSSH and vsftpd; [`mail`] the partner SMTP
//! receiver against its target rate; [`as2`] the memory of a 1 GiB AS2 message.

pub mod as2;
pub mod enqueue;
pub mod mail;
pub mod partners;
pub mod peers;
pub mod pushback;
