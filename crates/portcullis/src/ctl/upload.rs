//! The upload half of `portcullis ctl send`: the file streamed as the request body
//! in chunks (never whole in memory) while a meter shows its progress on standard
//! error.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::fs::File;
use tokio_util::io::{InspectReader, ReaderStream};

use super::client::{Admin, Answer};
use super::progress::{self, Display};

/// The size of the chunks read from the file.
const CHUNK: usize = 256 * 1024;

/// How often the meter looks at the bytes sent.
const TICK: Duration = Duration::from_millis(200);

/// An open file to send, and its size when it has one (a pipe has none).
pub struct Source {
    file: File,
    total: Option<u64>,
}

/// Opens `path` for reading: `cannot open FILE: …` when it cannot be.
pub async fn open(path: &Path) -> Result<Source, String> {
    let cannot = |why: String| format!("cannot open {}: {why}", path.display());
    let file = File::open(path).await.map_err(|e| cannot(e.to_string()))?;
    let metadata = file.metadata().await.map_err(|e| cannot(e.to_string()))?;
    if metadata.is_dir() {
        return Err(cannot("it is a directory".into()));
    }
    Ok(Source { file, total: metadata.is_file().then_some(metadata.len()) })
}

/// POSTs `source` to `path` as `name`, showing the meter until the answer comes.
pub async fn upload(admin: &Admin, path: &str, source: Source, name: &str, terminal: bool) -> Result<Answer, String> {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let counted = InspectReader::new(source.file, move |chunk: &[u8]| {
        counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    });
    let body = reqwest::Body::wrap_stream(ReaderStream::with_capacity(counted, CHUNK));
    let mut meter = Meter::new(name, source.total, terminal);
    let request = admin.upload(path, body);
    tokio::pin!(request);
    let mut ticks = tokio::time::interval(TICK);
    let answer = loop {
        tokio::select! {
            answer = &mut request => break answer,
            _ = ticks.tick() => meter.show(sent.load(Ordering::Relaxed)),
        }
    };
    match &answer {
        Ok(answer) if answer.status.is_success() => meter.finish(sent.load(Ordering::Relaxed)),
        _ => meter.abandon(),
    }
    answer
}

/// The upload's line on standard error.
struct Meter {
    name: String,
    total: Option<u64>,
    started: Instant,
    rate: meter::RateWindow,
    display: Display,
}

impl Meter {
    fn new(name: &str, total: Option<u64>, terminal: bool) -> Self {
        let (started, rate, display) = (Instant::now(), progress::rate_window(), Display::new(terminal));
        Self { name: name.to_owned(), total, started, rate, display }
    }

    fn show(&mut self, sent: u64) {
        let at = self.started.elapsed();
        self.rate.record(Instant::now(), sent);
        let line = progress::sending(&self.name, sent, self.total, self.rate.per_second());
        if let Some(text) = self.display.progress(at, &line) {
            to_stderr(&text);
        }
    }

    fn finish(&mut self, sent: u64) {
        let line = progress::uploaded(&self.name, sent, self.started.elapsed());
        to_stderr(&self.display.finish(&line));
    }

    /// No success line: the error line follows on a line of its own.
    fn abandon(&mut self) {
        to_stderr(&self.display.end());
    }
}

/// Writes to standard error; a closed one is not worth a failure.
pub fn to_stderr(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}
