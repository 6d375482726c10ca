//! The inner's status page in headless Chromium: a browser without the token is
//! sent to the sign-in form, signs in with the token, and the page shows a
//! delivery the test just made, the link up and the channel's counters. The
//! screenshot is kept as a test artefact (`target/tmp/status-page.png`).

use std::path::Path;

use serde_json::Value;

use crate::support::clients::python;
use crate::support::{Cluster, ClusterOptions, Item, assert_delivered, inject, payload};

#[tokio::test]
async fn a_browser_signs_in_and_sees_the_delivery_just_made() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let item = Item { channel: "demo".into(), path: "orders/status-page-check.edi".into(), bytes: payload(4, 2_048) };
    let injected = inject(&cluster.client, &cluster.dmz_admin, "demo", &item.path, item.bytes.clone()).await;
    assert_eq!(injected.status, Some(201));
    assert_delivered(&cluster, std::slice::from_ref(&item), &[]).await;

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/py/status_page.py");
    let token_file = cluster.dir.path().join("admin.token");
    let admin = cluster.inner_admin.clone();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = python();
        command.arg(script).arg(admin).arg(token_file).arg(&screenshot);
        command.output().expect("python with selenium (apt: chromium chromium-driver; pip: selenium)")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "browser run failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let page: Value = serde_json::from_str(stdout.trim()).expect("the script's JSON");

    assert!(page["signed_out_at"].as_str().is_some_and(|u| u.ends_with("/sign-in")), "{page}");
    assert!(page["url"].as_str().is_some_and(|u| u.ends_with("/status")), "{page}");
    assert!(page["link"].as_str().is_some_and(|l| l.starts_with("up")), "{page}");
    let transfers = page["transfers"].as_array().expect("transfer rows");
    let row = transfers.iter().find(|row| row[2] == item.path.as_str()).unwrap_or_else(|| panic!("{page}"));
    assert_eq!(
        (row[1].as_str(), row[3].as_str(), row[5].as_str(), row[7].as_str()),
        (Some("demo"), Some("admin"), Some("2.0 KiB"), Some("delivered"))
    );
    let channel = &page["channels"][0];
    assert_eq!((channel[0].as_str(), channel[2].as_str()), (Some("demo"), Some("1")), "{page}");
    let png = std::fs::read(Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png")).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());
}
