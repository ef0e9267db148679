//! Guest log lines as tracing events. A test binary of its own: tracing's per-callsite
//! interest is process-wide, so a scoped subscriber is only reliable without other threads
//! logging at the same time.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use tessera_runtime::{MaterializeRequest, Runtime, RuntimeConfig, Selection};
use tessera_tests::{components, shared_dir};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_dir("artifacts")),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn request(computation: &str, selection: Selection) -> MaterializeRequest {
    MaterializeRequest {
        computation: computation.to_string(),
        assets: Vec::new(),
        selection,
        resolved: None,
        run_id: "test-run".to_string(),
        attempt: 1,
        now: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        inputs: Vec::new(),
        timeout: None,
    }
}

/// Collects formatted log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn guest_logs_become_tracing_events_with_their_scope() {
    let c = components();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let plugin = runtime().load(&c.guest("misbehave")).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        plugin
            .materialize(&request("log", Selection::None))
            .unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("hello from the guest"), "{text}");
    assert!(
        text.contains("plugin=\"misbehave\"") || text.contains("plugin=misbehave"),
        "{text}"
    );
    assert!(
        text.contains("run=\"test-run\"") || text.contains("run=test-run"),
        "{text}"
    );
    assert!(text.contains("rows=3"), "{text}");
}
