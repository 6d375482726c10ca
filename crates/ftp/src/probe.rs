//! [`ControlProbe`]: a second handle on a session's control socket.
//!
//! libunftp owns the control connection once `service` has it, and runs data transfers in
//! tasks of its own. Two things still need the socket: an upload must not be committed when
//! the client already closed (or lost) its control connection — it will never see the 226 and
//! will treat the transfer as failed — and shutdown must be able to cut a session that does not
//! end by itself. A duplicated socket handle does both without reading a byte: `peek` sees
//! end-of-stream, `shutdown` ends the control loop.

use std::io;
use std::net::Shutdown;

use tokio::net::TcpStream;

/// A duplicate handle on one control connection.
#[derive(Debug)]
pub(crate) struct ControlProbe {
    socket: std::net::TcpStream,
}

impl ControlProbe {
    /// Duplicates `stream`'s socket; returns the stream (still registered with tokio) and the probe.
    pub fn attach(stream: TcpStream) -> io::Result<(TcpStream, ControlProbe)> {
        let std_stream = stream.into_std()?;
        let socket = std_stream.try_clone()?;
        Ok((TcpStream::from_std(std_stream)?, ControlProbe { socket }))
    }

    /// Whether the client has closed the control connection or it broke. Never blocks (the
    /// socket is non-blocking) and consumes nothing.
    pub fn client_gone(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.socket.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted,
        }
    }

    /// Ends the session: libunftp's control loop sees end-of-stream and exits.
    pub fn cut(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}
