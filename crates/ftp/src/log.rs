//! A slog drain that forwards libunftp's log records to `tracing` (target `libunftp`).
//!
//! libunftp logs every session start, command and transfer at info; that is per-file noise
//! for a gateway, so levels are shifted one step down (info → debug, warning → info, error
//! and critical → warn: they are mostly caused by partners, not by us). The record's
//! key/values (trace id, source address, user name) are appended to the message. libunftp
//! redacts passwords in its own `Debug` output, and this drain adds nothing of its own.

use std::fmt::{self, Write};

use slog::{Drain, KV, Key, Level, Never, OwnedKVList, Record, Serializer};

/// Forwards slog records to `tracing`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingDrain;

/// A slog logger that writes to `tracing`, for libunftp.
pub fn logger() -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!())
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), Never> {
        if !enabled(record.level()) {
            return Ok(()); // formatting the record costs more than the rest of a small transfer
        }
        let mut line = KvLine(String::new());
        let _ = record.kv().serialize(record, &mut line);
        let _ = values.serialize(record, &mut line);
        let message = record.msg();
        let fields = line.0;
        match record.level() {
            Level::Critical | Level::Error => tracing::warn!(target: "libunftp", "{message}{fields}"),
            Level::Warning => tracing::info!(target: "libunftp", "{message}{fields}"),
            Level::Info => tracing::debug!(target: "libunftp", "{message}{fields}"),
            Level::Debug | Level::Trace => tracing::trace!(target: "libunftp", "{message}{fields}"),
        }
        Ok(())
    }
}

fn enabled(level: Level) -> bool {
    match level {
        Level::Critical | Level::Error => tracing::enabled!(target: "libunftp", tracing::Level::WARN),
        Level::Warning => tracing::enabled!(target: "libunftp", tracing::Level::INFO),
        Level::Info => tracing::enabled!(target: "libunftp", tracing::Level::DEBUG),
        Level::Debug | Level::Trace => tracing::enabled!(target: "libunftp", tracing::Level::TRACE),
    }
}

/// Collects key/value pairs as ` key=value`.
struct KvLine(String);

impl Serializer for KvLine {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}
