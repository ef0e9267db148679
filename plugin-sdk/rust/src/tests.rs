//! Unit tests: builders → WIT, the export paths, and the harness.

use serde_json::{Value, json};

use crate::bindings::wit;
use crate::log::Level;
use crate::prelude::*;
use crate::testing::{self, HarnessError};

fn echo(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let inputs: Vec<Value> = inputs
        .assets()
        .map(|a| {
            let keys: Vec<&str> = inputs
                .partitions(a)
                .unwrap_or_default()
                .iter()
                .map(|p| p.key.as_str())
                .collect();
            json!({ "asset": a, "keys": keys })
        })
        .collect();
    crate::info!("echo {}", ctx.partition_keys().len());
    Output::json(&json!({
        "keys": ctx.partition_keys(),
        "window": ctx.time_window_opt().map(|w| [w.start_rfc3339(), w.end_rfc3339()]),
        "inputs": inputs,
    }))
    .map(|o| o.metadata("keys", ctx.partition_keys().len()))
}

fn two(ctx: &Context, _: &Inputs) -> Result<Outputs, PluginError> {
    let key = ctx.partition_key()?;
    Ok(Outputs::new()
        .with("left", Output::text(format!("L{key}")))
        .with("right", Output::text(format!("R{key}"))))
}

fn wit_partitions(p: impl Into<Partitions>) -> wit::Partitions {
    wit::Partitions::from(&p.into())
}

#[test]
fn partitions_convert_to_wit() {
    let daily = Partitions::daily("2024-01-01")
        .timezone("America/New_York")
        .fmt("%Y%m%d")
        .end("20250101")
        .end_offset(1)
        .minute_offset(15)
        .hour_offset(3);
    assert_eq!(
        wit_partitions(daily),
        wit::Partitions::Cadence(wit::CadencePartitions {
            cadence: wit::Cadence::Daily,
            start: "2024-01-01".into(),
            end: Some("20250101".into()),
            timezone: Some("America/New_York".into()),
            fmt: Some("%Y%m%d".into()),
            end_offset: 1,
            minute_offset: 15,
            hour_offset: 3,
            day_offset: None,
            exclusions: None,
        })
    );
    for (p, cadence) in [
        (Partitions::hourly("2024-01-01-00:00"), wit::Cadence::Hourly),
        (
            Partitions::weekly("2024-01-01").day_offset(1),
            wit::Cadence::Weekly,
        ),
        (
            Partitions::monthly("2024-01-01").day_offset(5),
            wit::Cadence::Monthly,
        ),
    ] {
        let wit::Partitions::Cadence(c) = wit_partitions(p) else {
            panic!("not a cadence");
        };
        assert_eq!(c.cadence, cadence);
    }
    assert_eq!(
        wit_partitions(
            Partitions::cron("0 */4 * * *", "2024-01-01-00:00", "%Y-%m-%d-%H:%M")
                .timezone("Europe/Berlin")
                .end("2024-02-01-00:00")
                .end_offset(-1)
        ),
        wit::Partitions::Cron(wit::CronPartitions {
            cron_schedule: "0 */4 * * *".into(),
            start: "2024-01-01-00:00".into(),
            end: Some("2024-02-01-00:00".into()),
            timezone: Some("Europe/Berlin".into()),
            fmt: "%Y-%m-%d-%H:%M".into(),
            end_offset: -1,
            exclusions: None,
        })
    );
    let wit::Partitions::Cadence(business) =
        wit_partitions(Partitions::daily("2024-01-01").exclude(["* * * * 6,0", "2024-12-25"]))
    else {
        panic!("not a cadence");
    };
    assert_eq!(
        business.exclusions,
        Some(vec!["* * * * 6,0".to_string(), "2024-12-25".to_string()])
    );
    assert_eq!(
        wit_partitions(Partitions::static_keys(["a", "b"])),
        wit::Partitions::StaticKeys(vec!["a".into(), "b".into()])
    );
    assert_eq!(
        wit_partitions(Partitions::dynamic("customers")),
        wit::Partitions::Dynamic("customers".into())
    );
    let wit::Partitions::Multi(dims) = wit_partitions(Partitions::multi([
        Dimension::new("date", Partitions::daily("2024-01-01")),
        Dimension::new("region", DimensionPartitions::static_keys(["us", "eu"])),
        Dimension::new("customer", DimensionPartitions::dynamic("customers")),
        Dimension::new(
            "slot",
            Partitions::cron("0 6 * * *", "2024-01-01", "%Y-%m-%d"),
        ),
    ])) else {
        panic!("not multi");
    };
    assert_eq!(dims.len(), 4);
    assert!(matches!(
        dims[0].partitions,
        wit::DimensionPartitions::Cadence(_)
    ));
    assert_eq!(
        dims[1].partitions,
        wit::DimensionPartitions::StaticKeys(vec!["us".into(), "eu".into()])
    );
    assert_eq!(
        dims[2].partitions,
        wit::DimensionPartitions::Dynamic("customers".into())
    );
    assert!(matches!(
        dims[3].partitions,
        wit::DimensionPartitions::Cron(_)
    ));
    assert_eq!(
        Partitions::from(DimensionPartitions::dynamic("x")),
        Partitions::dynamic("x")
    );
}

