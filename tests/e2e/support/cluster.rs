//! A DMZ node and an inner node as real child processes, with generated configs
//! on free loopback ports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::http::{ADMIN_TOKEN, admin_client, get_json};
use super::{free_port, wait_for};

/// The argon2id hash of "demo".
pub const DEMO_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$pRE6wIFzX7rdLnyvfJumPA$QQdrirshtnvFj2PPWTT2MXQk0DC7hDdzKZKSdFutmtI";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Direct,
    Pushback,
}

/// Knobs for a test cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub mode: Mode,
    /// Visible channels (each with login `<name>-user`).
    pub channels: Vec<String>,
    /// Channels marked `invisible_to_dmz`.
    pub invisible: Vec<String>,
    pub streaming_size: u64,
    pub spool_quota_bytes: u64,
    /// Top-level keys of dmz.toml (e.g. `keep_config = "memory"`).
    pub dmz_extra: String,
    /// Extra lines for the DMZ's `[message_service]` table.
    pub dmz_ms_extra: String,
    /// `[[profiles]]` tables placed before the catch-all profile.
    pub profiles: String,
    /// OpenSSH public key lines every channel's login also accepts.
    pub partner_keys: Vec<String>,
    /// Channels whose FTP partners must use `AUTH TLS`.
    pub ftp_tls_required: Vec<String>,
    /// Channels whose mail is taken only after SMTP AUTH.
    pub smtp_auth_required: Vec<String>,
    /// Extra lines for the DMZ's `[smtp]` table.
    pub dmz_smtp_extra: String,
    /// A `[channels.as2]` table for the first channel.
    pub as2: Option<String>,
    /// Keys for the first channel's table (e.g. `outbox_remote = "…"`).
    pub channel_keys: String,
    /// Sub-tables of the first channel (e.g. `[[channels.remotes]]`).
    pub channel_tables: String,
    /// Top-level tables of inner.toml (e.g. `[[jobs]]`).
    pub inner_extra: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            mode: Mode::Pushback,
            channels: vec!["demo".into()],
            invisible: Vec::new(),
            streaming_size: 65_536,
            spool_quota_bytes: 1 << 30,
            dmz_extra: String::new(),
            dmz_ms_extra: String::new(),
            profiles: String::new(),
            partner_keys: Vec::new(),
            ftp_tls_required: Vec::new(),
            smtp_auth_required: Vec::new(),
            dmz_smtp_extra: String::new(),
            as2: None,
            channel_keys: String::new(),
            channel_tables: String::new(),
            inner_extra: String::new(),
        }
    }
}

/// One node process.
pub struct NodeProcess {
    role: &'static str,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl NodeProcess {
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.role);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args([self.role, "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start portcullis");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.signal("TERM");
        self.child.take()?.wait().ok()
    }

    /// Sends a signal by name (`HUP`, `TERM`, ...) to the running process.
    pub fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("process running");
        let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes wired together; dropped → both killed, data removed.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub dmz: NodeProcess,
    pub inner: NodeProcess,
    pub dmz_admin: String,
    pub inner_admin: String,
    pub dmz_ms_port: u16,
    pub ports: PartnerPorts,
    pub client: reqwest::Client,
    pub options: ClusterOptions,
}

/// The DMZ's partner-facing and internal SFTP ports of a cluster.
#[derive(Debug, Clone, Copy)]
pub struct PartnerPorts {
    pub sftp: u16,
    pub ftp: u16,
    pub smtp: u16,
    pub as2: u16,
    pub internal_sftp: u16,
    /// First and last passive FTP data port.
    pub passive: (u16, u16),
}

impl PartnerPorts {
    fn pick() -> PartnerPorts {
        static NEXT_RANGE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        // Passive ranges of 20 ports below the ephemeral range, distinct per cluster.
        let n = NEXT_RANGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 400;
        let low = 20_000 + n * 20;
        PartnerPorts {
            sftp: free_port(),
            ftp: free_port(),
            smtp: free_port(),
            as2: free_port(),
            internal_sftp: free_port(),
            passive: (low, low + 19),
        }
    }
}

