//! FTP and explicit FTPS against a real vsftpd on loopback.

#![allow(clippy::unwrap_used)]

mod common;

use common::exercise::{assert_refused_login, round_trip};
use common::vsftpd::{TestCa, Vsftpd};
use common::{Scratch, TestUser, closed_port};
use remote::{Endpoint, Protocol, RemoteError, Secret, TlsTrust};

fn endpoint(protocol: Protocol, port: u16, password: &str) -> Endpoint {
    Endpoint::new(protocol, "127.0.0.1", port, TestUser::get().name.clone(), Secret::Password(password.into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_ftp_round_trip() {
    let scratch = Scratch::new();
    let server = Vsftpd::start(&scratch, &TestCa::new("ftp test CA"));
    scratch.data_subdir("archive");
    let endpoint = endpoint(Protocol::Ftp, server.port, &TestUser::get().password);
    round_trip(&endpoint, &scratch.data().display().to_string(), &scratch.data()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftps_round_trip_with_the_pinned_server_certificate() {
    let scratch = Scratch::new();
    let server = Vsftpd::start(&scratch, &TestCa::new("ftps test CA"));
    scratch.data_subdir("archive");
    let mut endpoint = endpoint(Protocol::Ftps, server.port, &TestUser::get().password);
    endpoint.tls = TlsTrust::Pinned(server.cert_pem.clone());
    round_trip(&endpoint, &scratch.data().display().to_string(), &scratch.data()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftps_trusts_a_pinned_ca_and_refuses_others() {
    let scratch = Scratch::new();
    let ca = TestCa::new("ftps issuing CA");
    let server = Vsftpd::start(&scratch, &ca);
    let mut endpoint = endpoint(Protocol::Ftps, server.port, &TestUser::get().password);
    endpoint.tls = TlsTrust::Pinned(ca.cert_pem.clone());
    let session = remote::connect(&endpoint).await.unwrap();
    session.close().await.unwrap();

    endpoint.tls = TlsTrust::Pinned(TestCa::new("someone else").cert_pem);
    let refused = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(refused, RemoteError::Tls { .. }), "{refused:?}");
    assert!(!refused.is_transient());

    endpoint.tls = TlsTrust::System;
    let unknown = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(unknown, RemoteError::Tls { .. }), "a private CA is not in the system store: {unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_permanent_and_not_shown() {
    let scratch = Scratch::new();
    let server = Vsftpd::start(&scratch, &TestCa::new("ftp test CA"));
    let wrong = "Wrong-Password-123";
    assert_refused_login(remote::connect(&endpoint(Protocol::Ftp, server.port, wrong)).await, wrong);
    let mut tls = endpoint(Protocol::Ftps, server.port, wrong);
    tls.tls = TlsTrust::Pinned(server.cert_pem.clone());
    assert_refused_login(remote::connect(&tls).await, wrong);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let error = remote::connect(&endpoint(Protocol::Ftp, closed_port(), "x")).await.err().unwrap();
    assert!(matches!(error, RemoteError::Connect { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_key_is_no_ftp_login() {
    let mut endpoint = endpoint(Protocol::Ftp, closed_port(), "x");
    endpoint.secret = Secret::PrivateKey { pem: String::new(), passphrase: None };
    let error = remote::connect(&endpoint).await.err().unwrap();
    assert!(matches!(error, RemoteError::Config(_)), "{error:?}");
}
