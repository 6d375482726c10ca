//! SFTP against a real OpenSSH sshd on loopback.

#![allow(clippy::unwrap_used)]

mod common;

use common::exercise::{assert_refused_login, round_trip};
use common::sshd::{KEY_PASSPHRASE, Sshd, keygen};
use common::{Scratch, TestUser, closed_port};
use remote::{Endpoint, Protocol, RemoteError, Secret};

fn endpoint(server: &Sshd, secret: Secret) -> Endpoint {
    let mut endpoint = Endpoint::new(Protocol::Sftp, "127.0.0.1", server.port, TestUser::get().name.clone(), secret);
    endpoint.host_key = Some(server.host_key.clone());
    endpoint
}

fn key(server: &Sshd) -> Secret {
    Secret::PrivateKey { pem: server.key_pem.clone(), passphrase: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_round_trip() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    scratch.data_subdir("archive");
    round_trip(&endpoint(&server, key(&server)), &scratch.data().display().to_string(), &scratch.data()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_passphrase_logins() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    let password = Secret::Password(TestUser::get().password.clone());
    let locked = Secret::PrivateKey { pem: server.locked_key_pem.clone(), passphrase: Some(KEY_PASSPHRASE.into()) };
    for secret in [password, locked] {
        let mut session = remote::connect(&endpoint(&server, secret)).await.unwrap();
        let mut source: &[u8] = b"hello";
        session.upload(&scratch.data().display().to_string(), "hello.txt", &mut source).await.unwrap();
        session.close().await.unwrap();
    }
    assert_eq!(std::fs::read(scratch.data().join("hello.txt")).unwrap(), b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_permanent_and_not_shown() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    let wrong = "Wrong-Password-123";
    assert_refused_login(remote::connect(&endpoint(&server, Secret::Password(wrong.into()))).await, wrong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_refused() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    keygen(&scratch.path().join("stranger"), "");
    let stranger = std::fs::read_to_string(scratch.path().join("stranger")).unwrap();
    let result = remote::connect(&endpoint(&server, Secret::PrivateKey { pem: stranger, passphrase: None })).await;
    assert_refused_login(result, "BEGIN OPENSSH PRIVATE KEY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_key_ends_the_connection_before_login() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    keygen(&scratch.path().join("other_host"), "");
    let mut endpoint = endpoint(&server, Secret::Password(TestUser::get().password.clone()));
    endpoint.host_key = Some(std::fs::read_to_string(scratch.path().join("other_host.pub")).unwrap());
    let error = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(error, RemoteError::HostKey { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("mismatch"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_key_is_refused_unless_any_is_accepted() {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    let mut endpoint = endpoint(&server, key(&server));
    endpoint.host_key = None;
    let error = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(error, RemoteError::HostKey { .. }), "{error:?}");
    let presented = server.host_key.split_whitespace().nth(1).unwrap();
    assert!(error.to_string().contains(presented), "the error names the presented key: {error}");

    endpoint.accept_any_host_key = true;
    remote::connect(&endpoint).await.unwrap().close().await.unwrap();
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let mut endpoint = Endpoint::new(Protocol::Sftp, "127.0.0.1", closed_port(), "u", Secret::Password("x".into()));
    endpoint.accept_any_host_key = true;
    let error = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(error, RemoteError::Connect { .. }), "{error:?}");
    assert!(error.is_transient());
}
