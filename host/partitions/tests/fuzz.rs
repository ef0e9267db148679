//! Fuzz targets for what users and plugins hand the partition model as text: partition keys
//! of every definition kind, cron expressions, `strftime` formats and key ranges `A...B`.
//!
//! Each target is a function that takes one input and panics only when a law is broken (a
//! round trip that does not come back, an answer that contradicts another); for every other
//! input it must return, valid or not, without panicking. The inputs come from proptest:
//! arbitrary text, and valid values with a few characters changed, so that the near misses a
//! parser is likeliest to get wrong are common.
//!
//! `cargo test` runs each target for `TESSERA_FUZZ_CASES` cases (256 unless set). The long
//! run, in release mode, is `cargo xtask fuzz` (the README's "Fuzzing"), which sets it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed property panics with its input"
)]

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use tessera_partitions::cron::Cron;
use tessera_partitions::fmt::{Civil, Fmt, days_in_month};
use tessera_partitions::{
    Context, DynamicPartitions, KeyRange, MemoryDynamicStore, MultiPartitions,
    PartitionsDefinition, StaticPartitions, TimeWindowPartitions,
};

fn cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> Config {
    Config {
        cases: cases(),
        // The long run takes minutes; a regression file would pin cases, not find new ones.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 30, 12, 0, 0).unwrap()
}

/// One definition of every kind, in zones with DST (and Lord Howe's half-hour shift).
fn definitions() -> &'static [PartitionsDefinition] {
    static DEFS: OnceLock<Vec<PartitionsDefinition>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let tw = |b: tessera_partitions::TimeWindowBuilder| -> PartitionsDefinition {
            b.build().unwrap().into()
        };
        let daily = || TimeWindowPartitions::daily("2024-01-01");
        vec![
            tw(TimeWindowPartitions::hourly("2024-03-01-00:00").timezone("America/New_York")),
            tw(daily().timezone("Europe/Berlin").hour_offset(2)),
            tw(TimeWindowPartitions::weekly("2024-01-01").day_offset(1)),
            tw(TimeWindowPartitions::monthly("2023-01-01").timezone("Australia/Lord_Howe")),
            tw(TimeWindowPartitions::cron(
                "*/15 9-17 * * 1-5",
                "2024-01-01-00:00",
                "%Y-%m-%d-%H:%M",
            )),
            tw(TimeWindowPartitions::daily("01/01/2024")
                .fmt("%d/%m/%Y")
                .end("31/12/2024")),
            tw(daily().exclude(["2024-12-25", "0 0 * * 6,0"])),
            tw(TimeWindowPartitions::daily("20240101")
                .fmt("%Y%m%d")
                .timezone("Asia/Kolkata")),
            StaticPartitions::new(["eu", "us", "apac", "a|b", "ünï"])
                .unwrap()
                .into(),
            DynamicPartitions::new("customers").into(),
            MultiPartitions::new([
                ("date", tw(daily().end("2024-03-01"))),
                (
                    "region",
                    StaticPartitions::new(["eu", "us"]).unwrap().into(),
                ),
            ])
            .unwrap()
            .into(),
        ]
    })
}

fn dynamic() -> &'static MemoryDynamicStore {
    static STORE: OnceLock<MemoryDynamicStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = MemoryDynamicStore::new();
        store.add("customers", ["acme", "globex", "initech", "a-b", "x|y"]);
        store
    })
}

/// Text a parser must survive: anything, or a valid example with characters changed,
/// removed or added.
fn near(valid: Vec<String>) -> impl Strategy<Value = String> {
    let mutated = (
        proptest::sample::select(valid.clone()),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..3), 0..4),
    )
        .prop_map(|(base, edits)| {
            let mut chars: Vec<char> = base.chars().collect();
            for (at, c, how) in edits {
                let i = at.index(chars.len() + 1);
                match how {
                    0 if i < chars.len() => chars[i] = c,
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.insert(i, c),
                }
            }
            chars.into_iter().collect::<String>()
        });
    prop_oneof![
        2 => proptest::sample::select(valid),
        4 => mutated,
        2 => "\\PC{0,30}",
        1 => any::<String>(),
    ]
}

