//! The inner's SFTP fetcher against a real OpenSSH sshd (internal-sftp) started
//! for the test: bytes identical, host keys checked, connection kept and renewed.
//!
//! Needs root, `/usr/sbin/sshd` and `ssh-keygen`. The 1 GiB throughput figure:
//! `cargo test -p sftp --release --test fetch -- --ignored --nocapture`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sftp::fetch::{FetchConfig, FetchError, FetchSink, Fetcher, HostKeyPolicy};
use sftp::keys::{PrivateKey, load_or_generate, parse_public, public_line, same_key};

const SSHD: &str = "/usr/sbin/sshd";

/// An sshd serving `<dir>/payloads` to root with one authorized key.
struct Sshd {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    child: Child,
    client_key: PrivateKey,
}

impl Sshd {
    fn start() -> Sshd {
        assert!(Path::new(SSHD).exists(), "{SSHD} is missing: apt-get install openssh-server");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let dir = tempfile::tempdir().expect("tempdir");
        let host_key = dir.path().join("host_key");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .status()
            .expect("ssh-keygen must be installed");
        assert!(status.success(), "ssh-keygen failed");
        let client_key = load_or_generate(&dir.path().join("client_key")).expect("client key");
        std::fs::write(dir.path().join("authorized_keys"), public_line(client_key.public_key()) + "\n").expect("keys");
        std::fs::create_dir(dir.path().join("payloads")).expect("payloads dir");
        let addr = free_port();
        let child = spawn_sshd(dir.path(), addr);
        Sshd { dir, addr, child, client_key }
    }

    fn payloads(&self) -> PathBuf {
        self.dir.path().join("payloads")
    }

    fn host_key(&self) -> sftp::keys::PublicKey {
        let line = std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("host key .pub");
        parse_public(&line).expect("host key parses")
    }

    fn config(&self, host_key: HostKeyPolicy) -> FetchConfig {
        let mut config = FetchConfig::new(self.addr, "root", self.client_key.clone(), host_key);
        config.remote_dir = self.payloads().display().to_string();
        config
    }

    /// Kills the listener and every session process it forked, then starts it again.
    fn restart(&mut self) {
        kill_tree(&mut self.child);
        self.child = spawn_sshd(self.dir.path(), self.addr);
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        kill_tree(&mut self.child);
    }
}

