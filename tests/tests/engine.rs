//! The engine against real SQLite files and real compiled plugins: the seed's pipeline,
//! dependency order, retries, failures, sensors across restarts, staleness and eager
//! policies, graph validation, and a reload in the middle of a backfill.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use tessera_engine::state::PartitionState;
use tessera_engine::{
    Clock, Engine, EngineConfig, Filter, PartitionSelection, RunPolicy, RunScope, RunStatus,
};
use tessera_runtime::{RegistryEvent, RuntimeConfig};
use tessera_tests::{components, shared_dir};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

/// The state store a test runs against: each behavioural test runs once on each (one body,
/// two stores), through [`on_both_stores!`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

/// Runs `test` with its [`Setup`]s on `backend`.
fn on(backend: Backend, test: fn()) {
    BACKEND.with(|b| b.set(backend));
    test();
}

/// A `#[test]` per store for each test body named: `<name>::sqlite`, `<name>::postgres`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::on(super::Backend::Sqlite, super::$name);
            }
            #[test]
            fn postgres() {
                super::on(super::Backend::Postgres, super::$name);
            }
        }
    )*};
}

struct Setup {
    dir: tempfile::TempDir,
    /// The PostgreSQL database (a fresh one per setup), or SQLite under `storage()`.
    database: Option<String>,
}

impl Setup {
    /// A plugin directory holding the engine probe and the named example plugins, and an
    /// empty state on the test's store.
    fn new(examples: &[&str]) -> Setup {
        let c = components();
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(c.guest("engine_probe"), plugins.join("engine_probe.wasm")).unwrap();
        for e in examples {
            std::fs::copy(c.plugin(e), plugins.join(format!("{e}.wasm"))).unwrap();
        }
        let database = match BACKEND.with(std::cell::Cell::get) {
            Backend::Sqlite => None,
            Backend::Postgres => Some(tessera_tests::pg::database()),
        };
        Setup { dir, database }
    }

    /// The state store alone.
    fn state(&self) -> Arc<dyn tessera_engine::Store> {
        Engine::open_state(&self.storage(), self.database.as_deref()).unwrap()
    }

