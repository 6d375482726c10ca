//! A delivery target that fails holds back only its own channel: other channels
//! keep being delivered, and the failing one is retried, in order, until it works.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_target_holds_back_only_its_channel_and_is_retried_in_order() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let target = elsewhere.path().join("erp");
    std::fs::write(&target, b"a file where the target directory should be").expect("block the target");
    let profile =
        format!("\n[[profiles]]\nname = \"erp\"\nchannel = \"broken\"\ndirectory = \"{}\"\n", target.display());
    let cluster = Cluster::start(ClusterOptions {
        channels: vec!["ok".into(), "broken".into()],
        profiles: profile,
        ..ClusterOptions::default()
    })
    .await;
    let broken: Vec<Item> = (0..5)
        .map(|i| Item { channel: "broken".into(), path: format!("order-{i}.xml"), bytes: payload(i, 500) })
        .collect();
    let fine: Vec<Item> = (0..20)
        .map(|i| Item { channel: "ok".into(), path: format!("note-{i}.txt"), bytes: payload(100 + i, 300) })
        .collect();
    for items in [&broken, &fine] {
        let results = inject_many(
            cluster.client.clone(),
            cluster.dmz_admin.clone(),
            items.to_vec(),
            1,
            Arc::new(AtomicUsize::new(0)),
        )
        .await;
        assert!(results.iter().all(Injected::accepted));
    }
    assert_delivered(&cluster, &fine, &[]).await;
    let records = delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    assert!(records.keys().all(|(channel, _)| channel == "ok"), "the broken channel cannot have been delivered");

    std::fs::remove_file(&target).expect("unblock the target");
    let records = wait_for("the broken channel after the repair", Duration::from_secs(60), || async {
        let records = delivered_records(&cluster.client, &cluster.inner_admin).await?;
        broken.iter().all(|i| records.contains_key(&(i.channel.clone(), i.path.clone()))).then_some(records)
    })
    .await;
    let times: Vec<u64> = broken
        .iter()
        .map(|i| {
            let file = target.join("broken").join(&i.path);
            assert_eq!(std::fs::read(&file).expect("delivered file"), i.bytes, "{}", file.display());
            let entries = &records[&(i.channel.clone(), i.path.clone())];
            assert_eq!(entries.len(), 1, "{} delivered more than once", i.path);
            entries[0]["delivered_at_us"].as_u64().expect("time")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "the retried channel lost its order");
}
