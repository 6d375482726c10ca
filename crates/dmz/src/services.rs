//! Starting the DMZ's partner side: the partner listeners the inner asked for
//! (through [`crate::listeners`]), the internal SFTP listener for the inner peer,
//! the pickup area and the outbound workers ([`crate::outbound`]).
//!
//! Under the data directory: `outbound/` (the internal SFTP write area),
//! `outbound-scratch/` (inline send payloads while they are sent), `pickup/`
//! (pickup files).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use config::dmz::DmzSettings;
use plumbing::{StartError, bind, local_addr, log_exit};
use spool::Spool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::active::ActiveConfig;
use crate::gateway::DmzGateway;
use crate::home::Homes;
use crate::intake::Intake;
use crate::listeners::{self, ProtocolSettings};
use crate::outbound::{Outbound, OutboundSettings, Remote};
use crate::pickup::Pickup;

/// The SSH host key both SFTP listeners present (made on first start).
pub(crate) fn host_key(settings: &DmzSettings) -> Result<sftp::keys::PrivateKey, StartError> {
    sftp::keys::load_or_generate(&settings.sftp.host_key).map_err(material)
}

/// Spawns the partner listener manager.
pub(crate) fn start_partner_listeners(
    settings: &DmzSettings,
    host_key: sftp::keys::PrivateKey,
    intake: &Intake,
    config: &ActiveConfig,
    pickup: &Pickup,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), StartError> {
    let dmz_gateway = Arc::new(DmzGateway {
        intake: intake.clone(),
        config: config.clone(),
        homes: Homes::new(Arc::clone(intake.spool()), pickup.clone()),
    });
    let gateways = listeners::Gateways { files: dmz_gateway.clone(), mail: dmz_gateway.clone(), as2: dmz_gateway };
    let ftp = &settings.ftp;
    let names = vec!["localhost".to_owned(), settings.node_id.clone()];
    partner::tls::load_or_generate_self_signed(&ftp.tls_cert, &ftp.tls_key, &names).map_err(material)?;
    let protocols = ProtocolSettings {
        sftp: sftp::partner_server::PartnerSftpConfig::new(host_key),
        ftp: ftp::FtpConfig {
            passive_ports: ftp.passive_ports.clone(),
            passive_address: ftp.passive_address,
            tls: Some(ftp::TlsFiles { cert: ftp.tls_cert.clone(), key: ftp.tls_key.clone() }),
            ..ftp::FtpConfig::default()
        },
        smtp: smtp_config(settings)?,
        as2: as2_config(settings)?,
    };
    tasks.spawn(listeners::run(config.clone(), gateways, protocols, tasks.clone(), shutdown.clone()));
    Ok(())
}

/// The SMTP server's settings, with its STARTTLS certificate (made on first start).
fn smtp_config(settings: &DmzSettings) -> Result<smtp::SmtpConfig, StartError> {
    let local = &settings.smtp;
    let names = vec![local.hostname.clone(), "localhost".to_owned()];
    partner::tls::load_or_generate_self_signed(&local.tls_cert, &local.tls_key, &names).map_err(material)?;
    let files = partner::tls::TlsFiles { cert: local.tls_cert.clone(), key: local.tls_key.clone() };
    Ok(smtp::SmtpConfig {
        hostname: local.hostname.clone(),
        tls: Some(partner::tls::server_config(&files).map_err(material)?),
        max_message_bytes: local.max_message_bytes,
        max_recipients: local.max_recipients,
        idle_timeout: local.idle_timeout,
        session_timeout: local.session_timeout,
        max_sessions: local.max_sessions,
        auth_without_tls: local.auth_without_tls,
        ..smtp::SmtpConfig::default()
    })
}

/// Binds and spawns the internal SFTP listener; returns its address.
pub(crate) async fn start_internal_sftp(
    settings: &DmzSettings,
    host_key: sftp::keys::PrivateKey,
    store: Arc<dyn sftp::internal::PayloadStore>,
    traffic: meter::Meter,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<SocketAddr, StartError> {
    let internal = &settings.internal_sftp;
    let authorized_keys = internal
        .authorized_keys
        .iter()
        .map(|k| {
            sftp::keys::parse_public(k)
                .ok_or_else(|| material(format!("internal_sftp.authorized_keys: cannot read {k:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outbound = outbound_dir(settings);
    std::fs::create_dir_all(&outbound).map_err(|e| material(format!("{}: {e}", outbound.display())))?;
    let rules = envelope::AddressRules { allow: internal.allow.clone(), deny: internal.deny.clone() };
    let admit = Arc::new(move |ip| rules.permits(ip));
    let config = sftp::internal::InternalSftpConfig { host_key, authorized_keys, admit, traffic };
    let listener = bind(internal.listen, "internal SFTP").await?;
    let addr = local_addr(&listener)?;
    let token = shutdown.clone();
    tasks.spawn(async move {
        log_exit("internal SFTP", sftp::internal::serve(listener, config, store, token).await);
    });
    Ok(addr)
}

/// The AS2 server's settings; its scratch directory (for messages being taken
/// apart; the files in it are unnamed) is made on start.
fn as2_config(settings: &DmzSettings) -> Result<as2::As2Config, StartError> {
    let scratch_dir = settings.data_dir.join("as2-scratch");
    std::fs::create_dir_all(&scratch_dir).map_err(|e| material(format!("{}: {e}", scratch_dir.display())))?;
    Ok(as2::As2Config { max_message_bytes: settings.as2.max_message_bytes, scratch_dir, ..as2::As2Config::default() })
}

/// The pickup area (files waiting for partners to download them), cleaned of
/// files no entry names.
pub(crate) fn open_pickup(settings: &DmzSettings, spool: &Arc<dyn Spool>) -> Result<Pickup, StartError> {
    let dir = settings.data_dir.join("pickup");
    Pickup::open(Arc::clone(spool), dir.clone()).map_err(|e| material(format!("{}: {e}", dir.display())))
}

/// Spawns the workers that run the inner's fetch and send requests.
pub(crate) fn start_outbound(
    settings: &DmzSettings,
    intake: &Intake,
    config: &ActiveConfig,
    pickup: &Pickup,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<(), StartError> {
    let scratch_dir = settings.data_dir.join("outbound-scratch");
    let outbound = Arc::new(Outbound {
        spool: Arc::clone(intake.spool()),
        config: config.clone(),
        intake: intake.clone(),
        pickup: pickup.clone(),
        transport: Arc::new(Remote),
        settings: OutboundSettings { workers: settings.outbound.workers, scratch_dir: scratch_dir.clone() },
    });
    outbound.spawn(tasks, shutdown).map_err(|e| material(format!("{}: {e}", scratch_dir.display())))
}

/// Where the inner leaves outbound files on the DMZ.
pub(crate) fn outbound_dir(settings: &DmzSettings) -> PathBuf {
    settings.data_dir.join("outbound")
}

fn material(error: impl std::fmt::Display) -> StartError {
    StartError::Material(error.to_string())
}
