//! A throwaway PostgreSQL cluster for the tests and benchmarks: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port, one fresh database per test, and the
//! cluster stopped and removed when the test process ends (a watchdog process waits for it,
//! so a test that panics or a process killed still leaves nothing running).
//!
//! The binaries come from Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`),
//! installed first when missing and this process is root with apt-get, as the C toolchain
//! and Chromium are. PostgreSQL refuses to run as root: as root, the server runs as the
//! `postgres` user the package creates. A test that needs PostgreSQL and cannot have it
//! fails saying what to install; it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

const PACKAGE: &str = "postgresql";

/// One running cluster.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// `postgres` when this process is root (the server will not run as root).
    run_as: Option<String>,
    durable: bool,
}

/// The cluster of this test process, started on first use, with durability traded for speed
/// (no fsync: a test never survives a power cut).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(false).unwrap_or_else(|e| panic!("{e}")))
}

/// A cluster that syncs its commits to disk as a production one does, for benchmarks.
pub fn durable_cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(true).unwrap_or_else(|e| panic!("{e}")))
}

/// A fresh, empty database on this process's cluster: its URL.
pub fn database() -> String {
    cluster().database()
}

/// A cluster of its own (fast, as [`cluster`]), for a test that stops and restarts the
/// server under load without disturbing the others.
pub fn private_cluster() -> Cluster {
    Cluster::start(false).unwrap_or_else(|e| panic!("{e}"))
}

impl Cluster {
    fn start(durable: bool) -> Result<Cluster, String> {
        let bin = binaries()?;
        let root = is_root();
        let run_as = root.then(|| "postgres".to_string());
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir().join(format!(
            "tessera-pg-{}-{}-{}",
            std::process::id(),
            if durable { "durable" } else { "fast" },
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        if let Some(user) = &run_as {
            chown(&base, user)?;
        }
        let data = base.join("data");
        let cluster = Cluster {
            bin,
            data,
            port: free_port()?,
            run_as,
            durable,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.display().to_string(),
                "-U",
                "tessera",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.watch_parent(&base)?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// Starts the server (again, after [`Cluster::stop`]) and waits until it accepts
    /// connections.
    pub fn start_server(&self) -> Result<(), String> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=300",
            self.port,
            self.data.display()
        );
        if !self.durable {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-l",
                &self.data.join("server.log").display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// Stops the server at once (as a crash would: `immediate` mode, no checkpoint).
    pub fn stop(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://tessera@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a fresh, empty database; returns its URL.
    pub fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}", N.fetch_add(1, Ordering::Relaxed));
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "tessera",
            ])
            .arg(&name)
            .output()
            .unwrap_or_else(|e| panic!("running createdb: {e}"));
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// Runs SQL with `psql` on database `name`; returns what it printed (unaligned, no
    /// headers).
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "tessera",
            ])
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                name,
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("running psql: {e}"));
        assert!(
            out.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs one of the cluster's binaries, as the `postgres` user when this process is root.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let out = cmd
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .map_err(|e| format!("running {}: {e}", path.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default();
            Err(format!(
                "{program} {} failed: {}{}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            ))
        }
    }

    /// A shell that outlives nothing: when this process ends, however it ends, the server is
    /// stopped and its directory removed.
    fn watch_parent(&self, base: &Path) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {user} -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data.display()
            ),
            None => format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                self.data.display()
            ),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {base}",
            pid = std::process::id(),
            base = base.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("starting the cluster's watchdog: {e}"))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The newest installed server's binaries (`TESSERA_PG_BIN` first), installing Debian's
/// package when none is and this process may.
fn binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TESSERA_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = newest_installed() {
        return Ok(dir);
    }
    let install = format!("apt-get install -y {PACKAGE}");
    if !(is_root() && Path::new("/usr/bin/apt-get").exists()) {
        return Err(format!(
            "the PostgreSQL tests start a throwaway server and need its binaries (initdb, pg_ctl); \
             on Debian: `{install}` (or set TESSERA_PG_BIN to their directory)"
        ));
    }
    eprintln!("installing PostgreSQL for the tests: {install}");
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    let updated = ok(Command::new("apt-get").args(["update", "-q"]));
    let installed = ok(Command::new("apt-get")
        .args(["install", "-y", "-q", PACKAGE])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    match newest_installed() {
        Some(dir) if updated && installed => Ok(dir),
        _ => Err(format!(
            "installing PostgreSQL failed; run `{install}` and try again"
        )),
    }
}

fn newest_installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn chown(dir: &Path, user: &str) -> Result<(), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| format!("id {flag} {user}: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user {user:?} (Debian's postgresql package creates it)"))
    };
    std::os::unix::fs::chown(dir, Some(id("-u")?), Some(id("-g")?))
        .map_err(|e| format!("chown {}: {e}", dir.display()))
}