    /// Runs SQL on the state's database directly (a careless hand, a newer tessera).
    fn execute_sql(&self, sql: &str) {
        match &self.database {
            None => {
                let conn = rusqlite::Connection::open(self.storage().join("state.db")).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Some(url) => {
                let name = url.rsplit('/').next().unwrap();
                tessera_tests::pg::cluster().psql(name, sql);
            }
        }
    }

    fn plugins(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn engine(&self) -> Engine {
        self.engine_with(EngineConfig {
            clock: Clock::Fixed(now()),
            concurrency: 2,
            max_attempts: 3,
            retry_backoff: Duration::from_millis(5),
            ..EngineConfig::default()
        })
    }

    fn engine_with(&self, config: EngineConfig) -> Engine {
        let config = EngineConfig {
            database: self.database.clone(),
            ..config
        };
        let runtime = RuntimeConfig {
            cache_dir: Some(shared_dir("artifacts")),
            ..RuntimeConfig::default()
        };
        let (engine, events) =
            Engine::open(&self.storage(), &self.plugins(), runtime, config).unwrap();
        for e in events {
            assert!(matches!(e, RegistryEvent::Loaded { .. }), "{e:?}");
        }
        engine
    }
}

fn range(a: &str, b: &str) -> PartitionSelection {
    PartitionSelection::Range(tessera_partitions::KeyRange::new(a, b))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

fn backfill(
    engine: &Engine,
    assets: &[&str],
    sel: &PartitionSelection,
    policy: RunPolicy,
) -> String {
    let s = engine
        .submit(
            &strings(assets),
            sel,
            Filter::Any,
            policy,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let id = s.backfill_id.unwrap();
    engine.run_queue(Some(&id), &|_| {}).unwrap();
    id
}

/// Partition key → latest materialization id, for materialized partitions.
fn materialized(engine: &Engine, asset: &str) -> BTreeMap<String, i64> {
    engine
        .state()
        .partitions(asset)
        .unwrap()
        .into_iter()
        .filter_map(|p| p.materialization.map(|m| (p.partition, m.id)))
        .collect()
}

fn blob(engine: &Engine, asset: &str, key: &str) -> Vec<u8> {
    let p = engine
        .state()
        .partitions_of(asset, &[key.to_string()])
        .unwrap();
    let m = p[0].materialization.as_ref().unwrap();
    engine.read_blob(&m.blob).unwrap()
}

fn the_seed_pipeline_backfills_in_dependency_order() {
    let setup = Setup::new(&[
        "daily_sales",
        "processed_events",
        "late_data_processor",
        "combine_metrics",
    ]);
    let engine = setup.engine();
    let assets = [
        "daily_summary",
        "combined_metrics",
        "late_data_processor",
        "processed_events",
        "raw_events",
        "daily_sales",
        "user_events",
        "sales_data",
    ];
    let id = backfill(
        &engine,
        &assets,
        &range("2024-01-01", "2024-01-31"),
        RunPolicy::PerPartition,
    );
    let p = engine.state().backfill_progress(&id).unwrap();
    assert_eq!((p.runs_succeeded, p.runs_failed), (31 * 7, 0), "{p:?}");
    assert_eq!(
        engine.state().backfill(&id).unwrap().unwrap().status,
        tessera_engine::BackfillStatus::Completed
    );
    for a in assets {
        assert_eq!(materialized(&engine, a).len(), 31, "{a}");
    }
    // Every downstream partition was materialized after the upstream partitions it reads.
    let raw = materialized(&engine, "raw_events");
    for (key, id) in materialized(&engine, "processed_events") {
        let day: u32 = key[8..].parse().unwrap();
        assert!(id > raw[&key], "{key}");
        if day > 1 {
            let prev = format!("2024-01-{:02}", day - 1);
            assert!(id > raw[&prev], "{key} after {prev}");
        }
    }
    // The mapped inputs arrived as lists of (key, bytes).
    let v: Value =
        serde_json::from_slice(&blob(&engine, "processed_events", "2024-01-02")).unwrap();
    assert_eq!(
        v["input_partitions"],
        serde_json::json!(["2024-01-01", "2024-01-02"])
    );
    let v: Value =
        serde_json::from_slice(&blob(&engine, "processed_events", "2024-01-01")).unwrap();
    assert_eq!(v["input_partitions"], serde_json::json!(["2024-01-01"]));
    // The multi-asset computation produced both outputs in one run per partition.
    let runs = engine.state().runs(1000, Some(&id)).unwrap();
    assert!(runs.iter().any(
        |r| r.assets == strings(&["combined_metrics", "daily_summary"])
            || r.assets == strings(&["daily_summary", "combined_metrics"])
    ));
    // Nothing is missing, failed or stale.
    let graph = engine.graph().unwrap();
    let (status, _) = engine
        .asset_status(&graph, "combined_metrics", 10, now(), true)
        .unwrap();
    assert_eq!(
        (status.materialized, status.failed, status.stale),
        (31, 0, 0)
    );
    let missing = engine
        .select(
            &graph,
            "daily_sales",
            &range("2024-01-01", "2024-02-29"),
            Filter::Missing,
            now(),
            &engine.dynamic_snapshot().unwrap(),
        )
        .unwrap();
    assert_eq!(missing.len(), 29);
}

fn dynamic_partitions_come_from_the_database_and_the_sensor() {
    let setup = Setup::new(&["customer_metrics"]);
    let engine = setup.engine();
    assert_eq!(
        engine
            .dynamic_add("customers", &strings(&["acme", "globex"]))
            .unwrap(),
        2
    );
    assert!(engine.dynamic_add("customers", &strings(&["a|b"])).is_err());
    let s = engine
        .submit(
            &strings(&["customer_metrics"]),
            &PartitionSelection::All,
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "manual",
            now(),
        )
        .unwrap();
    assert_eq!(s.runs.len(), 2);
    engine.run_queue(None, &|_| {}).unwrap();
    assert_eq!(materialized(&engine, "customer_metrics").len(), 2);
    // The seed's sensor adds the customers it finds, then requests their runs.
    let tick = engine.tick_sensor("customer_sensor", now()).unwrap();
    assert!(!tick.dynamic_partitions.is_empty(), "{tick:?}");
    assert!(!tick.runs_queued.is_empty());
    engine.run_queue(None, &|_| {}).unwrap();
    let keys = engine.state().dynamic_keys("customers").unwrap();
    assert_eq!(&keys[..2], ["acme", "globex"], "insertion order kept");
    assert_eq!(materialized(&engine, "customer_metrics").len(), keys.len());
}

/// A sparse asset whose `(customer, region)` combinations live in a dynamic set: the engine
/// checks each combination joins existing keys, counts and lists only what exists, and runs
/// a range as the declared combinations inside it.
fn sparse_combinations_come_from_a_dynamic_set() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    engine
        .dynamic_add("customers", &strings(&["acme", "globex"]))
        .unwrap();
    let pairs = "customer_region_pairs";
    assert_eq!(
        engine
            .dynamic_add(pairs, &strings(&["acme|eu", "globex|us", "acme|us"]))
            .unwrap(),
        3
    );
    for (bad, why) in [
        ("zed|eu", "dimension \"customer\" has no key \"zed\""),
        ("acme|mars", "dimension \"region\" has no key \"mars\""),
        ("acme", "must join 2 keys"),
    ] {
        let err = engine.dynamic_add(pairs, &strings(&[bad])).unwrap_err();
        assert!(
            err.to_string().contains(why) && err.to_string().contains("customer_regions"),
            "{bad}: {err}"
        );
    }
    // Other sets still refuse '|'.
    assert!(engine.dynamic_add("customers", &strings(&["a|b"])).is_err());
    let graph = engine.graph().unwrap();
    let (status, _) = engine
        .asset_status(&graph, "customer_regions", 10, now(), false)
        .unwrap();
    // 2024-01-01 to 2024-05-31: 152 days of three combinations (of four in the product).
    assert_eq!(status.total, 3 * 152);
    let page = engine
        .partition_keys(&graph, "customer_regions", None, 4, now())
        .unwrap();
    assert_eq!(
        page.keys,
        [
            "acme|2024-01-01|eu",
            "globex|2024-01-01|us",
            "acme|2024-01-01|us",
            "acme|2024-01-02|eu"
        ]
    );
    backfill(
        &engine,
        &["customer_regions"],
        &range("acme|2024-01-01|eu", "globex|2024-01-02|us"),
        RunPolicy::PerPartition,
    );
    let done: Vec<String> = materialized(&engine, "customer_regions")
        .into_keys()
        .collect();
    assert_eq!(
        done,
        [
            "acme|2024-01-01|eu",
            "acme|2024-01-01|us",
            "acme|2024-01-02|eu",
            "acme|2024-01-02|us",
            "globex|2024-01-01|us",
            "globex|2024-01-02|us"
        ]
    );
}

/// A fiscal month reads its days through a mapping written as plugin code (`fiscal_445` of
/// the `fiscal_calendar` example), called in that plugin's sandbox with ranges of keys.
#[test]
fn a_fiscal_month_reads_its_days_through_a_plugin_mapping() {
    let setup = Setup::new(&["daily_sales", "fiscal_calendar"]);
    let engine = setup.engine();
    backfill(
        &engine,
        &["daily_sales"],
        &range("2024-01-01", "2024-02-29"),
        RunPolicy::PerPartition,
    );
    let graph = engine.graph().unwrap();
    let cx = tessera_partitions::Context::new(now());
    let node = graph.asset("fiscal_month_sales").unwrap();
    let (up, down) = (
        graph
            .asset("daily_sales")
            .unwrap()
            .partitions
            .clone()
            .unwrap(),
        node.partitions.clone().unwrap(),
    );
    let mapping = &node.inputs[0].mapping;
    let p02 = down.subset_of_keys(&cx, ["FY2024-P02"]).unwrap();
    let days = mapping.to_upstream(&cx, &p02, Some(&down), &up).unwrap();
    let keys: Vec<String> = up
        .subset_keys(&cx, &days.partitions)
        .unwrap()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        (keys.len(), keys[0].as_str(), keys[27].as_str()),
        (28, "2024-01-29", "2024-02-25")
    );
    // A late day re-opens the fiscal month that holds it, and only that one.
    let day = up.subset_of_keys(&cx, ["2024-03-31"]).unwrap();
    let month = mapping.to_downstream(&cx, &day, &up, &down).unwrap();
    let months: Vec<String> = down
        .subset_keys(&cx, &month)
        .unwrap()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(months, ["FY2024-P03"]);
    backfill(
        &engine,
        &["fiscal_month_sales"],
        &PartitionSelection::Keys(strings(&["FY2024-P01", "FY2024-P02"])),
        RunPolicy::PerPartition,
    );
    for (period, days, first) in [
        ("FY2024-P01", 28, "2024-01-01"),
        ("FY2024-P02", 28, "2024-01-29"),
    ] {
        let v: Value =
            serde_json::from_slice(&blob(&engine, "fiscal_month_sales", period)).unwrap();
        assert_eq!(
            (v["days"].as_u64(), v["first_day"].as_str()),
            (Some(days), Some(first)),
            "{v}"
        );
    }
    let stale = |engine: &Engine| {
        let graph = engine.graph().unwrap();
        engine
            .asset_status(&graph, "fiscal_month_sales", 10, now(), false)
            .unwrap()
            .0
            .stale
    };
    assert_eq!(stale(&engine), 0);
    // A new version of the mapping's plugin makes what read through it stale: re-planned by
    // the eager policy, shown by the status.
    let path = setup.plugins().join("fiscal_calendar.wasm");
    let next = variant(&std::fs::read(&path).unwrap(), 1);
    std::fs::write(&path, &next).unwrap();
    let event = engine.registry().refresh(&path, Instant::now()).unwrap();
    assert!(matches!(event, RegistryEvent::Loaded { .. }), "{event:?}");
    assert_eq!(stale(&engine), 2);
}

/// Weekly roll-ups of five of a week's seven days under each policy: `wait_all` waits and
/// shows what is missing; `wait_until` waits until its deadline, when the daemon's step
/// queues it again and it runs with what exists; `run_partial` runs with what exists, shows
/// itself partial, and late days re-open it through the eager policy.
fn rollups_wait_run_partially_and_reopen() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    backfill(
        &engine,
        &["up"],
        &range("2024-01-01", "2024-01-05"),
        RunPolicy::PerPartition,
    );
    let week = PartitionSelection::Keys(strings(&["2024-01-01"]));
    backfill(
        &engine,
        &["week_all", "week_until", "week_partial"],
        &week,
        RunPolicy::PerPartition,
    );
    let graph = engine.graph().unwrap();
    let show = |engine: &Engine, asset: &str| {
        engine
            .show_partition(&engine.graph().unwrap(), asset, "2024-01-01", now(), 1)
            .unwrap()
    };
    let waiting = |asset: &str| {
        let runs = engine
            .state()
            .runs_matching(&tessera_engine::RunFilter {
                limit: 10,
                asset: Some(asset.to_string()),
                ..tessera_engine::RunFilter::default()
            })
            .unwrap();
        (runs[0].status, runs[0].error.clone().unwrap_or_default())
    };
    // wait_all: waiting, with the two missing days shown.
    let (status, why) = waiting("week_all");
    assert_eq!(
        status,
        tessera_engine::RunStatus::WaitingForUpstream,
        "{why}"
    );
    let d = show(&engine, "week_all");
    assert_eq!(d.upstream_missing, ["up[2024-01-06]", "up[2024-01-07]"]);
    assert_eq!(
        (
            d.rollups[0].policy.as_str(),
            d.rollups[0].upstream,
            d.rollups[0].materialized
        ),
        ("wait_all", 7, 5)
    );
    assert!(!d.partial);
    // wait_until: waiting until a year after the week, which it says.
    let (status, why) = waiting("week_until");
    assert_eq!(status, tessera_engine::RunStatus::WaitingForUpstream);
    assert!(
        why.contains("waits until 2025-01-07T00:00:00+00:00"),
        "{why}"
    );
    let d = show(&engine, "week_until");
    assert_eq!(
        d.rollups[0].deadline.as_deref(),
        Some("2025-01-07T00:00:00+00:00")
    );
    assert!(engine.queue_due_rollups(now()).unwrap().is_empty());
    // run_partial: ran with the five days, and says so.
    let value = |engine: &Engine, asset: &str| {
        String::from_utf8(blob(engine, asset, "2024-01-01")).unwrap()
    };
    assert_eq!(
        value(&engine, "week_partial"),
        "2024-01-01<-2024-01-01,2024-01-02,2024-01-03,2024-01-04,2024-01-05"
    );
    let d = show(&engine, "week_partial");
    assert!(d.partial);
    assert_eq!(d.upstream_missing.len(), 2);
    drop(graph);
    // Past the deadline, the daemon's step queues the waiting week, once, and it runs with
    // what exists.
    let later = Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap();
    let queued = engine.queue_due_rollups(later).unwrap();
    assert_eq!(queued.len(), 1);
    assert!(engine.queue_due_rollups(later).unwrap().is_empty());
    let engine_later = setup.engine_with(EngineConfig {
        clock: Clock::Fixed(later),
        concurrency: 2,
        max_attempts: 3,
        retry_backoff: Duration::from_millis(5),
        ..EngineConfig::default()
    });
    engine_later.run_queue(None, &|_| {}).unwrap();
    assert_eq!(
        value(&engine_later, "week_until"),
        "2024-01-01<-2024-01-01,2024-01-02,2024-01-03,2024-01-04,2024-01-05"
    );
    // Late days re-open the partial week through the eager policy.
    backfill(
        &engine,
        &["up"],
        &range("2024-01-06", "2024-01-07"),
        RunPolicy::PerPartition,
    );
    let reopened = engine.queue_eager(now()).unwrap();
    assert!(!reopened.is_empty());
    engine.run_queue(None, &|_| {}).unwrap();
    assert_eq!(
        value(&engine, "week_partial"),
        "2024-01-01<-2024-01-01,2024-01-02,2024-01-03,2024-01-04,2024-01-05,2024-01-06,2024-01-07"
    );
    assert!(!show(&engine, "week_partial").partial);
}

/// Asset checks run per partition after a materialization; their results show on the
/// partition; a failed blocking check stops the downstream partitions that read it, with that
/// reason, and a warning does not.
fn blocking_checks_stop_what_reads_a_failed_partition() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    backfill(
        &engine,
        &["checked_up"],
        &range("2024-01-01", "2024-01-04"),
        RunPolicy::PerPartition,
    );
    let graph = engine.graph().unwrap();
    let checks = |key: &str| {
        engine
            .show_partition(&graph, "checked_up", key, now(), 1)
            .unwrap()
            .checks
            .into_iter()
            .map(|c| (c.check, c.outcome, c.blocking))
            .collect::<Vec<_>>()
    };
    let one = |o: &str| vec![("not_the_third".to_string(), o.to_string(), true)];
    assert_eq!(checks("2024-01-01"), one("pass"));
    assert_eq!(checks("2024-01-02"), one("warn"));
    assert_eq!(checks("2024-01-03"), one("fail"));
    // The asset's status counts them per check (what `partitions` prints), and the ones that
    // warn or fail are listed with their partitions.
    let (status, _) = engine
        .asset_status(&graph, "checked_up", 10, now(), false)
        .unwrap();
    assert_eq!(
        status.checks,
        [tessera_engine::state::CheckCounts {
            check: "not_the_third".into(),
            blocking: true,
            pass: 2,
            warn: 1,
            fail: 1,
        }]
    );
    let problems: Vec<(String, String, Option<String>)> = engine
        .check_problems("checked_up")
        .unwrap()
        .into_iter()
        .map(|c| (c.partition, c.outcome, c.description))
        .collect();
    assert_eq!(
        problems,
        [
            (
                "2024-01-02".into(),
                "warn".into(),
                Some("the 2nd is late".into())
            ),
            (
                "2024-01-03".into(),
                "fail".into(),
                Some("the 3rd is a bad load".into())
            ),
        ]
    );
    // `checked_down` reads the day before and the day: the 3rd blocks the 3rd and the 4th.
    backfill(
        &engine,
        &["checked_down"],
        &range("2024-01-01", "2024-01-04"),
        RunPolicy::PerPartition,
    );
    let done: Vec<String> = materialized(&engine, "checked_down").into_keys().collect();
    assert_eq!(done, ["2024-01-01", "2024-01-02"]);
    let runs = engine
        .state()
        .runs_matching(&tessera_engine::RunFilter {
            limit: 10,
            asset: Some("checked_down".to_string()),
            status: Some(tessera_engine::RunStatus::Failed),
            ..tessera_engine::RunFilter::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        let why = r.error.clone().unwrap_or_default();
        assert!(
            why.contains(
                "up[2024-01-03] failed the blocking check \"not_the_third\": the 3rd is a bad load"
            ),
            "{why}"
        );
    }
}

/// Mappings that break the laws are refused with their plugin named: one answering a key the
/// other side lacks, one whose answer does not map back onto what was asked.
#[test]
fn a_plugin_mapping_that_breaks_the_laws_is_refused_with_its_plugin_named() {
    let setup = Setup::new(&[]);
    std::fs::copy(
        components().guest("lawless_mapping"),
        setup.plugins().join("lawless_mapping.wasm"),
    )
    .unwrap();
    let engine = setup.engine();
    let graph = engine.graph().unwrap();
    let cx = tessera_partitions::Context::new(now());
    let days = graph.asset("days").unwrap().partitions.clone().unwrap();
    let ask = |asset: &str| {
        let node = graph.asset(asset).unwrap();
        let months = node.partitions.clone().unwrap();
        let jan = months.subset_of_keys(&cx, ["2024-01"]).unwrap();
        let up = node.inputs[0]
            .mapping
            .to_upstream(&cx, &jan, Some(&months), &days);
        let first_days = days.subset_of_keys(&cx, ["2024-01-01"]).unwrap();
        let down = node.inputs[0]
            .mapping
            .to_downstream(&cx, &first_days, &days, &months);
        (up, down)
    };
    let (up, down) = ask("sound_months");
    assert_eq!(up.unwrap().partitions.len(), 31);
    assert_eq!(down.unwrap().len(), 1);
    let (_, down) = ask("phantom_months");
    let err = down.unwrap_err().to_string();
    assert!(
        err.contains("\"phantom\" of plugin \"lawless_mapping\"") && err.contains("\"2099-13\""),
        "{err}"
    );
    let (up, _) = ask("shifted_months");
    let err = up.unwrap_err().to_string();
    assert!(
        err.contains("\"shifted\" of plugin \"lawless_mapping\"")
            && err.contains("does not give back"),
        "{err}"
    );
    // Planning through it fails with that reason rather than running the wrong days.
    let err = engine
        .submit(
            &strings(&["shifted_months"]),
            &PartitionSelection::Keys(strings(&["2024-01"])),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "manual",
            now(),
        )
        .map(|_| ())
        .and_then(|()| engine.run_queue(None, &|_| {}).map(|_| ()));
    err.unwrap();
    let runs = engine.state().runs(10, None).unwrap();
    assert_eq!(runs.len(), 1);
    let why = runs[0].error.clone().unwrap_or_default();
    assert!(
        why.contains("\"shifted\" of plugin \"lawless_mapping\"")
            && why.contains("does not give back"),
        "{:?}: {why}",
        runs[0].status
    );
    assert_eq!(runs[0].status, tessera_engine::RunStatus::Failed);
    let shifted = engine.state().partitions("shifted_months").unwrap();
    assert!(
        shifted.iter().all(|p| p.materialization.is_none()),
        "{shifted:?}"
    );
}

fn failed_attempts_are_retried_with_backoff() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let id = backfill(
        &engine,
        &["flaky"],
        &range("2024-01-01", "2024-01-03"),
        RunPolicy::PerPartition,
    );
    let runs = engine.state().runs(10, Some(&id)).unwrap();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        assert_eq!(r.status, RunStatus::Success, "{r:?}");
        assert_eq!(r.attempts, 2);
        let events = engine.state().run_events(&r.id).unwrap();
        assert!(
            events.iter().any(|e| e.message.contains("retrying")),
            "{events:?}"
        );
    }
    assert_eq!(materialized(&engine, "flaky").len(), 3);
}

