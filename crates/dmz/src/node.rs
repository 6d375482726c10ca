//! Starting a DMZ node: open the spool, restore the pushed config, open the pickup
//! area, bind the listeners, spawn the services (MessageService, internal SFTP,
//! partner listeners, outbound workers, admin); shutdown through one
//! `CancellationToken`.

use config::dmz::KeepConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use config::dmz::DmzSettings;
use envelope::NodeRole;
use message_service::{ByReference, Link, Node, References};
use meter::Meter;
use plumbing::{AdminToken, StartError, bind, client_config, local_addr, log_exit, server_config};
use spool::{SledSpool, Spool, SpoolOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::TO_INNER;
use crate::active::ActiveConfig;
use crate::admin::{self, AdminState};
use crate::intake::Intake;
use crate::receiver::DmzReceiver;
use crate::services;

/// A started DMZ node.
pub struct RunningDmz {
    /// Where the MessageService listens (port 8020 by default).
    pub message_service_addr: SocketAddr,
    /// Where the inner fetches payloads by reference (port 8022 by default).
    pub internal_sftp_addr: SocketAddr,
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
    let config = ActiveConfig::open(spool.as_ref(), settings.keep_config).await?;
    let link = Link::new();
    let node = Node { id: settings.node_id.clone(), role: NodeRole::Dmz };
    let receiver = Arc::new(DmzReceiver {
        spool: Arc::clone(&spool),
        config: config.clone(),
        outbound_dir: services::outbound_dir(&settings),
    });
    let ms = &settings.message_service;
    let ms_listener = bind(ms.listen, "message service").await?;
    let admin_token = AdminToken::load(settings.admin.token_file.as_deref(), &settings.data_dir)?;
    let admin_listener = bind(settings.admin.listen, "admin").await?;
    let tasks = TaskTracker::new();
    let references = References::new();
    let store = Arc::new(InternalStore { references: references.clone(), outbound: services::outbound_dir(&settings) });
    let host_key = services::host_key(&settings)?;
    let gate = crate::gate::restore(spool.as_ref())?;
    let intake = Intake::new(Arc::clone(&spool), config.clone()).watching(link.clone()).with_gate(gate);
    let peer_traffic = |channel| Meter::new([intake.stats().peer_traffic().row(channel)]);
    let internal_sftp_addr = services::start_internal_sftp(
        &settings,
        host_key.clone(),
        store,
        peer_traffic("internal_sftp"),
        &tasks,
        &shutdown,
    )
    .await?;
    tasks.spawn(plumbing::traffic::sample_every_second(intake.stats().traffic_tables(), shutdown.clone()));
    let pickup = services::open_pickup(&settings, &spool)?;
    services::start_partner_listeners(&settings, host_key, &intake, &config, &pickup, &tasks, &shutdown)?;
    services::start_outbound(&settings, &intake, &config, &pickup, &tasks, &shutdown)?;
    if settings.keep_config == KeepConfig::Memory {
        tasks.spawn(config.clone().forget_on_link_loss(link.clone(), shutdown.clone()));
    }
    let running = RunningDmz {
        message_service_addr: local_addr(&ms_listener)?,
        admin_addr: local_addr(&admin_listener)?,
        internal_sftp_addr,
        spool: Arc::clone(&spool),
        link: link.clone(),
        tasks,
    };
    let mut server = server_config(node.clone(), ms.mode, &ms.allow, &ms.deny, ms.long_poll);
    server.by_reference = Some(by_reference(&config, &references));
    server.traffic = peer_traffic("message_service");
    let (tasks, token) = (&running.tasks, shutdown.clone());
    let (s, r, l) = (Arc::clone(&spool), receiver.clone(), link.clone());
    tasks.spawn(async move {
        log_exit("message service", message_service::serve(ms_listener, server, s, TO_INNER, r, l, token).await)
    });
    if let Some(url) = &ms.inner_url {
        let mut client = client_config(node, ms.mode, url, ms.long_poll, ms.reconnect_max);
        client.by_reference = Some(by_reference(&config, &references));
        client.traffic = peer_traffic("message_service");
        tasks.spawn(message_service::run_client(
            client,
            Arc::clone(&spool),
            TO_INNER,
            receiver,
            link.clone(),
            shutdown.clone(),
        ));
    }
    let admin_state = AdminState { node_id: settings.node_id.clone(), intake, config, spool, link };
    let router = admin::router(admin_state, settings.limits.max_payload_bytes);
    tasks.spawn(async move { log_exit("admin", plumbing::serve(admin_listener, router, admin_token, shutdown).await) });
    tracing::info!(
        message = "DMZ node started",
        node = %settings.node_id,
        message_service = %running.message_service_addr,
        internal_sftp = %running.internal_sftp_addr,
        admin = %running.admin_addr,
    );
    Ok(running)
}

/// Payloads above the pushed `streaming_size` go by reference (none before the
/// first push: then everything stays inline).
fn by_reference(config: &ActiveConfig, references: &References) -> ByReference {
    let config = config.clone();
    ByReference::new(move || Some(config.get().streaming_size).filter(|&size| size > 0), references.clone())
}

/// What the internal SFTP server serves: payloads announced by reference, and
/// the write area for outbound files.
struct InternalStore {
    references: References,
    outbound: PathBuf,
}

impl sftp::internal::PayloadStore for InternalStore {
    fn payload(&self, name: &str) -> Option<PathBuf> {
        self.references.path(name)
    }

    fn outbound_dir(&self) -> PathBuf {
        self.outbound.clone()
    }
}

fn open_spool(settings: &DmzSettings) -> Result<Arc<dyn Spool>, StartError> {
    let mut options = SpoolOptions::new(settings.data_dir.join("spool"));
    options.quota_bytes = settings.limits.spool_quota_bytes;
    let spool: Arc<dyn Spool> = SledSpool::open(options)?;
    Ok(spool)
}
