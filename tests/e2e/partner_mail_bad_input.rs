//! Hostile SMTP and AS2 clients against the real DMZ: commands before EHLO, 1,000
//! recipients, a 10 MB line without CRLF, garbage instead of a TLS handshake after
//! STARTTLS, malformed CMS and truncated MIME over AS2. Each gets the protocol's
//! refusal, nothing is delivered, and the DMZ keeps serving a well-behaved partner.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::as2::{channel_table, keys};
use crate::support::mail::{message, smtp_records, smtplib_send};
use crate::support::{Cluster, ClusterOptions};

/// A raw SMTP session: writes `input`, returns every reply line until the server
/// closes the connection or `QUIT` is answered.
fn raw_session(port: u16, input: &[u8]) -> Vec<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("greeting");
    // The server may stop reading (and close) before all of a hostile input is sent.
    let _ = stream.write_all(input);
    let mut lines = Vec::new();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let done = line.starts_with("221") || line.starts_with("421");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_mail_clients_are_refused_and_the_dmz_keeps_serving() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let port = cluster.ports.smtp;
    let replies = tokio::task::spawn_blocking(move || {
        let early = raw_session(port, b"MAIL FROM:<a@partner.test>\r\nRCPT TO:<demo@dmz.test>\r\nDATA\r\nQUIT\r\n");
        let mut many = b"EHLO partner.test\r\nMAIL FROM:<a@partner.test>\r\n".to_vec();
        for i in 0..1000 {
            many.extend_from_slice(format!("RCPT TO:<demo+{i}@dmz.test>\r\nRCPT TO:<demo@dmz.test>\r\n").as_bytes());
        }
        many.extend_from_slice(b"RSET\r\nQUIT\r\n");
        let many = raw_session(port, &many);
        let mut long = b"EHLO partner.test\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 10 << 20));
        let long = raw_session(port, &long);
        let tls = raw_session(port, b"EHLO partner.test\r\nSTARTTLS\r\n\x16\x03\x01garbage, not a ClientHello\r\n");
        (early, many, long, tls)
    })
    .await
    .expect("raw sessions");
    let (early, many, long, tls) = replies;
    assert_eq!(count(&early, "503"), 3, "MAIL, RCPT, DATA before EHLO: {early:?}");
    assert!(
        count(&many, "550") >= 1 && count(&many, "421") + count(&many, "452") >= 1,
        "{:?}",
        &many[..5.min(many.len())]
    );
    assert!(long.iter().any(|l| l.starts_with("500") || l.starts_with("421")), "a 10 MB line: {long:?}");
    assert!(tls.iter().any(|l| l.starts_with("220 2.0.0")), "STARTTLS was answered: {tls:?}");

    // Nothing of that was delivered, and a real client is still served.
    let local = tempfile::tempdir().expect("tempdir");
    let file = local.path().join("after.eml");
    std::fs::write(&file, message(9, 2_000)).expect("message");
    let sent = smtplib_send(&cluster, &["demo@dmz.test"], &[], &file);
    assert_eq!(sent["ok"], true, "{sent}\n{}", cluster.logs());
    let records = smtp_records(&cluster, 1).await;
    assert_eq!(records.len(), 1, "only the well-behaved mail was delivered: {records:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_as2_requests_get_refusals_and_deliver_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let as2 = channel_table(&keys(dir.path()), "ACME-EDI", "PORTCULLIS-TEST");
    let cluster = Cluster::start(ClusterOptions { as2: Some(as2), ..ClusterOptions::default() }).await;
    let url = format!("http://127.0.0.1:{}/as2", cluster.ports.as2);
    let post = |headers: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
        let mut request = cluster.client.post(url.clone()).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let as2 = |content_type: &'static str| {
        vec![
            ("AS2-From", "ACME-EDI"),
            ("AS2-To", "PORTCULLIS-TEST"),
            ("Message-ID", "<bad-1@partner.test>"),
            ("Content-Type", content_type),
            ("Disposition-Notification-To", "edi@partner.test"),
        ]
    };
    let no_headers = post(vec![("Content-Type", "application/octet-stream")], b"x".to_vec()).await.expect("POST");
    assert_eq!(no_headers.status(), 400, "no AS2 headers");
    let cms = post(as2("application/pkcs7-mime; smime-type=enveloped-data"), vec![0x30, 0x82, 0xff, 0xff, 1, 2, 3]);
    let cms = cms.await.expect("POST");
    let text = cms.text().await.expect("MDN").to_lowercase();
    assert!(text.contains("processed/error"), "malformed CMS: {text}");
    let truncated =
        post(as2("multipart/signed; boundary=\"b\""), b"--b\r\nContent-Type: text/plain\r\n\r\nhal".to_vec());
    let text = truncated.await.expect("POST").text().await.expect("MDN").to_lowercase();
    assert!(text.contains("processed/error"), "truncated MIME: {text}");
    cluster.wait_for_dmz_drained().await;
    let inbox = cluster.inbox().join("demo");
    assert_eq!(std::fs::read_dir(&inbox).map_or(0, |d| d.count()), 0, "nothing delivered");
    let mut status = String::new();
    let mut probe = TcpStream::connect(("127.0.0.1", cluster.ports.as2)).expect("still listening");
    probe.write_all(b"GET /as2 HTTP/1.0\r\n\r\n").expect("write");
    probe.read_to_string(&mut status).expect("read");
    assert!(status.starts_with("HTTP/1."), "still serving: {status}");
}
