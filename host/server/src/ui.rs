//! The web UI: a small hand-written front end (one HTML page, one script, one style sheet)
//! built into the binary, so the host needs no network and no Node.js to build or run it.
//! With `TESSERA_UI_DIR` set, the files are read from that directory on every request
//! instead: edit `host/server/ui/` and reload the page, no rebuild.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// (URL path, file name, content type, built-in content)
const FILES: &[(&str, &str, &str, &str)] = &[
    (
        "/",
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../ui/index.html"),
    ),
    (
        "/ui/app.js",
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "/ui/style.css",
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../ui/style.css"),
    ),
    (
        "/ui/icon.svg",
        "icon.svg",
        "image/svg+xml",
        include_str!("../ui/icon.svg"),
    ),
];

fn file(name: &'static str, content_type: &'static str, built_in: &'static str) -> Response {
    let body = match std::env::var_os("TESSERA_UI_DIR") {
        None => built_in.to_string(),
        Some(dir) => match std::fs::read_to_string(std::path::Path::new(&dir).join(name)) {
            Ok(text) => text,
            Err(e) => {
                return (
                    StatusCode::NOT_FOUND,
                    format!("TESSERA_UI_DIR: {name}: {e}"),
                )
                    .into_response();
            }
        },
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            // One document for every page (the script routes on the URL's fragment): always
            // revalidated, so a new binary's UI shows at once.
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new();
    for &(path, name, content_type, built_in) in FILES {
        router = router.route(
            path,
            get(move || async move { file(name, content_type, built_in) }),
        );
    }
    router
}