fn a_failure_marks_partitions_and_cancels_what_depends_on_it() {
    let setup = Setup::new(&[]);
    let engine = setup.engine_with(EngineConfig {
        clock: Clock::Fixed(now()),
        concurrency: 2,
        max_attempts: 2,
        retry_backoff: Duration::from_millis(1),
        ..EngineConfig::default()
    });
    let id = backfill(
        &engine,
        &["broken", "after_broken", "up"],
        &range("2024-01-01", "2024-01-02"),
        RunPolicy::PerPartition,
    );
    let p = engine.state().backfill_progress(&id).unwrap();
    assert_eq!(
        (p.runs_succeeded, p.runs_failed, p.runs_canceled),
        (2, 2, 2),
        "{p:?}"
    );
    assert_eq!(
        engine.state().backfill(&id).unwrap().unwrap().status,
        tessera_engine::BackfillStatus::Failed
    );
    let broken = engine.state().partitions("broken").unwrap();
    assert_eq!(broken.len(), 2);
    assert!(broken.iter().all(|p| p.status == PartitionState::Failed
        && p.error.as_deref().unwrap_or("").contains("always fails")));
    // `--failed` selects exactly those.
    let graph = engine.graph().unwrap();
    let failed = engine
        .select(
            &graph,
            "broken",
            &PartitionSelection::All,
            Filter::Failed,
            now(),
            &engine.dynamic_snapshot().unwrap(),
        )
        .unwrap();
    assert_eq!(failed.len(), 2);
}

