//! Talking to the nodes' admin APIs.

use std::collections::HashMap;

use serde_json::Value;

/// The admin token the test clusters' nodes are configured with.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdef";

/// A client that sends `token` to the admin APIs as a bearer token.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("token is a valid header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().expect("admin client")
}

/// A client for the test clusters' admin APIs.
pub fn admin_client() -> reqwest::Client {
    client_with_token(ADMIN_TOKEN)
}

/// The outcome of one injection.
#[derive(Debug, Clone)]
pub struct Injected {
    pub path: String,
    pub status: Option<u16>,
}

impl Injected {
    pub fn accepted(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// `POST /api/v1/deliveries` on the DMZ admin API; `status` is None on a
/// connection error (e.g. the DMZ was killed mid-request).
pub async fn inject(client: &reqwest::Client, dmz_admin: &str, channel: &str, path: &str, body: Vec<u8>) -> Injected {
    let url = format!("{dmz_admin}/api/v1/deliveries?channel={channel}&path={}", encode(path));
    let status = client.post(url).body(body).send().await.ok().map(|r| r.status().as_u16());
    Injected { path: path.to_string(), status }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GETs JSON; None while the node is not answering.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

/// The inner's delivery journal: `(channel, path)` → records, in journal order.
pub async fn delivered_records(
    client: &reqwest::Client,
    inner_admin: &str,
) -> Option<HashMap<(String, String), Vec<Value>>> {
    let records = get_json(client, &format!("{inner_admin}/api/v1/deliveries")).await?;
    let mut by_path: HashMap<(String, String), Vec<Value>> = HashMap::new();
    for record in records.as_array()? {
        let key = (record["channel"].as_str()?.to_string(), record["path"].as_str()?.to_string());
        by_path.entry(key).or_default().push(record.clone());
    }
    Some(by_path)
}
