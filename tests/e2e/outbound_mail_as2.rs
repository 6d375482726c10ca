//! Sends through the DMZ reach a partner's mail server (aiosmtpd) and a partner's
//! AS2 server (pyas2lib, which decrypts, verifies and answers with a signed MDN
//! that the DMZ verifies); the bytes arrive unchanged.

use std::time::Duration;

use crate::support::as2::{channel_table, keys};
use crate::support::outbound::{send_file, wait_for_send};
use crate::support::partners::{As2Receiver, MailSink};
use crate::support::{Cluster, ClusterOptions, payload, wait_for};

const PARTNER: &str = "ACME-EDI";
const US: &str = "PORTCULLIS-TEST";

#[tokio::test(flavor = "multi_thread")]
async fn sends_reach_aiosmtpd_and_pyas2lib_through_the_dmz() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys(dir.path());
    let mail = MailSink::start();
    let as2 = As2Receiver::start(PARTNER, &keys.partner_pem, US, &keys.our_cert);
    let remotes = format!(
        "\n[[channels.remotes]]\nname = \"mail\"\nprotocol = \"smtp\"\nhost = \"127.0.0.1\"\nport = {mail}\n\
         mail_from = \"gateway@dmz.test\"\nmail_to = [\"edi@partner.test\"]\n\
         \n[[channels.remotes]]\nname = \"as2\"\nprotocol = \"as2\"\nhost = \"127.0.0.1\"\nport = {as2}\n\
         url_path = \"/as2\"\n",
        mail = mail.port,
        as2 = as2.port,
    );
    let options = ClusterOptions {
        as2: Some(channel_table(&keys, PARTNER, US)),
        channel_tables: remotes,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await;

    let message =
        b"From: gateway@dmz.test\r\nTo: edi@partner.test\r\nSubject: ack\r\n\r\n.leading dot\r\nok\r\n".to_vec();
    let id = send_file(&cluster, "mail", "ack.eml", None, message.clone()).await;
    wait_for_send(&cluster, &id, "delivered").await;
    let got = wait_for("the mail at the sink", Duration::from_secs(30), || async { mail.message(1) }).await;
    assert_eq!(got, message, "the .eml arrived changed");

    let invoice = payload(50, 200_000);
    let id = send_file(&cluster, "as2", "invoice.edi", None, invoice.clone()).await;
    let record = wait_for_send(&cluster, &id, "delivered").await;
    assert!(record["detail"].as_str().is_some_and(|d| d.contains("MDN")), "{record}");
    let got = wait_for("the AS2 payload at pyas2lib", Duration::from_secs(30), || async { as2.payload(1) }).await;
    assert_eq!(got, invoice, "the AS2 payload arrived changed");
}