fn a_missing_upstream_partition_waits_instead_of_failing() {
    let setup = Setup::new(&[]);
    let engine = setup.engine_with(EngineConfig {
        clock: Clock::Fixed(now()),
        max_attempts: 3,
        retry_backoff: Duration::from_secs(3600),
        ..EngineConfig::default()
    });
    // `down` reads `up`, which was never materialized: one attempt, no backoff (the hour-long
    // delay would hang the test), no failed partitions.
    let s = engine
        .submit(
            &strings(&["down"]),
            &range("2024-01-02", "2024-01-03"),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let id = s.backfill_id.clone().unwrap();
    let summary = engine.run_queue(Some(&id), &|_| {}).unwrap();
    assert_eq!(
        (
            summary.runs_waiting_for_upstream,
            summary.runs_failed,
            summary.runs_retried
        ),
        (2, 0, 0),
        "{summary:?}"
    );
    for run in &s.runs {
        assert_eq!(
            engine.state().run_status(run).unwrap(),
            Some(RunStatus::WaitingForUpstream)
        );
    }
    assert!(engine.state().partitions("down").unwrap().is_empty());
    let p = engine.state().backfill_progress(&id).unwrap();
    assert_eq!(
        (p.runs_waiting_for_upstream, p.runs_failed),
        (2, 0),
        "{p:?}"
    );
    assert_eq!(
        engine.state().backfill(&id).unwrap().unwrap().status,
        tessera_engine::BackfillStatus::Failed,
        "a backfill that did not produce everything is not completed"
    );
    let runs = engine
        .runs(&tessera_engine::state::RunFilter {
            limit: 100,
            status: Some(RunStatus::WaitingForUpstream),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r.attempts == 1
            && r.error
                .as_deref()
                .unwrap_or("")
                .contains("upstream partition up[")),
        "{runs:?}"
    );
    // With the upstream there, the same request succeeds.
    backfill(
        &engine,
        &["up", "down"],
        &range("2024-01-01", "2024-01-03"),
        RunPolicy::PerPartition,
    );
    assert_eq!(materialized(&engine, "down").len(), 3);
}

fn an_asset_timeout_ends_a_call_the_plugin_limit_would_let_run() {
    let setup = Setup::new(&[]);
    // The plugin's own limit is the default 60 s; the asset says 200 ms in its metadata.
    let engine = setup.engine_with(EngineConfig {
        clock: Clock::Fixed(now()),
        max_attempts: 1,
        ..EngineConfig::default()
    });
    let started = Instant::now();
    backfill(
        &engine,
        &["hang"],
        &PartitionSelection::Keys(strings(&["2024-01-01"])),
        RunPolicy::PerPartition,
    );
    let p = engine.state().partitions("hang").unwrap();
    assert_eq!(p[0].status, PartitionState::Failed);
    let error = p[0].error.clone().unwrap_or_default();
    assert!(error.contains("200ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // The configuration overrides the metadata, per asset.
    let engine = setup.engine_with(EngineConfig {
        clock: Clock::Fixed(now()),
        max_attempts: 1,
        timeouts: BTreeMap::from([("hang".to_string(), Duration::from_millis(50))]),
        ..EngineConfig::default()
    });
    backfill(
        &engine,
        &["hang"],
        &PartitionSelection::Keys(strings(&["2024-01-02"])),
        RunPolicy::PerPartition,
    );
    let p = engine
        .state()
        .partitions_of("hang", &strings(&["2024-01-02"]))
        .unwrap();
    let error = p[0].error.clone().unwrap_or_default();
    assert!(error.contains("50ms"), "{error}");
}

fn sensor_cursors_and_run_keys_survive_a_restart() {
    let setup = Setup::new(&[]);
    {
        let engine = setup.engine();
        let t1 = engine.tick_sensor("repeat_sensor", now()).unwrap();
        assert_eq!(t1.runs_queued.len(), 2);
        assert_eq!(t1.cursor.as_deref(), Some("1"));
        let t2 = engine.tick_sensor("repeat_sensor", now()).unwrap();
        assert_eq!(t2.runs_queued.len(), 1, "only-once is not requested again");
        assert_eq!(t2.run_keys_skipped, 1);
        engine.run_queue(None, &|_| {}).unwrap();
    }
    // A new process on the same database.
    let engine = setup.engine();
    let t3 = engine.tick_sensor("repeat_sensor", now()).unwrap();
    assert_eq!(t3.cursor.as_deref(), Some("3"));
    assert_eq!(t3.runs_queued.len(), 1);
    assert_eq!(t3.run_keys_skipped, 1);
    let state = engine.state().sensor_state("repeat_sensor").unwrap();
    assert_eq!(state.evaluations, 3);
}

fn late_upstream_data_makes_downstream_stale_and_eager_assets_catch_up() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    backfill(
        &engine,
        &["up", "down", "eager_down"],
        &range("2024-01-01", "2024-01-05"),
        RunPolicy::PerPartition,
    );
    let graph = engine.graph().unwrap();
    assert_eq!(
        engine
            .asset_status(&graph, "down", 5, now(), true)
            .unwrap()
            .0
            .stale,
        0
    );
    assert!(
        engine.queue_eager(now()).unwrap().is_empty(),
        "nothing is late yet"
    );
    // 2024-01-03 of `up` again, with the same bytes: nothing downstream is stale (data
    // versions, not the order of materializations), and nothing eager is queued.
    let s = engine
        .submit(
            &strings(&["up"]),
            &PartitionSelection::Keys(strings(&["2024-01-03"])),
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "manual",
            now(),
        )
        .unwrap();
    engine.run_queue(None, &|_| {}).unwrap();
    assert_eq!(
        engine.state().run_status(&s.runs[0]).unwrap(),
        Some(RunStatus::Success)
    );
    let (status, _) = engine.asset_status(&graph, "down", 5, now(), true).unwrap();
    assert_eq!(status.stale, 0, "identical bytes leave readers current");
    assert!(engine.queue_eager(now()).unwrap().is_empty());
    // Late data: 2024-01-03 with new bytes (the probe writes the label of its call, here
    // a range).
    engine
        .submit(
            &strings(&["up"]),
            &range("2024-01-02", "2024-01-03"),
            Filter::Any,
            RunPolicy::SingleRun,
            false,
            "manual",
            now(),
        )
        .unwrap();
    engine.run_queue(None, &|_| {}).unwrap();
    let (status, views) = engine.asset_status(&graph, "down", 5, now(), true).unwrap();
    let stale: Vec<&str> = views
        .iter()
        .filter(|v| v.state == tessera_engine::PartitionStatus::Stale)
        .map(|v| v.key.as_str())
        .collect();
    assert_eq!(
        stale,
        ["2024-01-02", "2024-01-03", "2024-01-04"],
        "offset -1 reads the day before"
    );
    // Each with the upstream partition that changed, from which data version to which.
    let v4 = views.iter().find(|v| v.key == "2024-01-04").unwrap();
    match v4.stale_reasons.as_slice() {
        [
            tessera_engine::StaleReason::UpstreamChanged {
                asset,
                key,
                from: Some(from),
                to,
            },
        ] => {
            assert_eq!((asset.as_str(), key.as_str()), ("up", "2024-01-03"));
            assert_ne!(from, to);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status.stale, 3);
    // `--stale` picks them; re-running them clears it.
    let id = {
        let s = engine
            .submit(
                &strings(&["down"]),
                &range("2024-01-01", "2024-01-05"),
                Filter::Stale,
                RunPolicy::PerPartition,
                true,
                "backfill",
                now(),
            )
            .unwrap();
        assert_eq!(s.partitions, 3);
        s.backfill_id.unwrap()
    };
    engine.run_queue(Some(&id), &|_| {}).unwrap();
    assert_eq!(
        engine
            .asset_status(&graph, "down", 5, now(), true)
            .unwrap()
            .0
            .stale,
        0
    );
    // The eager asset is queued once for each late partition, not again.
    let queued = engine.queue_eager(now()).unwrap();
    assert_eq!(queued.len(), 2);
    assert!(engine.queue_eager(now()).unwrap().is_empty());
    engine.run_queue(None, &|_| {}).unwrap();
    assert_eq!(
        engine
            .asset_status(&graph, "eager_down", 5, now(), true)
            .unwrap()
            .0
            .stale,
        0
    );
}

fn batched_runs_cover_ranges_and_chunks() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let s = engine
        .submit(
            &strings(&["up", "down"]),
            &range("2024-01-01", "2024-01-10"),
            Filter::Any,
            RunPolicy::SingleRun,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    assert_eq!(s.runs.len(), 2, "one range run per asset");
    engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    assert_eq!(materialized(&engine, "down").len(), 10);
    // `up` wrote one value per key; `down`'s one call over the range read each of them
    // (2023-12-31, before the start, does not exist and is allowed to be missing).
    let down = String::from_utf8(blob(&engine, "down", "2024-01-05")).unwrap();
    let call = "2024-01-01...2024-01-10";
    let each: Vec<String> = (1..=10)
        .map(|d| format!("2024-01-{d:02}=2024-01-{d:02} in {call}"))
        .collect();
    assert_eq!(down, format!("{call}<-{}", each.join(",")));

    let s = engine
        .submit(
            &strings(&["up"]),
            &PartitionSelection::Keys(strings(&[
                "2024-02-01",
                "2024-02-02",
                "2024-02-05",
                "2024-02-09",
                "2024-02-10",
            ])),
            Filter::Any,
            RunPolicy::MaxPerRun(2),
            true,
            "backfill",
            now(),
        )
        .unwrap();
    assert_eq!(s.runs.len(), 3, "non-contiguous keys, two per run");
    engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    assert_eq!(materialized(&engine, "up").len(), 15);
}

/// Every partition's state as ranges: merged where consecutive partitions share a state,
/// gaps missing, the keys at both ends, and the whole definition covered.
fn status_ranges_cover_the_definition_in_as_many_ranges_as_the_state_changes() {
    use tessera_engine::{PartitionStatus as S, StatusRange};
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let run = |asset: &str, selection: PartitionSelection| {
        let s = engine
            .submit(
                &strings(&[asset]),
                &selection,
                Filter::Any,
                RunPolicy::PerPartition,
                false,
                "test",
                now(),
            )
            .unwrap();
        engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    };
    run("up", range("2024-01-03", "2024-01-05"));
    run("up", PartitionSelection::Keys(strings(&["2024-01-07"])));
    let graph = engine.graph().unwrap();
    let r = engine.status_ranges(&graph, "up", now()).unwrap();
    let last = r.total - 1;
    let span = |from: u64, to: u64, state, from_key: &str, to_key: &str| StatusRange {
        from,
        to,
        state,
        from_key: from_key.into(),
        to_key: to_key.into(),
    };
    let last_key = engine
        .partition_keys(&graph, "up", None, r.total, now())
        .unwrap()
        .keys
        .pop()
        .unwrap();
    assert_eq!(
        r.ranges,
        [
            span(0, 1, S::Missing, "2024-01-01", "2024-01-02"),
            span(2, 4, S::Materialized, "2024-01-03", "2024-01-05"),
            span(5, 5, S::Missing, "2024-01-06", "2024-01-06"),
            span(6, 6, S::Materialized, "2024-01-07", "2024-01-07"),
            span(7, last, S::Missing, "2024-01-08", &last_key),
        ]
    );
    // Failures are their own ranges.
    run("broken", range("2024-01-01", "2024-01-02"));
    let r = engine.status_ranges(&graph, "broken", now()).unwrap();
    assert_eq!(
        r.ranges[0],
        span(0, 1, S::Failed, "2024-01-01", "2024-01-02")
    );
    assert_eq!(r.ranges.len(), 2);
}

/// The status the engine keeps and brings up to date from what changed is, after every
/// change and as `now` moves on, the status computed afresh by an engine that never saw it.
fn a_status_kept_up_to_date_matches_one_computed_afresh() {
    use tessera_engine::state::{InputsRead, NewMaterialization};
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let graph = engine.graph().unwrap();
    let current = |asset: &str| graph.asset(asset).unwrap().code_version.clone();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let day = |d: u64| {
        (Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d as i64))
            .format("%Y-%m-%d")
            .to_string()
    };
    let mut at = now();
    for round in 0..40u64 {
        match random(5) {
            // A few partitions of `up` or `down`, some under an older code version (stale).
            0..=2 => {
                let asset = if random(3) == 0 { "down" } else { "up" };
                let materializations: Vec<NewMaterialization> = (0..1 + random(12))
                    .map(|_| NewMaterialization {
                        asset: asset.into(),
                        partition: day(random(160)),
                        code_version: if random(4) == 0 {
                            "old".into()
                        } else {
                            current(asset)
                        },
                        data_version: format!("d{round}"),
                        blob: format!("{asset}/x"),
                        metadata: Value::Null,
                        started_at: 0,
                        ended_at: 0,
                        inputs: InputsRead::default(),
                    })
                    .collect();
                engine
                    .state()
                    .record_progress(
                        &format!("round-{round}"),
                        None,
                        "engine_probe",
                        &[],
                        &materializations,
                        &[],
                    )
                    .unwrap();
            }
            // Failures, by running the asset that always fails.
            3 => {
                let first = random(150);
                let s = engine
                    .submit(
                        &strings(&["broken"]),
                        &range(&day(first), &day(first + random(3))),
                        Filter::Any,
                        RunPolicy::PerPartition,
                        false,
                        "test",
                        at,
                    )
                    .unwrap();
                engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
            }
            // Time passes: new partitions, missing.
            _ => at += chrono::Duration::hours(1 + random(60) as i64),
        }
        let fresh = setup.engine();
        let fresh_graph = fresh.graph().unwrap();
        for asset in ["up", "down", "broken"] {
            let kept = engine.status_ranges(&graph, asset, at).unwrap();
            let computed = fresh.status_ranges(&fresh_graph, asset, at).unwrap();
            assert_eq!(kept.total, computed.total, "round {round}, {asset}");
            assert_eq!(
                kept.ranges, computed.ranges,
                "round {round}, {asset} at {at}"
            );
        }
    }
}

/// A preview counts what a launch makes, for every policy and filter, without planning the
/// runs: ten million partitions, one run each, are previewed at once.
fn a_preview_counts_what_a_launch_creates() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    backfill(
        &engine,
        &["up"],
        &range("2024-01-03", "2024-01-09"),
        RunPolicy::PerPartition,
    );
    let targets = strings(&["up", "down", "eager_down"]);
    for policy in [
        RunPolicy::PerPartition,
        RunPolicy::MaxPerRun(4),
        RunPolicy::SingleRun,
    ] {
        for filter in [Filter::Any, Filter::Missing] {
            let selection = PartitionSelection::All;
            let preview = engine
                .preview(&targets, &selection, filter, policy, now())
                .unwrap();
            let submitted = engine
                .submit(&targets, &selection, filter, policy, false, "test", now())
                .unwrap();
            let what = format!("{policy:?}, {filter:?}");
            assert_eq!(preview.partitions, submitted.partitions, "{what}");
            assert_eq!(preview.runs, submitted.runs.len() as u64, "{what}");
            let per_asset: u64 = preview.assets.iter().map(|a| a.partitions).sum();
            assert_eq!(per_asset, submitted.partitions, "{what}");
            if let Some(id) = &submitted.backfill_id {
                engine.cancel_backfill(id).unwrap();
            }
        }
    }
    let at = Utc.with_ymd_and_hms(2029, 1, 7, 0, 0, 0).unwrap();
    let preview = engine
        .preview(
            &strings(&["minutely"]),
            &PartitionSelection::All,
            Filter::Any,
            RunPolicy::PerPartition,
            at,
        )
        .unwrap();
    assert!(preview.partitions >= 10_000_000, "{preview:?}");
    assert_eq!(preview.runs, preview.partitions);
}

fn the_backfill_policy_is_honoured_at_planning() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let submit = |asset: &str, policy| {
        engine.submit(
            &strings(&[asset]),
            &range("2024-01-01", "2024-01-12"),
            Filter::Any,
            policy,
            true,
            "backfill",
            now(),
        )
    };
    // One partition per run: ranges are refused before anything is queued.
    for policy in [RunPolicy::SingleRun, RunPolicy::MaxPerRun(3)] {
        let e = submit("one_by_one", policy).unwrap_err();
        assert!(
            matches!(e, tessera_engine::EngineError::BackfillPolicy { .. })
                && e.to_string()
                    .contains("one_by_one: its backfill policy is single_partition"),
            "{e}"
        );
    }
    let all = tessera_engine::state::RunFilter {
        limit: 100,
        ..Default::default()
    };
    assert!(engine.runs(&all).unwrap().is_empty());
    assert_eq!(
        submit("one_by_one", RunPolicy::PerPartition)
            .unwrap()
            .runs
            .len(),
        12
    );
    // Runs of at most 5, decided by the asset: 5 + 5 + 2, one call each (the probe writes
    // the label of its call).
    let s = submit("by_fives", RunPolicy::PerPartition).unwrap();
    assert_eq!(s.runs.len(), 3);
    engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    assert_eq!(materialized(&engine, "by_fives").len(), 12);
    let b = String::from_utf8(blob(&engine, "by_fives", "2024-01-07")).unwrap();
    assert_eq!(b, "2024-01-06...2024-01-10");
    // Without a declared policy, `--max-per-run 4` makes one call per run too.
    let s = submit("up", RunPolicy::MaxPerRun(4)).unwrap();
    assert_eq!(s.runs.len(), 3);
    engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    let b = String::from_utf8(blob(&engine, "up", "2024-01-12")).unwrap();
    assert_eq!(b, "2024-01-12 in 2024-01-09...2024-01-12");
}

