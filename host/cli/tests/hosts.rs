//! Several `tessera dev` hosts on one PostgreSQL database (a throwaway cluster the tests
//! start), each with its own plugin directory and one shared IO store: hosts killed,
//! stopped, paused and restarted, plugins rolled out, the server restarted, and afterwards
//! the database checked for what must hold — every partition materialized once, no run
//! stuck or run twice, downstream after upstream, each tick once, no zombie write.
//!
//! The tests of this file run at the same time (one binary): together they take about as
//! long as the longest, the sensor and schedule test's 200 intervals.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tessera_tests::{components, pg, shared_dir};

mod common;

use common::{signal, stderr, wait_at_most};

/// Hosts on one database: `hosts[i]` is a project directory with its own `plugins/`.
struct Fleet {
    cluster: ClusterRef,
    /// The database's name on the cluster (for `psql`).
    db: String,
    shared: tempfile::TempDir,
    hosts: Vec<tempfile::TempDir>,
    /// Global arguments of every command (the clock).
    clock: Vec<String>,
}

/// The process-wide cluster, or one a test owns (it restarts it).
enum ClusterRef {
    Shared(&'static pg::Cluster),
    Own(pg::Cluster),
}

impl ClusterRef {
    fn get(&self) -> &pg::Cluster {
        match self {
            ClusterRef::Shared(c) => c,
            ClusterRef::Own(c) => c,
        }
    }
}

/// A running host: its process and every line it printed (JSON events).
struct Host {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Host {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until the host printed a line containing `text`.
    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.contains(text)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?} within {limit:?}; printed:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A graceful stop (Ctrl-C), waited for.
    fn stop(mut self) -> Vec<String> {
        signal(&self.child, "-INT");
        let status = wait_at_most(&mut self.child, Duration::from_secs(60));
        assert!(status.success(), "the host stopped with {status}");
        self.lines()
    }

