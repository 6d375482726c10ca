//! Address rules: a channel's CIDR `allow`/`deny` lists, pushed from the inner,
//! keep partners from other addresses out — before any protocol byte when no
//! channel admits the address, at login / RCPT when only another channel does —
//! and the DMZ's `message_service.deny` keeps an inner peer out.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::support::clients::{HTTP_PROBE, PASSWORD, assert_ok, curl, first_bytes, write_items};
use crate::support::mail::swaks;
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload, wait_for};

#[tokio::test]
async fn a_partner_from_an_address_no_channel_admits_gets_no_greeting() {
    let options = ClusterOptions { channel_keys: "deny = [\"127.0.0.1/32\"]\n".into(), ..ClusterOptions::default() };
    let cluster = Cluster::start(options).await;
    let (refused, admitted) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
    let p = cluster.ports;
    for (name, port, probe, greeting) in [
        ("SFTP", p.sftp, &b""[..], &b"SSH-2.0-"[..]),
        ("FTP", p.ftp, b"", b"220"),
        ("SMTP", p.smtp, b"", b"220"),
        ("AS2", p.as2, HTTP_PROBE, b"HTTP/1.1"),
    ] {
        let answer = first_bytes(refused, port, probe).await;
        assert!(
            answer.is_empty(),
            "{name} from {refused} got {:?}\n{}",
            String::from_utf8_lossy(&answer),
            cluster.logs()
        );
        let answer = first_bytes(admitted, port, probe).await;
        assert!(answer.starts_with(greeting), "{name} from {admitted} got {:?}", String::from_utf8_lossy(&answer));
    }
    let log = cluster.dmz.log_text();
    let refusals = log.lines().filter(|l| l.contains("no channel admits this address") && l.contains("127.0.0.1:"));
    assert_eq!(refusals.count(), 4, "one logged refusal per protocol, with the address\n{log}");

    let local = tempfile::tempdir().expect("tempdir");
    let items = vec![Item { channel: "demo".into(), path: "from-2.edi".into(), bytes: payload(7, 3_000) }];
    write_items(local.path(), &items);
    let file = local.path().join("from-2.edi").to_string_lossy().into_owned();
    let url = format!("ftp://127.0.0.1:{}/from-2.edi", p.ftp);
    let user = format!("demo-user:{PASSWORD}");
    let output = curl(&["--interface", "127.0.0.2", "-u", &user, "-T", &file, &url]);
    assert_ok("curl ftp upload from an admitted address", &output, &cluster);
    assert_delivered(&cluster, &items, &[]).await;
}

#[tokio::test]
async fn a_channel_refuses_logins_and_mail_from_addresses_it_does_not_admit() {
    let options = ClusterOptions {
        channels: vec!["a".into(), "b".into()],
        channel_keys: "allow = [\"127.0.0.2\"]\n".into(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await;
    let list = |user: &str, source: &str| {
        let url = format!("ftp://127.0.0.1:{}/", cluster.ports.ftp);
        curl(&["--interface", source, "-u", &format!("{user}:{PASSWORD}"), &url])
    };
    let output = list("a-user", "127.0.0.1");
    assert_eq!(output.status.code(), Some(67), "curl's 'login denied': {output:?}");
    assert_ok("b-user from 127.0.0.1", &list("b-user", "127.0.0.1"), &cluster);
    assert_ok("a-user from 127.0.0.2", &list("a-user", "127.0.0.2"), &cluster);

    let output = swaks(&cluster, &["--to", "a@dmz.test", "--from", "p@partner.test", "--quit-after", "RCPT"]);
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(transcript.contains("<** 550 5.7.1"), "RCPT for channel a from 127.0.0.1:\n{transcript}");
    let output = swaks(&cluster, &["--to", "b@dmz.test", "--from", "p@partner.test", "--quit-after", "RCPT"]);
    assert!(output.status.success(), "RCPT for channel b: {}", String::from_utf8_lossy(&output.stdout));
    let output = swaks(
        &cluster,
        &["--local-interface", "127.0.0.2", "--to", "a@dmz.test", "--from", "p@partner.test", "--quit-after", "RCPT"],
    );
    assert!(output.status.success(), "RCPT for channel a from 127.0.0.2: {}", String::from_utf8_lossy(&output.stdout));
    let log = cluster.dmz.log_text();
    assert!(log.contains("channel does not admit this address"), "{log}");
}

#[tokio::test]
async fn an_inner_peer_from_a_denied_address_cannot_connect() {
    let options = ClusterOptions { dmz_ms_extra: "deny = [\"127.0.0.0/8\"]\n".into(), ..ClusterOptions::default() };
    let mut cluster = Cluster::new(options);
    cluster.dmz.start();
    cluster.inner.start();
    wait_for("the DMZ to refuse the inner", Duration::from_secs(30), || async {
        cluster.dmz.log_text().contains("message service connection refused: address not allowed").then_some(())
    })
    .await;
    let probe = b"GET / HTTP/1.1\r\nHost: dmz\r\nConnection: close\r\n\r\n";
    let answer = first_bytes(Ipv4Addr::LOCALHOST, cluster.dmz_ms_port, probe).await;
    assert!(answer.is_empty(), "closed before any HTTP byte: {:?}", String::from_utf8_lossy(&answer));
    let status = cluster.dmz_status().await.expect("DMZ status");
    assert_eq!(status["link"]["state"], "down", "{status}");
    let channels = crate::support::http::get_json(&cluster.client, &format!("{}/api/v1/channels", cluster.dmz_admin))
        .await
        .expect("channels");
    assert_eq!(channels.as_array().map(Vec::len), Some(0), "no config reached the DMZ: {channels}");
}
