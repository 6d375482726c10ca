//! Plain FTP with real clients (curl, lftp) against the fake gateway.

mod common;

use common::{curl_put, gateway, lftp, pattern, start, text, write_file};
use envelope::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_upload_is_byte_identical_and_committed_once() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = pattern(3 * 1024 * 1024 + 17, 1);
    let local = write_file(dir.path(), "report.bin", &bytes);

    let out = curl_put(&server, "alice", "secret", &local, "report.bin", false).await;

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.file("report.bin").as_deref(), Some(&bytes[..]));
    assert_eq!(server.gateway.commits(), 1);
    let logins = server.gateway.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].protocol, Protocol::Ftp);
    assert_eq!(logins[0].remote.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_ne!(logins[0].remote.port(), server.port(), "the partner's own port, not ours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_is_committed_empty() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "empty.txt", b"");

    let out = curl_put(&server, "alice", "secret", &local, "empty.txt", false).await;

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.file("empty.txt"), Some(Vec::new()));
    assert_eq!(server.gateway.commits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lftp_mput_of_200_files_commits_each_once() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..200 {
        write_file(dir.path(), &format!("f{i:03}.dat"), &pattern(100 + i * 37, i as u64));
    }
    let script = format!("lcd {}; mput *.dat", dir.path().display());

    let out = lftp(&server, "alice", "secret", &script, false).await;

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.commits(), 200);
    for i in 0..200 {
        let name = format!("f{i:03}.dat");
        assert_eq!(server.gateway.file(&name), Some(pattern(100 + i * 37, i as u64)), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lftp_mirror_reverse_uploads_a_directory_tree() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = [("a.txt", 10), ("sub/b.txt", 2000), ("sub/deeper/c.bin", 70_000), ("other/d.txt", 0)];
    for (i, (name, len)) in tree.iter().enumerate() {
        write_file(&dir.path().join("tree"), name, &pattern(*len, i as u64));
    }
    let script = format!("mirror -R {} tree", dir.path().join("tree").display());

    let out = lftp(&server, "alice", "secret", &script, false).await;

    assert!(out.status.success(), "{}", text(&out));
    for (i, (name, len)) in tree.iter().enumerate() {
        assert_eq!(server.gateway.file(&format!("tree/{name}")), Some(pattern(*len, i as u64)), "{name}");
    }
    assert_eq!(server.gateway.commits(), tree.len() as u64);
    assert!(server.gateway.state().dirs.contains("tree/sub/deeper"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_gets_530_and_others_are_still_served() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "x.txt", b"hello");

    let refused = curl_put(&server, "alice", "wrong", &local, "x.txt", false).await;
    let unknown = curl_put(&server, "mallory", "secret", &local, "x.txt", false).await;
    let accepted = curl_put(&server, "alice", "secret", &local, "x.txt", false).await;

    assert!(text(&refused).contains("530"), "{}", text(&refused));
    assert!(text(&unknown).contains("530"), "{}", text(&unknown));
    assert!(accepted.status.success(), "{}", text(&accepted));
    assert_eq!(server.gateway.file("x.txt").as_deref(), Some(&b"hello"[..]));
    assert_eq!(server.gateway.commits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_channel_is_refused_over_plain_ftp() {
    let server = start(gateway(), true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "x.txt", b"hello");

    let out = curl_put(&server, "tina", "tls-only", &local, "x.txt", false).await;

    assert!(text(&out).contains("530"), "{}", text(&out));
    assert_eq!(server.gateway.commits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_full_answers_452_and_commits_nothing() {
    let server = start(gateway(), false).await;
    server.gateway.set_quota_full(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "big.bin", &pattern(1024 * 1024, 3));

    let out = curl_put(&server, "alice", "secret", &local, "big.bin", false).await;

    assert!(!out.status.success());
    assert!(text(&out).contains("452"), "{}", text(&out));
    assert_eq!(server.gateway.commits(), 0);
    assert_eq!(server.gateway.file("big.bin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_reach_the_spool_in_large_writes() {
    let server = start(gateway(), false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "big.bin", &pattern(8 * 1024 * 1024, 4));

    let out = curl_put(&server, "alice", "secret", &local, "big.bin", false).await;

    assert!(out.status.success(), "{}", text(&out));
    let calls = server.gateway.shared.write_calls.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(calls, 32, "8 MiB in 256 KiB writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickup_files_are_listed_and_downloaded_intact() {
    let server = start(gateway(), false).await;
    let bytes = pattern(700_000, 11);
    server.gateway.state().files.insert("outbox/pick.bin".into(), bytes.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("pick.bin");

    let listing = common::run("curl", &["-sS", "--max-time", "30", "-u", "alice:secret", &server.url("outbox/")]).await;
    let download = common::run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "-u",
            "alice:secret",
            "-o",
            local.to_str().expect("utf-8"),
            &server.url("outbox/pick.bin"),
        ],
    )
    .await;
    let mlsd = lftp(&server, "alice", "secret", "cls -1 outbox", false).await;

    assert!(listing.status.success() && text(&listing).contains("pick.bin"), "{}", text(&listing));
    assert!(download.status.success(), "{}", text(&download));
    assert_eq!(std::fs::read(&local).expect("downloaded"), bytes);
    assert!(mlsd.status.success() && text(&mlsd).contains("pick.bin"), "{}", text(&mlsd));
}
