//! Throughput against vsftpd in the same run (ignored by default; run in release):
//! `cargo test --release -p ftp --test throughput -- --ignored --nocapture --test-threads 1`
//!
//! Our server writes through a gateway that streams to a file and fsyncs at commit; vsftpd
//! writes without fsync. Targets: 1 GiB upload ≥ 0.8× vsftpd; 1,000 × 4 KiB in one lftp
//! session ≥ vsftpd's files/s.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use common::gateway::FakeGateway;
use common::{pattern, run, start_with, text, write_file};

const GIB: u64 = 1024 * 1024 * 1024;
const ROUNDS: usize = 3;

struct Vsftpd {
    child: tokio::process::Child,
    port: u16,
    root: tempfile::TempDir,
}

async fn vsftpd() -> Vsftpd {
    common::require("vsftpd");
    let root = tempfile::tempdir().expect("tempdir");
    let up = root.path().join("srv/up");
    std::fs::create_dir_all(&up).expect("mkdir");
    std::fs::set_permissions(&up, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("probe").local_addr().expect("addr").port();
    let passive = common::passive_range();
    let conf = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\nrun_as_launching_user=YES\n\
         anonymous_enable=YES\nlocal_enable=NO\nwrite_enable=YES\nanon_upload_enable=YES\nanon_mkdir_write_enable=YES\n\
         anon_root={}\nanon_umask=022\npasv_enable=YES\npasv_address=127.0.0.1\npasv_min_port={}\npasv_max_port={}\n\
         seccomp_sandbox=NO\nxferlog_enable=NO\n",
        root.path().join("srv").display(),
        passive.start(),
        passive.end()
    );
    let conf_path = write_file(root.path(), "vsftpd.conf", conf.as_bytes());
    let child = tokio::process::Command::new("vsftpd").arg(&conf_path).kill_on_drop(true).spawn().expect("vsftpd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await.is_err() {
        assert!(Instant::now() < deadline, "vsftpd did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Vsftpd { child, port, root }
}

fn bench_gateway(spool: &Path, fsync: bool) -> FakeGateway {
    FakeGateway::on_disk(spool.to_owned(), fsync).with_user("bench", "bench", "bench", false)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn timed_curl(url: &str, local: &Path) -> f64 {
    let started = Instant::now();
    let out = run("curl", &["-sS", "-T", local.to_str().expect("utf-8"), url]).await;
    assert!(out.status.success(), "{}", text(&out));
    started.elapsed().as_secs_f64()
}

async fn timed_lftp(port: u16, user: &str, dir: &Path, remote: &str) -> f64 {
    let script = format!("set ftp:ssl-allow no; lcd {}; cd {remote}; mput *; bye", dir.display());
    let url = format!("ftp://127.0.0.1:{port}");
    let started = Instant::now();
    let out = run("lftp", &["-u", user, "-e", &script, &url]).await;
    assert!(out.status.success(), "{}", text(&out));
    started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput run: release build, about a minute"]
async fn upload_1_gib_against_vsftpd() {
    let data = tempfile::tempdir().expect("tempdir");
    let block = pattern(1024 * 1024, 42);
    let local = data.path().join("1g.bin");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&local).expect("create");
        (0..GIB / block.len() as u64).for_each(|_| file.write_all(&block).expect("write"));
    }
    let (spool, nosync_spool) = (tempfile::tempdir().expect("spool"), tempfile::tempdir().expect("spool"));
    let ours = start_with(bench_gateway(spool.path(), true), false, |_| {}).await;
    let nosync = start_with(bench_gateway(nosync_spool.path(), false), false, |_| {}).await;
    let theirs = vsftpd().await;
    let (mut ours_s, mut nosync_s, mut theirs_s) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let url = format!("ftp://bench:bench@127.0.0.1:{}/r{round}.bin", ours.port());
        ours_s.push(GIB as f64 / 1e6 / timed_curl(&url, &local).await);
        let url = format!("ftp://bench:bench@127.0.0.1:{}/r{round}.bin", nosync.port());
        nosync_s.push(GIB as f64 / 1e6 / timed_curl(&url, &local).await);
        let url = format!("ftp://anonymous:x@127.0.0.1:{}/up/r{round}.bin", theirs.port);
        theirs_s.push(GIB as f64 / 1e6 / timed_curl(&url, &local).await);
        for dir in [spool.path().to_owned(), nosync_spool.path().to_owned(), theirs.root.path().join("srv/up")] {
            std::fs::read_dir(dir).expect("dir").flatten().for_each(|e| std::fs::remove_file(e.path()).expect("rm"));
        }
    }
    let (ours_mb, theirs_mb) = (median(ours_s.clone()), median(theirs_s.clone()));
    println!(
        "1 GiB upload: ours {ours_mb:.0} MB/s {ours_s:.0?}, ours without fsync {:.0} MB/s {nosync_s:.0?}, \
         vsftpd {theirs_mb:.0} MB/s {theirs_s:.0?}, ratio {:.2}",
        median(nosync_s.clone()),
        ours_mb / theirs_mb
    );
    assert_eq!(ours.gateway.commits(), ROUNDS as u64);
    assert!(ours_mb >= 0.8 * theirs_mb, "below 0.8× vsftpd");
    drop(theirs.child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput run: release build, about a minute"]
async fn thousand_small_files_against_vsftpd() {
    let files = tempfile::tempdir().expect("tempdir");
    for i in 0..1000 {
        write_file(files.path(), &format!("s{i:04}.dat"), &pattern(4096, i));
    }
    let (spool, nosync_spool) = (tempfile::tempdir().expect("spool"), tempfile::tempdir().expect("spool"));
    let ours = start_with(bench_gateway(spool.path(), true), false, |_| {}).await;
    let nosync = start_with(bench_gateway(nosync_spool.path(), false), false, |_| {}).await;
    let theirs = vsftpd().await;
    let (mut ours_s, mut nosync_s, mut theirs_s) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        ours.gateway.state().dirs.insert(format!("r{round}"));
        ours_s.push(1000.0 / timed_lftp(ours.port(), "bench,bench", files.path(), &format!("r{round}")).await);
        nosync.gateway.state().dirs.insert(format!("r{round}"));
        nosync_s.push(1000.0 / timed_lftp(nosync.port(), "bench,bench", files.path(), &format!("r{round}")).await);
        let up = theirs.root.path().join(format!("srv/up/r{round}"));
        std::fs::create_dir_all(&up).expect("mkdir");
        std::fs::set_permissions(&up, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
        theirs_s.push(1000.0 / timed_lftp(theirs.port, "anonymous,x", files.path(), &format!("up/r{round}")).await);
    }
    let (ours_f, theirs_f) = (median(ours_s.clone()), median(theirs_s.clone()));
    println!(
        "1000 × 4 KiB: ours {ours_f:.0} files/s {ours_s:.0?}, ours without fsync {:.0} files/s {nosync_s:.0?}, \
         vsftpd {theirs_f:.0} files/s {theirs_s:.0?}, ratio {:.2}",
        median(nosync_s.clone()),
        ours_f / theirs_f
    );
    assert_eq!(ours.gateway.commits(), 1000 * ROUNDS as u64);
    assert!(ours_f >= theirs_f, "below vsftpd");
    drop(theirs.child);
}
