//! The partner benchmark's tables: throughput against the reference servers, and
//! the DMZ's memory against its targets.

use std::time::Duration;

use super::Load;

/// How much of a reason for "n/a" a cell shows.
const REASON_CHARS: usize = 160;

/// One throughput case: reference and portcullis rates (Err: why there is none).
#[derive(Debug, Clone)]
pub struct Row {
    pub work: String,
    /// "MB/s" or "files/s".
    pub unit: &'static str,
    pub reference: Result<f64, String>,
    pub portcullis: Result<f64, String>,
    /// Lowest acceptable portcullis / reference.
    pub target: f64,
}

impl Row {
    pub(super) fn new(
        work: String,
        load: Load,
        reference: Result<f64, String>,
        portcullis: Result<f64, String>,
        target: f64,
    ) -> Row {
        let unit = if load == Load::Big { "MB/s" } else { "files/s" };
        Row { work, unit, reference, portcullis, target }
    }
}

/// One memory case: DMZ VmRSS before and as measured (KiB), and its limit.
#[derive(Debug, Clone)]
pub struct MemoryRow {
    pub work: String,
    pub measured: Result<(u64, u64), String>,
    /// The limit in MiB, and whether it applies to the growth or to the total.
    pub limit_mib: u64,
    pub limit_is_growth: bool,
}

impl MemoryRow {
    pub(super) fn big_upload(bytes: u64, measured: Result<(u64, u64), String>) -> MemoryRow {
        let work = format!("peak while one {} MiB file is uploaded over SFTP", bytes >> 20);
        MemoryRow { work, measured, limit_mib: 64, limit_is_growth: true }
    }

    pub(super) fn idle(count: usize, measured: Result<(u64, u64, usize, Duration), String>) -> MemoryRow {
        let work = match &measured {
            Ok((_, _, opened, took)) => {
                format!("with {opened} idle SFTP sessions (opened in {:.0} s)", took.as_secs_f64())
            }
            Err(_) => format!("with {count} idle SFTP sessions"),
        };
        let measured = measured.map(|(before, with, _, _)| (before, with));
        MemoryRow { work, measured, limit_mib: 256, limit_is_growth: false }
    }
}

/// Both tables in markdown.
pub fn tables(rows: &[Row], memory: &[MemoryRow]) -> String {
    let mut out = String::from("| work | reference | portcullis | ratio | target |\n|---|---:|---:|---:|---|\n");
    for r in rows {
        let ratio = match (&r.reference, &r.portcullis) {
            (Ok(reference), Ok(portcullis)) if *reference > 0.0 => Some(portcullis / reference),
            _ => None,
        };
        let (reference, portcullis) = (cell(&r.reference, r.unit), cell(&r.portcullis, r.unit));
        let ratio_cell = ratio.map_or("–".into(), |x| format!("{x:.2}×"));
        let target = format!("≥ {:.1}×{}", r.target, ratio.map_or("", |x| verdict(x >= r.target)));
        out.push_str(&format!("| {} | {reference} | {portcullis} | {ratio_cell} | {target} |\n", r.work));
    }
    out.push_str(
        "\n| DMZ memory (VmRSS) | before (MiB) | measured (MiB) | growth (MiB) | target |\n|---|---:|---:|---:|---|\n",
    );
    for m in memory {
        out.push_str(&memory_line(m));
    }
    out.push_str(
        "\nReference and portcullis run in the same process, one after the other, on the same files. \
         portcullis fsyncs each upload into its spool before it answers; sshd and vsftpd do not fsync.\n",
    );
    out
}

fn memory_line(m: &MemoryRow) -> String {
    match &m.measured {
        Ok((before, with)) => {
            let growth = (*with as f64 - *before as f64) / 1024.0;
            let judged = if m.limit_is_growth { growth } else { *with as f64 / 1024.0 };
            let what = if m.limit_is_growth { "growth" } else { "total" };
            let target = format!("{what} < {} MiB{}", m.limit_mib, verdict(judged < m.limit_mib as f64));
            format!("| {} | {:.1} | {:.1} | {growth:+.1} | {target} |\n", m.work, mib(*before), mib(*with))
        }
        Err(reason) => format!("| {} | | {} | | < {} MiB |\n", m.work, cell(&Err(reason.clone()), ""), m.limit_mib),
    }
}

fn cell(value: &Result<f64, String>, unit: &str) -> String {
    match value {
        Ok(rate) => format!("{rate:.0} {unit}"),
        Err(reason) => {
            let reason: String = reason.replace('|', "/").split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = reason.chars().take(REASON_CHARS).collect();
            let more = if short.len() < reason.len() { "…" } else { "" };
            format!("n/a ({short}{more})")
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { ": met" } else { ": **missed**" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
