//! Fuzz target for the API's request bodies (and query strings): every request the router
//! answers with a JSON error or a success, never a server error, whatever its body.
//!
//! Requests go through the whole application (`tessera_server::router`: authentication,
//! limits, handlers) in process, against a real engine and SQLite database with example
//! plugins. Bodies are valid requests with values replaced, removed, added and retyped, and
//! arbitrary bytes. `cargo test` runs `TESSERA_FUZZ_CASES` cases (256 unless set); the long run
//! is in the README's "Fuzzing". Backfills that an accepted body launches stay queued: nothing
//! executes them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};
use tessera_engine::{Clock, Engine, EngineConfig};
use tessera_runtime::RuntimeConfig;
use tessera_server::{AppState, Mode};
use tessera_tests::{components, fuzz_cases, shared_dir};
use tower::ServiceExt;

struct Served {
    _dir: tempfile::TempDir,
    router: axum::Router,
    rt: tokio::runtime::Runtime,
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for p in ["daily_sales", "customer_metrics", "new_data_sensor"] {
            std::fs::copy(components().plugin(p), plugins.join(format!("{p}.wasm"))).unwrap();
        }
        let runtime = RuntimeConfig {
            cache_dir: Some(shared_dir("artifacts")),
            ..RuntimeConfig::default()
        };
        let config = EngineConfig {
            clock: Clock::Fixed("2024-02-01T00:00:00Z".parse().unwrap()),
            ..EngineConfig::default()
        };
        let (engine, _) =
            Engine::open(&dir.path().join(".tessera"), &plugins, runtime, config).unwrap();
        let app = AppState::new(Arc::new(engine), Mode::Serve, None, Vec::new());
        Served {
            _dir: dir,
            router: tessera_server::router(app),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    })
}

/// The endpoints that read a body, each with a valid one.
fn endpoints() -> Vec<(&'static str, Value)> {
    let range = json!({ "assets": ["daily_sales"], "range": { "start": "2024-01-01", "end": "2024-01-10" } });
    vec![
        ("/api/v1/session", json!({ "token": "t" })),
        (
            "/api/v1/assets/daily_sales/materialize",
            json!({ "keys": ["2024-01-02"] }),
        ),
        ("/api/v1/backfills/preview", range.clone()),
        (
            "/api/v1/backfills",
            json!({ "assets": ["daily_sales"], "keys": ["2024-01-03"], "filter": "missing",
                    "max_per_run": 5, "single_run": false }),
        ),
        ("/api/v1/backfills/preview", {
            let mut r = range;
            r["single_run"] = json!(true);
            r
        }),
        (
            "/api/v1/dynamic/customers",
            json!({ "keys": ["acme", "globex"] }),
        ),
        (
            "/api/v1/dynamic/customers/remove",
            json!({ "keys": ["acme"] }),
        ),
    ]
}

/// Paths that read a query string.
const QUERIES: [&str; 4] = [
    "/api/v1/assets/daily_sales/partitions",
    "/api/v1/assets/daily_sales/keys",
    "/api/v1/runs",
    "/api/v1/backfills",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        proptest::sample::select(vec![
            "",
            "2024-01-01",
            "2024-02-30",
            "2099-01-01",
            "daily_sales",
            "nope",
            "missing",
            "failed",
            "stale",
            "a...b",
            "../../etc/passwd",
            "\u{0}",
        ])
        .prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        proptest::collection::vec("\\PC{0,6}", 0..5).prop_map(Value::from),
    ]
}

/// A valid body with one to three fields replaced, removed or added.
fn body() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let n = endpoints().len();
    let edits = proptest::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u8..3,
            "[a-z_]{1,8}",
            scalar(),
        ),
        0..4,
    );
    let edited = (0..n, edits).prop_map(|(i, edits)| {
        let mut value = endpoints()[i].1.clone();
        for (at, how, name, v) in edits {
            let Value::Object(map) = &mut value else {
                break;
            };
            let keys: Vec<String> = map.keys().cloned().collect();
            match (how, keys.is_empty()) {
                (0, false) => {
                    map.insert(keys[at.index(keys.len())].clone(), v);
                }
                (1, false) => {
                    map.remove(&keys[at.index(keys.len())]);
                }
                _ => {
                    map.insert(name, v);
                }
            }
        }
        (i, value.to_string().into_bytes())
    });
    prop_oneof![
        6 => edited,
        1 => (0..n, "\\PC{0,40}").prop_map(|(i, s)| (i, s.into_bytes())),
        1 => (0..n, proptest::collection::vec(any::<u8>(), 0..64)),
        1 => (0..n, scalar()).prop_map(|(i, v)| (i, v.to_string().into_bytes())),
    ]
}

fn send(method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let s = served();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    s.rt.block_on(async {
        let response = s.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, bytes.to_vec())
    })
}

/// The target: an answer below 500, and an error is the API's JSON error.
fn check(what: &str, status: StatusCode, body: &[u8]) {
    assert!(
        status.as_u16() < 500,
        "{what}: {status} {}",
        String::from_utf8_lossy(body)
    );
    if status.is_client_error() {
        let v: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{what}: {status}, not JSON ({e})"));
        assert!(v["error"]["code"].is_string(), "{what}: {v}");
    }
}

proptest! {
    #![proptest_config(Config {
        cases: fuzz_cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    })]

    #[test]
    fn fuzz_api_bodies((endpoint, body) in body()) {
        let path = endpoints()[endpoint].0;
        let (status, answer) = send(Method::POST, path, body.clone());
        check(&format!("POST {path} {}", String::from_utf8_lossy(&body)), status, &answer);
    }

    #[test]
    fn fuzz_api_queries(
        path in proptest::sample::select(QUERIES.to_vec()),
        query in proptest::collection::vec(
            (proptest::sample::select(vec!["limit", "from", "status", "asset", "state", "x"]),
             "[[:alnum:]%&=+.-]{0,12}"),
            0..4,
        ),
    ) {
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let uri = format!("{path}?{}", query.join("&"));
        let (status, answer) = send(Method::GET, &uri, Vec::new());
        check(&format!("GET {uri}"), status, &answer);
    }
}

#[test]
fn the_valid_bodies_are_accepted() {
    for (path, body) in endpoints() {
        if path == "/api/v1/session" {
            continue; // no token is configured: signing in is refused
        }
        let (status, answer) = send(Method::POST, path, body.to_string().into_bytes());
        assert!(
            status.is_success(),
            "POST {path} {body}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
    }
}