/// A key of `def` (or of the first few thousand), to start mutations from.
fn sample_keys(def: &PartitionsDefinition, cx: &Context<'_>) -> Vec<String> {
    let count = def.count(cx).unwrap();
    (0..count.min(64))
        .chain([count / 2, count.saturating_sub(1)])
        .filter(|&i| i < count)
        .map(|i| {
            def.key_at(cx, i64::try_from(i).unwrap())
                .unwrap()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The key target: whatever the text, asking a definition about it answers without panicking,
/// and the answers agree: a key it has is found at an index whose key is that key, and a
/// time-window key it has has a window.
fn key_target(def: &PartitionsDefinition, key: &str) {
    let cx = Context::new(now()).with_dynamic(dynamic());
    let has = def.has_key(&cx, key).unwrap();
    let index = def.index_of(&cx, key).unwrap();
    assert_eq!(
        has,
        index.is_some(),
        "{def}: has_key and index_of disagree on {key:?}"
    );
    if let Some(i) = index {
        let back = def
            .key_at(&cx, i)
            .unwrap()
            .expect("the index of a key exists");
        assert_eq!(back.as_str(), key, "{def}: key {key:?} → {i} → {back}");
        if def.as_time_window().is_some() {
            def.time_window_for_key(key).unwrap();
        }
    } else {
        let _ = def.time_window_for_key(key);
    }
}

fn key_inputs() -> impl Strategy<Value = (usize, String)> {
    let cx = Context::new(now()).with_dynamic(dynamic());
    let per_def: Vec<BoxedStrategy<(usize, String)>> = definitions()
        .iter()
        .enumerate()
        .map(|(i, def)| {
            near(sample_keys(def, &cx))
                .prop_map(move |k| (i, k))
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(per_def)
}

/// The cron target: an expression that parses prints as one that parses to the same schedule,
/// and a definition built on it answers for its keys.
fn cron_target(text: &str) {
    let Ok(cron) = Cron::parse(text) else {
        return;
    };
    let printed = cron.to_string();
    let again = Cron::parse(&printed).unwrap_or_else(|e| panic!("{text:?} → {printed:?}: {e}"));
    let fields = |c: &Cron| {
        (
            c.minutes(),
            c.hours(),
            c.days_of_month(),
            c.last_day_of_month(),
            c.months(),
            c.days_of_week(),
            c.dom_restricted(),
            c.dow_restricted(),
        )
    };
    assert_eq!(fields(&cron), fields(&again), "{text:?} → {printed:?}");
    // A schedule that never fires is refused when built, not looped over.
    if let Ok(def) = TimeWindowPartitions::cron(text, "2024-01-01-00:00", "%Y-%m-%d-%H:%M")
        .end("2024-03-01-00:00")
        .build()
    {
        let def = PartitionsDefinition::from(def);
        let cx = Context::new(now());
        let count = def.count(&cx).unwrap();
        if count > 0 {
            let last = def.key_at(&cx, i64::try_from(count - 1).unwrap()).unwrap();
            let last = last.expect("the last key exists");
            assert_eq!(
                def.index_of(&cx, last.as_str()).unwrap(),
                Some(i64::try_from(count - 1).unwrap())
            );
        }
    }
}

fn cron_inputs() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("*".to_string()),
        (0u32..70).prop_map(|n| n.to_string()),
        (0u32..60, 0u32..60).prop_map(|(a, b)| format!("{a}-{b}")),
        (1u32..30).prop_map(|n| format!("*/{n}")),
        (0u32..30, 1u32..30).prop_map(|(a, n)| format!("{a}/{n}")),
        (0u32..30, 0u32..30, 0u32..30).prop_map(|(a, b, c)| format!("{a},{b},{c}")),
        proptest::sample::select(vec!["MON", "fri", "JAN", "dec", "L", "7", "SUN-SAT", "?"])
            .prop_map(str::to_string),
        "\\PC{0,4}",
    ];
    let fields = proptest::collection::vec(token, 1..7).prop_map(|f| f.join(" "));
    prop_oneof![
        6 => fields,
        3 => near(vec![
            "0 0 * * *".into(),
            "*/15 9-17 * * 1-5".into(),
            "0 0 L * *".into(),
            "30 2 1,15 * MON-FRI".into(),
            "@daily".into(),
        ]),
    ]
}

/// The format target: a format that parses formats any date, and when it writes every field
/// down to the minute, reading what it wrote gives the date back. (Only for years from 1000:
/// like Python's, `%Y` writes year 117 as `117`, which `%Y%m` then reads back as 1171 and a
/// month.)
fn strftime_target(format: &str, civil: Civil) {
    let Ok(fmt) = Fmt::parse(format) else {
        return;
    };
    let written = fmt.format(&civil, None);
    let read = fmt.parse_datetime(&written);
    let complete = ["%Y", "%m", "%d", "%H", "%M"]
        .iter()
        .all(|f| format.contains(f))
        && !format.contains("%%")
        && fmt.strptime_error().is_none();
    if complete
        && civil.year >= 1000
        && let Ok(read) = read
    {
        let (a, b) = (read.civil, civil);
        assert_eq!(
            (a.year, a.month, a.day, a.hour, a.minute),
            (b.year, b.month, b.day, b.hour, b.minute),
            "{format:?} wrote {written:?}"
        );
    }
}

fn strftime_inputs() -> impl Strategy<Value = (String, Civil)> {
    let directive = proptest::sample::select(vec![
        "%Y", "%m", "%d", "%H", "%M", "%S", "%y", "%b", "%B", "%a", "%A", "%j", "%U", "%W", "%I",
        "%p", "%z", "%Z", "%%", "%f", "%e", "%-d", "%", "-", "/", ":", " ", "T", "x",
    ]);
    let format = prop_oneof![
        4 => proptest::collection::vec(directive, 0..9).prop_map(|d| d.concat()),
        2 => near(vec![
            "%Y-%m-%d".into(),
            "%Y-%m-%d-%H:%M".into(),
            "%d/%m/%Y %H:%M".into(),
            "%Y%m%d%z".into(),
        ]),
    ];
    let civil = (1i32..=9999, 1u8..=12, 1u8..=31, 0u8..24, 0u8..60, 0u8..60).prop_map(
        |(year, month, day, hour, minute, second)| Civil {
            year,
            month,
            day: day.min(days_in_month(year, month)),
            hour,
            minute,
            second,
        },
    );
    (format, civil)
}

/// The range target: text that reads as a range prints as itself, and asking a definition for
/// it answers without panicking; a range that resolves holds both its ends.
fn range_target(def: &PartitionsDefinition, text: &str) {
    let Ok(range) = text.parse::<KeyRange>() else {
        return;
    };
    assert_eq!(range.to_string().parse::<KeyRange>().unwrap(), range);
    let cx = Context::new(now()).with_dynamic(dynamic());
    if let Ok(subset) = range.subset(def, &cx)
        && def.as_multi().is_none()
    {
        for end in [&range.start, &range.end] {
            let i = def.index_of(&cx, end).unwrap();
            if let Some(i) = i {
                assert!(subset.contains_index(i), "{def}: {text:?} lacks {end}");
            }
        }
    }
}

fn range_inputs() -> impl Strategy<Value = (usize, String)> {
    let cx = Context::new(now()).with_dynamic(dynamic());
    let per_def: Vec<BoxedStrategy<(usize, String)>> = definitions()
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let keys = sample_keys(def, &cx);
            let ranges: Vec<String> = keys
                .iter()
                .zip(keys.iter().rev())
                .map(|(a, b)| format!("{a}...{b}"))
                .collect();
            near(ranges).prop_map(move |r| (i, r)).boxed()
        })
        .collect();
    proptest::strategy::Union::new(per_def)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_partition_keys((def, key) in key_inputs()) {
        key_target(&definitions()[def], &key);
    }

    #[test]
    fn fuzz_cron_expressions(text in cron_inputs()) {
        cron_target(&text);
    }

    #[test]
    fn fuzz_strftime_formats((format, civil) in strftime_inputs()) {
        strftime_target(&format, civil);
    }

    #[test]
    fn fuzz_key_ranges((def, text) in range_inputs()) {
        range_target(&definitions()[def], &text);
    }
}
