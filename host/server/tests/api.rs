//! The API against a real server on an ephemeral port: the example plugins compiled from
//! source, a real SQLite state, real HTTP on a socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_engine::{Clock, DaemonEvent, Engine, EngineConfig};
use tessera_runtime::{RegistryEvent, RuntimeConfig};
use tessera_server::{AppState, Mode};
use tessera_tests::http::{self, EventStream, request};
use tessera_tests::{components, shared_dir};

/// A project with some example plugins, its engine, and a server over it.
struct Served {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
    app: Arc<AppState>,
    addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Served {
    fn start(plugins: &[&str], token: Option<&str>) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir_all(&plugin_dir).unwrap();
        for p in plugins {
            std::fs::copy(components().plugin(p), plugin_dir.join(format!("{p}.wasm"))).unwrap();
        }
        let runtime = RuntimeConfig {
            cache_dir: Some(shared_dir("artifacts")),
            ..RuntimeConfig::default()
        };
        let config = EngineConfig {
            clock: Clock::Fixed("2024-02-01T00:00:00Z".parse().unwrap()),
            retry_backoff: Duration::from_millis(5),
            max_attempts: 1,
            ..EngineConfig::default()
        };
        let (engine, events) =
            Engine::open(&dir.path().join(".tessera"), &plugin_dir, runtime, config).unwrap();
        for e in events {
            assert!(matches!(e, RegistryEvent::Loaded { .. }), "{e:?}");
        }
        let engine = Arc::new(engine);
        let app = AppState::new(
            Arc::clone(&engine),
            Mode::Serve,
            token.map(String::from),
            Vec::new(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tessera_server::bind("127.0.0.1:0".parse().unwrap(), token))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(tessera_server::serve(
            listener,
            Arc::clone(&app),
            async move {
                let _ = rx.await;
            },
        ));
        Served {
            _dir: dir,
            engine,
            app,
            addr,
            rt,
            stop: Some(tx),
        }
    }

    /// Executes the queue as a daemon would, reporting to the server's event hub.
    fn execute(&self) {
        let hub = self.app.hub.clone();
        self.engine
            .run_queue(None, &|p| hub.observe(&DaemonEvent::from(p)))
            .unwrap();
    }

    fn get(&self, path: &str) -> http::Response {
        http::get(self.addr, path)
    }

    fn ok(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "callers build the body in place"
    )]
    fn post(&self, path: &str, body: Value) -> http::Response {
        http::post(self.addr, path, &body)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // The runtime ends its tasks when dropped; the server has nothing to flush.
        let _ = &self.rt;
    }
}