impl Cluster {
    /// Writes the configs; starts nothing.
    pub fn new(options: ClusterOptions) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let (dmz_ms, dmz_admin, inner_admin, inner_ms) = (free_port(), free_port(), free_port(), free_port());
        let ports = PartnerPorts::pick();
        let dmz_config = dir.path().join("dmz.toml");
        let inner_config = dir.path().join("inner.toml");
        let inner_key = keygen(&dir.path().join("inner/dmz-sftp.key"));
        std::fs::write(dir.path().join("admin.token"), format!("{ADMIN_TOKEN}\n")).expect("write admin.token");
        let ms = (dmz_ms, inner_ms);
        std::fs::write(&dmz_config, dmz_toml(dir.path(), &options, ms, dmz_admin, &ports, &inner_key))
            .expect("write dmz.toml");
        std::fs::write(&inner_config, inner_toml(dir.path(), &options, ms, inner_admin, &ports))
            .expect("write inner.toml");
        let node =
            |role, config| NodeProcess { role, config, log: dir.path().join(format!("{role}.log")), child: None };
        Cluster {
            dmz: node("dmz", dmz_config),
            inner: node("inner", inner_config),
            dmz_admin: format!("http://127.0.0.1:{dmz_admin}"),
            inner_admin: format!("http://127.0.0.1:{inner_admin}"),
            dmz_ms_port: dmz_ms,
            ports,
            client: admin_client(),
            options,
            dir,
        }
    }

    /// Starts both nodes and waits until the DMZ serves every visible channel.
    pub async fn start(options: ClusterOptions) -> Cluster {
        let mut cluster = Cluster::new(options);
        cluster.dmz.start();
        cluster.inner.start();
        cluster.wait_for_channels().await;
        cluster
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("inner/inbox")
    }

    pub fn dmz_data(&self) -> PathBuf {
        self.dir.path().join("dmz")
    }

    /// Waits until the DMZ has the pushed config with every visible channel.
    pub async fn wait_for_channels(&self) {
        let wanted = self.options.channels.clone();
        wait_for("the DMZ to serve the pushed channels", Duration::from_secs(30), || async {
            let channels = get_json(&self.client, &format!("{}/api/v1/channels", self.dmz_admin)).await?;
            let names: Vec<&str> = channels.as_array()?.iter().filter_map(|c| c["name"].as_str()).collect();
            wanted.iter().all(|w| names.contains(&w.as_str())).then_some(())
        })
        .await;
    }

    pub async fn dmz_status(&self) -> Option<Value> {
        get_json(&self.client, &format!("{}/api/v1/status", self.dmz_admin)).await
    }

    /// Waits until the DMZ's outbound queue is empty (everything acked by the inner).
    pub async fn wait_for_dmz_drained(&self) {
        wait_for("the DMZ queue to drain", Duration::from_secs(60), || async {
            let status = self.dmz_status().await?;
            (status["queues"]["to-inner"]["depth"].as_u64()? == 0).then_some(())
        })
        .await;
    }

    /// Both nodes' last log lines, for failure messages.
    pub fn logs(&self) -> String {
        format!("--- dmz log ---\n{}\n--- inner log ---\n{}", self.dmz.log_tail(), self.inner.log_tail())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// Makes an SSH key with `portcullis keygen`; returns its public line.
fn keygen(path: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis")).arg("keygen").arg(path).output().expect("keygen");
    assert!(output.status.success(), "keygen failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 key").trim().to_owned()
}

fn dmz_toml(
    dir: &Path,
    o: &ClusterOptions,
    (ms, inner_ms): (u16, u16),
    admin: u16,
    p: &PartnerPorts,
    key: &str,
) -> String {
    let mode = match o.mode {
        Mode::Direct => format!("mode = \"direct\"\ninner_url = \"http://127.0.0.1:{inner_ms}\""),
        Mode::Pushback => "mode = \"pushback\"".to_string(),
    };
    format!(
        "role = \"dmz\"\nnode_id = \"test-dmz\"\ndata_dir = \"{data}\"\n{top}\n\
         [message_service]\nlisten = \"127.0.0.1:{ms}\"\n{mode}\nreconnect_max_ms = 300\n{extra}\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\ntoken_file = \"{token}\"\n\n\
         [limits]\nmax_payload_bytes = {max}\nspool_quota_bytes = {quota}\n\n\
         [internal_sftp]\nlisten = \"127.0.0.1:{internal}\"\nallow = [\"127.0.0.0/8\"]\nauthorized_keys = [\"{key}\"]\n\n\
         [ftp]\npassive_ports = \"{low}-{high}\"\npassive_address = \"127.0.0.1\"\n\n\
         [smtp]\nhostname = \"dmz.test\"\n{smtp_extra}\n",
        data = dir.join("dmz").display(),
        top = o.dmz_extra,
        token = dir.join("admin.token").display(),
        internal = p.internal_sftp,
        low = p.passive.0,
        high = p.passive.1,
        extra = o.dmz_ms_extra,
        smtp_extra = o.dmz_smtp_extra,
        max = o.streaming_size,
        quota = o.spool_quota_bytes,
    )
}

fn inner_toml(dir: &Path, o: &ClusterOptions, (dmz_ms, inner_ms): (u16, u16), admin: u16, p: &PartnerPorts) -> String {
    let mode = match o.mode {
        Mode::Direct => format!("mode = \"direct\"\nlisten = \"127.0.0.1:{inner_ms}\""),
        Mode::Pushback => "mode = \"pushback\"".to_string(),
    };
    let mut text = format!(
        "role = \"inner\"\nnode_id = \"test-inner\"\ndata_dir = \"{data}\"\nstreaming_size = {streaming}\n\n\
         [dmz]\nurl = \"http://127.0.0.1:{dmz_ms}\"\n{mode}\nreconnect_max_ms = 300\n\
         sftp = \"127.0.0.1:{internal}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\ntoken_file = \"{token}\"\n\n\
         [[dmz_listeners]]\nprotocol = \"sftp\"\nbind = \"127.0.0.1:{sftp}\"\n\n\
         [[dmz_listeners]]\nprotocol = \"ftp\"\nbind = \"127.0.0.1:{ftp}\"\n\n\
         [[dmz_listeners]]\nprotocol = \"smtp\"\nbind = \"127.0.0.1:{smtp}\"\n\n\
         [[dmz_listeners]]\nprotocol = \"as2\"\nbind = \"127.0.0.1:{as2}\"\n",
        data = dir.join("inner").display(),
        token = dir.join("admin.token").display(),
        streaming = o.streaming_size,
        internal = p.internal_sftp,
        sftp = p.sftp,
        ftp = p.ftp,
        smtp = p.smtp,
        as2 = p.as2,
    );
    let keys = o.partner_keys.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
    let channels = o.channels.iter().map(|c| (c, false)).chain(o.invisible.iter().map(|c| (c, true)));
    for (name, invisible) in channels {
        let first = Some(name) == o.channels.first();
        text += &format!(
            "\n[[channels]]\nname = \"{name}\"\n{keys_here}invisible_to_dmz = {invisible}\nftp_tls_required = {tls}\n\
             smtp_addresses = [\"{name}@dmz.test\", \"{name}-2@dmz.test\"]\nsmtp_auth_required = {auth}\n\n\
             [[channels.logins]]\nuser = \"{name}-user\"\npassword_hash = \"{DEMO_HASH}\"\npublic_keys = [{keys}]\n",
            tls = o.ftp_tls_required.contains(name),
            auth = o.smtp_auth_required.contains(name),
            keys_here = if first { o.channel_keys.as_str() } else { "" },
        );
        if first {
            text += o.as2.as_deref().unwrap_or_default();
            text += &o.channel_tables;
        }
    }
    text + &o.profiles + "\n[[profiles]]\nname = \"all\"\nchannel = \"*\"\npath = \"**\"\n" + &o.inner_extra
}
