//! The engine as a service, through the `tessera` binary: the daemon on a fixed clock, and the
//! defects a new user hit (each test failed before its fix).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tessera_tests::components;

mod common;

use common::*;

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_fixed_clock_drives_schedules_in_the_daemon() {
    let c = components();
    let p = Project::new(
        &[("engine_probe", c.guest("engine_probe"))],
        "[[schedules]]\nname = \"nightly\"\nasset = \"up\"\ncron = \"0 1 * * *\"\n",
    );
    let mut dev = p
        .cmd(&["--now", "2024-01-05T01:30:00Z", "dev", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, rx) = wait_for_line(&mut dev, "\"schedule_tick\"");
    // Its run executes on the same clock: 2024-01-04 exists then.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("the scheduled run finishes");
        if line.contains("\"run_finished\"") {
            assert!(line.contains("\"ok\":true"), "{line}");
            break;
        }
    }
    signal(&dev, "-INT");
    assert!(wait_at_most(&mut dev, Duration::from_secs(15)).success());
    let runs = json(&p.run(&["runs", "--json"]));
    let scheduled: Vec<&Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["trigger"] == "schedule:nightly")
        .collect();
    assert_eq!(scheduled.len(), 1, "{runs:#}");
    assert_eq!(
        scheduled[0]["selection"]["keys"][0], "2024-01-04",
        "{runs:#}"
    );
}

/// The views of `partitions ASSET --json`, by key: (state, whole view).
fn views(p: &Project, args: &[&str]) -> (Value, std::collections::BTreeMap<String, String>) {
    let v = json(&p.run(args));
    let states = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (v["status"].clone(), states)
}

