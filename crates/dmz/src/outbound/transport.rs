//! [`Transport`]: the two transfers a worker runs, behind a trait so tests can put
//! a scripted partner in place of real servers. [`Remote`] is the real one: the
//! shared [`transfer`] crate.

use std::path::Path;

use async_trait::async_trait;
use envelope::{FetchRequest, SeenFile, SendRequest};
use transfer::{FetchSink, Plain, TransferError};

/// Runs fetches and sends against partners' servers.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// See [`transfer::fetch()`].
    async fn fetch(
        &self,
        request: &FetchRequest,
        secret: &Plain,
        sink: &dyn FetchSink,
    ) -> Result<Vec<SeenFile>, TransferError>;

    /// See [`transfer::send()`].
    async fn send(
        &self,
        request: &SendRequest,
        secret: &Plain,
        as2_key_pem: Option<&str>,
        payload: &Path,
    ) -> Result<String, TransferError>;
}

/// The real partners' servers, through [`transfer`].
pub struct Remote;

#[async_trait]
impl Transport for Remote {
    async fn fetch(
        &self,
        request: &FetchRequest,
        secret: &Plain,
        sink: &dyn FetchSink,
    ) -> Result<Vec<SeenFile>, TransferError> {
        transfer::fetch(request, secret, sink).await
    }

    async fn send(
        &self,
        request: &SendRequest,
        secret: &Plain,
        as2_key_pem: Option<&str>,
        payload: &Path,
    ) -> Result<String, TransferError> {
        transfer::send(request, secret, as2_key_pem, payload).await
    }
}
