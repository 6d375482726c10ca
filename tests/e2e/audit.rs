//! The audit log: one JSON line per login, transfer, envelope handoff and admin
//! action in `<data_dir>/audit.log` of each node, with the partner's real address;
//! no secret in it, in the logs or in the data directories.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sha2::Digest;

use crate::support::clients::{PASSWORD, assert_ok, curl, write_items};
use crate::support::{Cluster, ClusterOptions, Item, any_file_holds, assert_delivered, payload, wait_for};

const WRONG_PASSWORD: &str = "Wr0ng-S3cret-pw!";

fn audit_lines(data_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir.join("audit.log")).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

fn find<'a>(lines: &'a [Value], fields: &[(&str, &str)]) -> Option<&'a Value> {
    lines.iter().find(|line| fields.iter().all(|(key, value)| line[*key].as_str() == Some(*value)))
}

#[tokio::test]
async fn logins_transfers_handoffs_and_admin_actions_are_audited_without_secrets() {
    let cluster = Cluster::start(ClusterOptions::default()).await;
    let local = tempfile::tempdir().expect("tempdir");
    let item = Item { channel: "demo".into(), path: "audited.edi".into(), bytes: payload(9, 3_000) };
    write_items(local.path(), std::slice::from_ref(&item));
    let base = format!("ftp://127.0.0.1:{}", cluster.ports.ftp);
    let output = curl(&["-u", &format!("demo-user:{WRONG_PASSWORD}"), &format!("{base}/")]);
    assert_eq!(output.status.code(), Some(67), "wrong password refused: {output:?}");
    let file = local.path().join("audited.edi").to_string_lossy().into_owned();
    let output = curl(&["-u", &format!("demo-user:{PASSWORD}"), "-T", &file, &format!("{base}/audited.edi")]);
    assert_ok("upload", &output, &cluster);
    let resume = cluster.client.post(format!("{}/api/v1/listeners/resume", cluster.dmz_admin)).send().await;
    assert_eq!(resume.expect("admin answer").status(), 200);
    let anonymous = reqwest::Client::new().post(format!("{}/api/v1/listeners/pause", cluster.dmz_admin)).send().await;
    assert_eq!(anonymous.expect("admin answer").status(), 401);
    assert_delivered(&cluster, std::slice::from_ref(&item), &[]).await;
    let sha256 = hex(&sha2::Sha256::digest(&item.bytes));

    let dmz = wait_for("the DMZ's handoff line", Duration::from_secs(30), || async {
        let lines = audit_lines(&cluster.dmz_data());
        find(&lines, &[("event", "handoff"), ("outcome", "committed")]).is_some().then_some(lines)
    })
    .await;
    let refused =
        find(&dmz, &[("event", "login"), ("outcome", "refused"), ("user", "demo-user")]).expect("refused login");
    assert_eq!(refused["protocol"], "ftp");
    assert!(refused["remote"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{refused}");
    find(&dmz, &[("event", "login"), ("outcome", "accepted"), ("channel", "demo")]).expect("accepted login");
    let received = find(&dmz, &[("event", "received"), ("path", "audited.edi")]).expect("received line");
    assert_eq!(received["sha256"], sha256.as_str());
    assert_eq!(received["size"], 3_000);
    assert_eq!(received["login"], "demo-user");
    let id = received["id"].as_str().expect("id");
    find(&dmz, &[("event", "handoff"), ("id", id)]).expect("the handoff of that delivery");
    let resume = find(&dmz, &[("event", "admin"), ("path", "/api/v1/listeners/resume")]).expect("admin action");
    assert_eq!((resume["status"].as_u64(), resume["authorized"].as_bool()), (Some(200), Some(true)));
    let refused = find(&dmz, &[("event", "admin"), ("path", "/api/v1/listeners/pause")]).expect("refused admin call");
    assert_eq!((refused["status"].as_u64(), refused["authorized"].as_bool()), (Some(401), Some(false)));

    let inner_dir = cluster.dir.path().join("inner");
    // The inner writes its line after the ack that follows the file's rename.
    let inner = wait_for("the inner's delivered line", Duration::from_secs(30), || async {
        let lines = audit_lines(&inner_dir);
        find(&lines, &[("event", "delivered"), ("id", id)]).is_some().then_some(lines)
    })
    .await;
    let delivered = find(&inner, &[("event", "delivered"), ("id", id)]).expect("inner delivered line");
    assert_eq!(delivered["sha256"], sha256.as_str());
    assert!(delivered["remote"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{delivered}");

    let token = std::fs::read_to_string(cluster.dir.path().join("admin.token")).expect("token");
    for secret in [WRONG_PASSWORD, PASSWORD_LINE, token.trim()] {
        for dir in [cluster.dmz_data(), inner_dir.clone()] {
            assert!(!any_file_holds(&dir, secret.as_bytes()), "{secret:?} found under {}", dir.display());
        }
        let logs = cluster.dmz.log_text() + &cluster.inner.log_text();
        assert!(!logs.contains(secret), "{secret:?} in a log");
    }
}

/// How the partner's password travels in FTP: never to be stored or logged.
const PASSWORD_LINE: &str = "PASS demo";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