#[test]
fn mappings_convert_to_wit() {
    let tw = wit::TimeWindowMapping {
        start_offset: -1,
        end_offset: 0,
        allow_nonexistent_upstream_partitions: true,
    };
    let cases: Vec<(Mapping, wit::PartitionMapping)> = vec![
        (Mapping::identity(), wit::PartitionMapping::Identity),
        (Mapping::all(), wit::PartitionMapping::All),
        (Mapping::last(), wit::PartitionMapping::Last),
        (
            Mapping::specific(["2024-01-01"]),
            wit::PartitionMapping::Specific(vec!["2024-01-01".into()]),
        ),
        (
            Mapping::static_map([("us", ["us-east", "us-west"])]),
            wit::PartitionMapping::StaticMap(vec![wit::StaticPair {
                upstream: "us".into(),
                downstream: vec!["us-east".into(), "us-west".into()],
            }]),
        ),
        (
            Mapping::time_window(-1, 0)
                .allow_nonexistent_upstream_partitions(true)
                .into(),
            wit::PartitionMapping::TimeWindow(tw),
        ),
        (
            Mapping::multi_to_single(),
            wit::PartitionMapping::MultiToSingle(None),
        ),
        (
            Mapping::multi_to_single_dimension("date"),
            wit::PartitionMapping::MultiToSingle(Some("date".into())),
        ),
    ];
    for (mapping, expected) in cases {
        assert_eq!(
            wit::PartitionMapping::from(&mapping),
            expected,
            "{mapping:?}"
        );
    }

    let kinds: Vec<(DimensionMappingKind, wit::DimensionMappingKind)> = vec![
        (
            DimensionMappingKind::Identity,
            wit::DimensionMappingKind::Identity,
        ),
        (DimensionMappingKind::All, wit::DimensionMappingKind::All),
        (DimensionMappingKind::Last, wit::DimensionMappingKind::Last),
        (
            DimensionMappingKind::Specific(vec!["a".into()]),
            wit::DimensionMappingKind::Specific(vec!["a".into()]),
        ),
        (
            DimensionMappingKind::StaticMap(vec![("a".into(), vec!["b".into()])]),
            wit::DimensionMappingKind::StaticMap(vec![wit::StaticPair {
                upstream: "a".into(),
                downstream: vec!["b".into()],
            }]),
        ),
        (
            Mapping::time_window(-1, 0)
                .allow_nonexistent_upstream_partitions(true)
                .into(),
            wit::DimensionMappingKind::TimeWindow(tw),
        ),
    ];
    let multi = Mapping::multi(
        kinds
            .iter()
            .map(|(k, _)| DimensionMapping::new("up", "down", k.clone())),
    );
    let wit::PartitionMapping::Multi(dims) = wit::PartitionMapping::from(&multi) else {
        panic!("not multi");
    };
    for (dim, (_, expected)) in dims.iter().zip(&kinds) {
        assert_eq!(dim.upstream_dimension, "up");
        assert_eq!(dim.downstream_dimension, "down");
        assert_eq!(&dim.mapping, expected);
    }
    assert_eq!(
        Mapping::from(DimensionMappingKind::Last),
        Mapping::Last,
        "kinds lift to mappings"
    );
}

fn sample_plugin() -> Plugin {
    Plugin::new()
        .computation(
            Asset::new("daily", echo)
                .partitions(Partitions::daily("2024-01-01").timezone("America/New_York"))
                .input_mapped("upstream", Mapping::time_window(-1, 0))
                .input(
                    AssetInput::new("lookup")
                        .mapping(Mapping::all())
                        .allow_missing(),
                )
                .input(AssetInput::new("days").rollup(Rollup::WaitUntil(3_600)))
                .description("Echoes its context.")
                .code_version("7")
                .metadata("owner", "data")
                .metadata("rows", 3)
                .metadata("ratio", 0.5)
                .metadata("ok", true)
                .metadata("doc", MetadataValue::url("https://example.com"))
                .metadata("file", MetadataValue::path("/tmp/x"))
                .metadata("schema", json!({ "a": 1 })),
        )
        .computation(
            Computation::new("pair", two)
                .partitions(Partitions::static_keys(["a", "b", "c"]))
                .input("daily")
                .asset("left")
                .asset(AssetSpec::new("right").input("lookup").description("R")),
        )
        .computation(Asset::new("flat", echo))
        .sensor(
            Sensor::new("watch", |ctx: &SensorContext| {
                let known = dynamic_partition_keys("customers");
                crate::warn!("{} known", known.len());
                Ok(SensorResult::new()
                    .add_dynamic_partitions("customers", ["new"])
                    .run_request(RunRequest::new().partition("new").run_key("k1"))
                    .cursor(ctx.cursor().unwrap_or("0").to_string() + "+"))
            })
            .description("Watches.")
            .minimum_interval(60)
            .targets(["dyn"]),
        )
        .computation(Asset::new("dyn", echo).partitions(Partitions::dynamic("customers")))
}

