//! The inner's admin API for outbound work: run a job now, send a file, follow a
//! send, list and replay dead letters, list pickups.

use std::time::Duration;

use serde_json::Value;

use super::http::get_json;
use super::{Cluster, wait_for};

/// A `[[channels.remotes]]` table: HTTP POST to `127.0.0.1:<port>/in`.
pub fn http_remote(name: &str, port: u16, retries: u32) -> String {
    format!(
        "\n[[channels.remotes]]\nname = \"{name}\"\nprotocol = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         url_path = \"/in\"\nretries = {retries}\nretry_base_ms = 100\nretry_max_ms = 300\n"
    )
}

/// `POST /api/v1/jobs/<job>/run`; panics unless the inner takes it.
pub async fn run_job(cluster: &Cluster, job: &str) {
    let url = format!("{}/api/v1/jobs/{job}/run", cluster.inner_admin);
    let response = cluster.client.post(url).send().await.expect("inner admin answers");
    let status = response.status();
    assert!(status.is_success(), "running job {job}: {status} {}", response.text().await.unwrap_or_default());
}

/// `POST /api/v1/sends`: returns the send's id once the inner committed it.
pub async fn send_file(cluster: &Cluster, remote: &str, name: &str, directory: Option<&str>, bytes: Vec<u8>) -> String {
    let mut url = format!("{}/api/v1/sends?channel=demo&remote={remote}&name={name}", cluster.inner_admin);
    if let Some(directory) = directory {
        url += &format!("&directory={directory}");
    }
    let response = cluster.client.post(url).body(bytes).send().await.expect("inner admin answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 202, "send to {remote}: {text}");
    let answer: Value = serde_json::from_str(&text).expect("send answer is JSON");
    answer["id"].as_str().expect("send id").to_owned()
}

/// Waits until the send's status is `wanted` (`delivered`, `failed`); returns the record.
pub async fn wait_for_send(cluster: &Cluster, id: &str, wanted: &str) -> Value {
    let url = format!("{}/api/v1/sends/{id}", cluster.inner_admin);
    wait_for(&format!("send {id} to be {wanted}"), Duration::from_secs(60), || async {
        let record = get_json(&cluster.client, &url).await?;
        (record["status"] == wanted).then_some(record)
    })
    .await
}

pub async fn dead_letters(cluster: &Cluster) -> Vec<Value> {
    let url = format!("{}/api/v1/dead-letters", cluster.inner_admin);
    get_json(&cluster.client, &url).await.and_then(|v| v.as_array().cloned()).unwrap_or_default()
}

/// `POST /api/v1/dead-letters/<id>/replay`: returns the new send's id.
pub async fn replay(cluster: &Cluster, id: &str) -> String {
    let url = format!("{}/api/v1/dead-letters/{id}/replay", cluster.inner_admin);
    let response = cluster.client.post(url).send().await.expect("inner admin answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert!((200..300).contains(&status), "replay {id}: {status} {text}");
    let answer: Value = serde_json::from_str(&text).expect("replay answer is JSON");
    answer["id"].as_str().expect("new send id").to_owned()
}

pub async fn pickups(cluster: &Cluster) -> Vec<Value> {
    let url = format!("{}/api/v1/pickups", cluster.inner_admin);
    get_json(&cluster.client, &url).await.and_then(|v| v.as_array().cloned()).unwrap_or_default()
}

/// How many times the inner's journal has `(demo, path)`.
pub async fn delivered_count(cluster: &Cluster, path: &str) -> usize {
    let records = super::delivered_records(&cluster.client, &cluster.inner_admin).await.unwrap_or_default();
    records.get(&("demo".to_string(), path.to_string())).map_or(0, Vec::len)
}
