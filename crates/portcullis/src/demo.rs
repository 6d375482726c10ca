//! `portcullis demo`: one DMZ and one inner node in pushback mode on 127.0.0.1,
//! configured from `etc/demo/` (built into the binary), data under `--data`.

use std::path::Path;
use std::process::ExitCode;

use inner::settings::CurrentSettings;
use tokio_util::sync::CancellationToken;

use crate::run::{drain, failed, init_tracing, runtime, wait_for_stop};
use crate::tools;

const DMZ_TOML: &str = include_str!("../../../etc/demo/dmz.toml");
const INNER_TOML: &str = include_str!("../../../etc/demo/inner.toml");

pub fn run(data: &Path) -> ExitCode {
    // The inner's config names the AS2 certificates: they must exist before it is read.
    if let Err(error) = crate::demo_certs::ensure(&data.join("inner/as2")) {
        return failed(&error);
    }
    let dmz_settings = with_data_dir(DMZ_TOML, &data.join("dmz")).and_then(|t| config::parse_dmz(&t));
    let inner_settings = with_data_dir(INNER_TOML, &data.join("inner")).and_then(|t| config::parse_inner(&t));
    let (mut dmz_settings, mut inner_settings) = match (dmz_settings, inner_settings) {
        (Ok(d), Ok(i)) => (d, i),
        (d, i) => return tools::report(&[d.err(), i.err()].into_iter().flatten().flatten().collect::<Vec<_>>()),
    };
    init_tracing(Some(data));
    // One admin token for both nodes, made on first start, so one file opens both.
    let token_file = data.join("admin.token");
    if let Err(error) = plumbing::AdminToken::load(None, data) {
        return failed(&error);
    }
    dmz_settings.admin.token_file = Some(token_file.clone());
    inner_settings.admin.token_file = Some(token_file);
    // The demo introduces its inner node to its DMZ: the inner's SFTP key (made on
    // first start) is what the DMZ's internal SFTP listener accepts.
    match sftp::keys::load_or_generate(&inner_settings.dmz.sftp_key) {
        Ok(key) => dmz_settings.internal_sftp.authorized_keys = vec![sftp::keys::public_line(key.public_key())],
        Err(error) => return failed(&error),
    }
    runtime().block_on(async {
        let shutdown = CancellationToken::new();
        let dmz = match dmz::start(dmz_settings, shutdown.clone()).await {
            Ok(node) => node,
            Err(error) => return failed(&error),
        };
        let inner = match inner::start(CurrentSettings::new(inner_settings, None), shutdown.clone()).await {
            Ok(node) => node,
            Err(error) => {
                shutdown.cancel();
                return failed(&error);
            }
        };
        print_banner(data, &dmz, &inner);
        wait_for_stop(|| async {}).await;
        shutdown.cancel();
        drain(async {
            dmz.wait().await;
            inner.wait().await;
        })
        .await
    })
}

/// The demo config with `data_dir` pointed at `dir`.
fn with_data_dir(text: &str, dir: &Path) -> Result<String, Vec<String>> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| vec![format!("built-in demo config: {e}")])?;
    table.insert("data_dir".into(), toml::Value::String(dir.to_string_lossy().into_owned()));
    toml::to_string(&table).map_err(|e| vec![format!("built-in demo config: {e}")])
}

fn print_banner(data: &Path, dmz: &dmz::RunningDmz, inner: &inner::RunningInner) {
    let inbox = data.join("inner/inbox/demo");
    println!(
        "\nportcullis demo: a DMZ node and an inner node in pushback mode\n\n  \
         MessageService (DMZ)   {ms}\n  \
         DMZ internal SFTP      {internal} (inner peer only)\n  \
         partner FTP / FTPS     127.0.0.1:2121 (explicit AUTH TLS; passive ports 30000-30099)\n  \
         partner SFTP           127.0.0.1:2222\n  \
         partner SMTP           127.0.0.1:2525 (STARTTLS; AUTH under TLS)\n  \
         partner AS2            http://127.0.0.1:4080/as2 (DEMO-PARTNER to PORTCULLIS; keys in {as2}/)\n  \
         DMZ admin / metrics    http://{dmz_admin}\n  \
         inner admin / metrics  http://{inner_admin}\n  \
         admin token            {token} (send it as a bearer token)\n\n  \
         channel `demo`: partner login demo / password demo, mail to demo@dmz.localhost\n  \
         deliver a file:  sftp -P 2222 demo@127.0.0.1   (then: put FILE)\n  \
         \x20                curl -T FILE ftp://demo:demo@127.0.0.1:2121/FILE\n  \
         \x20                swaks -s 127.0.0.1:2525 -t demo@dmz.localhost --attach @FILE\n  \
         \x20                curl -H \"Authorization: Bearer $(cat {token})\" \\\n  \
         \x20                  --data-binary @FILE 'http://{dmz_admin}/api/v1/deliveries?channel=demo&path=hello.txt'\n  \
         it lands in:     {inbox}/\n  \
         status:          curl -H \"Authorization: Bearer $(cat {token})\" http://{inner_admin}/api/v1/status\n  \
         status page:     http://{inner_admin}/status (sign in with the token in {token})\n  \
         audit log:       {audit}\n\n\
         Ctrl-C stops both nodes.\n",
        ms = dmz.message_service_addr,
        internal = dmz.internal_sftp_addr,
        dmz_admin = dmz.admin_addr,
        inner_admin = inner.admin_addr,
        inbox = inbox.display(),
        token = data.join("admin.token").display(),
        audit = data.join(crate::run::AUDIT_LOG).display(),
        as2 = data.join("inner/as2").display(),
    );
}