/// A downstream partition receives the upstream partitions its mapping names and no others:
/// exactly, per key, when the upstream's range run wrote one output per key; whole, labelled
/// with its range, when it wrote one value for the range (the only way of a 0.1.0 plugin).
fn a_downstream_receives_exactly_the_upstream_partitions_it_maps_to() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let run = |asset: &str, selection: PartitionSelection, policy| {
        let s = engine
            .submit(
                &strings(&[asset]),
                &selection,
                Filter::Any,
                policy,
                false,
                "test",
                now(),
            )
            .unwrap();
        engine.run_queue(s.backfill_id.as_deref(), &|_| {}).unwrap();
    };
    let one = |k: &str| PartitionSelection::Keys(strings(&[k]));
    run(
        "up",
        range("2024-01-01", "2024-01-10"),
        RunPolicy::SingleRun,
    );
    run("down", one("2024-01-05"), RunPolicy::PerPartition);
    let call = "2024-01-01...2024-01-10";
    assert_eq!(
        String::from_utf8(blob(&engine, "down", "2024-01-05")).unwrap(),
        format!("2024-01-05<-2024-01-04=2024-01-04 in {call},2024-01-05=2024-01-05 in {call}")
    );
    // Every key of the range run has its own data version.
    let versions: std::collections::BTreeSet<String> = engine
        .state()
        .partitions_of("up", &strings(&["2024-01-04", "2024-01-05"]))
        .unwrap()
        .into_iter()
        .map(|p| p.materialization.unwrap().data_version)
        .collect();
    assert_eq!(versions.len(), 2);

    run(
        "by_fives",
        range("2024-01-06", "2024-01-10"),
        RunPolicy::PerPartition,
    );
    run("after_fives", one("2024-01-07"), RunPolicy::PerPartition);
    assert_eq!(
        String::from_utf8(blob(&engine, "after_fives", "2024-01-07")).unwrap(),
        "2024-01-07<-2024-01-06...2024-01-10"
    );
}

