//! The event hub: what the daemon and the registry report, fanned out to event-stream
//! clients (never blocking the engine: a slow client misses events and is told so), counted
//! into the metrics, and the plugin reload history kept for the API.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tessera_engine::DaemonEvent;
use tessera_runtime::RegistryEvent;
use tokio::sync::broadcast;

use crate::metrics::Metrics;

/// Events a client can fall behind by before it misses some.
const CHANNEL: usize = 4096;
/// Reloads kept for the plugins page.
const HISTORY: usize = 200;

/// One event for the stream: its name and its JSON.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub name: &'static str,
    pub json: Arc<str>,
}

/// A registry event as recorded in the reload history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadRecord {
    /// Unix milliseconds.
    pub at: i64,
    /// `loaded`, `failed` or `removed`.
    pub outcome: String,
    pub plugin: String,
    pub version: Option<String>,
    pub previous_version: Option<String>,
    pub from_cache: Option<bool>,
    pub compile_ms: Option<f64>,
    pub detected_to_serving_ms: Option<f64>,
    pub error: Option<String>,
}

/// Fans events out; cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<StreamEvent>,
    history: Arc<Mutex<VecDeque<ReloadRecord>>>,
    metrics: Arc<Metrics>,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        let (tx, _) = broadcast::channel(CHANNEL);
        Hub {
            tx,
            history: Arc::default(),
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.tx.subscribe()
    }

    /// Records a daemon event (metrics, history) and sends it to the stream's clients.
    /// Called on the daemon's threads: it never waits for a client.
    pub fn observe(&self, event: &DaemonEvent) {
        self.metrics.observe(event);
        if let DaemonEvent::Registry { detail } = event {
            self.record_reload(detail);
        }
        let name = match event {
            DaemonEvent::PluginExcluded { .. } => "plugin_excluded",
            DaemonEvent::PluginLoaded { .. } => "plugin_loaded",
            DaemonEvent::Started { .. } => "started",
            DaemonEvent::Registry { .. } => "registry",
            DaemonEvent::RunStarted { .. } => "run_started",
            DaemonEvent::RunFinished { .. } => "run_finished",
            DaemonEvent::SensorTick { .. } => "sensor_tick",
            DaemonEvent::SensorError { .. } => "sensor_error",
            DaemonEvent::ScheduleTick { .. } => "schedule_tick",
            DaemonEvent::ScheduleError { .. } => "schedule_error",
            DaemonEvent::Stopping => "stopping",
        };
        self.send(name, event);
    }

    /// Sends any serializable event under `name`.
    pub fn send<T: Serialize>(&self, name: &'static str, value: &T) {
        let json = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(StreamEvent {
            name,
            json: json.into(),
        });
    }

    /// The newest reloads first.
    pub fn reloads(&self) -> Vec<ReloadRecord> {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        h.iter().rev().cloned().collect()
    }

    fn record_reload(&self, e: &RegistryEvent) {
        let at = chrono::Utc::now().timestamp_millis();
        let r = match e {
            RegistryEvent::Loaded {
                plugin,
                version,
                previous_version,
                from_cache,
                compile_ms,
                detected_to_serving_ms,
                ..
            } => ReloadRecord {
                at,
                outcome: "loaded".into(),
                plugin: plugin.clone(),
                version: Some(version.clone()),
                previous_version: previous_version.clone(),
                from_cache: Some(*from_cache),
                compile_ms: Some(*compile_ms),
                detected_to_serving_ms: Some(*detected_to_serving_ms),
                error: None,
            },
            RegistryEvent::Failed {
                plugin,
                error,
                serving_version,
                ..
            } => ReloadRecord {
                at,
                outcome: "failed".into(),
                plugin: plugin.clone(),
                version: serving_version.clone(),
                previous_version: None,
                from_cache: None,
                compile_ms: None,
                detected_to_serving_ms: None,
                error: Some(error.clone()),
            },
            RegistryEvent::Removed { plugin, version } => ReloadRecord {
                at,
                outcome: "removed".into(),
                plugin: plugin.clone(),
                version: Some(version.clone()),
                previous_version: None,
                from_cache: None,
                compile_ms: None,
                detected_to_serving_ms: None,
                error: None,
            },
        };
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(r);
    }
}
