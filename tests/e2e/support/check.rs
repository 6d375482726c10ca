//! Injecting many payloads and checking what the inbox got.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Cluster, Injected, delivered_records, inject, wait_for};

/// One payload to inject.
#[derive(Debug, Clone)]
pub struct Item {
    pub channel: String,
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Injects `items` with `workers` concurrent senders; item i goes to worker
/// `i % workers`, each worker in order. `accepted` counts 2xx answers as they come.
pub async fn inject_many(
    client: reqwest::Client,
    dmz_admin: String,
    items: Vec<Item>,
    workers: usize,
    accepted: Arc<AtomicUsize>,
) -> Vec<Injected> {
    let items = Arc::new(items);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let (client, admin, items, accepted) =
            (client.clone(), dmz_admin.clone(), Arc::clone(&items), Arc::clone(&accepted));
        tasks.spawn(async move {
            let mut results = Vec::new();
            for index in (worker..items.len()).step_by(workers) {
                let item = &items[index];
                let result = inject(&client, &admin, &item.channel, &item.path, item.bytes.clone()).await;
                if result.accepted() {
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                results.push((index, result));
            }
            results
        });
    }
    let mut all: Vec<(usize, Injected)> = tasks.join_all().await.into_iter().flatten().collect();
    all.sort_by_key(|(index, _)| *index);
    all.into_iter().map(|(_, result)| result).collect()
}

/// Waits until every `must` item is journalled, then checks: each `must` item was
/// delivered exactly once with identical bytes; each `may` item at most once and
/// intact; the inbox holds exactly the delivered files, no temp files.
pub async fn assert_delivered(cluster: &Cluster, must: &[Item], may: &[Item]) {
    let records = wait_for("every accepted payload to be delivered", Duration::from_secs(120), || async {
        let records = delivered_records(&cluster.client, &cluster.inner_admin).await?;
        must.iter().all(|i| records.contains_key(&(i.channel.clone(), i.path.clone()))).then_some(records)
    })
    .await;
    let mut delivered = 0;
    for (item, required) in must.iter().map(|i| (i, true)).chain(may.iter().map(|i| (i, false))) {
        let count = records.get(&(item.channel.clone(), item.path.clone())).map_or(0, Vec::len);
        assert!(count <= 1, "{}/{} delivered {count} times", item.channel, item.path);
        assert!(!required || count == 1, "{}/{} not delivered", item.channel, item.path);
        if count == 1 {
            let file = cluster.inbox().join(&item.channel).join(&item.path);
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(bytes == item.bytes, "{} differs from what was injected", file.display());
            delivered += 1;
        }
    }
    let files = count_files(&cluster.inbox());
    assert_eq!(files, delivered, "the inbox holds other files than the delivered ones");
    assert_eq!(records.values().map(Vec::len).sum::<usize>(), delivered, "the journal holds unexpected deliveries");
}

/// Regular files below `dir`; panics on a leftover temp file.
pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .map(|e| e.expect("dir entry").path())
        .map(|path| {
            if path.is_dir() {
                count_files(&path)
            } else {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                assert!(!name.ends_with(".part"), "temp file left in the inbox: {}", path.display());
                1
            }
        })
        .sum()
}
