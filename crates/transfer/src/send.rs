//! Send: push one file to a partner by FTP/FTPS/SFTP (temporary name, then rename),
//! HTTP(S) POST/PUT, SMTP or AS2 (verifying the MDN and its MIC). `Pickup` is not a
//! transfer (the DMZ places the file itself) and is refused here.

use std::path::Path;

use envelope::SendRequest;

use crate::{Plain, TransferError};

/// Sends the file at `payload`; `as2_key_pem` is our private key for AS2 sends.
/// Returns the partner's reply in words.
pub async fn send(
    request: &SendRequest,
    secret: &Plain,
    as2_key_pem: Option<&str>,
    payload: &Path,
) -> Result<String, TransferError> {
    let _ = (request, secret, as2_key_pem, payload);
    Err(TransferError::permanent("send is not implemented yet"))
}