fn spawn_sshd(dir: &Path, addr: SocketAddr) -> Child {
    let config = dir.join("sshd_config");
    let text = format!(
        "ListenAddress {ip}\nPort {port}\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
         PermitRootLogin prohibit-password\nPasswordAuthentication no\nSubsystem sftp internal-sftp\n",
        ip = addr.ip(),
        port = addr.port(),
        dir = dir.display()
    );
    std::fs::write(&config, text).expect("sshd_config");
    let child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen on {addr} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Kills `child` and its direct children (sshd forks one process per session).
fn kill_tree(child: &mut Child) {
    let pid = child.id().to_string();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    for session in children.split_whitespace() {
        let _ = Command::new("kill").arg("-9").arg(session).status();
    }
}

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[derive(Default)]
struct Collect(Vec<u8>);

#[async_trait::async_trait]
impl FetchSink for Collect {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn fetched_bytes_are_identical_and_the_connection_is_kept() {
    let mut sshd = Sshd::start();
    let files = [("empty", pattern(0)), ("one", pattern(1)), ("three-mib", pattern(3 << 20))];
    for (name, bytes) in &files {
        std::fs::write(sshd.payloads().join(name), bytes).expect("payload");
    }
    let known = sshd.dir.path().join("known/dmz-sftp-host.pub");
    let traffic = meter::Traffic::new();
    let mut config = sshd.config(HostKeyPolicy::TrustOnFirstUse(known.clone()));
    config.traffic = meter::Meter::new([traffic.clone()]);
    let fetcher = Fetcher::new(config);
    for (name, bytes) in &files {
        let mut sink = Collect::default();
        let size = fetcher.fetch(name, bytes.len() as u64, &mut sink).await.expect("fetch");
        assert_eq!(size, bytes.len() as u64);
        assert!(sink.0 == *bytes, "{name}: bytes differ");
    }
    // The socket carried the files and the SSH framing around them, no more.
    let (read, fetched) = (traffic.read(), (3u64 << 20) + 1);
    assert!(read >= fetched && read < fetched + fetched / 10 + 65_536, "read {read} for {fetched} fetched");
    assert!(traffic.written() > 0);
    let recorded = parse_public(&std::fs::read_to_string(&known).expect("TOFU file written")).expect("key line");
    assert!(same_key(&recorded, &sshd.host_key()), "the first key seen is recorded");

    // Wrong expectations and missing files fail without killing the connection.
    let wrong = fetcher.fetch("one", 2, &mut Collect::default()).await;
    assert!(matches!(wrong, Err(FetchError::Size { expected: 2, got: 1, .. })), "{wrong:?}");
    let longer = fetcher.fetch("three-mib", 10, &mut Collect::default()).await;
    assert!(matches!(longer, Err(FetchError::Size { expected: 10, .. })), "{longer:?}");
    let missing = fetcher.fetch("nope", 1, &mut Collect::default()).await;
    assert!(matches!(missing, Err(FetchError::Remote { .. })), "{missing:?}");
    let escape = fetcher.fetch("../host_key", 1, &mut Collect::default()).await;
    assert!(matches!(escape, Err(FetchError::BadName(_))), "{escape:?}");

    // The kept connection dies with the server; the next fetch reconnects by itself.
    sshd.restart();
    let mut sink = Collect::default();
    fetcher.fetch("three-mib", 3 << 20, &mut sink).await.expect("fetch after the server restarted");
    assert!(sink.0 == files[2].1);
}

#[tokio::test]
async fn a_wrong_host_key_is_refused_before_login() {
    let sshd = Sshd::start();
    std::fs::write(sshd.payloads().join("f"), b"secret").expect("payload");
    let other = load_or_generate(&sshd.dir.path().join("other_key")).expect("other key");

    let pinned = Fetcher::new(sshd.config(HostKeyPolicy::Pinned(other.public_key().clone())));
    let refused = pinned.fetch("f", 6, &mut Collect::default()).await;
    assert!(matches!(refused, Err(FetchError::HostKey { .. })), "{refused:?}");

    let known = sshd.dir.path().join("known.pub");
    std::fs::write(&known, public_line(other.public_key())).expect("known key");
    let tofu = Fetcher::new(sshd.config(HostKeyPolicy::TrustOnFirstUse(known.clone())));
    let refused = tofu.fetch("f", 6, &mut Collect::default()).await;
    assert!(matches!(refused, Err(FetchError::HostKey { .. })), "{refused:?}");
    let kept = parse_public(&std::fs::read_to_string(&known).expect("known")).expect("key");
    assert!(same_key(&kept, other.public_key()), "a recorded key is never replaced");

    let right = Fetcher::new(sshd.config(HostKeyPolicy::Pinned(sshd.host_key())));
    let mut sink = Collect::default();
    right.fetch("f", 6, &mut sink).await.expect("the pinned key is accepted");
    assert_eq!(sink.0, b"secret");
}

/// Counts bytes; keeps none.
#[derive(Default)]
struct Count(u64);

#[async_trait::async_trait]
impl FetchSink for Count {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0 += bytes.len() as u64;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput figure: run with --release --ignored --nocapture"]
async fn one_gib_throughput() {
    const SIZE: u64 = 1 << 30;
    let sshd = Sshd::start();
    let file = std::fs::File::create(sshd.payloads().join("big")).expect("create");
    file.set_len(SIZE).expect("sparse 1 GiB");
    let fetcher = Fetcher::new(sshd.config(HostKeyPolicy::Pinned(sshd.host_key())));
    fetcher.fetch("none", 0, &mut Count::default()).await.ok(); // connect outside the clock
    let started = Instant::now();
    let mut sink = Count::default();
    fetcher.fetch("big", SIZE, &mut sink).await.expect("fetch 1 GiB");
    let ours = SIZE as f64 / started.elapsed().as_secs_f64() / 1e6;
    assert_eq!(sink.0, SIZE);
    let openssh = openssh_download(&sshd, "big", SIZE);
    println!("fetch 1 GiB: {ours:.0} MB/s; OpenSSH sftp -B 131072 in the same run: {openssh:.0} MB/s");
}

/// MB/s of OpenSSH's own sftp client downloading the same file (the reference).
fn openssh_download(sshd: &Sshd, name: &str, size: u64) -> f64 {
    let key = sshd.dir.path().join("client_key");
    let started = Instant::now();
    let mut child = Command::new("sftp")
        .args(["-q", "-B", "131072", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(&key)
        .args(["-P", &sshd.addr.port().to_string(), "-b", "-", "root@127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("OpenSSH sftp must be installed");
    let command = format!("get {}/{name} /dev/null\n", sshd.payloads().display());
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), command.as_bytes()).expect("command");
    drop(child.stdin.take());
    assert!(child.wait().expect("sftp").success(), "OpenSSH sftp failed");
    size as f64 / started.elapsed().as_secs_f64() / 1e6
}

#[tokio::test]
async fn uploads_land_whole_under_their_name_and_replace_an_earlier_copy() {
    let sshd = Sshd::start();
    let outbound = sshd.dir.path().join("outbound");
    std::fs::create_dir(&outbound).expect("outbound dir");
    let fetcher = Fetcher::new(sshd.config(HostKeyPolicy::Pinned(sshd.host_key())));
    let dir = outbound.display().to_string();
    let first: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = fetcher.upload(&dir, "01HZSEND", &mut first.as_slice()).await.expect("upload");
    assert_eq!(sent, first.len() as u64);
    assert_eq!(std::fs::read(outbound.join("01HZSEND")).expect("uploaded"), first);
    let second = b"a shorter second copy".to_vec();
    fetcher.upload(&dir, "01HZSEND", &mut second.as_slice()).await.expect("second upload");
    assert_eq!(std::fs::read(outbound.join("01HZSEND")).expect("replaced"), second);
    let names: Vec<_> =
        std::fs::read_dir(&outbound).expect("list").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("01HZSEND")], "no partial file is left");
    let refused = fetcher.upload(&dir, "../escape", &mut second.as_slice()).await;
    assert!(matches!(refused, Err(FetchError::BadName(_))), "{refused:?}");
}