#[test]
fn definitions_convert_to_wit() {
    let defs = sample_plugin().wit_definitions();
    assert_eq!(defs.computations.len(), 4);
    let daily = &defs.computations[0];
    assert_eq!(daily.name, "daily");
    let asset = &daily.assets[0];
    assert_eq!(asset.key, "daily");
    assert_eq!(asset.description.as_deref(), Some("Echoes its context."));
    assert_eq!(asset.code_version.as_deref(), Some("7"));
    assert!(matches!(
        asset.partitions,
        Some(wit::Partitions::Cadence(_))
    ));
    assert_eq!(
        asset.inputs,
        vec![
            wit::AssetInput {
                asset: "upstream".into(),
                mapping: Some(wit::PartitionMapping::TimeWindow(wit::TimeWindowMapping {
                    start_offset: -1,
                    end_offset: 0,
                    allow_nonexistent_upstream_partitions: false,
                })),
                allow_missing: false,
                rollup: None,
            },
            wit::AssetInput {
                asset: "lookup".into(),
                mapping: Some(wit::PartitionMapping::All),
                allow_missing: true,
                rollup: None,
            },
            wit::AssetInput {
                asset: "days".into(),
                mapping: None,
                allow_missing: false,
                rollup: Some(wit::RollupPolicy::WaitUntil(3_600)),
            },
        ]
    );
    let values: Vec<&wit::MetadataValue> = asset.metadata.iter().map(|e| &e.value).collect();
    assert_eq!(
        values,
        vec![
            &wit::MetadataValue::Text("data".into()),
            &wit::MetadataValue::Integer(3),
            &wit::MetadataValue::Float(0.5),
            &wit::MetadataValue::Boolean(true),
            &wit::MetadataValue::Url("https://example.com".into()),
            &wit::MetadataValue::Path("/tmp/x".into()),
            &wit::MetadataValue::Json(r#"{"a":1}"#.into()),
        ]
    );

    let pair = &defs.computations[1];
    assert_eq!(pair.assets.len(), 2);
    assert_eq!(
        pair.assets[0].inputs.len(),
        1,
        "computation inputs go to every asset"
    );
    let right: Vec<&str> = pair.assets[1]
        .inputs
        .iter()
        .map(|i| i.asset.as_str())
        .collect();
    assert_eq!(right, ["daily", "lookup"]);
    assert_eq!(
        pair.assets[0].partitions, pair.assets[1].partitions,
        "a computation's assets share its partitions"
    );
    assert_eq!(
        pair.assets[0].inputs[0].mapping, None,
        "inferred when absent"
    );
    assert_eq!(defs.computations[2].assets[0].partitions, None);

    assert_eq!(
        defs.sensors,
        vec![wit::SensorDefinition {
            name: "watch".into(),
            description: Some("Watches.".into()),
            minimum_interval_seconds: 60,
            targets: vec!["dyn".into()],
        }]
    );
}

fn wit_context(computation: &str, key: &str, assets: &[&str]) -> wit::MaterializeContext {
    wit::MaterializeContext {
        computation: computation.into(),
        assets: assets.iter().map(|a| (*a).to_string()).collect(),
        partition: wit::PartitionSelection::Key(key.into()),
        partition_keys: vec![key.into()],
        time_window: None,
        run_id: "r".into(),
        attempt: 1,
        now: 0,
    }
}

#[test]
fn materialize_export_names_filters_and_checks_outputs() {
    let plugin = sample_plugin();
    let outputs = plugin
        .wit_materialize(wit_context("pair", "a", &[]), Vec::new())
        .unwrap();
    let named: Vec<(&str, &[u8])> = outputs
        .iter()
        .map(|o| (o.asset.as_str(), o.data.as_slice()))
        .collect();
    assert_eq!(named, [("left", &b"La"[..]), ("right", &b"Ra"[..])]);

    // A subset: the other output is dropped.
    let outputs = plugin
        .wit_materialize(wit_context("pair", "b", &["right"]), Vec::new())
        .unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].asset, "right");

    // A single asset's unnamed output is named after it, with its metadata.
    let outputs = plugin
        .wit_materialize(wit_context("daily", "2024-01-02", &[]), Vec::new())
        .unwrap();
    assert_eq!(outputs[0].asset, "daily");
    assert_eq!(
        outputs[0].metadata,
        vec![wit::MetadataEntry {
            key: "keys".into(),
            value: wit::MetadataValue::Integer(1),
        }]
    );

    let err = plugin
        .wit_materialize(wit_context("nope", "a", &[]), Vec::new())
        .unwrap_err();
    assert!(matches!(err, wit::PluginError::InvalidInput(ref m) if m.contains("nope")));
    let err = plugin
        .wit_materialize(wit_context("pair", "a", &["daily"]), Vec::new())
        .unwrap_err();
    assert!(matches!(err, wit::PluginError::InvalidInput(_)), "{err:?}");

    // Outputs that do not match the declaration are failures.
    let bad = |f: fn(&Context, &Inputs) -> Result<Outputs, PluginError>| {
        Plugin::new()
            .computation(Computation::new("c", f).asset("x").asset("y"))
            .wit_materialize(wit_context("c", "k", &[]), Vec::new())
            .unwrap_err()
    };
    let unnamed = bad(|_, _| Ok(Output::text("?").into()));
    assert!(matches!(unnamed, wit::PluginError::Failed(ref m) if m.contains("must name")));
    let missing = bad(|_, _| Ok(Outputs::new().with("x", Output::text("x"))));
    assert!(matches!(missing, wit::PluginError::Failed(ref m) if m.contains("\"y\"")));
    let unknown = bad(|_, _| {
        Ok(Outputs::new()
            .with("x", Output::text("x"))
            .with("y", Output::text("y"))
            .with("z", Output::text("z")))
    });
    assert!(matches!(unknown, wit::PluginError::Failed(ref m) if m.contains("\"z\"")));
    let twice = bad(|_, _| {
        Ok(Outputs::new()
            .with("x", Output::text("x"))
            .with("x", Output::text("x")))
    });
    assert!(matches!(twice, wit::PluginError::Failed(ref m) if m.contains("two outputs")));

    // Outputs per key: a single asset's are named after it and keep their keys; a key twice
    // is a failure.
    let per_key = |f: fn(&Context, &Inputs) -> Result<Outputs, PluginError>| {
        Plugin::new()
            .computation(Asset::new("x", f))
            .wit_materialize(wit_context("x", "k", &[]), Vec::new())
    };
    let outputs = per_key(|_, _| {
        Ok(["a", "b"]
            .iter()
            .map(|k| Output::text(*k).for_partition(*k))
            .collect())
    })
    .unwrap();
    let got: Vec<(&str, Option<&str>, &[u8])> = outputs
        .iter()
        .map(|o| (o.asset.as_str(), o.partition.as_deref(), o.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [("x", Some("a"), &b"a"[..]), ("x", Some("b"), &b"b"[..])]
    );
    let twice = per_key(|_, _| {
        Ok(["a", "a"]
            .iter()
            .map(|k| Output::text(*k).for_partition(*k))
            .collect())
    })
    .unwrap_err();
    assert!(matches!(twice, wit::PluginError::Failed(ref m) if m.contains("\"x\"[a]")));
}

