//! A plugin written the way an attacker (or a very careless author) would: it blocks in WASI
//! calls past any time limit, floods the host with logs, metadata, cursors, run requests and
//! dynamic keys, and declares definitions that are huge or cyclic. The hardening tests load it
//! and check that the host stops each attempt with a clear error and keeps serving.
//!
//! What `definitions()` declares is chosen by the file `/hostile/mode` (a directory the test
//! grants the plugin; no grant, no file: the normal definitions), so one component covers
//! every definition-time attack:
//!
//! - unset: the computations and sensors below;
//! - `sleep:MS` / `poll:MS`: sleep (or block in `wasi:io/poll`) for MS milliseconds first;
//! - `spin`: never return;
//! - `cycle`: two assets that read each other;
//! - `assets:N`: N assets; `static:N`: a static definition of N keys; `string:N`: an
//!   N-byte description; `sensors:N`: N sensors;
//! - `declare:NAME`: also declare asset NAME (to collide with another plugin's).

wit_bindgen::generate!({ world: "plugin", path: "../../../plugin-sdk/wit" });

use std::time::Duration;

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::host;
use tessera::plugin::types::*;

struct Hostile;

/// Far beyond every limit a test sets.
const LONG: Duration = Duration::from_secs(30);

fn asset(key: &str, partitions: Option<Partitions>, inputs: Vec<AssetInput>) -> AssetDefinition {
    AssetDefinition {
        key: key.to_string(),
        description: None,
        partitions,
        inputs,
        code_version: None,
        metadata: vec![],
        backfill_policy: None,
    }
}

fn computation(name: &str) -> Computation {
    Computation {
        name: name.to_string(),
        assets: vec![asset(name, None, vec![])],
    }
}

fn input(up: &str) -> AssetInput {
    AssetInput {
        asset: up.to_string(),
        mapping: None,
        allow_missing: false,
        rollup: None,
    }
}

fn sensor(name: &str, targets: &[&str]) -> SensorDefinition {
    SensorDefinition {
        name: name.to_string(),
        description: None,
        minimum_interval_seconds: 1,
        targets: targets.iter().map(|t| t.to_string()).collect(),
    }
}

fn output(
    asset: &str,
    data: Vec<u8>,
    metadata: Vec<MetadataEntry>,
) -> Result<Vec<Output>, PluginError> {
    Ok(vec![Output {
        asset: asset.to_string(),
        partition: None,
        data,
        metadata,
    }])
}

/// Blocks in `wasi:io/poll.poll` on a monotonic-clock pollable.
fn poll_clock(d: Duration) {
    let pollable = wasip2::clocks::monotonic_clock::subscribe_duration(d.as_nanos() as u64);
    wasip2::io::poll::poll(&[&pollable]);
}

fn number(spec: &str) -> usize {
    spec.parse().unwrap_or(0)
}

fn normal() -> Definitions {
    let mut computations: Vec<Computation> = [
        "ok",
        "sleep",
        "poll_clock",
        "read_path",
        "log_flood",
        "log_lines",
        "metadata_many",
        "metadata_big",
        "metadata_ok",
        "sockets",
        "env",
        "max_result",
    ]
    .iter()
    .map(|n| computation(n))
    .collect();
    // 20 KiB per partition of a dynamic set: above what the engine keeps in its database, so
    // the output goes to the IO store under a name derived from the key.
    computations.push(Computation {
        name: "per_tenant".to_string(),
        assets: vec![asset(
            "per_tenant",
            Some(Partitions::Dynamic("tenants".to_string())),
            vec![],
        )],
    });
    Definitions {
        computations,
        sensors: vec![
            sensor("sleepy", &["ok"]),
            sensor("huge_cursor", &["ok"]),
            sensor("run_flood", &["ok"]),
            sensor("million_tenants", &["per_tenant"]),
            sensor("bad_tenants", &["per_tenant"]),
        ],
    }
}

impl Guest for Hostile {
    fn definitions() -> Definitions {
        let mode = std::fs::read_to_string("/hostile/mode").unwrap_or_default();
        let mode = mode.trim();
        let (what, arg) = mode.split_once(':').unwrap_or((mode, ""));
        let mut defs = normal();
        match what {
            "sleep" => std::thread::sleep(Duration::from_millis(number(arg) as u64)),
            "poll" => poll_clock(Duration::from_millis(number(arg) as u64)),
            "spin" => loop {
                std::hint::black_box(0);
            },
            "cycle" => {
                defs.computations.push(Computation {
                    name: "cycle_a".to_string(),
                    assets: vec![asset("cycle_a", None, vec![input("cycle_b")])],
                });
                defs.computations.push(Computation {
                    name: "cycle_b".to_string(),
                    assets: vec![asset("cycle_b", None, vec![input("cycle_a")])],
                });
            }
            "assets" => {
                defs.computations
                    .extend((0..number(arg)).map(|i| computation(&format!("a{i}"))));
            }
            "static" => defs.computations.push(Computation {
                name: "wide".to_string(),
                assets: vec![asset(
                    "wide",
                    Some(Partitions::StaticKeys(
                        (0..number(arg)).map(|i| format!("k{i}")).collect(),
                    )),
                    vec![],
                )],
            }),
            "string" => {
                if let Some(a) = defs.computations[0].assets.first_mut() {
                    a.description = Some("x".repeat(number(arg)));
                }
            }
            "sensors" => defs
                .sensors
                .extend((0..number(arg)).map(|i| sensor(&format!("s{i}"), &["ok"]))),
            "declare" => defs.computations.push(computation(arg)),
            _ => {}
        }
        defs
    }

