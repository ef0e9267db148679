//! The `tessera` binary against careless input, a hostile plugin and rough handling: files that
//! are not files, bad configuration, concurrent and killed processes, a second daemon, Ctrl-C
//! during a sleeping sensor, and the host's memory while it handles the largest results.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::*;
use tessera_tests::components;

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn paths_that_are_not_regular_files_are_refused_at_once() {
    let c = components();
    let p = Project::new(&[("daily_sales", c.plugin("daily_sales"))], "");
    let zero = p.path().join("zero.wasm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = p.path().join("fifo");
    mkfifo(&fifo);
    let daily = c.plugin("daily_sales");
    let daily = daily.to_str().unwrap();

    let (out, took) = timed(|| p.run(&["plugin", "inspect", zero.to_str().unwrap()]));
    fails_with(&out, took, "not a regular file");
    for input in ["/dev/zero", fifo.to_str().unwrap()] {
        let spec = format!("up:2024-01-01={input}");
        let (out, took) = timed(|| {
            p.run(&[
                "plugin",
                "call",
                daily,
                "--asset",
                "daily_sales",
                "--partition",
                "2024-01-01",
                "--input",
                &spec,
            ])
        });
        fails_with(&out, took, "not a regular file");
    }
    let (out, took) = timed(|| p.run(&["--config", "/dev/zero", "status"]));
    fails_with(&out, took, "not a regular file");
    let (out, took) = timed(|| p.run(&["--config", fifo.to_str().unwrap(), "status"]));
    fails_with(&out, took, "not a regular file");
    let (out, took) = timed(|| p.run(&["dynamic", "add", "tenants", "--file", "/dev/zero"]));
    fails_with(&out, took, "not a regular file");
    // And the plugin directory itself: a FIFO and a /dev/zero link named like plugins are
    // reported, never read, and the real plugin serves.
    mkfifo(&p.path().join("plugins").join("pipe.wasm"));
    std::os::unix::fs::symlink("/dev/zero", p.path().join("plugins").join("zero.wasm")).unwrap();
    let (out, took) = timed(|| p.run(&["status"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(20), "{took:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pipe") && text.contains("NOT LOADED"),
        "{text}"
    );
    assert!(text.contains("daily_sales"), "{text}");
}

#[test]
fn configuration_mistakes_are_caught_when_it_loads() {
    let c = components();
    let plugins = [("engine_probe", c.guest("engine_probe"))];
    let cases = [
        ("concurrency = 100000\n", "concurrency = 100000"),
        (
            "[[schedules]]\nname = \"s\"\nasset = \"up\"\ncron = \"0 25 * * *\"\n",
            "cron",
        ),
        (
            "[[schedules]]\nname = \"s\"\nasset = \"up\"\ncron = \"0 1 * * *\"\ntimezone = \"Mars/Olympus\"\n",
            "timezone",
        ),
    ];
    for (extra, expected) in cases {
        let p = Project::new(&plugins, extra);
        let (out, took) = timed(|| p.run(&["status"]));
        fails_with(&out, took, expected);
    }
    // A schedule of an asset no plugin declares: `status` says so, `dev` refuses to start.
    let p = Project::new(
        &plugins,
        "[[schedules]]\nname = \"nightly\"\nasset = \"nope\"\ncron = \"0 1 * * *\"\n",
    );
    let out = p.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("schedule error") && text.contains("nope"),
        "{text}"
    );
    let (out, took) = timed(|| p.run(&["dev"]));
    fails_with(&out, took, "nope");
}

#[test]
fn mistakes_name_the_cause_once() {
    let c = components();
    let p = Project::new(&[("engine_probe", c.guest("engine_probe"))], "");
    let probe = c.guest("engine_probe");
    let probe = probe.to_str().unwrap();
    // A memory limit below what the plugin starts with is the limit's fault.
    let (out, took) = timed(|| p.run(&["plugin", "inspect", probe, "--memory-mib", "1"]));
    fails_with(&out, took, "memory");
    assert!(!stderr(&out).contains("not a valid"), "{}", stderr(&out));
    // A reversed range, and a partition of an unpartitioned asset, are errors that say why.
    let (out, took) = timed(|| p.run(&["materialize", "up", "--range", "2024-01-05...2024-01-01"]));
    fails_with(&out, took, "comes after");
    let (out, took) = timed(|| {
        p.run(&[
            "plugin",
            "call",
            probe,
            "--asset",
            "up",
            "--range",
            "2024-01-05...2024-01-01",
        ])
    });
    fails_with(&out, took, "comes after");
    let hostile = c.guest("hostile");
    let (out, took) = timed(|| {
        p.run(&[
            "plugin",
            "call",
            hostile.to_str().unwrap(),
            "--asset",
            "ok",
            "--partition",
            "x",
        ])
    });
    fails_with(&out, took, "not partitioned");
    // A plugin whose definitions() sleeps past the limit: the chained error, once.
    std::fs::write(p.path().join("grant").join("mode"), "sleep:30000").unwrap();
    let grant = format!("{}=/hostile", p.path().join("grant").display());
    let (out, took) = timed(|| {
        p.run(&[
            "plugin",
            "inspect",
            hostile.to_str().unwrap(),
            "--grant-dir",
            &grant,
            "--timeout-ms",
            "500",
        ])
    });
    fails_with(&out, took, "stopped after");
}

#[test]
fn one_daemon_per_state_and_ctrl_c_does_not_wait_for_a_sleeping_sensor() {
    let c = components();
    // The hostile plugin's sensors: one sleeps 30 s in every evaluation (limit 60 s).
    let p = Project::new(&[("hostile", c.guest("hostile"))], "");
    let mut first = p
        .cmd(&["dev", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, _lines) = wait_for_line(&mut first, "\"started\"");
    let (second, took) = timed(|| p.run(&["dev"]));
    fails_with(&second, took, &format!("pid {}", first.id()));
    // The other commands work beside the daemon.
    let out = p.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Let the sensors start (`sleepy` blocks for 30 s), then Ctrl-C.
    std::thread::sleep(Duration::from_secs(4));
    let stopped = Instant::now();
    signal(&first, "-INT");
    let status = wait_at_most(&mut first, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "Ctrl-C took {:?}",
        stopped.elapsed()
    );
    // The lock went with the process: a new daemon starts.
    let mut again = p
        .cmd(&["dev", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, _lines) = wait_for_line(&mut again, "\"started\"");
    signal(&again, "-KILL");
    let _ = again.wait();
}

#[test]
fn processes_starting_together_on_a_fresh_project_all_succeed() {
    let c = components();
    for trial in 0..6 {
        let p = Project::new(&[("daily_sales", c.plugin("daily_sales"))], "");
        let day = format!("2024-01-{:02}", trial + 1);
        let children: Vec<Child> = (0..2)
            .map(|_| {
                p.cmd(&["materialize", "daily_sales", "--partition", &day])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "trial {trial}: {}", stderr(&out));
        }
    }
}

#[test]
fn a_process_killed_while_creating_the_state_leaves_it_usable() {
    let c = components();
    for trial in 0..12u64 {
        let p = Project::new(&[("daily_sales", c.plugin("daily_sales"))], "");
        let mut child = p
            .cmd(&["status"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over start-up: config, plugin load, database creation.
        std::thread::sleep(Duration::from_millis(trial * 7 % 60));
        signal(&child, "-KILL");
        let _ = child.wait();
        let out = p.run(&["status"]);
        assert!(out.status.success(), "trial {trial}: {}", stderr(&out));
    }
}

#[test]
fn a_damaged_state_is_refused_with_what_to_do() {
    let c = components();
    let p = Project::new(&[("daily_sales", c.plugin("daily_sales"))], "");
    let ok = p.run(&["materialize", "daily_sales", "--partition", "2024-01-01"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let db = p.path().join(".tessera").join("state.db");
    // A table dropped by hand: refused at open, not a command that hangs mid-run.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TABLE materializations")
        .unwrap();
    let (out, took) = timed(|| p.run(&["materialize", "daily_sales", "--partition", "2024-01-02"]));
    fails_with(&out, took, "materializations are missing");
    assert!(stderr(&out).contains("backup"), "{}", stderr(&out));
    // An empty file: refused, not taken for a new, empty state.
    std::fs::write(&db, b"").unwrap();
    let (out, took) = timed(|| p.run(&["status"]));
    fails_with(&out, took, "empty");
}

/// Runs a command and returns its output and its peak resident memory (the kernel's own
/// accounting for that one child).
fn peak_rss(mut cmd: Command) -> (std::process::ExitStatus, u64) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = zero_rusage();
    #[allow(unsafe_code)]
    // SAFETY: `wait4` writes the child's exit status and resource usage into the two
    // out-parameters, both valid and exclusively borrowed for the call; `pid` is our own
    // child, not waited for yet (`child` is dropped without `wait`, which never reaps).
    let waited = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    drop(child);
    let exit =
        <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(status);
    // Linux reports ru_maxrss in KiB.
    (exit, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024)
}

fn zero_rusage() -> libc::rusage {
    libc::rusage {
        ru_utime: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        ru_stime: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        ru_maxrss: 0,
        ru_ixrss: 0,
        ru_idrss: 0,
        ru_isrss: 0,
        ru_minflt: 0,
        ru_majflt: 0,
        ru_nswap: 0,
        ru_inblock: 0,
        ru_oublock: 0,
        ru_msgsnd: 0,
        ru_msgrcv: 0,
        ru_nsignals: 0,
        ru_nvcsw: 0,
        ru_nivcsw: 0,
    }
}

/// The bound the README documents for the host handling one call's result.
const HOST_RESULT_BOUND: u64 = 600 << 20;

#[test]
fn the_host_stays_within_its_memory_bound_for_the_largest_results() {
    let c = components();
    let hostile = c.guest("hostile");
    let p = Project::new(&[], "");
    let out_dir = p.path().join("out");
    let call = |asset: &str| {
        let mut cmd = p.cmd(&[
            "plugin",
            "call",
            hostile.to_str().unwrap(),
            "--asset",
            asset,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        cmd.env("TESSERA_LOG", "error");
        peak_rss(cmd)
    };
    // The largest result allowed: 64 MiB of output and 1,000 metadata entries of 1 KB.
    let (status, max_ok) = call("max_result");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        std::fs::metadata(out_dir.join("max_result")).unwrap().len(),
        64 << 20
    );
    // Refused results: a million metadata entries, 100 MB of metadata, 1 GiB of log.
    let mut peaks = vec![("max_result", max_ok)];
    for asset in ["metadata_many", "metadata_big"] {
        let (status, peak) = call(asset);
        assert!(!status.success(), "{asset} was accepted");
        peaks.push((asset, peak));
    }
    let (status, peak) = call("log_flood");
    assert!(status.success(), "{status:?}");
    peaks.push(("log_flood", peak));
    eprintln!("peak resident memory of `tessera plugin call`: {peaks:?}");
    for (asset, peak) in peaks {
        assert!(peak < HOST_RESULT_BOUND, "{asset}: {} MiB", peak >> 20);
    }
}
