//! A plugin whose computations misbehave in every way the host must contain.

wit_bindgen::generate!({ world: "plugin", path: "../../../plugin-sdk/wit" });

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::host;
use tessera::plugin::types::*;

struct Misbehave;

fn computation(name: &str) -> Computation {
    Computation {
        name: name.to_string(),
        assets: vec![AssetDefinition {
            key: name.to_string(),
            description: None,
            partitions: None,
            inputs: vec![],
            code_version: None,
            metadata: vec![],
            backfill_policy: None,
        }],
    }
}

fn output(asset: &str, data: &[u8]) -> Output {
    Output {
        asset: asset.to_string(),
        partition: None,
        data: data.to_vec(),
        metadata: vec![],
    }
}

/// Keys a, b, c: for the per-key output checks.
fn keyed(name: &str) -> Computation {
    let mut c = computation(name);
    c.assets[0].partitions = Some(Partitions::StaticKeys(vec![
        "a".to_string(),
        "b".to_string(),
        "c".to_string(),
    ]));
    c
}

fn output_for(asset: &str, key: &str) -> Output {
    Output {
        partition: Some(key.to_string()),
        ..output(asset, key.as_bytes())
    }
}

/// Calls served by this instance (the `count` computation).
static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == u64::MAX {
        0
    } else {
        recurse(std::hint::black_box(n + 1)) + 1
    }
}

impl Guest for Misbehave {
    fn definitions() -> Definitions {
        Definitions {
            computations: [
                "ok",
                "spin",
                "bomb",
                "overflow",
                "panic",
                "bad_output",
                "fail",
                "log",
                "big_output",
                "read",
                "count",
                "leak",
            ]
            .iter()
            .map(|n| computation(n))
            .chain(
                ["keys_missing", "keys_mixed", "key_stray", "key_twice"]
                    .iter()
                    .map(|n| keyed(n)),
            )
            .collect(),
            sensors: vec![SensorDefinition {
                name: "strays".to_string(),
                description: None,
                minimum_interval_seconds: 1,
                targets: vec!["ok".to_string()],
            }],
        }
    }

    fn materialize(
        context: MaterializeContext,
        _inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        match context.computation.as_str() {
            "ok" => Ok(vec![output("ok", b"ok")]),
            // How many calls this instance has served: 1 in a fresh instance.
            "count" => {
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(vec![output("count", n.to_string().as_bytes())])
            }
            // Keeps 24 MiB it never frees, and says how many calls this instance served.
            "leak" => {
                std::mem::forget(std::hint::black_box(vec![1u8; 24 << 20]));
                let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(vec![output("leak", n.to_string().as_bytes())])
            }
            "spin" => loop {
                std::hint::black_box(0);
            },
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "overflow" => Ok(vec![output("overflow", &recurse(0).to_le_bytes())]),
            "panic" => panic!("on purpose"),
            "bad_output" => Ok(vec![output("elsewhere", b"?")]),
            "fail" => Err(PluginError::Failed("upstream API said no".to_string())),
            "big_output" => Ok(vec![output("big_output", &vec![7u8; 2 << 20])]),
            // Reads the path given as its input's bytes: the sandbox tests aim it outside
            // what was granted.
            "read" => {
                let path = _inputs
                    .first()
                    .and_then(|i| i.partitions.first())
                    .map(|p| String::from_utf8_lossy(&p.data).into_owned())
                    .unwrap_or_default();
                std::fs::read(&path)
                    .map(|data| vec![output("read", &data)])
                    .map_err(|e| PluginError::InvalidInput(format!("{path}: {e}")))
            }
            "log" => {
                host::log(
                    host::LogLevel::Info,
                    "hello from the guest",
                    &[("rows".to_string(), "3".to_string())],
                );
                Ok(vec![output("log", b"logged")])
            }
            // Outputs per key that do not match the selection.
            "keys_missing" => Ok(vec![output_for("keys_missing", "a")]),
            "keys_mixed" => Ok(vec![
                output_for("keys_mixed", "a"),
                output("keys_mixed", b"all"),
            ]),
            "key_stray" => Ok(vec![output_for("key_stray", "z")]),
            "key_twice" => Ok(vec![
                output_for("key_twice", "a"),
                output_for("key_twice", "a"),
            ]),
            other => Err(PluginError::InvalidInput(format!("no computation {other}"))),
        }
    }

    fn evaluate_sensor(_context: SensorContext) -> Result<SensorResult, PluginError> {
        Ok(SensorResult {
            run_requests: vec![RunRequest {
                run_key: None,
                assets: vec!["spin".to_string()],
                partition: PartitionSelection::None,
                tags: vec![],
            }],
            skip_reason: None,
            cursor: None,
            dynamic_partitions: vec![],
        })
    }
}

export!(Misbehave);
