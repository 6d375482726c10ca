//! Send: push one file to a partner by FTP/FTPS/SFTP (temporary name, then rename),
//! HTTP(S) POST/PUT, SMTP or AS2 (verifying the MDN and its MIC). `Pickup` is not a
//! transfer (the DMZ places the file itself) and is refused here.
//!
//! Every protocol first checks that the payload has the request's `size`.

use std::path::Path;

use envelope::{RemoteProtocol, SendRequest};
use remote::{HttpAuth, HttpMethod, HttpSend};

use crate::target::{endpoint, local, password, payload_size, remote_error, timeouts, tls, url};
use crate::{Plain, TransferError};

/// Sends the file at `payload`; `as2_key_pem` is our private key for AS2 sends.
/// Returns the partner's reply in words.
pub async fn send(
    request: &SendRequest,
    secret: &Plain,
    as2_key_pem: Option<&str>,
    payload: &Path,
) -> Result<String, TransferError> {
    if request.remote.protocol == RemoteProtocol::Pickup {
        return Err(TransferError::permanent("pickup is placed by the DMZ, not sent"));
    }
    let size = payload_size(payload, request.size).await?;
    match request.remote.protocol {
        RemoteProtocol::Ftp | RemoteProtocol::Ftps | RemoteProtocol::Sftp => upload(request, secret, payload).await,
        RemoteProtocol::Http | RemoteProtocol::Https => http(request, secret, payload).await,
        RemoteProtocol::Smtp => crate::mail::send(request, secret, payload, size).await,
        RemoteProtocol::As2 => crate::as2_send::send(request, as2_key_pem, payload, size).await,
        RemoteProtocol::Pickup => Err(TransferError::permanent("pickup is placed by the DMZ, not sent")),
    }
}

/// FTP/FTPS/SFTP: streamed from the file to `directory/name` (by a temporary name).
async fn upload(request: &SendRequest, secret: &Plain, payload: &Path) -> Result<String, TransferError> {
    let endpoint = endpoint(&request.remote, secret)?;
    let mut file = tokio::fs::File::open(payload).await.map_err(|e| local(payload, &e))?;
    let mut session = remote::connect(&endpoint).await.map_err(|e| remote_error(&e))?;
    let sent = session.upload(&request.directory, &request.name, &mut file).await.map_err(|e| remote_error(&e))?;
    // The file is in place under its name: a failed logout changes nothing.
    let _ = session.close().await;
    let path = remote::join(&request.directory, &request.name);
    Ok(format!("stored {path} on {} ({sent} bytes)", request.remote.address()))
}

/// HTTP(S): one POST or PUT of the file; 2xx is success.
/// `attachment; filename="<name>"` (RFC 6266): how the partner learns the file's
/// name. A name beyond plain ASCII also goes as `filename*` (UTF-8, percent-encoded).
fn disposition(name: &str) -> String {
    let plain = |c: char| c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\';
    let fallback: String = name.chars().map(|c| if plain(c) { c } else { '_' }).collect();
    if name.chars().all(plain) {
        return format!("attachment; filename=\"{fallback}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

async fn http(request: &SendRequest, secret: &Plain, payload: &Path) -> Result<String, TransferError> {
    let target = &request.remote;
    let scheme = if target.protocol == RemoteProtocol::Https { "https" } else { "http" };
    let auth = if target.user.is_empty() {
        HttpAuth::None
    } else {
        HttpAuth::Basic { user: target.user.clone(), password: password(target, secret)? }
    };
    let send = HttpSend {
        method: if target.http_put { HttpMethod::Put } else { HttpMethod::Post },
        url: url(scheme, target),
        content_type: "application/octet-stream".into(),
        auth,
        headers: vec![("Content-Disposition".into(), disposition(&request.name))],
        tls: tls(target),
        timeouts: timeouts(target),
    };
    let reply = remote::http_send(&send, payload).await.map_err(|e| remote_error(&e))?;
    let excerpt = reply.excerpt.trim();
    Ok(crate::target::cut(if excerpt.is_empty() {
        format!("HTTP {}", reply.status)
    } else {
        format!("HTTP {} {excerpt}", reply.status)
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_name_travels_in_content_disposition() {
        assert_eq!(super::disposition("inv 1.xml"), "attachment; filename=\"inv 1.xml\"");
        assert_eq!(super::disposition("a\"b"), "attachment; filename=\"a_b\"; filename*=UTF-8''a%22b");
        assert_eq!(
            super::disposition("größe.txt"),
            "attachment; filename=\"gr__e.txt\"; filename*=UTF-8''gr%C3%B6%C3%9Fe.txt"
        );
    }
}