#[test]
fn records_outside_the_definition_are_shown_apart_never_fail() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let later = "2024-01-20T00:00:00Z";
    // `down` reads the day before too.
    for (asset, range) in [
        ("up", "2024-01-08...2024-01-12"),
        ("down", "2024-01-10...2024-01-12"),
    ] {
        let out = p.run(&["--now", later, "materialize", asset, "--range", range]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // At an earlier `now`, 2024-01-11 and 2024-01-12 do not exist yet.
    let earlier = "2024-01-11T00:00:00Z";
    for args in [
        &["--now", earlier, "status"][..],
        &["--now", earlier, "status", "--json"],
        &["--now", earlier, "assets", "--json"],
        &["--now", earlier, "partitions", "down", "--status"],
    ] {
        let out = p.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    for (asset, inside) in [("up", 3), ("down", 1)] {
        let (status, states) = views(&p, &["--now", earlier, "partitions", asset, "--json"]);
        assert_eq!(status["outside"], 2, "{asset}: {status}");
        assert_eq!(status["materialized"], inside, "{asset}: {status}");
        assert_eq!(status["stale"], 0, "{asset}: {status}");
        assert_eq!(states["2024-01-10"], "materialized", "{asset}");
        assert_eq!(states["2024-01-11"], "outside_definition", "{asset}");
        assert_eq!(states["2024-01-12"], "outside_definition", "{asset}");
    }
    let text = String::from_utf8_lossy(
        &p.run(&["--now", earlier, "partitions", "down", "--status"])
            .stdout,
    )
    .into_owned();
    assert!(text.contains("2 recorded outside the definition"), "{text}");
}

#[test]
fn a_removed_dynamic_key_is_outside_the_definition_not_stale() {
    let c = components();
    let p = Project::new(&[("customer_metrics", c.plugin("customer_metrics"))], "");
    let out = p.run(&["dynamic", "add", "customers", "acme", "globex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let out = p.run(&["materialize", "customer_metrics", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.run(&["dynamic", "remove", "customers", "globex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (status, states) = views(&p, &["partitions", "customer_metrics", "--json"]);
    assert_eq!(status["total"], 1, "{status}");
    assert_eq!(status["stale"], 0, "{status}");
    assert_eq!(status["outside"], 1, "{status}");
    assert_eq!(states["acme"], "materialized");
    assert_eq!(states["globex"], "outside_definition");
}

#[test]
fn adding_to_a_set_no_definition_uses_warns_or_is_refused() {
    let c = components();
    let p = Project::new(&[("customer_metrics", c.plugin("customer_metrics"))], "");
    let out = p.run(&["dynamic", "add", "custmers", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning") && err.contains("\"custmers\"") && err.contains("customers"),
        "{err}"
    );
    let (out, took) = timed(|| p.run(&["dynamic", "add", "custmers", "acme", "--strict"]));
    fails_with(&out, took, "the sets in use are: customers");
    let out = p.run(&["dynamic", "add", "customers", "acme", "--strict"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn show_prints_one_partition_in_full() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let now = "2024-02-01T00:00:00Z";
    let run = |args: &[&str]| {
        let mut all = vec!["--now", now];
        all.extend_from_slice(args);
        p.run(&all)
    };
    for args in [
        // One call over the range: the probe writes the range's label for both keys.
        &[
            "materialize",
            "up",
            "--range",
            "2024-01-09...2024-01-10",
            "--single-run",
        ][..],
        &["materialize", "down", "--partition", "2024-01-10"],
        // Re-materialized upstream with other bytes (now its own key): `down` becomes
        // stale, with the reason.
        &["materialize", "up", "--partition", "2024-01-10"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let d = json(&run(&["show", "down", "2024-01-10", "--json"]));
    assert_eq!(d["state"], "stale", "{d:#}");
    let reasons = d["stale_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{d:#}");
    assert_eq!(reasons[0]["reason"], "upstream_changed", "{d:#}");
    assert_eq!(reasons[0]["asset"], "up", "{d:#}");
    assert_eq!(reasons[0]["key"], "2024-01-10", "{d:#}");
    assert_ne!(reasons[0]["from"], reasons[0]["to"], "{d:#}");
    assert_eq!(d["history_total"], 1);
    // The probe writes text: shown as it is.
    assert_eq!(d["preview"]["kind"], "text", "{d:#}");
    assert!(!d["preview"]["text"].as_str().unwrap().is_empty(), "{d:#}");
    assert!(d["latest"]["data_version"].as_str().unwrap().len() == 64);
    let up = json(&run(&["show", "up", "2024-01-10", "--json"]));
    assert_eq!(up["state"], "materialized");
    assert_eq!(up["history_total"], 2);
    assert_eq!(up["history"].as_array().unwrap().len(), 2);
    // Text for people.
    let text = String::from_utf8_lossy(&run(&["show", "down", "2024-01-10"]).stdout).into_owned();
    for part in [
        "down[2024-01-10]: stale",
        "stale: upstream up[2024-01-10] has a new data version (",
        "history (1 materialization):",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    // A partition never materialized is missing; one that does not exist is an error.
    let m = json(&run(&["show", "up", "2024-01-20", "--json"]));
    assert_eq!(m["state"], "missing");
    let (out, took) = timed(|| run(&["show", "up", "2030-01-01"]));
    fails_with(&out, took, "no partition \"2030-01-01\"");
}

#[test]
fn runs_filter_and_keys_page_and_schedules_list() {
    let c = components();
    let p = Project::new(
        &[("engine_probe", c.guest("engine_probe"))],
        "[[schedules]]\nname = \"nightly\"\nasset = \"up\"\ncron = \"0 1 * * *\"\n",
    );
    let now = "2024-02-01T01:30:00Z";
    let run = |args: &[&str]| {
        let mut all = vec!["--now", now];
        all.extend_from_slice(args);
        p.run(&all)
    };
    assert!(
        run(&["materialize", "up", "--range", "2024-01-01...2024-01-03"])
            .status
            .success()
    );
    assert!(
        !run(&["materialize", "broken", "--partition", "2024-01-02"])
            .status
            .success()
    );
    let count = |args: &[&str]| {
        let mut all = vec!["runs", "--json"];
        all.extend_from_slice(args);
        json(&run(&all)).as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 4);
    assert_eq!(count(&["--asset", "up"]), 3);
    assert_eq!(count(&["--partition", "2024-01-02"]), 2);
    assert_eq!(count(&["--status", "failed"]), 1);
    assert_eq!(count(&["--asset", "broken", "--status", "success"]), 0);
    assert_eq!(count(&["--since", "2000-01-01T00:00:00Z"]), 4);
    assert_eq!(count(&["--since", "2099-01-01T00:00:00Z"]), 0);
    let (out, took) = timed(|| run(&["runs", "--status", "paused"]));
    fails_with(&out, took, "not a run status");

    // Keys: a page computed from the definition (31 + 1 days exist at `now`).
    let page = json(&run(&[
        "partitions",
        "up",
        "--keys",
        "--from",
        "2024-01-30",
        "--limit",
        "2",
        "--json",
    ]));
    assert_eq!(
        page["keys"],
        serde_json::json!(["2024-01-30", "2024-01-31"])
    );
    assert_eq!(page["total"], 31);
    assert_eq!(page["next"], Value::Null);
    let page = json(&run(&[
        "partitions",
        "minutely",
        "--keys",
        "--limit",
        "3",
        "--json",
    ]));
    assert_eq!(page["keys"].as_array().unwrap().len(), 3);
    assert!(page["total"].as_u64().unwrap() > 7_000_000, "{page}");
    assert_eq!(page["next"], "2010-01-01-00:03");

    // Schedules: listed with their next tick; a tick queues the latest partition once.
    let list = json(&run(&["schedule", "list", "--json"]));
    assert_eq!(list[0]["name"], "nightly");
    assert_eq!(list[0]["last_tick"], Value::Null);
    assert_eq!(list[0]["next_tick"], 1_706_835_600, "2024-02-02 01:00 UTC");
    let tick = json(&run(&["schedule", "tick", "nightly", "--run", "--json"]));
    assert_eq!(tick["runs_queued"].as_array().unwrap().len(), 1, "{tick}");
    assert_eq!(tick["executed"]["runs_succeeded"], 1, "{tick}");
    let again = json(&run(&["schedule", "tick", "nightly", "--json"]));
    assert_eq!(again["runs_queued"].as_array().unwrap().len(), 0, "{again}");
    let status = json(&run(&["status", "--json"]));
    assert_eq!(
        status["schedules"][0]["last_tick"], 1_706_749_200,
        "{status}"
    );
    assert_eq!(status["sensors"][0]["sensor"], "repeat_sensor", "{status}");
}

#[test]
fn a_row_that_does_not_decode_is_named_once() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let out = p.run(&[
        "--now",
        "2024-02-01T00:00:00Z",
        "materialize",
        "up",
        "--partition",
        "2024-01-10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = p.path().join(".tessera").join("state.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE runs SET status = 'paused'", [])
        .unwrap();
    drop(conn);
    let (out, took) = timed(|| p.run(&["runs"]));
    fails_with(
        &out,
        took,
        "column status holds \"paused\", which is not a run status",
    );
}

#[test]
fn commands_beside_a_broken_plugin_file_use_its_last_good_version() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let now = ["--now", "2024-02-01T00:00:00Z"];
    let run = |args: &[&str]| {
        let mut all = now.to_vec();
        all.extend_from_slice(args);
        p.run(&all)
    };
    let out = run(&["materialize", "up", "--partition", "2024-01-09"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A half-written or broken file where the plugin was.
    std::fs::write(
        p.path().join("plugins").join("engine_probe.wasm"),
        b"\0asm broken",
    )
    .unwrap();
    let out = run(&["materialize", "up", "--partition", "2024-01-10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = json(&run(&["status", "--json"]));
    assert_eq!(status["plugins"][0]["plugin"], "engine_probe", "{status:#}");
    assert!(
        status["plugin_errors"]["engine_probe"]["error"].is_string(),
        "{status:#}"
    );
    let text = String::from_utf8_lossy(&run(&["status"]).stdout).into_owned();
    assert!(
        text.contains("FILE FAILED TO LOAD (the last good version serves)"),
        "{text}"
    );
    // Fixed: the file serves again.
    std::fs::copy(
        c.guest("engine_probe"),
        p.path().join("plugins").join("engine_probe.wasm"),
    )
    .unwrap();
    let status = json(&run(&["status", "--json"]));
    assert_eq!(status["plugin_errors"], serde_json::json!({}), "{status:#}");
}

#[test]
fn a_backfill_policy_refuses_ranges_when_planning() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let now = "2024-02-01T00:00:00Z";
    for args in [
        &[
            "materialize",
            "one_by_one",
            "--range",
            "2024-01-01...2024-01-05",
            "--single-run",
        ][..],
        &[
            "backfill",
            "one_by_one",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-05",
            "--max-per-run",
            "3",
        ],
    ] {
        let mut all = vec!["--now", now];
        all.extend_from_slice(args);
        let (out, took) = timed(|| p.run(&all));
        fails_with(
            &out,
            took,
            "one_by_one: its backfill policy is single_partition, which does not allow",
        );
    }
    // Nothing was queued.
    let runs = json(&p.run(&["runs", "--json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "{runs}");
}

#[test]
fn partitions_ranges_give_every_state_in_consecutive_runs() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let now = "2024-01-20T00:00:00Z";
    let out = p.run(&[
        "--now",
        now,
        "materialize",
        "up",
        "--range",
        "2024-01-08...2024-01-12",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&p.run(&["--now", now, "partitions", "up", "--ranges", "--json"]));
    assert_eq!(v["total"], 19, "{v:#}");
    let ranges: Vec<(String, u64, u64, String, String)> = v["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap().to_string(),
                r["from"].as_u64().unwrap(),
                r["to"].as_u64().unwrap(),
                r["from_key"].as_str().unwrap().to_string(),
                r["to_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let r =
        |s: &str, a, b, ka: &str, kb: &str| (s.to_string(), a, b, ka.to_string(), kb.to_string());
    assert_eq!(
        ranges,
        [
            r("missing", 0, 6, "2024-01-01", "2024-01-07"),
            r("materialized", 7, 11, "2024-01-08", "2024-01-12"),
            r("missing", 12, 18, "2024-01-13", "2024-01-19"),
        ]
    );
    let text = p.run(&["--now", now, "partitions", "up", "--ranges"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("2024-01-08...2024-01-12 (7–11, 5)"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

#[test]
fn a_disabled_sensor_is_not_evaluated_by_the_daemon() {
    let c = components();
    let p = Project::new(&[("customer_metrics", c.plugin("customer_metrics"))], "");
    let out = p.run(&["sensor", "disable", "customer_sensor"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let evaluations = |p: &Project| {
        let v = json(&p.run(&["sensor", "list", "--json"]));
        (
            v[0]["state"]["evaluations"].as_u64().unwrap(),
            v[0]["state"]["disabled"].as_bool().unwrap(),
        )
    };
    assert_eq!(evaluations(&p), (0, true));
    // The daemon starts, would evaluate the sensor at once (its interval has passed), and
    // does not.
    let run_daemon = |p: &Project| {
        let mut dev = p
            .cmd(&["dev", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (_, _rx) = wait_for_line(&mut dev, "\"started\"");
        std::thread::sleep(Duration::from_secs(2));
        signal(&dev, "-INT");
        assert!(wait_at_most(&mut dev, Duration::from_secs(15)).success());
    };
    run_daemon(&p);
    assert_eq!(evaluations(&p), (0, true));
    // A tick asked for by hand still runs.
    assert!(
        p.run(&["sensor", "tick", "customer_sensor"])
            .status
            .success()
    );
    assert_eq!(evaluations(&p), (1, true));
    // On again: the daemon evaluates it.
    assert!(
        p.run(&["sensor", "enable", "customer_sensor"])
            .status
            .success()
    );
    run_daemon(&p);
    let (n, disabled) = evaluations(&p);
    assert!(n >= 2 && !disabled, "{n} {disabled}");
    // An unknown sensor is an error naming it.
    let out = p.run(&["sensor", "disable", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}
