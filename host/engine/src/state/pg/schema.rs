//! The PostgreSQL schema: versioned migrations, applied under an advisory lock so that hosts
//! starting at once migrate once.
//!
//! The tables are SQLite's (see `state/schema.rs`) with PostgreSQL's types. Text that is
//! compared or ordered (keys, names, ids) uses the "C" collation, so that ranges and orders
//! are by bytes as on SQLite, whatever the database's locale.

use deadpool_postgres::GenericClient;

use super::{LOCK_SCHEMA, PgError, exec, row};

/// Migrations, applied in order; `tessera_schema.version` counts the applied ones. Never edit
/// one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id            TEXT COLLATE "C" PRIMARY KEY,
    seq           BIGINT NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    plugin        TEXT NOT NULL,
    computation   TEXT NOT NULL,
    assets        TEXT NOT NULL,
    selection     TEXT NOT NULL,
    partitions    BIGINT NOT NULL,
    backfill_id   TEXT COLLATE "C",
    run_key       TEXT,
    trigger       TEXT NOT NULL,
    tags          TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    not_before    BIGINT NOT NULL DEFAULT 0,
    owner         TEXT,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    ended_at      BIGINT,
    error         TEXT,
    pool          TEXT,
    lease_until   BIGINT,
    lease_gen     BIGINT NOT NULL DEFAULT 0,
    plugin_version TEXT
);
CREATE INDEX runs_running_by_plugin ON runs(plugin) WHERE status = 'running';
CREATE INDEX runs_by_status ON runs(status, seq);
CREATE INDEX runs_by_backfill ON runs(backfill_id, status);
CREATE INDEX runs_by_pool ON runs(pool, status);
CREATE INDEX runs_by_owner ON runs(owner) WHERE owner IS NOT NULL;
CREATE TABLE run_deps (
    run_id      TEXT COLLATE "C" NOT NULL,
    depends_on  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (run_id, depends_on)
);
CREATE INDEX run_deps_by_dependency ON run_deps(depends_on);
CREATE TABLE run_events (
    run_id   TEXT COLLATE "C" NOT NULL,
    seq      BIGINT GENERATED ALWAYS AS IDENTITY,
    at       BIGINT NOT NULL,
    level    TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE materializations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset         TEXT COLLATE "C" NOT NULL,
    partition     TEXT COLLATE "C" NOT NULL,
    run_id        TEXT COLLATE "C" NOT NULL,
    plugin        TEXT NOT NULL,
    code_version  TEXT NOT NULL,
    data_version  TEXT NOT NULL,
    blob          TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT NOT NULL,
    input_hash    TEXT,
    inputs        TEXT,
    UNIQUE (run_id, asset, partition)
);
CREATE INDEX materializations_by_partition ON materializations(asset, partition, id);
CREATE TABLE blobs (
    name  TEXT COLLATE "C" PRIMARY KEY,
    data  BYTEA NOT NULL
);
CREATE TABLE partition_status (
    asset            TEXT COLLATE "C" NOT NULL,
    partition        TEXT COLLATE "C" NOT NULL,
    status           TEXT NOT NULL,
    materialization  BIGINT,
    failed_run       TEXT,
    error            TEXT,
    updated_at       BIGINT NOT NULL,
    code_version     TEXT,
    data_version     TEXT,
    input_hash       TEXT,
    changed          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (asset, partition)
);
CREATE INDEX partition_status_by_change ON partition_status(changed);
-- One row, incremented by every transaction that writes partition states: its lock, held to
-- the commit, puts their stamps in commit order.
CREATE TABLE change_counter (
    id  INT PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO change_counter (id, n) VALUES (1, 0);
CREATE TABLE dynamic_changes (
    name   TEXT COLLATE "C" NOT NULL,
    seq    BIGINT NOT NULL,
    op     TEXT NOT NULL CHECK (op IN ('add', 'remove', 'set')),
    keys   TEXT NOT NULL,
    total  BIGINT NOT NULL,
    PRIMARY KEY (name, seq)
);
CREATE TABLE sensor_state (
    name              TEXT COLLATE "C" PRIMARY KEY,
    cursor            TEXT,
    last_evaluation   BIGINT,
    last_skip_reason  TEXT,
    last_error        TEXT,
    evaluations       BIGINT NOT NULL DEFAULT 0,
    disabled          BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE sensor_run_keys (
    sensor   TEXT COLLATE "C" NOT NULL,
    run_key  TEXT COLLATE "C" NOT NULL,
    run_id   TEXT NOT NULL,
    PRIMARY KEY (sensor, run_key)
);
CREATE TABLE schedule_ticks (
    schedule   TEXT COLLATE "C" NOT NULL,
    tick       BIGINT NOT NULL,
    partition  TEXT,
    run_id     TEXT,
    status     TEXT NOT NULL,
    PRIMARY KEY (schedule, tick)
);
CREATE TABLE backfills (
    id           TEXT COLLATE "C" PRIMARY KEY,
    seq          BIGINT NOT NULL UNIQUE,
    status       TEXT NOT NULL,
    assets       TEXT NOT NULL,
    description  TEXT NOT NULL,
    partitions   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE TABLE hosts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    label       TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
CREATE TABLE leases (
    name   TEXT COLLATE "C" PRIMARY KEY,
    owner  TEXT NOT NULL,
    until  BIGINT NOT NULL,
    gen    BIGINT NOT NULL
);
CREATE TABLE plugin_versions (
    plugin       TEXT COLLATE "C" PRIMARY KEY,
    version      TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL
);
"#,
    // Asset checks: the latest result of each check on each partition.
    r#"
CREATE TABLE check_results (
    asset        TEXT COLLATE "C" NOT NULL,
    check_name   TEXT COLLATE "C" NOT NULL,
    partition    TEXT COLLATE "C" NOT NULL,
    outcome      TEXT NOT NULL,
    description  TEXT,
    metadata     TEXT NOT NULL,
    blocking     BOOLEAN NOT NULL,
    run_id       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (asset, partition, check_name)
);
"#,
];

/// Every table, for [`drop_all`].
const TABLES: &str = "runs, run_deps, run_events, materializations, blobs, partition_status, \
    change_counter, dynamic_changes, sensor_state, sensor_run_keys, schedule_ticks, backfills, \
    hosts, leases, plugin_versions, check_results, tessera_schema";

/// Brings the schema up to date: once, whoever comes first (an advisory lock held for the
/// session of the connection, released before it returns to the pool).
pub(super) async fn migrate(client: &mut deadpool_postgres::Client) -> Result<(), PgError> {
    exec(&*client, "SELECT pg_advisory_lock($1)", &[&LOCK_SCHEMA]).await?;
    let out = apply(client).await;
    let unlocked = exec(&*client, "SELECT pg_advisory_unlock($1)", &[&LOCK_SCHEMA]).await;
    out?;
    unlocked.map(drop)
}

async fn apply(client: &mut deadpool_postgres::Client) -> Result<(), PgError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS tessera_schema (version BIGINT NOT NULL)")
        .await?;
    let tx = client.transaction().await?;
    let found: Option<i64> = row(&tx, "SELECT MAX(version) FROM tessera_schema", &[])
        .await?
        .try_get(0)?;
    let found = found.unwrap_or(0);
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(PgError::TooNew { found, known });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(m).await?;
        let version = i as i64 + 1;
        exec(&tx, "DELETE FROM tessera_schema", &[]).await?;
        exec(
            &tx,
            "INSERT INTO tessera_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Drops every table of the store.
pub(super) async fn drop_all<C: GenericClient>(c: &C) -> Result<(), PgError> {
    c.batch_execute(&format!("DROP TABLE IF EXISTS {TABLES}"))
        .await?;
    Ok(())
}
