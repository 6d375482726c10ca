//! Payloads injected on the DMZ land byte-identical in the inbox, exactly once,
//! in both MessageService modes; per-channel order survives an inner outage.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use rand::{Rng, SeedableRng};

use crate::support::*;

/// 1,000 payloads from 0 B to the inline limit, edges included.
fn mixed_items(limit: usize) -> Vec<Item> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    (0..1000)
        .map(|i| {
            let size = match i {
                0 => 0,
                1 => 1,
                2 => limit - 1,
                3 => limit,
                _ => rng.random_range(0..=limit),
            };
            Item {
                channel: "demo".into(),
                path: format!("dir{}/sub/file-{i:04}.bin", i % 7),
                bytes: payload(i as u64, size),
            }
        })
        .collect()
}

async fn delivers_mixed_payloads_exactly_once(mode: Mode) {
    let cluster = Cluster::start(ClusterOptions { mode, ..ClusterOptions::default() }).await;
    let items = mixed_items(cluster.options.streaming_size as usize);
    let accepted = Arc::new(AtomicUsize::new(0));
    let results = inject_many(cluster.client.clone(), cluster.dmz_admin.clone(), items.clone(), 16, accepted).await;
    for result in &results {
        assert_eq!(result.status, Some(201), "injection of {} refused", result.path);
    }
    assert_delivered(&cluster, &items, &[]).await;
    cluster.wait_for_dmz_drained().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pushback_mode_delivers_1000_payloads_exactly_once() {
    delivers_mixed_payloads_exactly_once(Mode::Pushback).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_mode_delivers_1000_payloads_exactly_once() {
    delivers_mixed_payloads_exactly_once(Mode::Direct).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inner_outage_buffers_500_payloads_and_keeps_channel_order() {
    let channels: Vec<String> = (0..5).map(|c| format!("ch{c}")).collect();
    let mut cluster = Cluster::start(ClusterOptions { channels: channels.clone(), ..ClusterOptions::default() }).await;
    assert!(cluster.inner.stop().is_some_and(|s| s.success()), "inner did not stop cleanly");
    let items: Vec<Item> = (0..500)
        .map(|i| Item {
            channel: channels[i % 5].clone(),
            path: format!("seq-{i:03}.txt"),
            bytes: payload(i as u64, 100 + i),
        })
        .collect();
    // One worker per channel: each channel's items are injected in order.
    let results =
        inject_many(cluster.client.clone(), cluster.dmz_admin.clone(), items.clone(), 5, Arc::new(AtomicUsize::new(0)))
            .await;
    assert!(results.iter().all(|r| r.status == Some(201)), "the DMZ refused deliveries while the inner was down");
    let depth = cluster.dmz_status().await.expect("dmz status")["queues"]["to-inner"]["depth"].as_u64();
    assert_eq!(depth, Some(500), "the DMZ should hold all 500 while the inner is down");
    cluster.inner.start();
    assert_delivered(&cluster, &items, &[]).await;
    let records = delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    for channel in &channels {
        let times: Vec<u64> = items
            .iter()
            .filter(|i| &i.channel == channel)
            .map(|i| records[&(i.channel.clone(), i.path.clone())][0]["delivered_at_us"].as_u64().expect("time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "channel {channel} was delivered out of order");
    }
}
