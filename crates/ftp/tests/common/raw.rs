//! A raw FTP control connection: for garbage, hostile paths and half-finished transfers.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// Reply code and full text; code 0 when the server closed the connection.
pub type Reply = (u16, String);

impl Raw {
    pub async fn connect(addr: SocketAddr) -> (Raw, Reply) {
        let (read, writer) = TcpStream::connect(addr).await.expect("connect").into_split();
        let mut raw = Raw { reader: BufReader::new(read), writer };
        let greeting = raw.reply().await;
        (raw, greeting)
    }

    pub async fn login(addr: SocketAddr, user: &str, pass: &str) -> Raw {
        let (mut raw, greeting) = Raw::connect(addr).await;
        assert_eq!(greeting.0, 220, "{greeting:?}");
        assert_eq!(raw.cmd(&format!("USER {user}")).await.0, 331);
        let reply = raw.cmd(&format!("PASS {pass}")).await;
        assert_eq!(reply.0, 230, "{reply:?}");
        raw
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    pub async fn cmd(&mut self, line: &str) -> Reply {
        if self.send(format!("{line}\r\n").as_bytes()).await.is_err() {
            return (0, String::new());
        }
        self.reply().await
    }

    /// Reads one (possibly multi-line) reply; (0, "") on end of stream or after 20 s.
    pub async fn reply(&mut self) -> Reply {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(20), self.reader.read_line(&mut line)).await;
            match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => return (0, all),
            }
            all.push_str(&line);
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            if let (Some(code), Some(b' ')) = (code, line.as_bytes().get(3)) {
                return (code, all);
            }
        }
    }

    /// `EPSV` and the data address it names.
    pub async fn passive(&mut self, server: SocketAddr) -> SocketAddr {
        let (code, text) = self.cmd("EPSV").await;
        assert_eq!(code, 229, "{text}");
        let port = text.split("|||").nth(1).and_then(|s| s.split('|').next()).and_then(|p| p.parse().ok());
        SocketAddr::new(server.ip(), port.expect("EPSV port"))
    }
}
