//! Daylight-saving behaviour with real zones: New York, Berlin, Lord Howe (30-minute shift)
//! and Kolkata (no DST, +05:30).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use chrono::{DateTime, TimeZone, Utc};
use tessera_partitions::{Context, PartitionsDefinition, TimeWindowPartitions};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn keys(def: &PartitionsDefinition, now: DateTime<Utc>) -> Vec<String> {
    def.keys(&Context::new(now))
        .unwrap()
        .map(|k| k.into_string())
        .collect()
}

fn hourly(start: &str, tz: &str) -> PartitionsDefinition {
    TimeWindowPartitions::hourly(start)
        .timezone(tz)
        .build()
        .unwrap()
        .into()
}

fn daily(start: &str, tz: &str) -> PartitionsDefinition {
    TimeWindowPartitions::daily(start)
        .timezone(tz)
        .build()
        .unwrap()
        .into()
}

#[test]
fn new_york_spring_gap_has_no_key() {
    let def = hourly("2024-03-10-00:00", "America/New_York");
    let k = keys(&def, at(2024, 3, 10, 9, 0)); // 05:00 EDT
    assert_eq!(
        k,
        [
            "2024-03-10-00:00",
            "2024-03-10-01:00",
            "2024-03-10-03:00",
            "2024-03-10-04:00"
        ]
    );
    let w = def.time_window_for_key("2024-03-10-01:00").unwrap();
    assert_eq!(
        w.duration_secs(),
        3600,
        "01:00 EST to 03:00 EDT is one real hour"
    );
    assert_eq!(w.end().to_rfc3339(), "2024-03-10T03:00:00-04:00");
    assert!(
        !def.has_key(&Context::new(at(2024, 3, 10, 9, 0)), "2024-03-10-02:00")
            .unwrap()
    );
}

#[test]
fn new_york_fall_back_repeats_the_hour_with_an_offset_suffix() {
    let def = hourly("2024-11-03-00:00", "America/New_York");
    let k = keys(&def, at(2024, 11, 3, 8, 0)); // 03:00 EST
    assert_eq!(
        k,
        [
            "2024-11-03-00:00",
            "2024-11-03-01:00",
            "2024-11-03-01:00-0500",
            "2024-11-03-02:00"
        ]
    );
    let first = def.time_window_for_key("2024-11-03-01:00").unwrap();
    let second = def.time_window_for_key("2024-11-03-01:00-0500").unwrap();
    assert_eq!(first.start().to_rfc3339(), "2024-11-03T01:00:00-04:00");
    assert_eq!(second.start().to_rfc3339(), "2024-11-03T01:00:00-05:00");
    assert_eq!(first.end, second.start);
}

#[test]
fn daily_windows_are_23_and_25_hours_across_dst() {
    for (tz, spring, fall) in [
        ("America/New_York", "2024-03-10", "2024-11-03"),
        ("Europe/Berlin", "2024-03-31", "2024-10-27"),
    ] {
        let def = daily("2024-01-01", tz);
        assert_eq!(
            def.time_window_for_key(spring).unwrap().duration_secs(),
            23 * 3600,
            "{tz}"
        );
        assert_eq!(
            def.time_window_for_key(fall).unwrap().duration_secs(),
            25 * 3600,
            "{tz}"
        );
    }
    let howe = daily("2024-01-01", "Australia/Lord_Howe");
    assert_eq!(
        howe.time_window_for_key("2024-04-07")
            .unwrap()
            .duration_secs(),
        24 * 3600 + 1800
    );
    assert_eq!(
        howe.time_window_for_key("2024-10-06")
            .unwrap()
            .duration_secs(),
        24 * 3600 - 1800
    );
}

#[test]
fn berlin_full_year_hourly_count() {
    // 8784 hours in 2024 (leap year); the spring hour is gone and the autumn hour doubled.
    let def = hourly("2024-01-01-00:00", "Europe/Berlin");
    let end = at(2024, 12, 31, 23, 0); // 2025-01-01 00:00 CET
    assert_eq!(def.count(&Context::new(end)).unwrap(), 8784);
}

