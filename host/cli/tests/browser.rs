//! The web UI in a real browser: `tessera dev` (the binary) on a project of the example
//! plugins with a real SQLite state, and Debian's headless Chromium driven over the DevTools
//! protocol. Each test saves screenshots under `target/browser/`: look at them.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "test code"
)]

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tessera_tests::browser::{Browser, Page};
use tessera_tests::{components, repo_root};

mod common;

use common::*;

/// The demo's "now": January 2024 is history, `page_views` has ten million partitions.
const NOW: &str = "2024-02-01T00:00:00Z";
const WAIT: Duration = Duration::from_secs(30);

/// A project with the demo's plugins, some history, and `tessera dev` serving it.
struct Ui {
    project: Project,
    dev: Child,
    url: String,
}

impl Ui {
    fn start() -> Ui {
        let c = components();
        let project = Project::new(
            &[
                ("daily_sales", c.plugin("daily_sales")),
                ("processed_events", c.plugin("processed_events")),
                ("page_views", c.plugin("page_views")),
                ("trading_calendar", c.plugin("trading_calendar")),
                ("fiscal_calendar", c.plugin("fiscal_calendar")),
            ],
            "",
        );
        for args in [
            &[
                "backfill",
                "daily_sales",
                "raw_events",
                "processed_events",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-10",
            ][..],
            // The trading days to 2024-01-10, then the week from 2024-01-08 past its
            // roll-up deadline (a day after the week): it runs with three of its five days.
            &[
                "backfill",
                "trading_sales",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-10",
            ][..],
            &[
                "materialize",
                "weekly_trading_sales",
                "--partition",
                "2024-01-08",
            ][..],
            // Every day of fiscal month FY2024-P01 (1 to 28 January), then the month: read
            // through the plugin mapping fiscal_445, checked by complete_period.
            &[
                "backfill",
                "daily_sales",
                "--from",
                "2024-01-11",
                "--to",
                "2024-01-28",
            ][..],
            &[
                "materialize",
                "fiscal_month_sales",
                "--partition",
                "FY2024-P01",
            ][..],
            &[
                "backfill",
                "page_views",
                "--from",
                "2024-01-01-00:00",
                "--to",
                "2024-01-01-23:59",
            ][..],
        ] {
            let mut all = vec!["--now", NOW];
            all.extend_from_slice(args);
            let out = project.run(&all);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        }
        let mut dev = project
            .cmd(&["--now", NOW, "dev", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (line, rx) = wait_for_line(&mut dev, "\"serving\"");
        let serving: serde_json::Value = serde_json::from_str(&line).unwrap();
        let url = serving["url"].as_str().unwrap().to_string();
        // The rest of its output is not needed; reading it keeps the pipe from filling.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Ui { project, dev, url }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.dev.kill();
        let _ = self.dev.wait();
    }
}

fn shot(page: &mut Page<'_>, name: &str) -> PathBuf {
    let path = repo_root()
        .join("target")
        .join("browser")
        .join(format!("{name}.png"));
    page.screenshot(&path);
    eprintln!("screenshot {}", path.display());
    path
}

fn no_errors(page: &mut Page<'_>) {
    let errors = page.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

fn number(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        serde_json::Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

#[test]
fn the_asset_graph_and_a_ten_million_partition_health_bar() {
    let ui = Ui::start();
    let mut browser = Browser::launch();
    for dark in [false, true] {
        let mut page = browser.page(1280, 860, dark);
        let theme = if dark { "dark" } else { "light" };
        page.goto(&format!("{}#/assets", ui.url));
        page.wait_for(
            "document.querySelector('#asset-graph a.node[data-asset=\"page_views\"]')",
            WAIT,
        );
        // Upstream left of downstream, joined by an edge.
        let order = page.eval(
            "(() => { const x = k => document.querySelector(`#asset-graph a.node[data-asset=\"${k}\"]`).getBoundingClientRect().x; \
             return [x('raw_events'), x('processed_events')]; })()",
        );
        assert!(number(&order[0]) < number(&order[1]), "{order}");
        page.wait_for(
            "document.querySelector('path.edge[data-from=\"raw_events\"][data-to=\"processed_events\"]')",
            WAIT,
        );
        shot(&mut page, &format!("asset-graph-{theme}"));

        // Open the ten-million-partition asset from its node, with the keyboard.
        let started = Instant::now();
        page.eval(
            "document.querySelector('#asset-graph a.node[data-asset=\"page_views\"]').focus()",
        );
        page.key("Enter");
        page.wait_for(
            "document.querySelector('canvas#health-bar[data-drawn=\"1\"]:not([data-loading=\"1\"])')",
            WAIT,
        );
        eprintln!(
            "ui_asset_10m_load ({theme}, from the graph): {:?}",
            started.elapsed()
        );
        let total = number(&page.eval("document.querySelector('#health-bar').dataset.total"));
        assert!(total > 10_000_000.0, "{total}");
        // Three ranges (missing, a materialized day, missing): exact, at any zoom.
        assert_eq!(
            page.eval("document.querySelector('#health-bar').dataset.mode"),
            "exact"
        );
        assert_eq!(
            number(
                &page.eval("document.querySelector('[data-count=\"materialized\"]').dataset.value")
            ),
            1440.0
        );
        // Hover in the middle (2014: missing) shows the key and its state.
        let (x, y) = page.centre("#health-bar");
        page.mouse("mouseMoved", x, y);
        let state = page.wait_for(
            "(() => { const t = document.querySelector('#bar-tooltip'); return !t.hidden && t.dataset.key && t.dataset.state; })()",
            WAIT,
        );
        assert_eq!(state, "missing");
        let key = page.eval("document.querySelector('#bar-tooltip').dataset.key");
        assert!(key.as_str().unwrap().starts_with("201"), "{key}");
        shot(&mut page, &format!("asset-10m-{theme}"));
        // A click opens that partition.
        page.click_at(x, y);
        page.wait_for(
            "document.querySelector('#partition-state[data-state=\"missing\"]')",
            WAIT,
        );
        no_errors(&mut page);
    }
    // The figure the benchmark names: a cold load of the asset page until the bar is drawn.
    let mut page = browser.page(1280, 860, false);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        page.goto(&format!("{}#/assets/page_views", ui.url));
        page.wait_for(
            "document.querySelector('canvas#health-bar[data-drawn=\"1\"]')",
            WAIT,
        );
        times.push(started.elapsed());
        page.goto("about:blank");
    }
    times.sort();
    eprintln!("ui_asset_10m_load: median {:?} of {times:?}", times[2]);
}

#[test]
fn a_backfill_launched_after_its_preview_shows_live_progress() {
    let ui = Ui::start();
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900, false);
    page.goto(&format!("{}#/backfills/new?asset=page_views", ui.url));
    page.wait_for(
        "document.querySelector('input[data-backfill-asset=\"page_views\"]').checked",
        WAIT,
    );
    page.click("#bf-mode-range");
    page.fill("#bf-start", "2024-01-02-00:00");
    page.fill("#bf-end", "2024-01-09-23:59");
    page.click("input[data-filter=\"missing\"]");
    // The preview counts before launch: eight days of minutes, in runs of a day each.
    page.wait_for(
        "(() => { const p = document.querySelector('#bf-preview'); return p.dataset.state === 'ready' && p.dataset.partitions === '11520'; })()",
        WAIT,
    );
    assert_eq!(
        page.eval("document.querySelector('#bf-preview').dataset.runs"),
        "8"
    );
    assert_eq!(
        page.eval("document.querySelector('#bf-launch').disabled"),
        false
    );
    shot(&mut page, "backfill-launcher");
    page.click("#bf-launch");
    page.wait_for(
        "document.querySelector('#backfill-progress[data-total=\"11520\"]')",
        WAIT,
    );
    // Progress moves while it runs, without reloading the page.
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = number(&page.eval("document.querySelector('#backfill-progress').dataset.done"));
        seen.insert(done as u64);
        if done >= 11_520.0 {
            break;
        }
        assert!(Instant::now() < deadline, "progress stuck at {seen:?}");
        if seen.len() == 2 {
            shot(&mut page, "backfill-progress-running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        seen.iter().any(|d| *d > 0 && *d < 11_520),
        "no progress between start and end was shown: {seen:?}"
    );
    page.wait_for(
        "document.querySelector('#backfill-progress').dataset.status === 'completed'",
        WAIT,
    );
    shot(&mut page, "backfill-progress-done");
    no_errors(&mut page);
}

#[test]
fn a_partition_page_materializes_and_a_broken_plugin_file_shows_its_error() {
    let ui = Ui::start();
    let mut browser = Browser::launch();
    let mut page = browser.page(1280, 900, false);
    page.goto(&format!(
        "{}#/assets/daily_sales/partitions/2024-01-05",
        ui.url
    ));
    page.wait_for(
        "document.querySelector('#partition-state[data-state=\"materialized\"]')",
        WAIT,
    );
    let preview = page.eval("document.querySelector('#value-preview').textContent");
    assert!(preview.as_str().unwrap().contains("sales"), "{preview}");
    shot(&mut page, "partition");

    // A missing partition, materialized from its page.
    page.goto(&format!(
        "{}#/assets/daily_sales/partitions/2024-01-30",
        ui.url
    ));
    page.wait_for(
        "document.querySelector('#partition-state[data-state=\"missing\"]')",
        WAIT,
    );
    page.click("#materialize-btn");
    page.wait_for(
        "document.querySelector('#partition-state[data-state=\"materialized\"]')",
        WAIT,
    );
    shot(&mut page, "partition-materialized");

    // A weekly roll-up that ran past its deadline with three of its five trading days: the
    // page says it is partial, how much exists, and what is still missing.
    page.goto(&format!(
        "{}#/assets/weekly_trading_sales/partitions/2024-01-08",
        ui.url
    ));
    page.wait_for("document.querySelector('#rollups')", WAIT);
    let rollup =
        page.eval("document.querySelector('#rollups').closest('section, .card, div').textContent");
    let rollup = rollup.as_str().unwrap_or_default().to_string();
    assert!(
        rollup.contains("3 of 5") && rollup.contains("partial") && rollup.contains("wait_until"),
        "{rollup}"
    );
    let missing = page.eval("document.querySelector('#upstream-missing').textContent");
    assert!(
        missing
            .as_str()
            .unwrap_or_default()
            .contains("trading_sales[2024-01-11]"),
        "{missing}"
    );
    shot(&mut page, "rollup-partial");

    // The fiscal month's check: counted per outcome on the asset page, and its result on the
    // partition page.
    page.goto(&format!("{}#/assets/fiscal_month_sales", ui.url));
    page.wait_for(
        "document.querySelector('#asset-checks tr[data-check=\"complete_period\"]')",
        WAIT,
    );
    let counts = page.eval(
        "[...document.querySelectorAll('#asset-checks tr[data-check=\"complete_period\"] td')].map((t) => t.textContent).join(',')",
    );
    assert_eq!(counts.as_str(), Some("1,0,0"), "pass, warn, fail");
    page.wait_for(
        "document.querySelector('canvas#health-bar[data-drawn=\"1\"]:not([data-loading=\"1\"])')",
        WAIT,
    );
    shot(&mut page, "asset-checks");
    page.goto(&format!(
        "{}#/assets/fiscal_month_sales/partitions/FY2024-P01",
        ui.url
    ));
    page.wait_for(
        "document.querySelector('#checks tr[data-check=\"complete_period\"] [data-outcome=\"pass\"]')",
        WAIT,
    );
    shot(&mut page, "partition-checks");

    // A broken plugin file dropped in: its error appears on the plugins page, live.
    page.goto(&format!("{}#/plugins", ui.url));
    page.wait_for(
        "document.querySelector('#plugins-table tr[data-plugin=\"daily_sales\"]')",
        WAIT,
    );
    let broken = ui.project.path().join("daily_sales.broken");
    std::fs::write(&broken, b"\0asm not really").unwrap();
    std::fs::rename(
        &broken,
        ui.project.path().join("plugins").join("daily_sales.wasm"),
    )
    .unwrap();
    page.wait_for(
        "document.querySelector('[data-plugin-error=\"daily_sales\"]')",
        WAIT,
    );
    // The last good version keeps serving.
    page.wait_for(
        "document.querySelector('#plugins-table tr[data-plugin=\"daily_sales\"]')",
        WAIT,
    );
    shot(&mut page, "plugin-reload-error");
    no_errors(&mut page);
}
