//! Structured logs through the host (`tessera:plugin/host.log`). The host adds the plugin,
//! asset, partition and run to every line.
//!
//! ```
//! tessera_sdk::info!("read {} events", 42);
//! tessera_sdk::log::log(tessera_sdk::log::Level::Warn, "late data", &[("partition", "2024-01-15")]);
//! ```
//!
//! Off wasm (unit tests), lines are printed to stderr and recorded for
//! [`testing`](crate::testing) instead of calling the host.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// A log line as recorded off wasm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: Level,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// Logs a line with structured fields.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    emit(level, message, fields);
}

pub fn trace(message: &str) {
    log(Level::Trace, message, &[]);
}

pub fn debug(message: &str) {
    log(Level::Debug, message, &[]);
}

pub fn info(message: &str) {
    log(Level::Info, message, &[]);
}

pub fn warn(message: &str) {
    log(Level::Warn, message, &[]);
}

pub fn error(message: &str) {
    log(Level::Error, message, &[]);
}

#[cfg(target_family = "wasm")]
#[allow(clippy::needless_pass_by_value)] // One signature for both targets; natively it is kept.
fn emit(level: Level, message: &str, fields: Vec<(String, String)>) {
    use crate::bindings::tessera::plugin::host::{self, LogLevel};
    let level = match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    };
    host::log(level, message, &fields);
}

#[cfg(not(target_family = "wasm"))]
thread_local! {
    static RECORDS: std::cell::RefCell<Vec<LogRecord>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(not(target_family = "wasm"))]
fn emit(level: Level, message: &str, fields: Vec<(String, String)>) {
    let mut line = format!("[{level}] {message}");
    for (k, v) in &fields {
        line.push_str(&format!(" {k}={v}"));
    }
    eprintln!("{line}");
    RECORDS.with(|r| {
        r.borrow_mut().push(LogRecord {
            level,
            message: message.to_string(),
            fields,
        });
    });
}

/// The lines logged on this thread since the last call (off wasm only).
#[cfg(not(target_family = "wasm"))]
pub fn take_records() -> Vec<LogRecord> {
    RECORDS.with(|r| std::mem::take(&mut *r.borrow_mut()))
}
