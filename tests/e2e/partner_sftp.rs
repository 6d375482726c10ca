//! Partners deliver over SFTP with real clients: OpenSSH `sftp` (key and password
//! login), curl and paramiko; the files land byte-identical in the inbox, once,
//! with the partner's login, address and protocol in the delivery record.

use crate::support::clients::{PASSWORD, SshAuth, assert_ok, curl, paramiko, partner_key, sftp_batch, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, delivered_records, payload};

fn item(path: &str, seed: u64, size: usize) -> Item {
    Item { channel: "demo".into(), path: path.into(), bytes: payload(seed, size) }
}

#[tokio::test]
async fn openssh_sftp_with_key_and_with_password_delivers_exactly_once() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, public) = partner_key(keys.path());
    let cluster = Cluster::start(ClusterOptions { partner_keys: vec![public], ..ClusterOptions::default() }).await;
    let local = tempfile::tempdir().expect("tempdir");
    let by_key = vec![item("a.csv", 1, 10_000), item("orders/2026/b.xml", 2, 200_000)];
    let by_password = vec![item("c.txt", 3, 1), item("orders/empty.dat", 4, 0)];
    write_items(local.path(), &by_key);
    write_items(local.path(), &by_password);
    let commands =
        "put a.csv\nmkdir orders\nmkdir orders/2026\nput orders/2026/b.xml orders/2026/b.xml\nls -l orders/2026\n";
    let output = sftp_batch(&cluster, "demo-user", SshAuth::Key(&key), local.path(), commands);
    assert_ok("sftp with a key", &output, &cluster);
    assert!(String::from_utf8_lossy(&output.stdout).contains("b.xml"), "the listing shows the file just put");
    let commands = "put c.txt\ncd orders\nput orders/empty.dat empty.dat\n";
    let output = sftp_batch(&cluster, "demo-user", SshAuth::Password, local.path(), commands);
    assert_ok("sftp with a password", &output, &cluster);
    let all: Vec<Item> = by_key.into_iter().chain(by_password).collect();
    assert_delivered(&cluster, &all, &[]).await;
    let records = delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    let record = &records[&("demo".to_string(), "a.csv".to_string())][0];
    assert_eq!(record["protocol"], "sftp");
    assert_eq!(record["partner_login"], "demo-user");
    assert!(record["partner_remote"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{record}");
}

#[tokio::test]
async fn curl_sftp_and_paramiko_with_50_concurrent_sessions_deliver() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let via_curl = item("curl.bin", 10, 300_000);
    write_items(local.path(), std::slice::from_ref(&via_curl));
    let url = format!("sftp://127.0.0.1:{}/curl.bin", cluster.ports.sftp);
    let file = local.path().join("curl.bin");
    let output = curl(&["-k", "-u", &format!("demo-user:{PASSWORD}"), "-T", &file.to_string_lossy(), &url]);
    assert_ok("curl sftp upload", &output, &cluster);
    let items: Vec<Item> = (0..100).map(|i| item(&format!("p{i:03}.dat"), 100 + i, 1000 + i as usize * 997)).collect();
    write_items(local.path(), &items);
    let mut args =
        vec!["upload", "--port", "", "--user", "demo-user", "--password", PASSWORD, "--dir", "", "--sessions", "50"];
    let (port, dir) = (cluster.ports.sftp.to_string(), local.path().to_string_lossy().into_owned());
    (args[2], args[8]) = (&port, &dir);
    args.extend(items.iter().map(|i| i.path.as_str()));
    let output = paramiko(&args);
    assert_ok("paramiko with 50 sessions", &output, &cluster);
    let all: Vec<Item> = std::iter::once(via_curl).chain(items).collect();
    assert_delivered(&cluster, &all, &[]).await;
}