#[test]
fn lord_howe_hourly_keys_stay_on_the_cron_minute() {
    // Clocks go 02:00 → 02:30 on 2024-10-06: the 02:00 tick does not exist, and every later
    // key is still on the hour (Dagster drifts to :30 here).
    let def = hourly("2024-10-05-22:00", "Australia/Lord_Howe");
    let k = keys(&def, at(2024, 10, 5, 18, 0)); // 05:00 +11:00
    assert_eq!(
        k,
        [
            "2024-10-05-22:00",
            "2024-10-05-23:00",
            "2024-10-06-00:00",
            "2024-10-06-01:00",
            "2024-10-06-03:00",
            "2024-10-06-04:00"
        ]
    );
    let w = def.time_window_for_key("2024-10-06-01:00").unwrap();
    assert_eq!(w.duration_secs(), 5400, "01:00 +10:30 to 03:00 +11:00");
    for key in &k {
        let w = def.time_window_for_key(key).unwrap();
        let again = def
            .key_at(
                &Context::new(at(2024, 10, 5, 18, 0)),
                def.index_of(&Context::new(at(2024, 10, 5, 18, 0)), key)
                    .unwrap()
                    .unwrap(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(&again.into_string(), key);
        assert_eq!(w.start().format("%M").to_string(), "00");
    }
    // Full year: 8784 hours minus the skipped 30 minutes' tick, plus none doubled at :00
    // (the April repeat covers 01:30-02:00, which holds no :00 tick).
    let year = hourly("2024-01-01-00:00", "Australia/Lord_Howe");
    let count = year.count(&Context::new(at(2024, 12, 31, 13, 0))).unwrap();
    assert_eq!(count, 8783);
}

#[test]
fn lord_howe_half_hourly_fall_back_lists_both_occurrences() {
    // 2024-04-07 02:00 +11:00 → 01:30 +10:30: 01:30 happens twice.
    let def: PartitionsDefinition = TimeWindowPartitions::hourly("2024-04-07-00:00")
        .minute_offset(30)
        .timezone("Australia/Lord_Howe")
        .build()
        .unwrap()
        .into();
    let k = keys(&def, at(2024, 4, 6, 17, 0)); // 03:30 +10:30
    assert_eq!(
        k,
        [
            "2024-04-07-00:30",
            "2024-04-07-01:30",
            "2024-04-07-01:30+1030",
            "2024-04-07-02:30"
        ]
    );
}

#[test]
fn kolkata_half_hour_offset_is_stable() {
    let def = hourly("2024-06-14-00:00", "Asia/Kolkata");
    let w = def.time_window_for_key("2024-06-14-05:00").unwrap();
    assert_eq!(w.start().to_rfc3339(), "2024-06-14T05:00:00+05:30");
    assert_eq!(w.duration_secs(), 3600);
    // now = 2024-06-15T12:30Z = 18:00 IST: 42 complete hours.
    assert_eq!(
        def.count(&Context::new(at(2024, 6, 15, 12, 30))).unwrap(),
        42
    );
}

#[test]
fn daily_at_a_nonexistent_time_starts_at_the_gap_end() {
    let def: PartitionsDefinition =
        TimeWindowPartitions::cron("30 2 * * *", "2024-03-08", "%Y-%m-%d")
            .timezone("America/New_York")
            .build()
            .unwrap()
            .into();
    let w = def.time_window_for_key("2024-03-10").unwrap();
    assert_eq!(w.start().to_rfc3339(), "2024-03-10T03:00:00-04:00");
    let before = def.time_window_for_key("2024-03-09").unwrap();
    assert_eq!(before.end, w.start);
}

#[test]
fn daily_at_an_ambiguous_time_uses_the_second_occurrence() {
    let def: PartitionsDefinition =
        TimeWindowPartitions::cron("30 1 * * *", "2024-11-01", "%Y-%m-%d")
            .timezone("America/New_York")
            .build()
            .unwrap()
            .into();
    let w = def.time_window_for_key("2024-11-03").unwrap();
    assert_eq!(w.start().to_rfc3339(), "2024-11-03T01:30:00-05:00");
}

#[test]
fn dst_after_2037_still_applies() {
    // The tz database's rule continues past its tables.
    let def = daily("2040-01-01", "America/New_York");
    assert_eq!(
        def.time_window_for_key("2040-03-11")
            .unwrap()
            .duration_secs(),
        23 * 3600
    );
}

/// Listing a year of keys takes shortcuts (cached offset spans, digits rewritten in place);
/// every listed key must equal the key computed on its own, and map back to its index.
#[test]
fn listing_agrees_with_single_keys_through_a_dst_year() {
    let cx = Context::new(at(2025, 1, 1, 0, 0));
    for (def, zone) in [
        (
            TimeWindowPartitions::hourly("2024-01-01-00:00"),
            "America/New_York",
        ),
        (
            TimeWindowPartitions::hourly("2024-01-01-00:00").minute_offset(30),
            "Australia/Lord_Howe",
        ),
        (
            TimeWindowPartitions::hourly("2024-01-01-00:00"),
            "Europe/Berlin",
        ),
        (
            TimeWindowPartitions::cron("*/15 * * * *", "2024-01-01-00:00", "%Y-%m-%d-%H:%M"),
            "America/New_York",
        ),
        (
            TimeWindowPartitions::daily("2024-01-01").hour_offset(2),
            "America/New_York",
        ),
        (
            TimeWindowPartitions::daily("2024/01/01").fmt("%Y/%m/%d"),
            "Asia/Kolkata",
        ),
    ] {
        let def: PartitionsDefinition = def.timezone(zone).build().unwrap().into();
        let listed: Vec<_> = def.keys(&cx).unwrap().collect();
        assert!(listed.len() > 300, "{def}");
        for (i, key) in listed.iter().enumerate() {
            let i = i as i64;
            assert_eq!(
                def.key_at(&cx, i).unwrap().as_ref(),
                Some(key),
                "{def} #{i}"
            );
            assert_eq!(
                def.index_of(&cx, key.as_str()).unwrap(),
                Some(i),
                "{def} {key}"
            );
        }
        let suffixed = listed.iter().filter(|k| k.as_str().len() > 16).count();
        if zone != "Asia/Kolkata" && def.to_string().starts_with("hourly") {
            assert!(suffixed > 0, "{def}: the fall-back hour is listed twice");
        }
    }
}
