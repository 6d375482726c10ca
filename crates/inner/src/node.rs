//! Starting an inner node: open the spool, start the MessageService (dialling the
//! DMZ; in direct mode also listening for it), the deliverer, the config pusher and
//! the admin API; shutdown through one `CancellationToken`. The SFTP fetcher for
//! payloads by reference is built here from `dmz.sftp*` (a restart applies changes
//! to those settings; a reload does not).

use std::net::SocketAddr;
use std::sync::Arc;

use envelope::NodeRole;
use message_service::{Link, Node};
use meter::Meter;
use plumbing::{AdminToken, StartError, bind, client_config, local_addr, log_exit, server_config};
use spool::{SledSpool, Spool, SpoolOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use sftp::fetch::{FetchConfig, Fetcher, HostKeyPolicy};

use crate::TO_DMZ;
use crate::admin::{self, AdminState};
use crate::deliver::Deliverer;
use crate::outbound::{Jobs, Sends};
use crate::push;
use crate::receiver::InnerReceiver;
use crate::settings::CurrentSettings;
use crate::stats::DeliveryStats;

/// A started inner node.
pub struct RunningInner {
    pub admin_addr: SocketAddr,
    /// Direct mode: where the inner listens for the DMZ.
    pub message_service_addr: Option<SocketAddr>,
    pub settings: CurrentSettings,
    pub spool: Arc<dyn Spool>,
    pub link: Link,
    tasks: TaskTracker,
}

impl RunningInner {
    /// Re-reads the config file and pushes the new partner-facing part.
    pub async fn reload(&self) -> Result<(), Vec<String>> {
        reload(&self.settings, self.spool.as_ref()).await
    }

    /// Waits until every service has stopped (after the shutdown token fired).
    pub async fn wait(self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Reloads the settings and queues a config push.
pub async fn reload(settings: &CurrentSettings, spool: &dyn Spool) -> Result<(), Vec<String>> {
    let (new, generation) = settings.reload().inspect_err(|problems| {
        tracing::error!(message = "reload refused; the old config stays in force", problems = %problems.join("; "));
    })?;
    tracing::info!(message = "config reloaded");
    push::enqueue_push(spool, &new, generation).await.map_err(|e| vec![format!("config push: {e}")])
}

/// Starts the inner's services; they run until `shutdown` is cancelled.
pub async fn start(settings: CurrentSettings, shutdown: CancellationToken) -> Result<RunningInner, StartError> {
    let initial = settings.get();
    let mut options = SpoolOptions::new(initial.data_dir.join("spool"));
    options.inline_limit = options.inline_limit.min(initial.streaming_size as usize);
    let spool: Arc<dyn Spool> = SledSpool::open(options)?;
    let link = Link::new();
    let node = Node { id: initial.node_id.clone(), role: NodeRole::Inner };
    let stats = Arc::new(DeliveryStats::default());
    let peer_traffic = |channel| Meter::new([stats.peer_traffic().row(channel)]);
    let mut fetch = fetch_config(&initial)?;
    fetch.traffic = peer_traffic("internal_sftp");
    let fetcher = Arc::new(Fetcher::new(fetch));
    let jobs = Jobs::new(Arc::clone(&spool), settings.clone());
    let sends = Sends::new(Arc::clone(&spool), settings.clone(), Arc::clone(&fetcher));
    let receiver = InnerReceiver::new(Arc::clone(&spool), Some(fetcher));
    let receiver = Arc::new(receiver.with_outbound(Arc::clone(&jobs), Arc::clone(&sends)));
    let admin_token = AdminToken::load(initial.admin.token_file.as_deref(), &initial.data_dir)?;
    let admin_listener = bind(initial.admin.listen, "admin").await?;
    let tasks = TaskTracker::new();
    let dmz = &initial.dmz;
    let mut message_service_addr = None;
    if let Some(listen) = dmz.listen {
        let listener = bind(listen, "message service").await?;
        message_service_addr = Some(local_addr(&listener)?);
        let mut server = server_config(node.clone(), dmz.mode, &dmz.allow, &dmz.deny, dmz.long_poll);
        server.traffic = peer_traffic("message_service");
        let (s, r, l, t) = (Arc::clone(&spool), receiver.clone(), link.clone(), shutdown.clone());
        tasks.spawn(async move {
            log_exit("message service", message_service::serve(listener, server, s, TO_DMZ, r, l, t).await)
        });
    }
    let mut client = client_config(node, dmz.mode, &dmz.url, dmz.long_poll, dmz.reconnect_max);
    client.traffic = peer_traffic("message_service");
    let sampled = vec![Arc::clone(stats.peer_traffic())];
    tasks.spawn(plumbing::traffic::sample_every_second(sampled, shutdown.clone()));
    tasks.spawn(message_service::run_client(
        client,
        Arc::clone(&spool),
        TO_DMZ,
        receiver,
        link.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(push::push_on_link_up(Arc::clone(&spool), settings.clone(), link.clone(), shutdown.clone()));
    let deliverer = Deliverer {
        spool: Arc::clone(&spool),
        settings: settings.clone(),
        responses: Some(Arc::clone(&sends)),
        stats: Arc::clone(&stats),
    };
    tasks.spawn(deliverer.run(shutdown.clone()));
    tasks.spawn(crate::housekeeping::run(Arc::clone(&spool), shutdown.clone()));
    tasks.spawn(Arc::clone(&jobs).schedule(shutdown.clone()));
    tasks.spawn(Arc::clone(&sends).run(shutdown.clone()));
    tasks.spawn(crate::outbound::outbox::watch(Arc::clone(&sends), settings.clone(), shutdown.clone()));
    let admin_addr = local_addr(&admin_listener)?;
    let router = admin::router(AdminState {
        settings: settings.clone(),
        spool: Arc::clone(&spool),
        link: link.clone(),
        jobs,
        sends,
        stats,
    });
    tasks.spawn(async move { log_exit("admin", plumbing::serve(admin_listener, router, admin_token, shutdown).await) });
    tracing::info!(message = "inner node started", node = %initial.node_id, admin = %admin_addr, dmz = %dmz.url, mode = ?dmz.mode);
    Ok(RunningInner { admin_addr, message_service_addr, settings, spool, link, tasks })
}

/// The fetcher's config: the inner's client key (made on first start), the DMZ's
/// host key pinned from the config or else trusted on first use.
fn fetch_config(settings: &config::InnerSettings) -> Result<FetchConfig, StartError> {
    let dmz = &settings.dmz;
    let key = sftp::keys::load_or_generate(&dmz.sftp_key).map_err(|e| StartError::Material(e.to_string()))?;
    let host_key = match &dmz.sftp_host_key {
        Some(line) => HostKeyPolicy::Pinned(
            sftp::keys::parse_public(line)
                .ok_or_else(|| StartError::Material("dmz.sftp_host_key: not an OpenSSH public key".into()))?,
        ),
        None => HostKeyPolicy::TrustOnFirstUse(settings.data_dir.join("dmz-sftp-host.pub")),
    };
    Ok(FetchConfig::new(dmz.sftp, dmz.sftp_user.clone(), key, host_key))
}
