//! One DMZ node and one inner node, in-process, in pushback mode on 127.0.0.1, and
//! the HTTP calls the benchmarks make to their admin APIs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use inner::settings::CurrentSettings;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::BoxError;

/// How long to wait for the link, a config push or a drain before giving up.
const PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(5);
/// Depth polling alongside a running load: often enough to see the peaks.
const DEPTH_POLL: Duration = Duration::from_millis(20);
/// The inner's password hash from etc/demo/inner.toml (argon2id of "demo").
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$pRE6wIFzX7rdLnyvfJumPA$QQdrirshtnvFj2PPWTT2MXQk0DC7hDdzKZKSdFutmtI";

/// A running pair of nodes and their scratch directory.
pub struct Cluster {
    http: reqwest::Client,
    dmz: dmz::RunningDmz,
    dmz_token: CancellationToken,
    dmz_admin: SocketAddr,
    inner: Option<(inner::RunningInner, CancellationToken)>,
    inner_admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts the DMZ, then the inner pointed at it; returns once the DMZ lists
    /// the channel `bench` (the inner pushed its config over the link).
    pub async fn start() -> Result<Cluster, BoxError> {
        let dir = crate::enqueue::scratch_dir()?;
        let token_file = dir.path().join("admin.token");
        std::fs::write(&token_file, ADMIN_TOKEN)?;
        let mut dmz_settings = config::parse_dmz(&dmz_toml(&dir.path().join("dmz"))).map_err(problems)?;
        dmz_settings.admin.token_file = Some(token_file.clone());
        let dmz_token = CancellationToken::new();
        let dmz = dmz::start(dmz_settings, dmz_token.clone()).await?;
        let inner_text = inner_toml(&dir.path().join("inner"), dmz.message_service_addr);
        let mut inner_settings = config::parse_inner(&inner_text).map_err(problems)?;
        inner_settings.admin.token_file = Some(token_file);
        let inner_token = CancellationToken::new();
        let inner = inner::start(CurrentSettings::new(inner_settings, None), inner_token.clone()).await?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}").parse()?);
        let http = reqwest::Client::builder().no_proxy().default_headers(headers).build()?;
        let cluster = Cluster {
            http,
            dmz_admin: dmz.admin_addr,
            inner_admin: inner.admin_addr,
            dmz,
            dmz_token,
            inner: Some((inner, inner_token)),
            _dir: dir,
        };
        cluster.wait_for_channel().await?;
        Ok(cluster)
    }

    /// Stops the inner node; the DMZ keeps the pushed config and queues deliveries.
    pub async fn stop_inner(&mut self) {
        if let Some((inner, token)) = self.inner.take() {
            token.cancel();
            inner.wait().await;
        }
    }

    /// Cancels both nodes and waits until every service has stopped.
    pub async fn shutdown(mut self) {
        self.stop_inner().await;
        self.dmz_token.cancel();
        self.dmz.wait().await;
    }

    /// A handle that injects payloads at the DMZ (cheap to clone into tasks).
    pub fn injector(&self) -> Injector {
        Injector { http: self.http.clone(), url: format!("http://{}/api/v1/deliveries", self.dmz_admin) }
    }

    /// The inner's journal as path → `delivered_at_us` (one full scan).
    pub async fn journal(&self) -> Result<HashMap<String, u64>, BoxError> {
        let records = self.get(self.inner_admin, "/api/v1/deliveries").await?;
        let records = records.as_array().ok_or("the journal is not an array")?;
        Ok(records
            .iter()
            .filter_map(|r| Some((r["path"].as_str()?.to_owned(), r["delivered_at_us"].as_u64()?)))
            .collect())
    }

    /// Waits until the DMZ's `to-inner` and the inner's `inbound` are both empty,
    /// then until the journal holds every one of `paths`; returns that journal.
    pub async fn wait_delivered(&self, paths: &[String]) -> Result<HashMap<String, u64>, BoxError> {
        self.wait_drained().await?;
        self.wait_journal(paths).await
    }

    /// Polls both status endpoints until `to-inner` and `inbound` are empty.
    pub async fn wait_drained(&self) -> Result<(), BoxError> {
        let start = Instant::now();
        while self.dmz_depth().await? != 0 || self.inner_depth().await? != 0 {
            give_up_after(start, "queues to drain")?;
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Polls both queue depths until `sent_all` is cancelled and both queues are
    /// empty; returns the highest depths seen (DMZ `to-inner`, inner `inbound`).
    pub async fn peak_depths(&self, sent_all: &CancellationToken) -> Result<(u64, u64), BoxError> {
        let start = Instant::now();
        let mut peaks = (0, 0);
        loop {
            let finished = sent_all.is_cancelled();
            let depths = (self.dmz_depth().await?, self.inner_depth().await?);
            peaks = (peaks.0.max(depths.0), peaks.1.max(depths.1));
            if finished && depths == (0, 0) {
                return Ok(peaks);
            }
            give_up_after(start, "queues to drain")?;
            tokio::time::sleep(DEPTH_POLL).await;
        }
    }

    /// Reads the journal (a full scan: rarely) until it lists every one of `paths`.
    pub async fn wait_journal(&self, paths: &[String]) -> Result<HashMap<String, u64>, BoxError> {
        let start = Instant::now();
        loop {
            let journal = self.journal().await?;
            if paths.iter().all(|p| journal.contains_key(p)) {
                return Ok(journal);
            }
            give_up_after(start, "the journal to list every delivery")?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Depth of the DMZ's `to-inner` queue.
    pub async fn dmz_depth(&self) -> Result<u64, BoxError> {
        let status = self.get(self.dmz_admin, "/api/v1/status").await?;
        status["queues"]["to-inner"]["depth"].as_u64().ok_or_else(|| "DMZ status without a depth".into())
    }

    /// Depth of the inner's `inbound` queue.
    pub async fn inner_depth(&self) -> Result<u64, BoxError> {
        let status = self.get(self.inner_admin, "/api/v1/status").await?;
        status["queues"]["inbound"]["depth"].as_u64().ok_or_else(|| "inner status without a depth".into())
    }

    async fn wait_for_channel(&self) -> Result<(), BoxError> {
        let start = Instant::now();
        loop {
            let channels = self.get(self.dmz_admin, "/api/v1/channels").await?;
            let listed = channels.as_array().is_some_and(|cs| cs.iter().any(|c| c["name"] == "bench"));
            if listed {
                return Ok(());
            }
            give_up_after(start, "the DMZ to list the channel bench")?;
            tokio::time::sleep(POLL).await;
        }
    }

    async fn get(&self, addr: SocketAddr, path: &str) -> Result<Value, BoxError> {
        let response = self.http.get(format!("http://{addr}{path}")).send().await?.error_for_status()?;
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
}

/// Injects payloads into the channel `bench` through the DMZ's admin API.
#[derive(Clone)]
pub struct Injector {
    http: reqwest::Client,
    url: String,
}

impl Injector {
    /// Injects one payload; Ok once the DMZ answered 201 (durable). `path` goes
    /// into the query unescaped: keep it to `[A-Za-z0-9._/-]`.
    pub async fn inject(&self, path: &str, body: Vec<u8>) -> Result<(), BoxError> {
        let url = format!("{}?channel=bench&path={path}", self.url);
        let response = self.http.post(url).body(body).send().await?;
        match response.status().as_u16() {
            201 => Ok(()),
            status => Err(format!("injection of {path}: {status} {}", response.text().await?).into()),
        }
    }
}

/// The admin token both nodes of the bench cluster share.
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

fn give_up_after(start: Instant, what: &str) -> Result<(), BoxError> {
    if start.elapsed() > PATIENCE {
        return Err(format!("gave up waiting {}s for {what}", PATIENCE.as_secs()).into());
    }
    Ok(())
}

fn problems(problems: Vec<String>) -> BoxError {
    problems.join("; ").into()
}

fn dmz_toml(data_dir: &Path) -> String {
    format!(
        r#"role = "dmz"
node_id = "bench-dmz"
data_dir = {data_dir:?}

[message_service]
listen = "127.0.0.1:0"
mode = "pushback"
allow = ["127.0.0.0/8"]

[admin]
listen = "127.0.0.1:0"

# Payloads here stay below streaming_size, so nothing is fetched from it; port 0
# keeps the bench off the default 8022 (a running demo holds that one).
[internal_sftp]
listen = "127.0.0.1:0"
allow = ["127.0.0.0/8"]

[limits]
max_payload_bytes = 1048576
spool_quota_bytes = 10737418240
"#
    )
}

fn inner_toml(data_dir: &Path, dmz: SocketAddr) -> String {
    format!(
        r#"role = "inner"
node_id = "bench-inner"
data_dir = {data_dir:?}
streaming_size = 1048576

[dmz]
url = "http://{dmz}"
mode = "pushback"
reconnect_max_ms = 2000

[admin]
listen = "127.0.0.1:0"

[[channels]]
name = "bench"

[[channels.logins]]
user = "bench"
password_hash = "{PASSWORD_HASH}"

[[profiles]]
name = "inbox"
channel = "*"
path = "**"
"#
    )
}
