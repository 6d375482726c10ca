//! kill -9 of either node mid-stream, then restart: every payload whose injection
//! returned 2xx is delivered exactly once; nothing is delivered twice or partially.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

fn stream(count: usize) -> Vec<Item> {
    (0..count)
        .map(|i| Item {
            channel: "demo".into(),
            path: format!("stream/{i:04}.dat"),
            bytes: payload(1000 + i as u64, (i * 977) % 60_000),
        })
        .collect()
}

/// Starts injecting `items` with `workers` senders in the background.
fn start_injecting(
    cluster: &Cluster,
    items: &[Item],
    workers: usize,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<Vec<Injected>>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let task =
        inject_many(cluster.client.clone(), cluster.dmz_admin.clone(), items.to_vec(), workers, Arc::clone(&accepted));
    (accepted, tokio::spawn(task))
}

/// Splits items by whether their injection was acknowledged.
fn split(items: &[Item], results: &[Injected]) -> (Vec<Item>, Vec<Item>) {
    let (accepted, unknown): (Vec<_>, Vec<_>) = items.iter().zip(results).partition(|(_, r)| r.accepted());
    (accepted.into_iter().map(|(i, _)| i.clone()).collect(), unknown.into_iter().map(|(i, _)| i.clone()).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn dmz_killed_mid_stream_delivers_every_acknowledged_payload_once() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let items = stream(600);
    let (accepted, injecting) = start_injecting(&cluster, &items, 8);
    wait_for("150 acknowledged injections", Duration::from_secs(60), || async {
        (accepted.load(Ordering::SeqCst) >= 150).then_some(())
    })
    .await;
    cluster.dmz.kill();
    cluster.dmz.start();
    let results = injecting.await.expect("injector");
    let (must, may) = split(&items, &results);
    assert!(must.len() >= 150, "only {} injections were acknowledged", must.len());
    assert_delivered(&cluster, &must, &may).await;
    cluster.wait_for_dmz_drained().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inner_killed_mid_stream_delivers_every_acknowledged_payload_once() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let items = stream(600);
    let (_, injecting) = start_injecting(&cluster, &items, 8);
    wait_for("some deliveries on the inner", Duration::from_secs(60), || async {
        let records = delivered_records(&cluster.client, &cluster.inner_admin).await?;
        (records.len() >= 100).then_some(())
    })
    .await;
    cluster.inner.kill();
    cluster.inner.start();
    let results = injecting.await.expect("injector");
    assert!(results.iter().all(Injected::accepted), "the DMZ refused injections while the inner restarted");
    assert_delivered(&cluster, &items, &[]).await;
    cluster.wait_for_dmz_drained().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn both_killed_repeatedly_still_deliver_exactly_once() {
    let mut cluster = Cluster::start(ClusterOptions { mode: Mode::Direct, ..ClusterOptions::default() }).await;
    let items = stream(450);
    let (mut must, mut may) = (Vec::new(), Vec::new());
    for round in items.chunks(150) {
        let (accepted, injecting) = start_injecting(&cluster, round, 4);
        wait_for("acknowledged injections in this round", Duration::from_secs(60), || async {
            (accepted.load(Ordering::SeqCst) >= 40).then_some(())
        })
        .await;
        cluster.inner.kill();
        cluster.dmz.kill();
        cluster.dmz.start();
        cluster.inner.start();
        let results = injecting.await.expect("injector");
        let (accepted, unknown) = split(round, &results);
        must.extend(accepted);
        may.extend(unknown);
        cluster.wait_for_channels().await;
    }
    assert_delivered(&cluster, &must, &may).await;
}