fn a_reload_that_breaks_the_graph_is_refused() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    // A second plugin declaring the same assets would make `up` ambiguous.
    let copy = setup.plugins().join("probe_copy.wasm");
    std::fs::copy(setup.plugins().join("engine_probe.wasm"), &copy).unwrap();
    let event = engine.registry().refresh(&copy, Instant::now()).unwrap();
    match event {
        RegistryEvent::Failed { error, .. } => {
            assert!(error.contains("declared by both"), "{error}");
            assert!(error.contains("probe_copy"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(engine.registry().get("probe_copy").is_none());
    assert!(engine.graph().is_ok());
}

/// The same component under a new content hash (a custom section appended).
fn variant(bytes: &[u8], n: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, 9, 7]);
    out.extend_from_slice(b"variant");
    out.push(n);
    out
}

fn a_reload_in_the_middle_of_a_backfill_harms_nothing() {
    let setup = Setup::new(&[]);
    let engine = Arc::new(setup.engine());
    let path = setup.plugins().join("engine_probe.wasm");
    let next = variant(&std::fs::read(&path).unwrap(), 1);
    // Compile the next version up front (into the artifact cache), so the swap below is
    // quick and lands while the backfill is still going.
    engine
        .registry()
        .runtime()
        .load_bytes("engine_probe", &path, &next)
        .unwrap();
    let s = engine
        .submit(
            &strings(&["slow"]),
            &range("2024-01-01", "2024-04-29"),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let id = s.backfill_id.unwrap();
    let old = engine
        .registry()
        .get("engine_probe")
        .unwrap()
        .code_version()
        .to_string();
    let worker = {
        let engine = Arc::clone(&engine);
        let id = id.clone();
        std::thread::spawn(move || engine.run_queue(Some(&id), &|_| {}).unwrap())
    };
    // Wait until some partitions are done, then swap the plugin file.
    let t0 = Instant::now();
    while materialized(&engine, "slow").len() < 3 {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    let tmp = setup.plugins().join("engine_probe.wasm.tmp");
    std::fs::write(&tmp, &next).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let event = engine.registry().refresh(&path, Instant::now()).unwrap();
    assert!(matches!(event, RegistryEvent::Loaded { .. }), "{event:?}");
    let summary = worker.join().unwrap();
    assert_eq!(summary.runs_failed, 0);
    let p = engine.state().backfill_progress(&id).unwrap();
    assert_eq!(p.runs_succeeded, 120, "{p:?}");
    let new = engine
        .registry()
        .get("engine_probe")
        .unwrap()
        .code_version()
        .to_string();
    assert_ne!(old, new);
    // Both versions served partitions, and the older ones now count as stale (code changed).
    let versions: std::collections::BTreeSet<String> = engine
        .state()
        .partitions("slow")
        .unwrap()
        .into_iter()
        .map(|p| p.materialization.unwrap().code_version)
        .collect();
    assert!(
        versions.contains(&old) && versions.contains(&new),
        "{versions:?}"
    );
    let graph = engine.graph().unwrap();
    let stale = engine
        .asset_status(&graph, "slow", 10, now(), true)
        .unwrap()
        .0
        .stale;
    assert!(stale > 0 && stale < 120, "{stale}");
}

fn the_state_file_reopens_and_refuses_a_newer_schema() {
    let setup = Setup::new(&[]);
    {
        let engine = setup.engine();
        backfill(
            &engine,
            &["up"],
            &range("2024-01-01", "2024-01-02"),
            RunPolicy::PerPartition,
        );
    }
    let engine = setup.engine();
    assert_eq!(materialized(&engine, "up").len(), 2);
    drop(engine);
    setup.execute_sql(match setup.database {
        None => "PRAGMA user_version = 999",
        Some(_) => "UPDATE tessera_schema SET version = 999",
    });
    let err = Engine::open_state(&setup.storage(), setup.database.as_deref()).unwrap_err();
    assert!(err.to_string().contains("schema version 999"), "{err}");
}

fn pools_limit_running_runs_across_workers_and_processes() {
    use tessera_engine::state::{Completed, NewRun};
    let state = Setup::new(&[]).state();
    let run = |id: &str, pool: Option<&str>| NewRun {
        id: id.into(),
        plugin: "p".into(),
        computation: "c".into(),
        assets: vec!["a".into()],
        selection: tessera_engine::RunSelection::None,
        partitions: 1,
        backfill_id: None,
        run_key: None,
        trigger: "test".into(),
        tags: Vec::new(),
        max_attempts: 1,
        depends_on: Vec::new(),
        pool: pool.map(String::from),
    };
    state
        .insert_runs(
            None,
            &[
                run("g1", Some("gpu")),
                run("g2", Some("gpu")),
                run("g3", Some("gpu")),
                run("free", None),
            ],
        )
        .unwrap();
    let pools = BTreeMap::from([("gpu".to_string(), 1)]);
    // The ids of what `owner` claims (up to 16, under `pools`).
    let claim = |owner: &str, pools: &BTreeMap<String, usize>| -> Vec<String> {
        state
            .claim_batch(
                owner,
                &RunScope::All,
                16,
                pools,
                Duration::from_secs(30),
                &BTreeMap::new(),
            )
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    // One worker (or process) takes one gpu run and the free one; another gets nothing.
    assert_eq!(claim("w1", &pools), ["g1", "free"]);
    assert!(claim("w2", &pools).is_empty());
    let done = |id: &str| Completed {
        run_id: id.into(),
        claim: 1,
        plugin: "p".into(),
        backfill_id: None,
        logs: Vec::new(),
        blobs: Vec::new(),
        materializations: Vec::new(),
        checks: Vec::new(),
    };
    // Check results commit with the run that wrote them: a run whose claim was lost records
    // neither its materializations nor its checks, in a batch or as progress.
    let failing = |partition: &str| tessera_engine::state::NewCheckResults {
        asset: "a".into(),
        check: "c".into(),
        blocking: true,
        results: vec![tessera_engine::state::NewCheckResult {
            partition: partition.into(),
            outcome: "fail".into(),
            description: None,
            metadata: serde_json::Value::Null,
        }],
    };
    let lost = state
        .finish_successes(&[
            Completed {
                checks: vec![failing("1")],
                ..done("g1")
            },
            Completed {
                claim: 7,
                checks: vec![failing("2")],
                ..done("free")
            },
        ])
        .unwrap();
    assert_eq!(lost, ["free"]);
    let err = state
        .record_progress("free", Some(7), "p", &[], &[], &[failing("3")])
        .unwrap_err();
    assert!(
        matches!(err, tessera_engine::EngineError::LeaseLost { .. }),
        "{err}"
    );
    let recorded: Vec<String> = state
        .check_problems("a")
        .unwrap()
        .into_iter()
        .map(|c| c.partition)
        .collect();
    assert_eq!(recorded, ["1"]);
    assert_eq!(claim("w2", &pools), ["g2"]);
    // Without limits, everything queued is claimable.
    assert_eq!(claim("w3", &BTreeMap::new()), ["g3"]);
}

fn schedule_run_keys_deduplicate_across_catch_up_and_restarts() {
    let setup = Setup::new(&[]);
    // An hourly cron over a daily asset: every tick of a day names the same partition.
    let spec = tessera_engine::ScheduleSpec {
        name: "hourly".into(),
        asset: "up".into(),
        cron: "0 * * * *".into(),
        timezone: "UTC".into(),
        catch_up: 10,
    };
    let t0 = now() + chrono::Duration::minutes(30);
    {
        let engine = setup.engine();
        let first = engine.tick_schedule(&spec, t0).unwrap();
        assert_eq!(first.len(), 1, "the first tick requests 2024-05-31");
    }
    // A restart three hours later catches up three ticks, all naming 2024-05-31 again.
    let engine = setup.engine();
    let caught_up = engine
        .tick_schedule(&spec, t0 + chrono::Duration::hours(3))
        .unwrap();
    assert!(caught_up.is_empty(), "{caught_up:?}");
    // The next day's ticks name 2024-06-01: one run, however many ticks name it.
    let next = engine
        .tick_schedule(&spec, t0 + chrono::Duration::hours(26))
        .unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    let runs = engine.state().runs(100, None).unwrap();
    let mut keys: Vec<String> = runs.iter().map(|r| r.selection.describe()).collect();
    keys.sort();
    assert_eq!(keys, ["2024-05-31", "2024-06-01"]);
}

fn canceling_a_finished_backfill_keeps_its_status() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let id = backfill(
        &engine,
        &["up"],
        &range("2024-01-01", "2024-01-03"),
        RunPolicy::PerPartition,
    );
    let (canceled, status) = engine.state().cancel_backfill(&id).unwrap();
    assert_eq!(
        (canceled, status),
        (0, tessera_engine::BackfillStatus::Completed)
    );
    assert_eq!(
        engine.state().backfill(&id).unwrap().unwrap().status,
        tessera_engine::BackfillStatus::Completed
    );
    // A running one is canceled, with its queued runs.
    let s = engine
        .submit(
            &strings(&["up"]),
            &range("2024-02-01", "2024-02-05"),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let b = s.backfill_id.unwrap();
    let (canceled, status) = engine.state().cancel_backfill(&b).unwrap();
    assert_eq!(
        (canceled, status),
        (5, tessera_engine::BackfillStatus::Canceled)
    );
}

fn a_row_that_does_not_decode_is_an_error_naming_it() {
    let setup = Setup::new(&[]);
    let engine = setup.engine();
    let id = backfill(
        &engine,
        &["up"],
        &range("2024-01-01", "2024-01-01"),
        RunPolicy::PerPartition,
    );
    let run = engine.state().runs(1, Some(&id)).unwrap()[0].id.clone();
    drop(engine);
    setup.execute_sql(&format!(
        "UPDATE runs SET status = 'paused' WHERE id = '{run}'"
    ));
    let engine = setup.engine();
    // Not read as "queued": an error naming the table, the row, the column and the value.
    let err = engine.state().runs(10, None).unwrap_err();
    let text = tessera_engine::report(&err);
    for part in ["runs row", &run, "status", "paused"] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    setup.execute_sql(&format!(
        "UPDATE runs SET status = 'success', assets = '{{not json' WHERE id = '{run}'"
    ));
    let text = tessera_engine::report(&engine.state().run(&run).unwrap_err());
    assert!(
        text.contains("assets") && text.contains("not json"),
        "{text}"
    );
}

fn a_run_is_queued_again_only_when_its_lease_expires() {
    use tessera_engine::state::RunEvent;
    let setup = Setup::new(&[]);
    let lease = Duration::from_millis(300);
    let config = || EngineConfig {
        clock: Clock::Fixed(now()),
        concurrency: 2,
        retry_backoff: Duration::from_millis(5),
        lease,
        ..EngineConfig::default()
    };
    let engine = setup.engine_with(config());
    let s = engine
        .submit(
            &strings(&["up"]),
            &range("2024-01-01", "2024-01-01"),
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "manual",
            now(),
        )
        .unwrap();
    // Another host claims the run, then stops without a word (it never renews its lease).
    let ghost = engine
        .state()
        .claim_batch(
            "ghost",
            &RunScope::All,
            16,
            &BTreeMap::new(),
            lease,
            &BTreeMap::new(),
        )
        .unwrap();
    assert_eq!(ghost.len(), 1);
    assert_eq!(engine.state().requeue_expired().unwrap(), 0, "still leased");
    let started = Instant::now();
    let summary = engine.run_runs(&s.runs, &|_| {}).unwrap();
    assert_eq!(summary.runs_succeeded, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited for the lease"
    );
    let events: Vec<RunEvent> = engine.state().run_events(&s.runs[0]).unwrap();
    assert!(
        events.iter().any(|e| e.message.contains("lease")),
        "{events:?}"
    );

    // Live hosts renew theirs: two engines sharing a backfill whose calls each last more than
    // twice the lease (`hang` until its 700 ms timeout) never take each other's runs.
    let config = || EngineConfig {
        max_attempts: 1,
        timeouts: BTreeMap::from([("hang".to_string(), Duration::from_millis(700))]),
        ..config()
    };
    let (one, two) = (setup.engine_with(config()), setup.engine_with(config()));
    let s = one
        .submit(
            &strings(&["hang"]),
            &range("2024-01-01", "2024-01-03"),
            Filter::Any,
            RunPolicy::PerPartition,
            true,
            "backfill",
            now(),
        )
        .unwrap();
    let b = s.backfill_id.unwrap();
    let (a, c) = std::thread::scope(|scope| {
        let other = scope.spawn(|| two.run_queue(Some(&b), &|_| {}).unwrap());
        let mine = one.run_queue(Some(&b), &|_| {}).unwrap();
        (mine, other.join().unwrap())
    });
    assert_eq!(a.runs_failed + c.runs_failed, 3, "{a:?} {c:?}");
    for run in &s.runs {
        let events = one.state().run_events(run).unwrap();
        assert!(
            !events.iter().any(|e| e.message.contains("lease")),
            "{run}: {events:?}"
        );
    }
}

fn a_missing_upstream_makes_only_its_readers_unavailable() {
    let c = components();
    let setup = Setup::new(&[]);
    std::fs::copy(
        c.guest("partial_reader"),
        setup.plugins().join("partial_reader.wasm"),
    )
    .unwrap();
    // `daily_sales` is not loaded: `reads_sales` and what reads it are unavailable, with the
    // reason; `own`, and every other plugin, work.
    let engine = setup.engine();
    assert!(engine.excluded_plugins().is_empty());
    let graph = engine.graph().unwrap();
    let unavailable = graph.unavailable();
    assert_eq!(
        unavailable.keys().collect::<Vec<_>>(),
        ["after_sales", "reads_sales"]
    );
    assert!(
        unavailable["reads_sales"].contains("\"daily_sales\", which no loaded plugin declares")
    );
    assert!(unavailable["after_sales"].contains("\"reads_sales\", which is unavailable"));
    for asset in ["own", "up"] {
        backfill(
            &engine,
            &[asset],
            &range("2024-01-01", "2024-01-02"),
            RunPolicy::PerPartition,
        );
        assert_eq!(materialized(&engine, asset).len(), 2, "{asset}");
    }
    let err = engine
        .submit(
            &strings(&["after_sales"]),
            &range("2024-01-01", "2024-01-02"),
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "manual",
            now(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("asset \"after_sales\" is unavailable: it reads \"reads_sales\""),
        "{err}"
    );
    // Once `daily_sales` loads, they are available.
    std::fs::copy(
        c.plugin("daily_sales"),
        setup.plugins().join("daily_sales.wasm"),
    )
    .unwrap();
    engine.registry().load_all().unwrap();
    let graph = engine.graph().unwrap();
    assert!(graph.unavailable().is_empty(), "{:?}", graph.unavailable());
    assert!(graph.asset("after_sales").is_some());
}

/// The bookkeeping of several hosts: a lease is its holder's while renewed, free to anyone
/// once expired or given up (its generation counting takeovers); a plugin version is recorded
/// once unless replaced; a host that leaves takes its leases with it.
fn leases_hosts_and_plugin_versions_follow_their_rules() {
    let state = Setup::new(&[]).state();
    let long = Duration::from_secs(30);
    assert_eq!(
        state.acquire_lease("sensor:s", "h1", long, false).unwrap(),
        None
    );
    assert_eq!(
        state.acquire_lease("sensor:s", "h1", long, true).unwrap(),
        Some(1)
    );
    assert_eq!(
        state.acquire_lease("sensor:s", "h1", long, false).unwrap(),
        Some(1)
    );
    assert_eq!(
        state.acquire_lease("sensor:s", "h2", long, true).unwrap(),
        None
    );
    // Given up (renewed until now): free at once, the next holder's generation is new.
    state
        .acquire_lease("sensor:s", "h1", Duration::ZERO, false)
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        state.acquire_lease("sensor:s", "h2", long, true).unwrap(),
        Some(2)
    );
    assert_eq!(
        state.acquire_lease("sensor:s", "h1", long, false).unwrap(),
        None
    );
    assert_eq!(
        state.acquire_lease("eager", "h1", long, true).unwrap(),
        Some(1)
    );

    state.host_heartbeat("h1", "one", 1).unwrap();
    state.host_heartbeat("h2", "two", 2).unwrap();
    let ids = |s: &dyn tessera_engine::Store| -> Vec<String> {
        s.hosts(long).unwrap().into_iter().map(|h| h.id).collect()
    };
    assert_eq!(ids(&*state), ["h1", "h2"]);
    state.host_gone("h2").unwrap();
    assert_eq!(ids(&*state), ["h1"]);
    let owners: Vec<(String, String)> = state
        .leases()
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.owner))
        .collect();
    assert_eq!(owners, [("eager".to_string(), "h1".to_string())]);
    // The sole host of a state takes everything over.
    state.host_heartbeat("h3", "three", 3).unwrap();
    state.forget_other_hosts("h3").unwrap();
    assert_eq!(ids(&*state), ["h3"]);
    assert!(state.leases().unwrap().is_empty());

    assert!(state.record_plugin_version("p", "v1", "h1", false).unwrap());
    assert!(!state.record_plugin_version("p", "v2", "h2", false).unwrap());
    assert_eq!(state.plugin_versions().unwrap()["p"], "v1");
    assert!(state.record_plugin_version("p", "v2", "h2", true).unwrap());
    assert!(!state.record_plugin_version("p", "v2", "h3", true).unwrap());
    assert_eq!(state.plugin_versions().unwrap()["p"], "v2");
}

on_both_stores!(
    the_seed_pipeline_backfills_in_dependency_order,
    dynamic_partitions_come_from_the_database_and_the_sensor,
    sparse_combinations_come_from_a_dynamic_set,
    rollups_wait_run_partially_and_reopen,
    blocking_checks_stop_what_reads_a_failed_partition,
    failed_attempts_are_retried_with_backoff,
    a_failure_marks_partitions_and_cancels_what_depends_on_it,
    a_missing_upstream_partition_waits_instead_of_failing,
    an_asset_timeout_ends_a_call_the_plugin_limit_would_let_run,
    sensor_cursors_and_run_keys_survive_a_restart,
    late_upstream_data_makes_downstream_stale_and_eager_assets_catch_up,
    batched_runs_cover_ranges_and_chunks,
    status_ranges_cover_the_definition_in_as_many_ranges_as_the_state_changes,
    a_status_kept_up_to_date_matches_one_computed_afresh,
    a_preview_counts_what_a_launch_creates,
    the_backfill_policy_is_honoured_at_planning,
    a_downstream_receives_exactly_the_upstream_partitions_it_maps_to,
    a_reload_that_breaks_the_graph_is_refused,
    a_reload_in_the_middle_of_a_backfill_harms_nothing,
    the_state_file_reopens_and_refuses_a_newer_schema,
    pools_limit_running_runs_across_workers_and_processes,
    schedule_run_keys_deduplicate_across_catch_up_and_restarts,
    canceling_a_finished_backfill_keeps_its_status,
    a_row_that_does_not_decode_is_an_error_naming_it,
    a_run_is_queued_again_only_when_its_lease_expires,
    a_missing_upstream_makes_only_its_readers_unavailable,
    leases_hosts_and_plugin_versions_follow_their_rules,
);
