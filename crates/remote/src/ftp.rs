//! FTP and explicit FTPS sessions (suppaftp over tokio, rustls).
//!
//! - Connect: TCP within the connect timeout, the `220` greeting, for FTPS
//!   `AUTH TLS` then `PBSZ 0` / `PROT P` (data connections are TLS too, resuming
//!   the control connection's session as servers like vsftpd require), login
//!   (the password never passes through suppaftp, see `password`), `TYPE I`.
//! - Data connections are passive: `EPSV` first; when a data command is refused
//!   as unknown (500/501/502) in that mode, `PASV` from then on, and the command is
//!   tried once more (nothing was transferred). The data address is always the
//!   control connection's peer, whatever `PASV` announces (NAT-broken servers,
//!   and no connecting to a third host on a server's say-so).
//! - Listings: `MLSD` when `FEAT` announces `MLST`, else `LIST` (Unix and DOS
//!   forms), else `NLST` with a `SIZE` per name.
//! - Every command and every transfer chunk runs under the I/O timeout.

mod listing;
mod password;
mod reply;
mod session;

use std::sync::Arc;
use std::time::Duration;

use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Mode, Utf8Encoding};

use crate::endpoint::{Endpoint, Protocol, Secret};
use crate::error::RemoteError;

/// A logged-in FTP or FTPS connection.
pub(crate) struct FtpSession {
    ftp: AsyncRustlsFtpStream,
    /// The I/O timeout.
    io: Duration,
    /// Whether `FEAT` announced `MLST` (and so `MLSD`).
    mlsd: bool,
    /// Whether data connections are still opened with `EPSV`.
    epsv: bool,
}

/// Connects, secures (FTPS), logs in and selects binary type, all within the
/// endpoint's connect timeout.
pub(crate) async fn connect(endpoint: &Endpoint) -> Result<FtpSession, RemoteError> {
    let Secret::Password(password) = &endpoint.secret else {
        return Err(RemoteError::Config("FTP and FTPS log in with a password, not a key".into()));
    };
    let address = endpoint.address();
    let limit = endpoint.timeouts.connect;
    let work = async {
        let mut ftp = open(endpoint).await?;
        ftp.set_passive_nat_workaround(true);
        ftp.set_mode(Mode::ExtendedPassive);
        login(&mut ftp, &endpoint.user, password).await?;
        ftp.transfer_type(FileType::Binary).await.map_err(|e| reply::classify("TYPE I", None, e))?;
        let mlsd = ftp.feat().await.map(|features| features.contains_key("MLST")).unwrap_or(false);
        Ok(FtpSession { ftp, io: endpoint.timeouts.io, mlsd, epsv: true })
    };
    let session = tokio::time::timeout(limit, work)
        .await
        .map_err(|_| RemoteError::Timeout { what: format!("FTP login at {address}"), after: limit })??;
    tracing::debug!(server = %address, user = %endpoint.user, tls = endpoint.protocol == Protocol::Ftps, "FTP session open");
    Ok(session)
}

/// TCP, greeting and, for FTPS, TLS on the control connection.
async fn open(endpoint: &Endpoint) -> Result<AsyncRustlsFtpStream, RemoteError> {
    let address = endpoint.address();
    let connect_error = |reason: String| RemoteError::Connect { address: address.clone(), reason };
    let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let ftp = AsyncRustlsFtpStream::connect_with_stream(tcp).await.map_err(|e| match e {
        FtpError::UnexpectedResponse(r) => reply::refused("greeting", None, reply::reply_text(&r)),
        other => connect_error(other.to_string()),
    })?;
    if endpoint.protocol != Protocol::Ftps {
        return Ok(ftp);
    }
    let config = crate::tls::client_config(&endpoint.tls, &[])?;
    let connector = AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(Arc::new(config)));
    ftp.into_secure(connector, &endpoint.host).await.map_err(|e| match e {
        FtpError::SecureError(reason) => RemoteError::Tls { peer: address.clone(), reason },
        other => reply::classify("AUTH TLS", None, other),
    })
}

/// USER/PASS with the password substituted on the wire only.
async fn login(ftp: &mut AsyncRustlsFtpStream, user: &str, password: &str) -> Result<(), RemoteError> {
    ftp.set_encoding(password::PasswordLine::new(password)).await;
    let result = ftp.login(user, password::PLACEHOLDER).await;
    ftp.set_encoding(Utf8Encoding).await;
    result.map_err(|e| match e {
        FtpError::UnexpectedResponse(r) => {
            let reply = reply::reply_text(&r);
            match reply::reply_code(&reply) {
                Some(400..=499) => reply::refused("login", None, reply),
                _ => RemoteError::Login { user: user.to_owned(), reply },
            }
        }
        other => reply::classify("login", None, other),
    })
}