fn error_code(r: &http::Response) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_api_serves_the_graph_status_partitions_runs_and_backfills() {
    let s = Served::start(&["daily_sales", "processed_events"], None);
    let health = s.ok("/api/v1/health");
    assert_eq!(health["mode"], "serve");
    assert_eq!(health["token_required"], false);

    // The graph.
    let assets = s.ok("/api/v1/assets");
    let by_key = |k: &str| {
        assets["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {assets}"))
    };
    let daily = by_key("daily_sales");
    assert_eq!(daily["partitions"]["total"], 31);
    assert_eq!(daily["counts"]["missing"], 31);
    assert_eq!(daily["depth"], 0);
    let processed = by_key("processed_events");
    assert!(processed["depth"].as_u64().unwrap() >= 1, "{processed}");
    assert!(!processed["inputs"].as_array().unwrap().is_empty());

    // An unknown asset is a 404 with a stable code.
    let r = s.get("/api/v1/assets/nope/partitions");
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "unknown_asset");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );

    // Preview, then launch, a backfill of ten days.
    let body = json!({ "assets": ["daily_sales"], "range": { "start": "2024-01-01", "end": "2024-01-10" } });
    let preview = s.post("/api/v1/backfills/preview", body.clone());
    assert_eq!(preview.status, 200, "{}", preview.text());
    let preview = preview.json();
    assert_eq!(preview["partitions"], 10);
    assert_eq!(preview["runs"], 10);
    assert_eq!(preview["assets"][0]["asset"], "daily_sales");
    // The preview stored nothing.
    assert_eq!(s.ok("/api/v1/runs")["runs"].as_array().unwrap().len(), 0);

    let mut events = EventStream::open(s.addr, "/api/v1/events", &[]).unwrap();
    assert_eq!(events.next(Duration::from_secs(5)).unwrap().0, "ready");
    let launched = s.post("/api/v1/backfills", body);
    assert_eq!(launched.status, 201, "{}", launched.text());
    let backfill = launched.json()["backfill_id"].as_str().unwrap().to_string();
    s.execute();

    // The stream saw the launch, the runs and the backfill's progress.
    let mut seen = Vec::new();
    while let Some((name, data)) = events.next(Duration::from_secs(5)) {
        let done = name == "backfill_progress"
            && serde_json::from_str::<Value>(&data).unwrap()["progress"]["partitions_done"] == 10;
        seen.push(name);
        if done {
            break;
        }
    }
    for name in [
        "backfill_launched",
        "run_started",
        "run_finished",
        "backfill_progress",
    ] {
        assert!(seen.iter().any(|n| n == name), "{name} not in {seen:?}");
    }
    let view = s.ok(&format!("/api/v1/backfills/{backfill}"));
    assert_eq!(view["progress"]["partitions_done"], 10);
    assert_eq!(view["backfill"]["status"], "completed");

    // Status as ranges, with the keys at their edges.
    let status = s.ok("/api/v1/assets/daily_sales/partitions");
    assert_eq!(status["exact"], true);
    assert_eq!(status["counts"]["materialized"], 10);
    assert_eq!(
        status["ranges"],
        json!([
            { "from": 0, "to": 9, "state": "materialized", "from_key": "2024-01-01", "to_key": "2024-01-10" },
            { "from": 10, "to": 30, "state": "missing", "from_key": "2024-01-11", "to_key": "2024-01-31" }
        ])
    );
    // Too many ranges for the answer: bins instead.
    let binned = s.ok("/api/v1/assets/daily_sales/partitions?max_ranges=1&bins=4");
    assert_eq!(binned["exact"], false);
    assert_eq!(binned["bins"]["count"], 4);
    let sum: u64 = binned["bins"]["materialized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(sum, 10);
    // A window, and a state filter.
    let window = s.ok("/api/v1/assets/daily_sales/partitions?start=5&end=12&state=missing");
    assert_eq!(
        window["ranges"],
        json!([{ "from": 10, "to": 12, "state": "missing", "from_key": "2024-01-11", "to_key": "2024-01-13" }])
    );
    let r = s.get("/api/v1/assets/daily_sales/partitions?start=9&end=2");
    assert_eq!(r.status, 400);
    let r = s.get("/api/v1/assets/daily_sales/partitions?state=sparkly");
    assert_eq!((r.status, error_code(&r).as_str()), (400, "bad_query"));

    // Key pages, by state.
    let page = s.ok("/api/v1/assets/daily_sales/keys?state=missing&limit=3");
    assert_eq!(
        page["keys"],
        json!(["2024-01-11", "2024-01-12", "2024-01-13"])
    );
    assert_eq!(page["next"], "2024-01-14");
    let page = s.ok("/api/v1/assets/daily_sales/keys?from=2024-01-30&limit=5");
    assert_eq!(page["keys"], json!(["2024-01-30", "2024-01-31"]));
    assert_eq!(page["next"], Value::Null);

    // One partition in full.
    let p = s.ok("/api/v1/assets/daily_sales/partitions/2024-01-05");
    assert_eq!(p["detail"]["state"], "materialized");
    assert!(
        p["detail"]["preview"]["text"]
            .as_str()
            .unwrap()
            .contains("sales")
    );
    assert!(!p["runs"].as_array().unwrap().is_empty());
    assert!(
        p["logs"].as_array().unwrap().iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("sales for 2024-01-05")),
        "{}",
        p["logs"]
    );
    let r = s.get("/api/v1/assets/daily_sales/partitions/2023-12-31");
    assert_eq!(r.status, 400, "{}", r.text());

    // Runs, one page at a time: pages are disjoint and cover every run.
    let mut ids = Vec::new();
    let mut path = "/api/v1/runs?limit=3".to_string();
    loop {
        let page = s.ok(&path);
        let runs = page["runs"].as_array().unwrap();
        assert!(runs.len() <= 3);
        ids.extend(runs.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/runs?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 10, "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    let filtered = s.ok("/api/v1/runs?asset=daily_sales&partition=2024-01-03&status=success");
    assert_eq!(filtered["runs"].as_array().unwrap().len(), 1);
    let r = s.get("/api/v1/runs?status=sparkly");
    assert_eq!(r.status, 400);
    let r = s.get("/api/v1/runs?cursor=nope");
    assert_eq!(r.status, 400);
    let r = s.get("/api/v1/runs?since=yesterday");
    assert_eq!(r.status, 400);
    let run = s.ok(&format!("/api/v1/runs/{}", ids[0]));
    assert!(!run["events"].as_array().unwrap().is_empty());
    assert_eq!(s.get("/api/v1/runs/nope").status, 404);

    // Cancel, then resume, a backfill nothing executes.
    let launched = s.post(
        "/api/v1/backfills",
        json!({ "assets": ["daily_sales"], "filter": "missing" }),
    );
    assert_eq!(launched.status, 201);
    let id = launched.json()["backfill_id"].as_str().unwrap().to_string();
    let canceled = s.post(&format!("/api/v1/backfills/{id}/cancel"), json!({}));
    assert_eq!(canceled.status, 200, "{}", canceled.text());
    assert_eq!(canceled.json()["runs_canceled"], 21);
    let resumed = s.post(&format!("/api/v1/backfills/{id}/resume"), json!({}));
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    assert_eq!(
        s.post("/api/v1/backfills/nope/cancel", json!({})).status,
        404
    );
    let list = s.ok("/api/v1/backfills");
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Plugins, metrics, the OpenAPI document and the UI.
    let plugins = s.ok("/api/v1/plugins");
    assert_eq!(plugins["plugins"].as_array().unwrap().len(), 2);
    let metrics = s.get("/metrics").text();
    assert!(
        metrics
            .contains("tessera_runs_finished_total{asset=\"daily_sales\",outcome=\"success\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tessera_runs{status=\"success\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tessera_http_request_duration_seconds_bucket{route=\"/api/v1/runs\"")
    );
    let doc = s.ok("/api/v1/openapi.json");
    for path in [
        "/api/v1/assets",
        "/api/v1/assets/{asset}/partitions",
        "/api/v1/assets/{asset}/partitions/{key}",
        "/api/v1/runs",
        "/api/v1/backfills",
        "/api/v1/backfills/preview",
        "/api/v1/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }
    assert!(doc["components"]["schemas"].get("StatusView").is_some());
    let ui = s.get("/");
    assert_eq!(ui.status, 200);
    assert!(ui.header("content-type").unwrap().starts_with("text/html"));
    assert!(ui.header("content-security-policy").is_some());
}

#[test]
fn bad_requests_are_4xx_with_a_code_never_500() {
    let s = Served::start(&["daily_sales", "customer_metrics"], None);
    // (method, path, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<Vec<u8>>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "POST",
            "/api/v1/backfills",
            vec![("Content-Type", "application/json")],
            Some(b"{not json".to_vec()),
            400,
            "bad_body",
        ),
        (
            "POST",
            "/api/v1/backfills",
            vec![("Content-Type", "text/plain")],
            Some(b"{}".to_vec()),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/api/v1/backfills",
            vec![("Content-Type", "application/json")],
            Some(br#"{"assets":["daily_sales"],"sparkle":1}"#.to_vec()),
            422,
            "bad_body",
        ),
        (
            "POST",
            "/api/v1/backfills",
            vec![("Content-Type", "application/json")],
            Some(br#"{"assets":[]}"#.to_vec()),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/backfills/preview",
            vec![("Content-Type", "application/json")],
            Some(br#"{"assets":["nope"]}"#.to_vec()),
            404,
            "unknown_asset",
        ),
        (
            "POST",
            "/api/v1/backfills/preview",
            vec![("Content-Type", "application/json")],
            Some(
                br#"{"assets":["daily_sales"],"range":{"start":"2024-01-10","end":"2024-01-01"}}"#
                    .to_vec(),
            ),
            400,
            "bad_selection",
        ),
        (
            "POST",
            "/api/v1/backfills/preview",
            vec![("Content-Type", "application/json")],
            Some(
                br#"{"assets":["daily_sales"],"range":{"start":"yesterday","end":"today"}}"#
                    .to_vec(),
            ),
            400,
            "",
        ),
        (
            "POST",
            "/api/v1/backfills/preview",
            vec![("Content-Type", "application/json")],
            Some(br#"{"assets":["daily_sales"],"max_per_run":0}"#.to_vec()),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/assets/daily_sales/materialize",
            vec![("Content-Type", "application/json")],
            Some(br#"{"keys":["2031-01-01"]}"#.to_vec()),
            400,
            "",
        ),
        (
            "GET",
            "/api/v1/assets/daily_sales/keys?limit=abc",
            vec![],
            None,
            400,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/assets/daily_sales/keys?from=nope",
            vec![],
            None,
            400,
            "",
        ),
        (
            "GET",
            "/api/v1/nothing/here",
            vec![],
            None,
            404,
            "not_found",
        ),
        (
            "POST",
            "/api/v1/dynamic/nope",
            vec![("Content-Type", "application/json")],
            Some(br#"{"keys":["a"]}"#.to_vec()),
            404,
            "unknown_dynamic_set",
        ),
        (
            "POST",
            "/api/v1/dynamic/customers",
            vec![("Content-Type", "application/json")],
            Some(br#"{"keys":[]}"#.to_vec()),
            400,
            "bad_request",
        ),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = request(s.addr, method, path, &headers, body.as_deref()).unwrap();
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        let v = r.json();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        }
    }
    // A body past the limit is refused before it is read.
    let big = vec![b' '; tessera_server::MAX_BODY + 1];
    let r = request(
        s.addr,
        "POST",
        "/api/v1/backfills/preview",
        &[("Content-Type", "application/json")],
        Some(&big),
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    // Mutations are POST (or DELETE): a GET on a mutation's path is not one.
    let r = s.get("/api/v1/backfills/preview");
    assert_eq!(r.status, 405);
}

#[test]
fn keys_with_slashes_dots_and_unicode_are_data_not_paths() {
    let s = Served::start(&["customer_metrics"], None);
    // A control character is refused, saying so.
    let r = s.post(
        "/api/v1/dynamic/customers",
        json!({ "keys": ["tab\there"] }),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("control character"), "{}", r.text());
    let keys = [
        "a/b",
        "../../etc/passwd",
        "zürich",
        "semi;colon",
        "%2F",
        "<b>&amp;",
    ];
    let r = s.post("/api/v1/dynamic/customers", json!({ "keys": keys }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["changed"], keys.len());
    let listed = s.ok("/api/v1/dynamic/customers?limit=100");
    assert_eq!(listed["keys"], json!(keys));
    for k in keys {
        let encoded: String = k
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let p = s.ok(&format!(
            "/api/v1/assets/customer_metrics/partitions/{encoded}"
        ));
        assert_eq!(p["detail"]["key"], k);
        assert_eq!(p["detail"]["state"], "missing");
    }
    let queued = s.post(
        "/api/v1/assets/customer_metrics/materialize",
        json!({ "keys": ["../../etc/passwd"] }),
    );
    assert_eq!(queued.status, 202, "{}", queued.text());
    s.execute();
    let p = s.ok("/api/v1/assets/customer_metrics/partitions/..%2F..%2Fetc%2Fpasswd");
    assert_eq!(p["detail"]["state"], "materialized", "{p}");
    let removed = s.post(
        "/api/v1/dynamic/customers/remove",
        json!({ "keys": ["a/b"] }),
    );
    assert_eq!(removed.json()["changed"], 1);
}

#[test]
fn sensors_are_turned_off_and_on() {
    let s = Served::start(&["customer_metrics"], None);
    let sensors = s.ok("/api/v1/sensors");
    assert_eq!(sensors[0]["name"], "customer_sensor");
    assert_eq!(sensors[0]["state"]["disabled"], false);
    let r = s.post("/api/v1/sensors/customer_sensor/disable", json!({}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(s.ok("/api/v1/sensors")[0]["state"]["disabled"], true);
    let r = s.post("/api/v1/sensors/customer_sensor/enable", json!({}));
    assert_eq!(r.json()["enabled"], true);
    assert_eq!(s.ok("/api/v1/sensors")[0]["state"]["disabled"], false);
    let r = s.post("/api/v1/sensors/nope/disable", json!({}));
    assert_eq!((r.status, error_code(&r).as_str()), (404, "unknown_sensor"));
}

#[test]
fn ten_million_partitions_answer_in_kilobytes() {
    let s = Served::start(&["page_views"], None);
    let keys: Vec<String> = (0..200)
        .map(|i| {
            let minute = i * 49_999;
            let t = chrono::DateTime::parse_from_rfc3339("2005-01-01T00:00:00Z").unwrap()
                + chrono::Duration::minutes(minute);
            t.format("%Y-%m-%d-%H:%M").to_string()
        })
        .collect();
    let r = s.post(
        "/api/v1/assets/page_views/materialize",
        json!({ "keys": keys }),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    s.execute();
    let r = s.get("/api/v1/assets/page_views/partitions?bins=1000");
    assert_eq!(r.status, 200);
    assert!(r.body.len() < 64 << 10, "{} bytes", r.body.len());
    let v = r.json();
    assert!(v["total"].as_u64().unwrap() > 10_000_000, "{}", v["total"]);
    assert_eq!(v["counts"]["materialized"], 200);
    // 200 scattered partitions make about 400 ranges: exact under the default limit.
    assert_eq!(v["exact"], true);
    let binned = s.ok("/api/v1/assets/page_views/partitions?max_ranges=100&bins=1000");
    assert_eq!(binned["exact"], false);
    let total: u64 = binned["bins"]["materialized"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 200);
    let page = s.ok("/api/v1/assets/page_views/keys?state=materialized&limit=2");
    assert_eq!(page["keys"], json!([keys[0], keys[1]]));
}

#[test]
fn a_token_guards_every_request_and_the_ui_signs_in_with_a_cookie() {
    // No token off loopback: refused before binding.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(tessera_server::bind("0.0.0.0:0".parse().unwrap(), None))
        .unwrap_err();
    assert!(err.to_string().contains("TESSERA_TOKEN"), "{err}");

    let s = Served::start(&["daily_sales"], Some("s3cret"));
    let denied = s.get("/api/v1/assets");
    assert_eq!(denied.status, 401);
    assert_eq!(error_code(&denied), "unauthorized");
    assert_eq!(s.get("/metrics").status, 401);
    assert_eq!(s.get("/api/v1/events").status, 401);
    let wrong = request(
        s.addr,
        "GET",
        "/api/v1/assets",
        &[("Authorization", "Bearer nope")],
        None,
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
    let right = request(
        s.addr,
        "GET",
        "/api/v1/assets",
        &[("Authorization", "Bearer s3cret")],
        None,
    )
    .unwrap();
    assert_eq!(right.status, 200);
    // Health and the UI's page load without it (the page then asks to sign in).
    assert_eq!(s.ok("/api/v1/health")["token_required"], true);
    assert_eq!(s.get("/").status, 200);
    // Signing in sets an HttpOnly, SameSite=Strict cookie that then works.
    assert_eq!(
        s.post("/api/v1/session", json!({ "token": "nope" })).status,
        401
    );
    let signed = s.post("/api/v1/session", json!({ "token": "s3cret" }));
    assert_eq!(signed.status, 204);
    let cookie = signed.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = request(s.addr, "GET", "/api/v1/assets", &[("Cookie", pair)], None).unwrap();
    assert_eq!(with_cookie.status, 200);
}

#[test]
fn cross_site_mutations_are_refused() {
    let s = Served::start(&["daily_sales"], None);
    let body = br#"{"assets":["daily_sales"]}"#;
    let json = ("Content-Type", "application/json");
    for headers in [
        vec![json, ("Origin", "http://evil.example")],
        vec![json, ("Sec-Fetch-Site", "cross-site")],
        vec![json, ("Sec-Fetch-Site", "same-site")],
    ] {
        let r = request(
            s.addr,
            "POST",
            "/api/v1/backfills/preview",
            &headers,
            Some(body),
        )
        .unwrap();
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(error_code(&r), "cross_site");
    }
    let origin = format!("http://{}", s.addr);
    let r = request(
        s.addr,
        "POST",
        "/api/v1/backfills/preview",
        &[json, ("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
        Some(body),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_stalled_event_client_never_blocks_the_engine() {
    let s = Served::start(&["daily_sales"], None);
    // A client that connects and never reads.
    let mut stalled = EventStream::open(s.addr, "/api/v1/events", &[]).unwrap();
    // Far more than the channel holds and the socket buffers: the hub must not wait.
    let event = DaemonEvent::RunFinished {
        run: "r".repeat(200),
        ok: true,
        partitions: 1,
        error: None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let hub = s.app.hub.clone();
    std::thread::spawn(move || {
        for _ in 0..50_000 {
            hub.observe(&event);
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the hub blocked on a client that does not read");
    // The client, reading at last, is told it missed events.
    let mut names = Vec::new();
    while let Some((name, _)) = stalled.next(Duration::from_secs(5)) {
        if name == "lagged" {
            return;
        }
        names.push(name);
    }
    panic!("no `lagged` event after {} events", names.len());
}
