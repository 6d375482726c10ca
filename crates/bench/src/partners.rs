//! The DMZ's partner servers against the reference servers partners know: OpenSSH
//! `sshd` (SFTP) and `vsftpd` (FTP), driven by the same real clients (`sftp`,
//! `lftp`) in the same run, so the ratio holds however noisy the machine is.
//!
//! Cases: one big file (1 GiB) and many small files (1,000 × 4 KiB) in one
//! session, over each protocol. The portcullis side is a real DMZ + inner pair
//! started from the `portcullis` binary; a case it cannot serve yet (binary not
//! built, listener not running) reads "n/a (reason)" while the reference still
//! runs. Every upload is checked: at the reference, the files in its upload
//! directory; at portcullis, the files delivered to the inner's inbox (awaited
//! before the next case so that forwarding does not disturb it). Also the DMZ's
//! memory: its VmRSS peak while a big file is uploaded over SFTP, and with 1,000
//! idle authenticated SFTP sessions open.
//!
//! Note what is compared: portcullis fsyncs every upload into its spool before
//! it answers the client; sshd and vsftpd write into the page cache only.
//!
//! Sizes can be lowered for a quick look: `PORTCULLIS_BENCH_BIG_MIB` (1024),
//! `PORTCULLIS_BENCH_SMALL_FILES` (1000), `PORTCULLIS_BENCH_IDLE_SESSIONS` (1000).

pub(crate) mod configs;
pub(crate) mod pair;
mod report;
pub(crate) mod rss;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::peers::BoxError;
use crate::peers::clients::{FtpTarget, SftpTarget, lftp_mput, lftp_put, sftp_put, sftp_put_all};
use crate::peers::files::{big_file, count_files, empty_dir, small_files};
use crate::peers::idle_sftp::IdleSessions;
use crate::peers::sshd::Sshd;
use crate::peers::vsftpd::Vsftpd;
pub use report::{MemoryRow, Row};

const SMALL_SIZE: usize = 4096;
const BIG_NAME: &str = "big.bin";

/// The files uploaded, generated in a scratch directory.
pub struct Workload {
    pub big: PathBuf,
    pub big_bytes: u64,
    pub small: PathBuf,
    pub small_count: usize,
    pub idle_sessions: usize,
    _dir: tempfile::TempDir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Big,
    Small,
}

/// Runs every case; returns the markdown tables.
pub fn run() -> Result<String, BoxError> {
    let workload = Workload::create()?;
    let sshd = Sshd::start()?;
    let vsftpd = Vsftpd::start()?;
    let mut pair = pair::Pair::start().map_err(|e| e.to_string());
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    for load in [Load::Big, Load::Small] {
        let reference = reference(&workload, load, &sshd.upload_dir(), |w| sftp_upload(&sshd.target(), w, load));
        let (portcullis, rss) = portcullis_sftp(&mut pair, &workload, load);
        rows.push(Row::new(work("SFTP", &workload, load, "sftp; OpenSSH sshd"), load, reference, portcullis, 1.0));
        memory.extend(rss);
    }
    for load in [Load::Big, Load::Small] {
        let reference = reference(&workload, load, &vsftpd.upload_dir(), |w| ftp_upload(&vsftpd.target(), w, load));
        let portcullis = portcullis_ftp(&mut pair, &workload, load);
        let target = if load == Load::Big { 0.8 } else { 1.0 };
        rows.push(Row::new(work("FTP", &workload, load, "lftp; vsftpd"), load, reference, portcullis, target));
    }
    memory.push(idle_sessions(&pair, workload.idle_sessions));
    drop((sshd, vsftpd, pair));
    Ok(report::tables(&rows, &memory))
}

impl Workload {
    /// Generates the files (sizes from the environment, see the module doc).
    pub fn create() -> Result<Workload, BoxError> {
        let dir = crate::enqueue::scratch_dir()?;
        let big_bytes = env_number("PORTCULLIS_BENCH_BIG_MIB", 1024)? << 20;
        let small_count = env_number("PORTCULLIS_BENCH_SMALL_FILES", 1000)? as usize;
        let idle_sessions = env_number("PORTCULLIS_BENCH_IDLE_SESSIONS", 1000)? as usize;
        let big = big_file(dir.path(), BIG_NAME, big_bytes)?;
        let small = small_files(dir.path(), "small", small_count, SMALL_SIZE)?;
        Ok(Workload { big, big_bytes, small, small_count, idle_sessions, _dir: dir })
    }

    /// Files and bytes one upload of `load` puts on the server.
    fn expected(&self, load: Load) -> (usize, u64) {
        match load {
            Load::Big => (1, self.big_bytes),
            Load::Small => (self.small_count, (self.small_count * SMALL_SIZE) as u64),
        }
    }

