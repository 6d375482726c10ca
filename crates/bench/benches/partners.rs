//! `cargo bench -p bench --bench partners`: the DMZ's partner SFTP and FTP servers
//! against OpenSSH sshd and vsftpd, and the DMZ's memory (see `bench::partners`).
//! Needs root and the peers `tests/run` installs; the portcullis columns need
//! `cargo build --release -p portcullis` (or `PORTCULLIS_BIN`).

fn main() -> Result<(), bench::peers::BoxError> {
    println!("## Partner protocols: portcullis against OpenSSH sshd and vsftpd\n");
    print!("{}", bench::partners::run()?);
    Ok(())
}
