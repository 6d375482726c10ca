//! Send against a real vsftpd (FTP), OpenSSH sshd (SFTP) and an in-process axum
//! HTTP server on loopback.

#![allow(clippy::unwrap_used)]

#[path = "../../remote/tests/common/mod.rs"]
mod common;
mod support;

use common::sshd::Sshd;
use common::vsftpd::{TestCa, Vsftpd};
use common::{Scratch, TestUser, closed_port, payload};
use envelope::RemoteProtocol;
use support::{password, send_request, sha256, target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_and_sftp_uploads_arrive_whole() {
    let scratch = Scratch::new();
    let ca = TestCa::new("transfer send CA");
    let ftp = Vsftpd::start(&scratch, &ca);
    let sshd = Sshd::start(&scratch);
    let inbox = scratch.data_subdir("inbox").display().to_string();
    let local = tempfile::tempdir().unwrap();
    let bytes = payload(2 << 20);
    let secret = password(&TestUser::get().password);
    let mut ftps = target(RemoteProtocol::Ftps, ftp.port, &TestUser::get().name);
    ftps.tls_cert_pem = Some(ftp.cert_pem.clone());
    let mut sftp = target(RemoteProtocol::Sftp, sshd.port, &TestUser::get().name);
    sftp.host_key = Some(sshd.host_key.clone());
    let targets = [
        ("ftp.bin", target(RemoteProtocol::Ftp, ftp.port, &TestUser::get().name)),
        ("ftps.bin", ftps),
        ("sftp.bin", sftp),
    ];
    for (name, remote) in targets {
        let (mut request, path) = send_request(remote, local.path(), name, &bytes);
        request.directory.clone_from(&inbox);
        let reply = transfer::send(&request, &secret, None, &path).await.unwrap();
        assert!(reply.contains(name) && reply.contains(&bytes.len().to_string()), "{reply}");
        let arrived = std::fs::read(scratch.data().join("inbox").join(name)).unwrap();
        assert_eq!(sha256(&arrived), sha256(&bytes), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_permanent_and_not_shown() {
    let scratch = Scratch::new();
    let ftp = Vsftpd::start(&scratch, &TestCa::new("transfer send CA"));
    let local = tempfile::tempdir().unwrap();
    let (request, path) =
        send_request(target(RemoteProtocol::Ftp, ftp.port, &TestUser::get().name), local.path(), "x", b"x");
    let error = transfer::send(&request, &password("Sekr1tWrong"), None, &path).await.unwrap_err();
    assert!(!error.transient && !error.detail.contains("Sekr1tWrong"), "{error:?}");
}

#[tokio::test]
async fn http_post_put_and_the_classification_of_failures() {
    let (addr, log) = common::http_server::start().await;
    let local = tempfile::tempdir().unwrap();
    let bytes = payload(1 << 20);
    let mut remote = target(RemoteProtocol::Http, addr.port(), "partner");
    remote.url_path = Some("/accepted".into());
    let (request, path) = send_request(remote.clone(), local.path(), "a.bin", &bytes);
    let reply = transfer::send(&request, &password("pa55word"), None, &path).await.unwrap();
    assert_eq!(reply, "HTTP 201 accepted, thank you");
    remote.http_put = true;
    let (request, path) = send_request(remote.clone(), local.path(), "b.bin", &bytes);
    transfer::send(&request, &password("pa55word"), None, &path).await.unwrap();
    {
        let log = log.lock().unwrap();
        assert_eq!(log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(), ["POST", "PUT"]);
        assert!(log.iter().all(|r| sha256(&r.body) == sha256(&bytes)));
        let auth = log[0].headers.get("authorization").unwrap().to_str().unwrap();
        assert!(auth.starts_with("Basic "), "{auth}");
    }
    for (path_, transient) in [("/unavailable", true), ("/missing", false), ("/moved", false)] {
        remote.url_path = Some(path_.into());
        let (request, path) = send_request(remote.clone(), local.path(), "c.bin", b"c");
        let error = transfer::send(&request, &password("pa55word"), None, &path).await.unwrap_err();
        assert_eq!(error.transient, transient, "{path_}: {error:?}");
        assert!(!error.detail.contains("pa55word"), "{error:?}");
    }
    let refused = target(RemoteProtocol::Http, closed_port(), "");
    let (request, path) = send_request(refused, local.path(), "d.bin", b"d");
    let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
    assert!(error.transient, "{error:?}");
}

#[tokio::test]
async fn https_trusts_the_pinned_certificate_only() {
    let (cert_pem, key_pem) = TestCa::new("transfer https CA").server_certificate();
    let (addr, log) = common::http_server::start_tls(&cert_pem, &key_pem).await;
    let local = tempfile::tempdir().unwrap();
    let mut remote = target(RemoteProtocol::Https, addr.port(), "");
    remote.url_path = Some("/accepted".into());
    let (request, path) = send_request(remote.clone(), local.path(), "a.bin", b"over tls");
    let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
    assert!(!error.transient, "not in the system trust store: {error:?}");
    remote.tls_cert_pem = Some(cert_pem);
    let (request, path) = send_request(remote, local.path(), "a.bin", b"over tls");
    assert_eq!(transfer::send(&request, &password(""), None, &path).await.unwrap(), "HTTP 201 accepted, thank you");
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn pickup_wrong_sizes_and_missing_as2_keys_are_refused() {
    let local = tempfile::tempdir().unwrap();
    let (request, path) = send_request(target(RemoteProtocol::Pickup, 1, ""), local.path(), "p", b"p");
    let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
    assert!(!error.transient && error.detail == "pickup is placed by the DMZ, not sent", "{error:?}");
    let (mut request, path) = send_request(target(RemoteProtocol::Http, 1, ""), local.path(), "q", b"q");
    request.size = 2;
    let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
    assert!(!error.transient && error.detail.contains("the request says 2"), "{error:?}");
    let mut as2 = target(RemoteProtocol::As2, 1, "");
    as2.as2 = Some(envelope::As2Send { our_id: "US".into(), ..Default::default() });
    let (request, path) = send_request(as2, local.path(), "r", b"r");
    let error = transfer::send(&request, &password(""), None, &path).await.unwrap_err();
    assert_eq!(error.detail, "our AS2 private key for US is not loaded");
}
