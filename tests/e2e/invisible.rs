//! A channel marked `invisible_to_dmz` never reaches the DMZ: not its admin API,
//! not its spool, not its logs.

use crate::support::*;

const SECRET: &str = "ledger-internal-7731";

#[tokio::test(flavor = "multi_thread")]
async fn invisible_channel_never_appears_on_the_dmz() {
    let cluster = Cluster::start(ClusterOptions {
        channels: vec!["partner-a".into()],
        invisible: vec![SECRET.into()],
        ..ClusterOptions::default()
    })
    .await;
    let item = Item { channel: "partner-a".into(), path: "x.txt".into(), bytes: b"visible".to_vec() };
    assert_eq!(
        inject(&cluster.client, &cluster.dmz_admin, "partner-a", "x.txt", item.bytes.clone()).await.status,
        Some(201)
    );
    assert_delivered(&cluster, &[item], &[]).await;

    let inner_status = cluster
        .client
        .get(format!("{}/api/v1/status", cluster.inner_admin))
        .send()
        .await
        .expect("inner status")
        .text()
        .await
        .expect("body");
    assert!(inner_status.contains(SECRET), "the channel should exist on the inner");

    let refused = inject(&cluster.client, &cluster.dmz_admin, SECRET, "x.txt", b"hidden".to_vec()).await;
    assert_eq!(refused.status, Some(404));
    for endpoint in ["channels", "status"] {
        let text = cluster
            .client
            .get(format!("{}/api/v1/{endpoint}", cluster.dmz_admin))
            .send()
            .await
            .expect("dmz api")
            .text()
            .await
            .expect("body");
        assert!(!text.contains(SECRET), "DMZ /api/v1/{endpoint} shows the invisible channel");
    }
    let leaks = files_containing(&cluster.dmz_data(), SECRET.as_bytes());
    assert!(leaks.is_empty(), "the DMZ's data holds the invisible channel: {leaks:?}");
    assert!(!cluster.dmz.log_text().contains(SECRET), "the DMZ logged the invisible channel");
}

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dmz data dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle)) {
            found.push(path);
        }
    }
    found
}