    fn materialize(
        context: MaterializeContext,
        inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        let name = context.computation.as_str();
        match name {
            "ok" => output(name, b"ok".to_vec(), vec![]),
            "sleep" => {
                std::thread::sleep(LONG);
                output(name, b"woke".to_vec(), vec![])
            }
            "poll_clock" => {
                poll_clock(LONG);
                output(name, b"woke".to_vec(), vec![])
            }
            // Opens and reads the path given as its input's bytes (a FIFO, in the tests: both
            // the open and the read block until a writer comes).
            "read_path" => {
                let path = inputs
                    .first()
                    .and_then(|i| i.partitions.first())
                    .map(|p| String::from_utf8_lossy(&p.data).into_owned())
                    .unwrap_or_default();
                let data = std::fs::read(&path)
                    .map_err(|e| PluginError::InvalidInput(format!("{path}: {e}")))?;
                output(name, data, vec![])
            }
            // 1 GiB of log in 1 MiB messages, from one reused buffer: the guest itself stays
            // small.
            "log_flood" => {
                let chunk = "x".repeat(1 << 20);
                for _ in 0..1024 {
                    host::log(host::LogLevel::Info, &chunk, &[]);
                }
                output(name, b"logged".to_vec(), vec![])
            }
            "log_lines" => {
                for i in 0..1_000_000 {
                    host::log(host::LogLevel::Info, &format!("line {i}"), &[]);
                }
                output(name, b"logged".to_vec(), vec![])
            }
            "metadata_many" => output(
                name,
                b"x".to_vec(),
                (0..1_000_000)
                    .map(|i| MetadataEntry {
                        key: format!("k{i}"),
                        value: MetadataValue::Integer(i),
                    })
                    .collect(),
            ),
            "metadata_big" => output(
                name,
                b"x".to_vec(),
                vec![MetadataEntry {
                    key: "blob".to_string(),
                    value: MetadataValue::Text("x".repeat(100 << 20)),
                }],
            ),
            "metadata_ok" => output(
                name,
                b"x".to_vec(),
                (0..10)
                    .map(|i| MetadataEntry {
                        key: format!("k{i}"),
                        value: MetadataValue::Text("y".repeat(1000)),
                    })
                    .collect(),
            ),
            "per_tenant" => output(name, vec![b'z'; 20 << 10], vec![]),
            // The largest result the default limits allow: 64 MiB of data and 1,000 metadata
            // entries of a kilobyte.
            "max_result" => output(
                name,
                vec![7u8; 64 << 20],
                (0..1000)
                    .map(|i| MetadataEntry {
                        key: format!("k{i:03}"),
                        value: MetadataValue::Text("y".repeat(1000)),
                    })
                    .collect(),
            ),
            // What the network looks like from inside: every attempt should fail.
            "sockets" => {
                let tried = ["127.0.0.1:1", "10.0.0.1:80", "[::1]:22"].map(|addr| {
                    match std::net::TcpStream::connect(addr) {
                        Ok(_) => format!("{addr}: connected"),
                        Err(e) => format!("{addr}: {:?}", e.kind()),
                    }
                });
                let udp = match std::net::UdpSocket::bind("0.0.0.0:0") {
                    Ok(_) => "udp: bound".to_string(),
                    Err(e) => format!("udp: {:?}", e.kind()),
                };
                output(
                    name,
                    format!("{}\n{udp}", tried.join("\n")).into_bytes(),
                    vec![],
                )
            }
            // The environment it sees: only what was granted.
            "env" => output(
                name,
                std::env::vars()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes(),
                vec![],
            ),
            other => Err(PluginError::InvalidInput(format!("no computation {other}"))),
        }
    }

    fn evaluate_sensor(context: SensorContext) -> Result<SensorResult, PluginError> {
        let mut result = SensorResult {
            run_requests: vec![],
            skip_reason: None,
            cursor: None,
            dynamic_partitions: vec![],
        };
        match context.sensor.as_str() {
            "sleepy" => {
                std::thread::sleep(LONG);
                result.skip_reason = Some("woke".to_string());
            }
            "huge_cursor" => result.cursor = Some("c".repeat(50 << 20)),
            "run_flood" => {
                // Twice the default limit of run requests, well within what the host copies.
                result.run_requests = (0..200_000)
                    .map(|i| RunRequest {
                        run_key: Some(format!("r{i}")),
                        assets: vec!["ok".to_string()],
                        partition: PartitionSelection::None,
                        tags: vec![],
                    })
                    .collect();
            }
            "million_tenants" => {
                result.dynamic_partitions = vec![DynamicPartitionsRequest {
                    name: "tenants".to_string(),
                    add: (0..1_000_000).map(|i| format!("tenant-{i:07}")).collect(),
                    delete: vec![],
                }];
                result.cursor = Some("1000000".to_string());
            }
            "bad_tenants" => {
                let key = context.cursor.unwrap_or_default();
                result.dynamic_partitions = vec![DynamicPartitionsRequest {
                    name: "tenants".to_string(),
                    add: vec![key],
                    delete: vec![],
                }];
            }
            other => return Err(PluginError::InvalidInput(format!("no sensor {other}"))),
        }
        Ok(result)
    }
}

export!(Hostile);
