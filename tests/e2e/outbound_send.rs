//! Sends reach partners' real servers through the DMZ (vsftpd, sshd, an HTTP
//! server) and directly from the inner; a server that is down ends in a dead
//! letter that a replay delivers once; a DMZ killed after it acked a send delivers
//! it once after its restart; a request naming a server its channel does not list
//! is refused by the DMZ.

use std::path::Path;
use std::time::Duration;

use envelope::{
    Body, Envelope, EnvelopeId, Frame, Payload, RemoteProtocol, RemoteTarget, SecretKind, SendRequest, Sha256,
};
use sha2::Digest;

use crate::support::outbound::{dead_letters, http_remote, replay, send_file, wait_for_send};
use crate::support::partners::{HttpSink, PartnerServers};
use crate::support::{Cluster, ClusterOptions, Mode, free_port, payload, wait_for};

async fn cluster_with(servers: &PartnerServers, extra_remotes: String) -> Cluster {
    let secrets = tempfile::tempdir().expect("secrets dir").keep();
    let password_file = servers.password_file(&secrets);
    let options = ClusterOptions {
        channel_tables: servers.remotes(&password_file) + &extra_remotes,
        ..ClusterOptions::default()
    };
    Cluster::start(options).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_reach_vsftpd_sshd_and_http_through_the_dmz_and_directly() {
    let servers = PartnerServers::start();
    let (ftp_in, sftp_in, direct_in) = (servers.dir("ftp-in"), servers.dir("sftp-in"), servers.dir("direct-in"));
    let http_port = free_port();
    let sink = HttpSink::start(http_port).await;
    let cluster = cluster_with(&servers, http_remote("http", http_port, 2)).await;

    // Small (inline) and above streaming_size (by reference over the internal SFTP).
    let small = payload(10, 2_000);
    let large = payload(11, 700_000);
    let sends = [
        ("ftp", "ack.txt", Some(ftp_in.as_str()), small.clone()),
        ("sftp", "report.bin", Some(sftp_in.as_str()), large.clone()),
        ("http", "invoice.xml", None, large.clone()),
        ("sftp-direct", "direct.bin", Some(direct_in.as_str()), small.clone()),
    ];
    let mut ids = Vec::new();
    for (remote, name, dir, bytes) in &sends {
        ids.push(send_file(&cluster, remote, name, *dir, bytes.clone()).await);
    }
    for id in &ids {
        let record = wait_for_send(&cluster, id, "delivered").await;
        assert!(record["detail"].as_str().is_some_and(|d| !d.is_empty()), "no partner reply in {record}");
    }
    assert_eq!(std::fs::read(Path::new(&ftp_in).join("ack.txt")).expect("ftp file"), small);
    assert_eq!(std::fs::read(Path::new(&sftp_in).join("report.bin")).expect("sftp file"), large);
    assert_eq!(std::fs::read(Path::new(&direct_in).join("direct.bin")).expect("direct file"), small);
    let received = sink.received();
    assert_eq!(received.len(), 1, "HTTP server got {} requests", received.len());
    assert_eq!((received[0].method.as_str(), received[0].path.as_str()), ("POST", "/in"));
    assert_eq!(received[0].body, large);
    assert!(!cluster.dmz.log_text().contains("direct.bin"), "a via_dmz = false send went through the DMZ");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_ends_in_a_dead_letter_and_a_replay_delivers_once() {
    let servers = PartnerServers::start();
    let port = free_port();
    let cluster = cluster_with(&servers, http_remote("later", port, 2)).await;
    let bytes = payload(20, 5_000);
    let id = send_file(&cluster, "later", "late.xml", None, bytes.clone()).await;
    let record = wait_for_send(&cluster, &id, "failed").await;
    assert_eq!(record["attempts"], 3, "two retries after the first attempt: {record}");
    let letters = dead_letters(&cluster).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter_id = letters[0]["id"].as_str().expect("dead letter id").to_owned();

    let sink = HttpSink::start(port).await;
    let again = replay(&cluster, &letter_id).await;
    wait_for_send(&cluster, &again, "delivered").await;
    let received = sink.received();
    assert_eq!(received.len(), 1, "delivered {} times", received.len());
    assert_eq!(received[0].body, bytes);
    assert!(dead_letters(&cluster).await.is_empty(), "the replayed dead letter is still listed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_the_dmz_acked_survives_its_kill_and_is_delivered_once() {
    let servers = PartnerServers::start();
    let port = free_port();
    let mut cluster = cluster_with(&servers, http_remote("slow", port, 50)).await;
    let bytes = payload(30, 400_000);
    let id = send_file(&cluster, "slow", "survivor.bin", None, bytes.clone()).await;
    // Acked by the DMZ (committed to its requests queue), not yet delivered: the
    // partner's server is down, so the DMZ is retrying.
    wait_for_send(&cluster, &id, "sent").await;
    cluster.dmz.kill();
    let sink = HttpSink::start(port).await;
    cluster.dmz.start();
    wait_for_send(&cluster, &id, "delivered").await;
    let received = sink.received();
    assert_eq!(received.len(), 1, "delivered {} times", received.len());
    assert_eq!(received[0].body, bytes);
}

/// A Send envelope sent to the DMZ's MessageService as if by the inner, naming a
/// server the channel does not list.
fn unlisted_send(port: u16) -> Vec<u8> {
    let bytes = b"should never leave".to_vec();
    let sha256 = Sha256(sha2::Sha256::digest(&bytes).into());
    let remote = RemoteTarget {
        name: "elsewhere".into(),
        protocol: RemoteProtocol::Http,
        host: "127.0.0.1".into(),
        port,
        user: String::new(),
        secret_kind: SecretKind::None,
        secret: Default::default(),
        tls_cert_pem: None,
        host_key: None,
        accept_any_host_key: false,
        url_path: Some("/steal".into()),
        http_put: false,
        mail_from: None,
        mail_to: Vec::new(),
        starttls: false,
        as2: None,
        connect_timeout_ms: 1_000,
        io_timeout_ms: 1_000,
    };
    let request = SendRequest {
        channel: "demo".into(),
        name: "x.bin".into(),
        remote,
        directory: String::new(),
        size: bytes.len() as u64,
        sha256,
        retries: 0,
        retry_base_ms: 100,
        retry_max_ms: 100,
        delete_after_pickup: false,
    };
    let envelope =
        Envelope { id: EnvelopeId::generate(), body: Body::Send(request), payload: Some(Payload::Inline(bytes)) };
    envelope::encode(&Frame { envelopes: vec![envelope], acks: vec![] })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dmz_refuses_to_dial_a_server_its_channel_does_not_list() {
    let cluster = Cluster::start(ClusterOptions { mode: Mode::Pushback, ..ClusterOptions::default() }).await;
    let port = free_port();
    let sink = HttpSink::start(port).await;
    let url = format!("http://127.0.0.1:{}/ms/v1/exchange", cluster.dmz_ms_port);
    let response = cluster
        .client
        .post(url)
        .header("content-type", "application/msgpack")
        .header(envelope::PROTOCOL_HEADER, envelope::PROTOCOL_VERSION.to_string())
        .header(envelope::NODE_HEADER, "test-inner")
        .body(unlisted_send(port))
        .send()
        .await
        .expect("message service answers");
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    assert!(status.is_success(), "exchange: {status}");
    let frame: Frame = envelope::decode(&body, 1 << 20).expect("a frame");
    let refused = frame
        .acks
        .iter()
        .any(|a| matches!(&a.outcome, envelope::AckOutcome::Rejected { reason } if reason.contains("127.0.0.1")));
    assert!(refused, "the DMZ did not refuse the request: {frame:?}");
    wait_for("the DMZ to log the refusal", Duration::from_secs(10), || async {
        cluster.dmz.log_text().contains(&format!("127.0.0.1:{port}")).then_some(())
    })
    .await;
    assert!(sink.received().is_empty(), "the DMZ dialled a server no channel lists");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_the_inner_took_survives_its_kill_and_is_delivered_once() {
    let port = free_port();
    let sink = HttpSink::start(port).await;
    let options = ClusterOptions { channel_tables: http_remote("web", port, 2), ..ClusterOptions::default() };
    let mut cluster = Cluster::start(options).await;
    let small = payload(50, 20_000);
    let large = payload(51, 900_000);
    let first = send_file(&cluster, "web", "small.bin", None, small.clone()).await;
    let second = send_file(&cluster, "web", "large.bin", None, large.clone()).await;
    // Killed at once: each send is somewhere between committed on the inner and
    // delivered; wherever it is, it must arrive once.
    cluster.inner.kill();
    cluster.inner.start();
    wait_for_send(&cluster, &first, "delivered").await;
    wait_for_send(&cluster, &second, "delivered").await;
    let received = sink.received();
    assert_eq!(received.len(), 2, "the partner got {} requests", received.len());
    let bodies: Vec<&Vec<u8>> = received.iter().map(|r| &r.body).collect();
    assert!(bodies.contains(&&small) && bodies.contains(&&large), "the payloads differ");
}
