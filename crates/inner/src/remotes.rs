//! A configured remote as a request names it ([`envelope::RemoteTarget`]), with its
//! secret sealed for the trip through the DMZ, or opened for the inner's own use
//! (`via_dmz = false`).

use config::inner::{Channel, Remote};
use envelope::{As2Send, RemoteTarget, SealKey};
use transfer::Plain;
use transfer::seal::SealError;

/// The request's view of `remote` of `channel`, its secret sealed with `key`.
pub fn target(channel: &Channel, remote: &Remote, key: &SealKey) -> Result<RemoteTarget, SealError> {
    let secret = transfer::seal::seal(key, remote.secret.kind, &remote.secret.bytes)?;
    Ok(RemoteTarget {
        name: remote.name.clone(),
        protocol: remote.protocol,
        host: remote.host.clone(),
        port: remote.port,
        user: remote.user.clone(),
        secret_kind: remote.secret.kind,
        secret,
        tls_cert_pem: remote.tls_cert_pem.clone(),
        host_key: remote.host_key.clone(),
        accept_any_host_key: remote.accept_any_host_key,
        url_path: remote.url_path.clone(),
        http_put: remote.http_put,
        mail_from: remote.mail_from.clone(),
        mail_to: remote.mail_to.clone(),
        starttls: remote.starttls,
        as2: as2_send(channel, remote),
        connect_timeout_ms: remote.connect_timeout_ms,
        io_timeout_ms: remote.io_timeout_ms,
    })
}

/// AS2 remotes use the channel's partnership.
fn as2_send(channel: &Channel, remote: &Remote) -> Option<As2Send> {
    if remote.protocol != envelope::RemoteProtocol::As2 {
        return None;
    }
    channel.as2.as_ref().map(|a| As2Send {
        our_id: a.our_id.clone(),
        partner_id: a.partner_id.clone(),
        our_cert_pem: a.our_cert_pem.clone(),
        partner_cert_pem: a.partner_cert_pem.clone(),
        sign: remote.as2_sign,
        encrypt: remote.as2_encrypt,
        compress: remote.as2_compress,
        signed_mdn: remote.as2_signed_mdn,
    })
}

/// The secret in the clear, for transfers the inner runs itself.
pub fn plain(remote: &Remote) -> Plain {
    Plain { kind: remote.secret.kind, bytes: remote.secret.bytes.clone() }
}

/// The `host:port` entries the DMZ may dial for `channel`: its non-pickup remotes
/// used through the DMZ, by default or by a job.
pub fn dial(settings: &config::InnerSettings, channel: &Channel) -> Vec<String> {
    let by_job =
        |r: &Remote| settings.jobs.iter().any(|j| j.channel == channel.name && j.remote == r.name && j.via_dmz);
    let mut dial: Vec<String> = channel
        .remotes
        .iter()
        .filter(|r| r.protocol != envelope::RemoteProtocol::Pickup && (r.via_dmz || by_job(r)))
        .map(|r| envelope::dial_address(&r.host, r.port))
        .collect();
    dial.sort();
    dial.dedup();
    dial
}
