//! The partner-facing listeners the inner asked for ([`envelope::DmzConfig::listeners`]):
//! started when a config comes into force, stopped when it no longer lists them.
//! A listener whose address cannot be bound is logged and tried again shortly; the
//! others run regardless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use envelope::{PartnerListener, Protocol};
use partner::{As2Gateway, Gateway, MailGateway};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::active::ActiveConfig;

/// How soon a listener that failed to bind is tried again.
const REBIND_AFTER: Duration = Duration::from_secs(10);

/// Everything the protocol servers need besides the gateway (DMZ-local settings).
#[derive(Clone)]
pub struct ProtocolSettings {
    pub sftp: sftp::partner_server::PartnerSftpConfig,
    pub ftp: ftp::FtpConfig,
    pub smtp: smtp::SmtpConfig,
    pub as2: as2::As2Config,
}

/// What the protocol sessions ask of the DMZ: file sessions (SFTP, FTP), mail, AS2.
#[derive(Clone)]
pub struct Gateways {
    pub files: Arc<dyn Gateway>,
    pub mail: Arc<dyn MailGateway>,
    pub as2: Arc<dyn As2Gateway>,
}

/// Keeps the running partner listeners equal to the config in force until
/// `shutdown`; each listener drains its sessions on the way out.
pub async fn run(
    config: ActiveConfig,
    gateways: Gateways,
    settings: ProtocolSettings,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut changes = config.subscribe();
    let mut running: HashMap<PartnerListener, CancellationToken> = HashMap::new();
    loop {
        let wanted = changes.borrow_and_update().listeners.clone();
        running.retain(|listener, token| {
            let keep = wanted.contains(listener);
            if !keep {
                tracing::info!(message = "partner listener stopped", protocol = %listener.protocol, bind = %listener.bind);
                token.cancel();
            }
            keep
        });
        let mut failed = false;
        let missing: Vec<PartnerListener> = wanted.iter().filter(|l| !running.contains_key(l)).cloned().collect();
        for listener in &missing {
            match start(listener, &gateways, &settings, &tasks, shutdown.child_token()).await {
                Some(token) => {
                    running.insert(listener.clone(), token);
                }
                None => failed = true,
            }
        }
        let retry = async {
            match failed {
                true => tokio::time::sleep(REBIND_AFTER).await,
                false => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
            () = retry => {}
        }
    }
}

/// Binds and spawns one listener; `None` if it could not be started now.
async fn start(
    listener: &PartnerListener,
    gateways: &Gateways,
    settings: &ProtocolSettings,
    tasks: &TaskTracker,
    token: CancellationToken,
) -> Option<CancellationToken> {
    let (protocol, bind) = (listener.protocol, listener.bind);
    if !matches!(protocol, Protocol::Sftp | Protocol::Ftp | Protocol::Smtp | Protocol::As2) {
        tracing::error!(message = "partner listener not supported by this DMZ", %protocol, %bind);
        return Some(token);
    }
    let socket = match tokio::net::TcpListener::bind(bind).await {
        Ok(socket) => socket,
        Err(error) => {
            tracing::error!(message = "cannot bind partner listener; retrying", %protocol, %bind, %error);
            return None;
        }
    };
    tracing::info!(message = "partner listener started", %protocol, %bind);
    let (gateway, stop) = (Arc::clone(&gateways.files), token.clone());
    match protocol {
        Protocol::Sftp => {
            let config = settings.sftp.clone();
            tasks.spawn(async move {
                log_end(protocol, sftp::partner_server::serve(socket, config, gateway, stop).await);
            });
        }
        Protocol::Smtp => {
            let (config, mail) = (settings.smtp.clone(), Arc::clone(&gateways.mail));
            tasks.spawn(async move { log_end(protocol, smtp::serve(socket, config, mail, stop).await) });
        }
        Protocol::As2 => {
            let (config, as2) = (settings.as2.clone(), Arc::clone(&gateways.as2));
            tasks.spawn(async move { log_end(protocol, as2::serve(socket, config, as2, stop).await) });
        }
        _ => {
            let config = settings.ftp.clone();
            tasks.spawn(async move { log_end(protocol, ftp::serve(socket, config, gateway, stop).await) });
        }
    }
    Some(token)
}

fn log_end(protocol: Protocol, result: std::io::Result<()>) {
    if let Err(error) = result {
        tracing::error!(message = "partner listener failed", %protocol, %error);
    }
}