    fn kill(mut self) {
        signal(&self.child, "-KILL");
        let _ = wait_at_most(&mut self.child, Duration::from_secs(10));
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fleet {
    fn new(cluster: ClusterRef, hosts: usize, extra: &str, clock: &[String]) -> Fleet {
        let url = cluster.get().database();
        let db = url.rsplit('/').next().unwrap().to_string();
        let shared = tempfile::tempdir().unwrap();
        let probe = components().guest("engine_probe");
        let hosts = (0..hosts)
            .map(|_| {
                let dir = tempfile::tempdir().unwrap();
                std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
                std::fs::copy(&probe, dir.path().join("plugins/engine_probe.wasm")).unwrap();
                std::fs::write(
                    dir.path().join("tessera.toml"),
                    format!(
                        "plugins = \"plugins\"\nstorage = \"{url}\"\nstorage_dir = \"{}\"\n\
                         [execution]\nretry_backoff_ms = 5\nlease_ms = 1500\n{extra}",
                        shared.path().display()
                    ),
                )
                .unwrap();
                dir
            })
            .collect();
        Fleet {
            cluster,
            db,
            shared,
            hosts,
            clock: clock.to_vec(),
        }
    }

    fn cmd(&self, host: usize, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.args(&self.clock)
            .args(args)
            .current_dir(self.hosts[host].path())
            .env("TESSERA_CACHE_DIR", shared_dir("artifacts"))
            .env("TESSERA_LOG", "warn")
            .env_remove("TESSERA_DATABASE_URL");
        c
    }

    /// Queues a backfill from host 0 with the probe's sensor turned off (it would queue runs
    /// of its own every second).
    fn backfill(&self, args: &[&str]) {
        self.run(0, &["sensor", "disable", "repeat_sensor"]);
        let mut all = vec!["backfill"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--no-wait", "--json"]);
        self.run(0, &all);
    }

    fn run(&self, host: usize, args: &[&str]) -> Output {
        let out = self.cmd(host, args).output().expect("run tessera");
        assert!(
            out.status.success(),
            "tessera {args:?} failed: {}",
            stderr(&out)
        );
        out
    }

    /// Starts `tessera dev` on host `i` (no UI) and waits until it is up.
    fn start(&self, i: usize) -> Host {
        let mut child = self
            .cmd(i, &["dev", "--json", "--no-server"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tessera dev");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let host = Host { child, lines };
        host.wait_for("\"started\"", Duration::from_secs(60));
        host
    }

    fn plugin_path(&self, host: usize) -> PathBuf {
        self.hosts[host].path().join("plugins/engine_probe.wasm")
    }

    /// One value from the database.
    fn sql(&self, sql: &str) -> String {
        self.cluster.get().psql(&self.db, sql).trim().to_string()
    }

    fn count(&self, sql: &str) -> i64 {
        let v = self.sql(sql);
        v.parse()
            .unwrap_or_else(|_| panic!("{sql}: not a number: {v:?}"))
    }

    /// Waits until no run is queued or running (at most `limit`).
    fn wait_until_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let open =
                self.count("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')");
            if open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{open} runs still open after {limit:?}: {}",
                self.sql("SELECT status, count(*) FROM runs GROUP BY status")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Every run ended in success: none failed, none stuck.
    fn assert_all_succeeded(&self, runs: i64) {
        assert_eq!(
            self.sql("SELECT status || ' ' || count(*) FROM runs GROUP BY status"),
            format!("success {runs}"),
        );
    }

    /// Each of `partitions` (asset, partition) pairs has exactly one materialization.
    fn assert_materialized_once(&self, partitions: i64) {
        assert_eq!(
            self.count("SELECT count(*) FROM materializations"),
            partitions
        );
        assert_eq!(
            self.count(
                "SELECT count(*) FROM (SELECT asset, partition FROM materializations
                 GROUP BY 1, 2 HAVING count(*) > 1) twice"
            ),
            0
        );
    }
}

/// The `--to` key `days - 1` days after 2024-01-01.
fn day(days: i64) -> String {
    (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Nanoseconds of the clock: enough randomness for kill points without a dependency.
fn jitter(max_ms: u64) -> Duration {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(n % max_ms.max(1))
}

fn fixed_clock(at: &str) -> Vec<String> {
    vec!["--now".into(), at.into()]
}

#[test]
fn three_hosts_backfill_a_chain_while_one_is_killed_and_one_restarted() {
    let fleet = Fleet::new(
        ClusterRef::Shared(pg::cluster()),
        3,
        "",
        &fixed_clock("2052-01-01T00:00:00Z"),
    );
    let last = day(9_999);
    fleet.backfill(&["up", "down", "--from", "2024-01-01", "--to", &last]);
    let hosts: Vec<Host> = (0..3).map(|i| fleet.start(i)).collect();
    let mut hosts = hosts.into_iter();
    let (a, b, c) = (
        hosts.next().unwrap(),
        hosts.next().unwrap(),
        hosts.next().unwrap(),
    );
    // Killed at a random point of the backfill, with runs in flight.
    std::thread::sleep(Duration::from_millis(500) + jitter(2_500));
    b.kill();
    let done_at_kill = fleet.count("SELECT count(*) FROM runs WHERE status = 'success'");
    // Another stopped (Ctrl-C: runs in flight finish) and started again.
    c.stop();
    let c = fleet.start(2);
    fleet.wait_until_idle(Duration::from_secs(600));
    let requeued = fleet
        .count("SELECT count(*) FROM run_events WHERE message LIKE '%stopped renewing its lease%'");
    eprintln!("killed after {done_at_kill} of 20000 runs; {requeued} runs requeued after it");
    for h in [a, c] {
        h.stop();
    }
    fleet.assert_all_succeeded(20_000);
    fleet.assert_materialized_once(20_000);
    // Downstream never before its upstream: each `down` call started after both upstream
    // partitions it reads (the same day and the day before) were written.
    assert_eq!(
        fleet.count(
            "SELECT count(*) FROM materializations d JOIN materializations u
               ON u.asset = 'up' AND (u.partition = d.partition
                  OR u.partition = to_char(to_date(d.partition, 'YYYY-MM-DD') - 1, 'YYYY-MM-DD'))
             WHERE d.asset = 'down' AND d.started_at < u.ended_at"
        ),
        0
    );
}

#[test]
fn a_sensor_and_a_schedule_tick_once_each_across_hosts_that_die() {
    // Simulated time runs 60 times as fast (one schedule tick per real second), the same
    // for every host; the sensor's interval is one real second.
    let since = Utc::now();
    let clock = vec![
        "--now".to_string(),
        "2030-01-01T00:00:00Z".to_string(),
        "--clock-rate".to_string(),
        "60".to_string(),
        "--clock-since".to_string(),
        since.to_rfc3339(),
    ];
    let fleet = Fleet::new(
        ClusterRef::Shared(pg::cluster()),
        3,
        "[[schedules]]\nname = \"every_minute\"\nasset = \"up\"\ncron = \"* * * * *\"\n",
        &clock,
    );
    let mut hosts: Vec<Option<Host>> = (0..3).map(|i| Some(fleet.start(i))).collect();
    let t0 = Instant::now();
    let at = |s: u64| {
        let until = Duration::from_secs(s);
        if let Some(left) = until.checked_sub(t0.elapsed()) {
            std::thread::sleep(left);
        }
    };
    // 200 intervals; hosts killed, stopped and restarted on the way.
    at(40);
    hosts[0].take().unwrap().kill();
    at(60);
    hosts[0] = Some(fleet.start(0));
    at(100);
    hosts[1].take().unwrap().stop();
    at(110);
    hosts[1] = Some(fleet.start(1));
    at(150);
    hosts[2].take().unwrap().kill();
    at(165);
    hosts[2] = Some(fleet.start(2));
    at(200);
    for h in hosts.into_iter().flatten() {
        h.stop();
    }
    let ended: DateTime<Utc> = "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        + chrono::TimeDelta::seconds((Utc::now() - since).num_seconds() * 60);

    // The sensor: each recorded evaluation read the cursor the one before left (its cursor
    // counts evaluations), so no interval was evaluated twice.
    let state = fleet
        .sql("SELECT evaluations || ' ' || cursor FROM sensor_state WHERE name = 'repeat_sensor'");
    let (evaluations, cursor) = state.split_once(' ').unwrap();
    let evaluations: i64 = evaluations.parse().unwrap();
    assert_eq!(cursor, evaluations.to_string(), "cursor and evaluations");
    assert!(
        evaluations >= 120,
        "only {evaluations} evaluations in 200 one-second intervals"
    );
    // Its run keys: `tick-N` once for every evaluation, `only-once` once; none twice.
    assert_eq!(
        fleet.count(
            "SELECT count(*) - count(DISTINCT run_key) FROM runs WHERE trigger = 'sensor:repeat_sensor'"
        ),
        0
    );
    assert_eq!(
        fleet.count("SELECT count(*) FROM runs WHERE run_key LIKE 'tick-%'"),
        evaluations
    );
    assert_eq!(
        fleet.count("SELECT count(*) FROM runs WHERE run_key = 'only-once'"),
        1
    );

    // The schedule: every simulated minute from the first tick to the last, each once.
    let ticks = fleet.sql(
        "SELECT count(*) || ' ' || min(tick) || ' ' || max(tick) FROM schedule_ticks
         WHERE schedule = 'every_minute'",
    );
    let v: Vec<i64> = ticks.split(' ').map(|x| x.parse().unwrap()).collect();
    eprintln!("{evaluations} sensor evaluations, {} schedule ticks", v[0]);
    assert_eq!(v[0], (v[2] - v[1]) / 60 + 1, "ticks {ticks}: a gap");
    assert!(v[0] >= 180, "only {} ticks in 200 simulated minutes", v[0]);
    assert!(
        v[2] <= ended.timestamp(),
        "a tick after the simulated end {ended}"
    );
    assert_eq!(
        fleet.count(
            "SELECT count(*) - count(DISTINCT run_key) FROM runs WHERE trigger = 'schedule:every_minute'"
        ),
        0
    );
}

/// The SHA-256 of a file, as the store names data versions.
fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_zombie_host_paused_past_its_lease_records_and_overwrites_nothing() {
    let fleet = Fleet::new(
        ClusterRef::Shared(pg::cluster()),
        2,
        "",
        &fixed_clock("2025-01-01T00:00:00Z"),
    );
    fleet.backfill(&["big", "--from", "2024-01-01", "--to", "2024-01-24"]);
    let mut zombie = fleet.start(0);
    zombie.wait_for("\"run_started\"", Duration::from_secs(60));
    signal(&zombie.child, "-STOP");
    // Past its lease (1.5 s): the other host requeues its runs and does all the work.
    let other = fleet.start(1);
    fleet.wait_until_idle(Duration::from_secs(300));
    let before = fleet.sql(
        "SELECT string_agg(partition || ' ' || run_id || ' ' || blob || ' ' || data_version, ',' ORDER BY partition)
         FROM materializations",
    );
    signal(&zombie.child, "-CONT");
    // The zombie wakes: its run ends, and its host finds the claim taken over.
    zombie.wait_for("lease expired", Duration::from_secs(60));
    assert!(zombie.still_running());
    std::thread::sleep(Duration::from_secs(2));
    let zombie_lines = zombie.stop();
    other.stop();
    assert!(
        !zombie_lines
            .iter()
            .any(|l| l.contains("\"run_finished\"") && l.contains("\"ok\":true")),
        "the zombie recorded a success"
    );
    fleet.assert_all_succeeded(24);
    fleet.assert_materialized_once(24);
    let after = fleet.sql(
        "SELECT string_agg(partition || ' ' || run_id || ' ' || blob || ' ' || data_version, ',' ORDER BY partition)
         FROM materializations",
    );
    assert_eq!(
        before, after,
        "the zombie changed a recorded materialization"
    );
    // Every recorded file still holds the bytes its data version names: the zombie's write
    // went to a file of its own claim, which nothing points to.
    for entry in after.split(',') {
        let parts: Vec<&str> = entry.split(' ').collect();
        let (blob, version) = (parts[2], parts[3]);
        let path = fleet.shared.path().join("data").join(blob);
        assert_eq!(sha256_of(&path), version, "{blob} was overwritten");
    }
    let files = std::fs::read_dir(fleet.shared.path().join("data/big"))
        .unwrap()
        .count();
    assert!(files >= 24, "{files} files for 24 partitions");
}

/// `plugin` with a custom section appended: the same code, another content hash (a new
/// version as a rollout sees it).
fn another_version(plugin: &Path, tag: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut bytes = std::fs::read(plugin).unwrap();
    let name = b"tessera-test-version";
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(tag.as_bytes());
    bytes.push(0);
    leb(body.len(), &mut bytes);
    bytes.extend_from_slice(&body);
    bytes
}

#[test]
fn a_rolling_plugin_update_across_three_hosts_runs_one_version_at_a_time() {
    let fleet = Fleet::new(
        ClusterRef::Shared(pg::cluster()),
        3,
        "",
        &fixed_clock("2052-01-01T00:00:00Z"),
    );
    let last = day(2_999);
    fleet.backfill(&["slow", "--from", "2024-01-01", "--to", &last]);
    let v2 = fleet.shared.path().join("engine_probe-v2.wasm");
    std::fs::write(&v2, another_version(&fleet.plugin_path(0), "2")).unwrap();
    let hosts: Vec<Host> = (0..3).map(|i| fleet.start(i)).collect();
    // The new file reaches the hosts one at a time, a second apart, mid-backfill.
    for i in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        tessera_tests::copy_atomically(&v2, &fleet.plugin_path(i));
    }
    fleet.wait_until_idle(Duration::from_secs(600));
    for h in hosts {
        h.stop();
    }
    fleet.assert_all_succeeded(3_000);
    fleet.assert_materialized_once(3_000);
    let versions = fleet.sql("SELECT string_agg(DISTINCT plugin_version, ',') FROM runs");
    assert_eq!(versions.split(',').count(), 2, "versions run: {versions}");
    // One version at a time: every call of the old version ended before the first of the
    // new one started.
    let overlap = fleet.sql(
        "WITH v AS (SELECT r.plugin_version AS version, min(m.started_at) AS first, max(m.ended_at) AS last
                    FROM materializations m JOIN runs r ON r.id = m.run_id GROUP BY 1)
         SELECT count(*) FROM v a JOIN v b ON a.version <> b.version
         WHERE a.first <= b.first AND a.last > b.first",
    );
    assert_eq!(overlap, "0", "two versions ran at once");
    // The new version is the one recorded as current.
    let current = fleet.sql("SELECT version FROM plugin_versions WHERE plugin = 'engine_probe'");
    assert!(
        fleet.count(&format!(
            "SELECT count(*) FROM runs WHERE plugin_version = '{current}'"
        )) > 0
    );
}

#[test]
fn hosts_reconnect_when_postgresql_restarts_under_load_and_lose_nothing() {
    let fleet = Fleet::new(
        ClusterRef::Own(pg::private_cluster()),
        2,
        "",
        &fixed_clock("2052-01-01T00:00:00Z"),
    );
    let last = day(3_999);
    fleet.backfill(&["slow", "--from", "2024-01-01", "--to", &last]);
    let mut hosts: Vec<Host> = (0..2).map(|i| fleet.start(i)).collect();
    hosts[0].wait_for("\"run_finished\"", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500) + jitter(1_000));
    // A crash of the server (immediate stop), down for three seconds.
    fleet.cluster.get().stop().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    fleet.cluster.get().start_server().unwrap();
    fleet.wait_until_idle(Duration::from_secs(600));
    for h in &mut hosts {
        assert!(h.still_running(), "a host ended when the server restarted");
    }
    for h in hosts {
        h.stop();
    }
    fleet.assert_all_succeeded(4_000);
    fleet.assert_materialized_once(4_000);
}
