//! Access: a token on every API request when one is set (required off loopback), and no
//! cross-site mutations, ever. Also the HTTP metrics layer.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The cookie the UI keeps the token in.
pub(crate) const COOKIE: &str = "tessera_token";

/// Equal without revealing where they differ by how long it took.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token a request carries: `Authorization: Bearer T`, else the UI's cookie.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

pub(crate) fn token_ok(app: &AppState, headers: &HeaderMap) -> bool {
    match &app.token {
        None => true,
        Some(t) => presented(headers).is_some_and(|p| same(p.as_bytes(), t.as_bytes())),
    }
}

/// Whether a mutation comes from this server's own pages (or from a tool that is no
/// browser): browsers say where a request comes from in `Sec-Fetch-Site` and `Origin`.
fn same_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .unwrap_or("");
            !host.is_empty() && origin_host == host
        }
    }
}

pub(crate) async fn guard(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let protected = (path.starts_with("/api/") || path == "/metrics")
        && path != "/api/v1/session"
        && path != "/api/v1/health";
    if protected && !token_ok(&app, req.headers()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs a token: send `Authorization: Bearer <token>` (or sign in on the UI)",
        )
        .into_response();
    }
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !read && !same_site(req.headers()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "changes are accepted only from this server's own pages",
        )
        .into_response();
    }
    next.run(req).await
}

/// Counts every request into the metrics, by its route pattern (never the raw path: keys
/// would make a label per partition).
pub(crate) async fn measure(
    State(app): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = Instant::now();
    let response = next.run(req).await;
    app.hub
        .metrics()
        .http(&route, response.status().as_u16(), start.elapsed());
    response
}