    /// MB/s for the big file, files/s for the small ones.
    fn rate(&self, load: Load, took: Duration) -> f64 {
        let secs = took.as_secs_f64().max(1e-9);
        match load {
            Load::Big => self.big_bytes as f64 / 1e6 / secs,
            Load::Small => self.small_count as f64 / secs,
        }
    }
}

fn work(protocol: &str, w: &Workload, load: Load, clients: &str) -> String {
    match load {
        Load::Big => format!("{protocol} upload, one file of {} MiB ({clients})", w.big_bytes >> 20),
        Load::Small => format!("{protocol} upload, {} × 4 KiB in one session ({clients})", w.small_count),
    }
}

fn sftp_upload(target: &SftpTarget, w: &Workload, load: Load) -> Result<Duration, BoxError> {
    match load {
        Load::Big => sftp_put(target, &w.big, BIG_NAME),
        Load::Small => sftp_put_all(target, &w.small),
    }
}

fn ftp_upload(target: &FtpTarget, w: &Workload, load: Load) -> Result<Duration, BoxError> {
    match load {
        Load::Big => lftp_put(target, &w.big, BIG_NAME),
        Load::Small => lftp_mput(target, &w.small),
    }
}

/// One upload to a reference server, checked in its upload directory, which is
/// then emptied.
fn reference(
    w: &Workload,
    load: Load,
    upload_dir: &Path,
    upload: impl FnOnce(&Workload) -> Result<Duration, BoxError>,
) -> Result<f64, String> {
    let took = upload(w).map_err(|e| e.to_string())?;
    let arrived = count_files(upload_dir).map_err(|e| e.to_string())?;
    empty_dir(upload_dir).map_err(|e| e.to_string())?;
    if arrived != w.expected(load) {
        return Err(format!("arrived {arrived:?} (files, bytes), expected {:?}", w.expected(load)));
    }
    Ok(w.rate(load, took))
}

/// One SFTP upload to the DMZ; for the big file, also its VmRSS before and at its peak.
fn portcullis_sftp(
    pair: &mut Result<pair::Pair, String>,
    w: &Workload,
    load: Load,
) -> (Result<f64, String>, Option<MemoryRow>) {
    let (result, rss) = match pair.as_mut() {
        Err(reason) => (Err(reason.clone()), Err(reason.clone())),
        Ok(p) => match p.sftp_ready.clone() {
            Err(reason) => (Err(reason.clone()), Err(reason)),
            Ok(()) => {
                let before = rss::rss_kib(p.dmz_pid()).unwrap_or(0);
                let sampler = rss::PeakSampler::start(p.dmz_pid());
                let took = sftp_upload(&p.sftp_target(), w, load);
                let peak = sampler.finish();
                let result = delivered(p, w, load, took);
                let rss = result.clone().map(|_| (before, peak));
                (result, rss)
            }
        },
    };
    (result, (load == Load::Big).then(|| MemoryRow::big_upload(w.big_bytes, rss)))
}

fn portcullis_ftp(pair: &mut Result<pair::Pair, String>, w: &Workload, load: Load) -> Result<f64, String> {
    let p = pair.as_mut().map_err(|reason| reason.clone())?;
    p.ftp_ready.clone()?;
    let took = ftp_upload(&p.ftp_target(), w, load);
    delivered(p, w, load, took)
}

/// The rate, once the upload's files are delivered to the inner's inbox.
fn delivered(p: &mut pair::Pair, w: &Workload, load: Load, took: Result<Duration, BoxError>) -> Result<f64, String> {
    let took = took.map_err(|e| format!("{e}; DMZ log: {}", p.dmz_log()))?;
    let (files, bytes) = w.expected(load);
    p.settle(files, bytes).map_err(|e| format!("uploaded, but not delivered: {e}"))?;
    Ok(w.rate(load, took))
}

/// DMZ VmRSS before and with `count` idle SFTP sessions open.
fn idle_sessions(pair: &Result<pair::Pair, String>, count: usize) -> MemoryRow {
    let measured = (|| {
        let p = pair.as_ref().map_err(|reason| reason.clone())?;
        p.sftp_ready.clone()?;
        let before = rss::rss_kib(p.dmz_pid()).map_err(|e| e.to_string())?;
        let sessions = IdleSessions::open(&p.sftp_target(), count).map_err(|e| e.to_string())?;
        let with = rss::rss_kib(p.dmz_pid()).map_err(|e| e.to_string())?;
        Ok((before, with, sessions.opened, sessions.took))
    })();
    MemoryRow::idle(count, measured)
}

fn env_number(name: &str, default: u64) -> Result<u64, BoxError> {
    match std::env::var(name) {
        Ok(text) => Ok(text.trim().parse().map_err(|_| format!("{name}={text:?} is not a number"))?),
        Err(_) => Ok(default),
    }
}
