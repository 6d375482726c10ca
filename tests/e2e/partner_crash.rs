//! kill -9 of the DMZ while 50 paramiko sessions upload: every upload the client
//! was told succeeded is delivered exactly once after the restart; an interrupted
//! one is either delivered whole or not at all, never partially.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::clients::{PASSWORD, paramiko_command, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload};

#[tokio::test]
async fn kill_9_during_50_concurrent_uploads_loses_no_acknowledged_upload() {
    let mut cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let items: Vec<Item> = (0..200)
        .map(|i| Item { channel: "demo".into(), path: format!("c{i:03}.bin"), bytes: payload(i, 150_000 + i as usize) })
        .collect();
    write_items(local.path(), &items);
    let mut child = paramiko_command()
        .args(["upload", "--port", &cluster.ports.sftp.to_string(), "--user", "demo-user", "--password", PASSWORD])
        .args(["--dir", &local.path().to_string_lossy(), "--sessions", "50"])
        .args(items.iter().map(|i| i.path.as_str()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut succeeded = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(path) = line.strip_prefix("OK ") {
            succeeded.push(path.to_owned());
        }
        if succeeded.len() == 20 {
            cluster.dmz.kill();
            break;
        }
    }
    for line in lines {
        if let Some(path) = line.expect("line").strip_prefix("OK ") {
            succeeded.push(path.to_owned());
        }
    }
    let _ = child.wait();
    assert!(succeeded.len() < items.len(), "the kill came too late to interrupt anything");
    cluster.dmz.start();
    let (must, may): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|i| succeeded.contains(&i.path));
    assert_delivered(&cluster, &must, &may).await;
}