#[test]
fn context_and_inputs_helpers() {
    let computation = Computation::new("c", two)
        .asset("left")
        .partitions(Partitions::multi([
            Dimension::new("region", DimensionPartitions::static_keys(["us", "eu"])),
            Dimension::new("date", Partitions::daily("2024-01-01")),
        ]));
    let mut wit_cx = wit_context("c", "2024-01-05|eu", &[]);
    wit_cx.time_window = Some(wit::TimeWindow {
        start: 1_704_412_800,
        end: 1_704_499_200,
        start_utc_offset: 0,
        end_utc_offset: 0,
    });
    let cx = crate::convert::context_from_wit(wit_cx, &computation).unwrap();
    assert_eq!(cx.assets(), ["left"]);
    assert!(cx.is_requested("left"));
    assert_eq!(cx.dimension_key("date").unwrap(), "2024-01-05");
    assert_eq!(cx.dimension_key("region").unwrap(), "eu");
    assert!(cx.dimension_key("color").is_err());
    assert_eq!(
        cx.partition_key_range().unwrap(),
        ("2024-01-05|eu", "2024-01-05|eu")
    );
    let w = cx.time_window().unwrap();
    assert_eq!(w.start_rfc3339(), "2024-01-05T00:00:00+00:00");
    assert_eq!(
        w.to_string(),
        "[2024-01-05T00:00:00+00:00, 2024-01-06T00:00:00+00:00)"
    );
    assert!(w.contains(w.start) && !w.contains(w.end));

    let mut range = wit_context("c", "x", &[]);
    range.partition = wit::PartitionSelection::Range(wit::KeyRange {
        start: "a".into(),
        end: "b".into(),
    });
    range.partition_keys = vec!["a".into(), "b".into()];
    let cx = crate::convert::context_from_wit(range, &computation).unwrap();
    assert!(matches!(
        cx.partition_key(),
        Err(PluginError::InvalidInput(_))
    ));
    assert_eq!(cx.partition_key_range().unwrap(), ("a", "b"));
    assert!(cx.time_window().is_err());

    let mut none = wit_context("c", "x", &[]);
    none.partition = wit::PartitionSelection::None;
    none.partition_keys.clear();
    let cx = crate::convert::context_from_wit(none, &computation).unwrap();
    assert!(!cx.is_partitioned());
    assert!(cx.partition_key().is_err() && cx.partition_key_range().is_err());

    let inputs = Inputs::new()
        .with("a", "1", r#"{"n":1}"#)
        .with("a", "2", r#"{"n":2}"#)
        .with("b", "", "plain");
    let parsed: Vec<(String, Value)> = inputs.json("a").unwrap();
    assert_eq!(parsed[1], ("2".to_string(), json!({ "n": 2 })));
    assert!(inputs.single("a").is_err());
    assert_eq!(inputs.single("b").unwrap().text().unwrap(), "plain");
    assert!(matches!(inputs.get("c"), Err(PluginError::InvalidInput(_))));
    assert!(inputs.single_json::<Value>("b").is_err());
}

#[test]
fn validate_catches_declaration_mistakes() {
    let ok = sample_plugin();
    assert_eq!(ok.validate(), Ok(()));
    testing::check(&ok).unwrap();
    let dup = Plugin::new()
        .computation(Asset::new("a", echo))
        .computation(Computation::new("b", two).asset("a"));
    assert!(dup.validate().unwrap_err().contains("declared twice"));
    let empty = Plugin::new().computation(Computation::new("c", two));
    assert!(empty.validate().unwrap_err().contains("no asset"));
    let itself = Plugin::new().computation(Asset::new("a", echo).input("a"));
    assert!(itself.validate().unwrap_err().contains("reads itself"));
    let sensors = Plugin::new()
        .sensor(Sensor::new(
            "s",
            |_: &SensorContext| Ok(SensorResult::new()),
        ))
        .sensor(Sensor::new(
            "s",
            |_: &SensorContext| Ok(SensorResult::new()),
        ));
    assert!(sensors.validate().unwrap_err().contains("two sensors"));
    let bad_tz = Plugin::new().computation(
        Asset::new("a", echo).partitions(Partitions::daily("2024-01-01").timezone("Mars/Base")),
    );
    assert!(matches!(testing::check(&bad_tz), Err(HarnessError::Setup(m)) if m.contains("Mars")));
    // 2 to 8 dimensions (contract 0.3.0): three pass, nine are refused.
    let dims = |n: usize| {
        Partitions::multi(
            (0..n)
                .map(|i| Dimension::new(format!("d{i}"), DimensionPartitions::static_keys(["1"]))),
        )
    };
    let three = Plugin::new().computation(Asset::new("a", echo).partitions(dims(3)));
    assert!(testing::check(&three).is_ok());
    let nine = Plugin::new().computation(Asset::new("a", echo).partitions(dims(9)));
    assert!(
        matches!(testing::check(&nine), Err(HarnessError::Setup(m)) if m.contains("2 to 8 dimensions"))
    );
}

#[test]
fn harness_daily_key_across_dst() {
    let plugin = sample_plugin();
    let run = testing::materialize(&plugin, "daily")
        .partition("2024-03-10")
        .now("2024-04-01T00:00:00Z")
        .input("upstream", "2024-03-09", "1")
        .input("upstream", "2024-03-10", "2")
        .run()
        .unwrap();
    let w = run.context.time_window().unwrap();
    assert_eq!(w.duration_secs(), 23 * 3600, "spring forward in New York");
    assert_eq!(w.start_rfc3339(), "2024-03-10T00:00:00-05:00");
    assert_eq!(w.end_rfc3339(), "2024-03-11T00:00:00-04:00");
    let out: Value = run.json("daily").unwrap();
    assert_eq!(out["keys"], json!(["2024-03-10"]));
    assert_eq!(
        out["inputs"][0]["keys"],
        json!(["2024-03-09", "2024-03-10"])
    );
    assert_eq!(
        run.output("daily").unwrap().metadata_value("keys"),
        Some(&MetadataValue::Integer(1))
    );
    assert_eq!(run.logs.len(), 1);
    assert_eq!(run.logs[0].level, Level::Info);
    assert_eq!(run.context.run_id(), "test-run");

    let fall = testing::materialize(&plugin, "daily")
        .partition("2024-11-03")
        .now(1_735_689_600)
        .context()
        .unwrap();
    assert_eq!(fall.time_window().unwrap().duration_secs(), 25 * 3600);
}

#[test]
fn harness_ranges_and_key_checks() {
    let plugin = sample_plugin();
    let run = testing::materialize(&plugin, "daily")
        .partition_range("2024-03-09", "2024-03-11")
        .now("2024-04-01T00:00:00Z")
        .run_id("r-9")
        .attempt(2)
        .run()
        .unwrap();
    assert_eq!(
        run.context.partition_keys(),
        ["2024-03-09", "2024-03-10", "2024-03-11"]
    );
    let w = run.context.time_window().unwrap();
    assert_eq!(w.start_rfc3339(), "2024-03-09T00:00:00-05:00");
    assert_eq!(w.end_rfc3339(), "2024-03-12T00:00:00-04:00");
    assert_eq!(w.duration_secs(), 71 * 3600);
    assert_eq!((run.context.run_id(), run.context.attempt()), ("r-9", 2));

    // Not complete yet at `now`, before the start, not a key, not partitioned.
    let setup_err = |t: testing::MaterializeTest<'_>| match t.run() {
        Err(HarnessError::Setup(m)) => m,
        other => panic!("expected a setup error, got {other:?}"),
    };
    let m = setup_err(
        testing::materialize(&plugin, "daily")
            .partition("2024-03-10")
            .now("2024-03-10T23:00:00-04:00"),
    );
    assert!(m.contains("is not a partition"), "{m}");
    assert!(
        setup_err(testing::materialize(&plugin, "daily").partition("2023-12-31"))
            .contains("2023-12-31")
    );
    assert!(setup_err(testing::materialize(&plugin, "daily").partition("Jan 5")).contains("Jan 5"));
    assert!(setup_err(testing::materialize(&plugin, "daily")).contains(".partition("));
    assert!(
        setup_err(testing::materialize(&plugin, "flat").partition("x")).contains("not partitioned")
    );
    assert!(
        setup_err(testing::materialize(&plugin, "missing")).contains("no computation or asset")
    );
    assert!(
        setup_err(
            testing::materialize(&plugin, "pair")
                .partition("a")
                .input("nope", "a", "")
        )
        .contains("declares no input")
    );
    assert!(
        setup_err(
            testing::materialize(&plugin, "daily")
                .partition("2024-01-02")
                .now("yesterday")
        )
        .contains("RFC 3339")
    );

    // Unpartitioned: no keys, no window.
    let flat = testing::materialize(&plugin, "flat").run().unwrap();
    assert!(!flat.context.is_partitioned());
    assert_eq!(flat.json::<Value>("flat").unwrap()["window"], Value::Null);
}

#[test]
fn harness_multi_asset_subsets_static_dynamic_and_multi() {
    let plugin = sample_plugin();
    let run = testing::materialize(&plugin, "pair")
        .partition("b")
        .run()
        .unwrap();
    assert_eq!(run.outputs.len(), 2);
    assert_eq!(run.output("left").unwrap().data(), b"Lb");
    assert_eq!(run.context.time_window_opt(), None);
    let right = testing::materialize(&plugin, "right")
        .partition("c")
        .run()
        .unwrap();
    assert_eq!(right.outputs.len(), 1);
    assert_eq!(right.output("right").unwrap().data(), b"Rc");
    assert!(
        testing::materialize(&plugin, "pair")
            .partition("d")
            .run()
            .is_err()
    );
    let range = testing::materialize(&plugin, "pair")
        .partition_range("a", "c")
        .assets(["left"])
        .context()
        .unwrap();
    assert_eq!(range.partition_keys(), ["a", "b", "c"]);

    assert!(
        testing::materialize(&plugin, "dyn")
            .partition("acme")
            .run()
            .is_err()
    );
    let dyn_run = testing::materialize(&plugin, "dyn")
        .dynamic_partitions("customers", ["globex", "acme"])
        .partition("acme")
        .run()
        .unwrap();
    assert_eq!(dyn_run.context.partition_key().unwrap(), "acme");

    let multi = Plugin::new().computation(
        Asset::new("grid", |ctx: &Context, _: &Inputs| {
            Ok(Output::text(format!(
                "{} in {}",
                ctx.dimension_key("date")?,
                ctx.dimension_key("region")?
            )))
        })
        .partitions(Partitions::multi([
            Dimension::new("region", DimensionPartitions::static_keys(["us", "eu"])),
            Dimension::new(
                "date",
                Partitions::daily("2024-01-01").timezone("Europe/Berlin"),
            ),
        ])),
    );
    let run = testing::materialize(&multi, "grid")
        .partition("2024-03-31|eu")
        .now("2024-06-01T00:00:00Z")
        .run()
        .unwrap();
    assert_eq!(run.output("grid").unwrap().data(), b"2024-03-31 in eu");
    assert_eq!(
        run.context.time_window().unwrap().duration_secs(),
        23 * 3600
    );
}

#[test]
fn harness_hourly_and_cron() {
    let plugin = Plugin::new()
        .computation(
            Asset::new("hourly", echo)
                .partitions(Partitions::hourly("2024-03-10-00:00").timezone("America/New_York")),
        )
        .computation(Asset::new("every4h", echo).partitions(Partitions::cron(
            "0 */4 * * *",
            "2024-01-01-00:00",
            "%Y-%m-%d-%H:%M",
        )));
    let run = testing::materialize(&plugin, "hourly")
        .partition_range("2024-03-10-01:00", "2024-03-10-03:00")
        .now("2024-03-11T00:00:00Z")
        .run()
        .unwrap();
    // 02:00 does not exist on the spring-forward day.
    assert_eq!(
        run.context.partition_keys(),
        ["2024-03-10-01:00", "2024-03-10-03:00"]
    );
    assert_eq!(run.context.time_window().unwrap().duration_secs(), 2 * 3600);
    let cron = testing::materialize(&plugin, "every4h")
        .partition("2024-01-01-04:00")
        .now("2024-02-01T00:00:00Z")
        .context()
        .unwrap();
    assert_eq!(cron.time_window().unwrap().duration_secs(), 4 * 3600);
}

#[test]
fn harness_sensors() {
    let plugin = sample_plugin();
    let eval = testing::evaluate_sensor(&plugin, "watch")
        .cursor("5")
        .dynamic_partitions("customers", ["acme"])
        .now("2024-01-01T00:00:00Z")
        .last_evaluation(1_704_067_170)
        .run()
        .unwrap();
    let result = &eval.result;
    assert_eq!(result.cursor.as_deref(), Some("5+"));
    assert_eq!(
        result.run_requests[0].assets,
        ["dyn"],
        "empty asset lists target the sensor's targets"
    );
    assert_eq!(
        result.run_requests[0].partition,
        PartitionSelection::Key("new".into())
    );
    assert_eq!(result.dynamic_partitions[0].add, ["new"]);
    assert_eq!(eval.logs[0].message, "1 known");
    assert_eq!(eval.logs[0].level, Level::Warn);

    // Run requests for a key that never gets added, or for a non-target, are rejected.
    let rogue = Plugin::new()
        .computation(Asset::new("dyn", echo).partitions(Partitions::dynamic("customers")))
        .computation(Asset::new("other", echo))
        .sensor(
            Sensor::new("s", |ctx: &SensorContext| {
                Ok(match ctx.cursor() {
                    Some("other") => {
                        SensorResult::new().run_request(RunRequest::new().asset("other"))
                    }
                    _ => SensorResult::new().run_request(RunRequest::new().partition("ghost")),
                })
            })
            .targets(["dyn"]),
        );
    assert!(matches!(
        testing::evaluate_sensor(&rogue, "s").run(),
        Err(HarnessError::Contract(m)) if m.contains("ghost")
    ));
    assert!(matches!(
        testing::evaluate_sensor(&rogue, "s").cursor("other").run(),
        Err(HarnessError::Contract(m)) if m.contains("targets")
    ));
    assert!(matches!(
        testing::evaluate_sensor(&rogue, "nope").run(),
        Err(HarnessError::Setup(_))
    ));

    // The export path directly, without the harness.
    let wit_result = plugin
        .wit_evaluate_sensor(wit::SensorContext {
            sensor: "missing".into(),
            cursor: None,
            last_evaluation: None,
            now: 0,
        })
        .unwrap_err();
    assert!(matches!(wit_result, wit::PluginError::InvalidInput(_)));
}

#[test]
fn granted_paths_and_host_state_are_scoped() {
    let dir = std::env::temp_dir();
    let plugin = Plugin::new().sensor(Sensor::new("paths", |_: &SensorContext| {
        let p = granted_path("/data/incoming/a.json");
        let root = granted_path("/data/incoming");
        let other = granted_path("/data/incomingx");
        Ok(SensorResult::skip(format!(
            "{}|{}|{}",
            p.display(),
            root.display(),
            other.display()
        )))
    }));
    let eval = testing::evaluate_sensor(&plugin, "paths")
        .grant("/data/incoming", &dir)
        .run()
        .unwrap();
    let expected = format!(
        "{}|{}|/data/incomingx",
        dir.join("a.json").display(),
        dir.display()
    );
    assert_eq!(eval.result.skip_reason.as_deref(), Some(expected.as_str()));
    // Outside a harness run: no grants, no dynamic keys.
    assert_eq!(
        granted_path("/data/incoming"),
        std::path::PathBuf::from("/data/incoming")
    );
    assert!(dynamic_partition_keys("customers").is_empty());
}

mod macro_plugin {
    use crate::prelude::*;

    fn a(ctx: &Context, _: &Inputs) -> Result<Output, PluginError> {
        Output::json(&serde_json::json!({ "date": ctx.partition_key()? }))
            .map(|o| o.metadata("rows", 1))
    }

    fn s(_: &SensorContext) -> Result<SensorResult, PluginError> {
        Ok(SensorResult::skip("nothing"))
    }

    crate::plugin! {
        assets: [
            Asset::new("a", a).partitions(Partitions::daily("2024-01-01")),
            Computation::new("c", super::two).asset("left").asset("right"),
        ],
        sensors: [Sensor::new("s", s)],
    }
}

mod macro_plugin_empty {
    crate::plugin! {}
}

#[test]
fn plugin_macro_builds_the_plugin_and_the_guest() {
    use crate::bindings::exports::tessera::plugin::guest::Guest;

    let plugin = macro_plugin::plugin();
    assert_eq!(
        plugin.asset_keys().collect::<Vec<_>>(),
        ["a", "left", "right"]
    );
    assert_eq!(plugin.sensors()[0].name(), "s");
    assert!(macro_plugin_empty::plugin().computations().is_empty());

    // The trait implementation the export macro wires up.
    type G = macro_plugin::__tessera_guest::TesseraGuest;
    assert_eq!(G::definitions(), plugin.wit_definitions());
    let out = G::materialize(wit_context("a", "2024-01-02", &[]), Vec::new()).unwrap();
    assert_eq!(out[0].data, br#"{"date":"2024-01-02"}"#);
    let skipped = G::evaluate_sensor(wit::SensorContext {
        sensor: "s".into(),
        cursor: None,
        last_evaluation: None,
        now: 0,
    })
    .unwrap();
    assert_eq!(skipped.skip_reason.as_deref(), Some("nothing"));
}

#[test]
fn sparse_partitions_convert_and_the_host_reads_them() {
    let dims = || {
        [
            Dimension::new("date", Partitions::daily("2024-01-01").end("2024-01-03")),
            Dimension::new(
                "customer",
                DimensionPartitions::static_keys(["acme", "bolt"]),
            ),
            Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
        ]
    };
    let sparse = Partitions::sparse(
        dims(),
        Combinations::per_key(
            "customer",
            "region",
            [("acme", vec!["us", "eu"]), ("bolt", vec!["eu"])],
        ),
    );
    let wit::Partitions::SparseMulti(w) = wit_partitions(sparse.clone()) else {
        panic!("not sparse");
    };
    assert_eq!(w.combined, ["customer", "region"]);
    assert_eq!(
        w.combinations,
        wit::CombinationSource::Listed(vec![
            vec!["acme".into(), "us".into()],
            vec!["acme".into(), "eu".into()],
            vec!["bolt".into(), "eu".into()],
        ])
    );
    let def = testing::host_definition(&sparse).unwrap();
    let cx = tessera_partitions::Context::new(chrono::Utc::now());
    let keys: Vec<String> = def
        .keys(&cx)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "acme|2024-01-01|eu",
            "acme|2024-01-01|us",
            "bolt|2024-01-01|eu",
            "acme|2024-01-02|eu",
            "acme|2024-01-02|us",
            "bolt|2024-01-02|eu",
        ]
    );
    let dynamic = Partitions::sparse(
        dims(),
        Combinations::dynamic(["customer", "region"], "customer_regions"),
    );
    let wit::Partitions::SparseMulti(w) = wit_partitions(dynamic) else {
        panic!("not sparse");
    };
    assert_eq!(
        w.combinations,
        wit::CombinationSource::Dynamic("customer_regions".into())
    );
    // A combination naming a key its dimension lacks is refused when the host reads it.
    let bad = Partitions::sparse(
        dims(),
        Combinations::listed(["customer", "region"], [["acme", "mars"]]),
    );
    let err = testing::host_definition(&bad).unwrap_err().to_string();
    assert!(
        err.contains("dimension \"region\" has no key \"mars\""),
        "{err}"
    );
}
