//! Explicit FTPS (`AUTH TLS`) with real clients.

mod common;

use common::{curl_put, gateway, lftp, pattern, start, text, write_file};
use envelope::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_ftps_upload_is_byte_identical_and_logged_in_as_ftps() {
    let server = start(gateway(), true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = pattern(2 * 1024 * 1024 + 5, 9);
    let local = write_file(dir.path(), "secure.bin", &bytes);

    let out = curl_put(&server, "alice", "secret", &local, "secure.bin", true).await;

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.file("secure.bin").as_deref(), Some(&bytes[..]));
    assert_eq!(server.gateway.logins()[0].protocol, Protocol::Ftps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_channel_is_accepted_after_auth_tls() {
    let server = start(gateway(), true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let local = write_file(dir.path(), "x.txt", b"over tls");

    let plain = curl_put(&server, "tina", "tls-only", &local, "plain.txt", false).await;
    let secure = curl_put(&server, "tina", "tls-only", &local, "x.txt", true).await;

    assert!(text(&plain).contains("530"), "{}", text(&plain));
    assert!(secure.status.success(), "{}", text(&secure));
    assert_eq!(server.gateway.file("x.txt").as_deref(), Some(&b"over tls"[..]));
    assert_eq!(server.gateway.file("plain.txt"), None);
    assert_eq!(server.gateway.commits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lftp_ftps_mput_and_mirror() {
    let server = start(gateway(), true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..20 {
        write_file(&dir.path().join("tree"), &format!("d{}/f{i}.dat", i % 3), &pattern(1000 + i * 999, i as u64));
    }
    write_file(dir.path(), "single.dat", &pattern(50_000, 77));
    let script = format!("lcd {0}; mput single.dat; mirror -R {0}/tree tree", dir.path().display());

    let out = lftp(&server, "tina", "tls-only", &script, true).await;

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.gateway.file("single.dat"), Some(pattern(50_000, 77)));
    for i in 0..20 {
        let name = format!("tree/d{}/f{i}.dat", i % 3);
        assert_eq!(server.gateway.file(&name), Some(pattern(1000 + i * 999, i as u64)), "{name}");
    }
    assert_eq!(server.gateway.commits(), 21);
    assert!(server.gateway.logins().iter().all(|p| p.protocol == Protocol::Ftps));
}
