//! Tessera's HTTP server: the JSON API under `/api/v1` (described by an OpenAPI document
//! generated from the handlers and types), server-sent events, Prometheus metrics and the
//! web UI, over one [`Engine`]. The engine is synchronous (SQLite, wasmtime calls that block
//! on their own runtime): every handler calls it on tokio's blocking pool, never on the
//! async workers.

mod api;
mod auth;
mod error;
mod events;
mod metrics;
mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tessera_engine::{Engine, ScheduleSpec};

pub use error::{ApiError, ErrorBody, ServerError};
pub use events::{Hub, ReloadRecord, StreamEvent};
pub use metrics::Metrics;

/// Request bodies larger than this are refused (413) before they are read.
pub const MAX_BODY: usize = 4 << 20;

/// What the server serves besides the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `tessera dev`: the daemon runs in this process (sensors, schedules, the queue).
    Dev,
    /// `tessera serve`: the API and UI only; runs queued here are executed by a daemon.
    Serve,
}

/// The shared state of every request.
#[derive(Debug)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub hub: Hub,
    pub mode: Mode,
    /// When set, every API request must carry it.
    pub token: Option<String>,
    /// The configured schedules (for listing them).
    pub schedules: Vec<ScheduleSpec>,
    /// Set when the server shuts down: event streams end.
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(
        engine: Arc<Engine>,
        mode: Mode,
        token: Option<String>,
        schedules: Vec<ScheduleSpec>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            engine,
            hub: Hub::new(Arc::default()),
            mode,
            token: token.filter(|t| !t.is_empty()),
            schedules,
            stop: tokio::sync::watch::channel(false).0,
        })
    }
}

/// The whole application: API, events, metrics and UI, with its layers.
pub fn router(app: Arc<AppState>) -> Router {
    use axum::middleware::from_fn_with_state;
    use tower_http::catch_panic::CatchPanicLayer;
    use tower_http::compression::CompressionLayer;
    use tower_http::limit::RequestBodyLimitLayer;
    use tower_http::trace::TraceLayer;

    let (api, _) = api::routes().split_for_parts();
    Router::new()
        .merge(api)
        .merge(ui::routes())
        .fallback(api::not_found)
        .layer(from_fn_with_state(Arc::clone(&app), auth::guard))
        .route_layer(from_fn_with_state(Arc::clone(&app), auth::measure))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        // The default predicate leaves the event stream alone (compressed, its events would
        // wait in the encoder), as well as images and small bodies.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        // A bug in a handler is a 500 for that request, not a dead connection.
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal(
                "the server failed on this request (a bug: please report it)",
            ))
        }))
        .with_state(app)
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::routes().split_for_parts().1
}

/// Whether `addr` may be served without a token.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Binds `addr`, refusing a non-loopback address without a token.
pub async fn bind(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<tokio::net::TcpListener, ServerError> {
    if !is_loopback(&addr) && token.is_none_or(str::is_empty) {
        return Err(ServerError::TokenRequired(addr));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })
}

/// Serves until `shutdown` completes, then lets requests in flight finish. Event streams end
/// with the shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    api::spawn_progress_task(&app);
    let router = router(Arc::clone(&app));
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            app.stop.send_replace(true);
        })
        .await
        .map_err(ServerError::Serve)
}
