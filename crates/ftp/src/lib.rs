//! FTP (placeholder while the crate is being built).
