//! Rounds of the deliverer against a real spool and file system.

use std::path::Path;
use std::sync::Arc;

use envelope::{Body, DeliveryMeta, EnvelopeId, Partner, Protocol, Sha256};
use spool::{NewItem, NewPayload, SledSpool, SpoolOptions};

use super::*;

fn settings(data_dir: &Path, if_exists: &str) -> CurrentSettings {
    let text = format!(
        "role = \"inner\"\nnode_id = \"t\"\ndata_dir = \"{}\"\n[dmz]\nurl = \"http://127.0.0.1:1\"\nmode = \"pushback\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[[channels]]\nname = \"c\"\n[[profiles]]\nname = \"p\"\nchannel = \"*\"\n\
         if_exists = \"{if_exists}\"\n",
        data_dir.display()
    );
    CurrentSettings::new(config::parse_inner(&text).expect("test config"), None)
}

fn item(path: &str, bytes: &[u8]) -> NewItem {
    let meta = DeliveryMeta {
        channel: "c".into(),
        protocol: Protocol::Admin,
        partner: Partner { login: None, remote: None },
        path: path.into(),
        received_at: 0,
        size: bytes.len() as u64,
        sha256: Sha256([0; 32]),
        mail: None,
        as2: None,
        fetched: None,
    };
    NewItem {
        id: EnvelopeId::generate().as_u128(),
        channel: Some("c".into()),
        header: envelope::encode(&Body::Delivery(meta)),
        payload: NewPayload::Bytes(bytes.to_vec()),
    }
}

/// Enqueues `items` and runs rounds (retrying held items at once) until the
/// queue is empty or three rounds have run; returns the deliverer.
async fn deliver(dir: &Path, if_exists: &str, items: Vec<NewItem>) -> Deliverer {
    let spool = SledSpool::open(SpoolOptions::new(dir.join("spool"))).expect("spool");
    spool.enqueue(INBOUND, items, true).await.expect("enqueue");
    let deliverer = Deliverer {
        spool: Arc::clone(&spool) as Arc<dyn Spool>,
        settings: settings(dir, if_exists),
        responses: None,
        stats: Arc::default(),
    };
    for _ in 0..3 {
        let leased = deliverer.spool.lease(INBOUND, BATCH).await.expect("lease");
        for (_, seqs) in deliverer.round(leased).await.failed {
            deliverer.spool.release(INBOUND, &seqs);
        }
    }
    deliverer
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn rename_keeps_both_when_one_batch_has_a_path_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deliverer =
        deliver(dir.path(), "rename", vec![item("orders.csv", b"first"), item("orders.csv", b"second")]).await;
    let inbox = dir.path().join("inbox/c");
    let names = names(&inbox);
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(std::fs::read(inbox.join("orders.csv")).expect("first"), b"first");
    assert_eq!(deliverer.spool.queue_stats(INBOUND).depth, 0);
}

#[tokio::test]
async fn impossible_targets_are_set_aside_and_do_not_block_the_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = format!("{}.csv", "n".repeat(240));
    let items = vec![
        item("reports", b"a file"),
        item("reports/jan.csv", b"needs a directory"),
        item(&long, b"long"),
        item("after.csv", b"later"),
    ];
    let deliverer = deliver(dir.path(), "overwrite", items).await;
    let inbox = dir.path().join("inbox/c");
    let mut expected = vec![long, "after.csv".to_string(), "reports".to_string()];
    expected.sort();
    assert_eq!(names(&inbox), expected);
    assert_eq!(names(&dir.path().join("unroutable")).len(), 1, "reports/jan.csv is kept aside");
    assert_eq!(deliverer.spool.queue_stats(INBOUND).depth, 0, "nothing is left to block the channel");
}
