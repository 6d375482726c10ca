//! Partners deliver over FTP and explicit FTPS with curl and lftp: single files,
//! an `mput` of 200 files, a `mirror -R` of a directory tree, and a channel that
//! requires TLS.

use crate::support::clients::{PASSWORD, assert_ok, curl, lftp, write_items};
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, payload};

fn item(path: &str, seed: u64, size: usize) -> Item {
    Item { channel: "demo".into(), path: path.into(), bytes: payload(seed, size) }
}

#[tokio::test]
async fn curl_ftp_and_ftps_deliver() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let items = vec![item("plain.txt", 1, 5_000), item("secure.bin", 2, 400_000)];
    write_items(local.path(), &items);
    let base = format!("ftp://127.0.0.1:{}", cluster.ports.ftp);
    let user = format!("demo-user:{PASSWORD}");
    let plain = local.path().join("plain.txt").to_string_lossy().into_owned();
    let output = curl(&["-u", &user, "-T", &plain, &format!("{base}/plain.txt")]);
    assert_ok("curl ftp upload", &output, &cluster);
    let secure = local.path().join("secure.bin").to_string_lossy().into_owned();
    let output = curl(&["--ssl-reqd", "-k", "-u", &user, "-T", &secure, &format!("{base}/secure.bin")]);
    assert_ok("curl ftps upload", &output, &cluster);
    assert_delivered(&cluster, &items, &[]).await;
    let records = crate::support::delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    assert_eq!(records[&("demo".to_string(), "plain.txt".to_string())][0]["protocol"], "ftp");
    assert_eq!(records[&("demo".to_string(), "secure.bin".to_string())][0]["protocol"], "ftps");
}

#[tokio::test]
async fn lftp_mput_of_200_files_and_mirror_of_a_tree_deliver() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let flat: Vec<Item> = (0..200).map(|i| item(&format!("f{i:03}.edi"), i, 500 + i as usize)).collect();
    write_items(&local.path().join("flat"), &flat);
    let output = lftp(&cluster, "demo-user", false, &local.path().join("flat"), "mput *");
    assert_ok("lftp mput", &output, &cluster);
    let tree = vec![
        item("tree/top.txt", 300, 100),
        item("tree/a/one.txt", 301, 2_000),
        item("tree/a/b/two.txt", 302, 70_000),
        item("tree/c/three.txt", 303, 0),
    ];
    write_items(local.path(), &tree);
    let output = lftp(&cluster, "demo-user", true, local.path(), "mirror -R tree tree");
    assert_ok("lftp mirror -R over FTPS", &output, &cluster);
    let all: Vec<Item> = flat.into_iter().chain(tree).collect();
    assert_delivered(&cluster, &all, &[]).await;
}

#[tokio::test]
async fn a_channel_that_requires_tls_refuses_plain_ftp_and_accepts_ftps() {
    let options = ClusterOptions { ftp_tls_required: vec!["demo".into()], ..ClusterOptions::default() };
    let cluster = Cluster::start(options).await;
    let local = tempfile::tempdir().expect("tempdir");
    let items = vec![item("tls-only.txt", 9, 1234)];
    write_items(local.path(), &items);
    let file = local.path().join("tls-only.txt").to_string_lossy().into_owned();
    let url = format!("ftp://127.0.0.1:{}/tls-only.txt", cluster.ports.ftp);
    let user = format!("demo-user:{PASSWORD}");
    let plain = curl(&["-u", &user, "-T", &file, &url]);
    assert!(!plain.status.success(), "plain FTP login must be refused for a TLS-only channel");
    let secure = curl(&["--ssl-reqd", "-k", "-u", &user, "-T", &file, &url]);
    assert_ok("curl ftps upload", &secure, &cluster);
    assert_delivered(&cluster, &items, &[]).await;
}
