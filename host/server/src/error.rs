//! Errors: the server's own (startup), and the API's JSON errors with a stable `code`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_engine::{EngineError, report};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(
        "listening on {0} (not a loopback address) needs a token: set TESSERA_TOKEN or `token` under [server] in tessera.toml"
    )]
    TokenRequired(std::net::SocketAddr),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
}

/// An API error: an HTTP status, a stable machine-readable `code`, and a message naming what
/// was wrong. Serialized as `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unknown_asset`, `bad_request`, `unauthorized`, ... (see the API docs).
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let message = report(&e);
        let (status, code) = match &e {
            EngineError::UnknownAsset(_) => (StatusCode::NOT_FOUND, "unknown_asset"),
            EngineError::UnknownPlugin(_) => (StatusCode::NOT_FOUND, "unknown_plugin"),
            EngineError::UnknownSensor(_) => (StatusCode::NOT_FOUND, "unknown_sensor"),
            EngineError::UnknownBackfill(_) => (StatusCode::NOT_FOUND, "unknown_backfill"),
            EngineError::UnknownRun(_) => (StatusCode::NOT_FOUND, "unknown_run"),
            EngineError::Unavailable { .. } => (StatusCode::CONFLICT, "asset_unavailable"),
            EngineError::Selection { .. } => (StatusCode::BAD_REQUEST, "bad_selection"),
            EngineError::BackfillPolicy { .. } => (StatusCode::BAD_REQUEST, "backfill_policy"),
            EngineError::Partitions(_) => (StatusCode::BAD_REQUEST, "bad_partition"),
            EngineError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            EngineError::DaemonRunning { .. } => (StatusCode::CONFLICT, "daemon_running"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            "unsupported_media_type"
        } else {
            "bad_body"
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_path", r.body_text())
    }
}
