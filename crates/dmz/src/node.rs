//! Starting a DMZ node: open the spool, restore the pushed config, bind the
//! listeners, spawn the services; shutdown through one `CancellationToken`.

use std::net::SocketAddr;
use std::sync::Arc;

use config::dmz::DmzSettings;
use envelope::NodeRole;
use message_service::{Link, Node};
use plumbing::{StartError, bind, client_config, local_addr, log_exit, server_config};
use spool::{SledSpool, Spool, SpoolOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::TO_INNER;
use crate::active::ActiveConfig;
use crate::admin::{self, AdminState};
use crate::intake::Intake;
use crate::receiver::DmzReceiver;

/// A started DMZ node.
pub struct RunningDmz {
    /// Where the MessageService listens (port 8020 by default).
    pub message_service_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub spool: Arc<dyn Spool>,
    pub link: Link,
    tasks: TaskTracker,
}

impl RunningDmz {
    /// Waits until every service has stopped (after the shutdown token fired).
    pub async fn wait(self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Starts the DMZ's services; they run until `shutdown` is cancelled.
pub async fn start(settings: DmzSettings, shutdown: CancellationToken) -> Result<RunningDmz, StartError> {
    let spool = open_spool(&settings)?;
    let config = ActiveConfig::restore(spool.as_ref())?;
    let link = Link::new();
    let node = Node { id: settings.node_id.clone(), role: NodeRole::Dmz };
    let receiver = Arc::new(DmzReceiver { spool: Arc::clone(&spool), config: config.clone() });
    let ms = &settings.message_service;
    let ms_listener = bind(ms.listen, "message service").await?;
    let admin_listener = bind(settings.admin.listen, "admin").await?;
    let running = RunningDmz {
        message_service_addr: local_addr(&ms_listener)?,
        admin_addr: local_addr(&admin_listener)?,
        spool: Arc::clone(&spool),
        link: link.clone(),
        tasks: TaskTracker::new(),
    };
    let server = server_config(node.clone(), ms.mode, &ms.allow, &ms.deny, ms.long_poll);
    let (tasks, token) = (&running.tasks, shutdown.clone());
    let (s, r, l) = (Arc::clone(&spool), receiver.clone(), link.clone());
    tasks.spawn(async move {
        log_exit("message service", message_service::serve(ms_listener, server, s, TO_INNER, r, l, token).await)
    });
    if let Some(url) = &ms.inner_url {
        let client = client_config(node, ms.mode, url, ms.long_poll, ms.reconnect_max);
        tasks.spawn(message_service::run_client(
            client,
            Arc::clone(&spool),
            TO_INNER,
            receiver,
            link.clone(),
            shutdown.clone(),
        ));
    }
    let admin_state = AdminState {
        node_id: settings.node_id.clone(),
        intake: Intake::new(Arc::clone(&spool), config.clone()),
        config,
        spool,
        link,
    };
    let router = admin::router(admin_state, settings.limits.max_payload_bytes);
    tasks.spawn(async move { log_exit("admin", plumbing::serve(admin_listener, router, shutdown).await) });
    tracing::info!(
        message = "DMZ node started",
        node = %settings.node_id,
        message_service = %running.message_service_addr,
        admin = %running.admin_addr,
    );
    Ok(running)
}

fn open_spool(settings: &DmzSettings) -> Result<Arc<dyn Spool>, StartError> {
    let mut options = SpoolOptions::new(settings.data_dir.join("spool"));
    options.quota_bytes = settings.limits.spool_quota_bytes;
    let spool: Arc<dyn Spool> = SledSpool::open(options)?;
    Ok(spool)
}
