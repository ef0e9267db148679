//! The expected-deviations file: cases (and optionally checks within them) where Tessera
//! deliberately differs from Dagster, each with what Tessera does and why.

use serde::Deserialize;
use serde_json::Value;

use crate::check::{Mismatch, Outcome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviations {
    pub(crate) deviations: Vec<Deviation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deviation {
    /// Case-id globs (`*` matches any run of characters); absent means every case.
    #[serde(default = "every_case")]
    pub(crate) cases: Vec<String>,
    /// What the behaviour is, recognised wherever it was recorded rather than by case names.
    /// Properties of a definition in the case (the definition, either side of a mapping or one
    /// of their dimensions), which all hold for the same definition: `exclusions`
    /// (non-empty), `end_offset>0`, `dimensions>2`, `multi`, `zone:negative_dst`,
    /// `zone:off_hour_transitions`, `zone:half_hour_dst`. And properties of the failed check
    /// itself: `same_instants`, `kept_gap_wall_time`, `other_occurrence_late`,
    /// `more_nonexistent_overlapping`, `range_end_dropped`, `listing_has_duplicates`,
    /// `moved_before_gap`, `has_key_against_listing`,
    /// `both_refuse`, `bare_multi_keys` (see [`check_holds`]).
    #[serde(default)]
    pub(crate) when: Vec<String>,
    /// Check-name globs; absent means every check of the matched cases.
    #[serde(default)]
    pub(crate) checks: Option<Vec<String>>,
    /// What Tessera does instead.
    pub(crate) tessera: String,
    /// Why.
    pub(crate) why: String,
}

impl Deviations {
    /// The deviation that excuses a failed check, if any (its position in the file).
    pub(crate) fn excuse(&self, case: &Value, id: &str, outcome: &Outcome) -> Option<usize> {
        self.deviations.iter().position(|d| {
            let (of_check, of_def): (Vec<&String>, Vec<&String>) = d
                .when
                .iter()
                .partition(|w| CHECK_PROPERTIES.contains(&w.as_str()));
            d.cases.iter().any(|g| glob(g, id))
                && (of_def.is_empty() || definitions(case).iter().any(|def| holds(&of_def, def)))
                && of_check.iter().all(|w| check_holds(w, case, outcome))
                && d.checks
                    .as_ref()
                    .is_none_or(|checks| checks.iter().any(|g| glob(g, &outcome.name)))
        })
    }
}

/// `when` properties of the failed check rather than of a definition.
const CHECK_PROPERTIES: [&str; 10] = [
    "range_end_dropped",
    "listing_has_duplicates",
    "more_nonexistent_overlapping",
    "same_instants",
    "kept_gap_wall_time",
    "other_occurrence_late",
    "moved_before_gap",
    "has_key_against_listing",
    "both_refuse",
    "bare_multi_keys",
];

/// Zones whose tz database rules have negative DST (winter is the "summer" time): Dagster
/// moves a tick inside their spring-forward gap to before the gap.
const NEGATIVE_DST: [&str; 4] = [
    "Europe/Dublin",
    "Eire",
    "Africa/Casablanca",
    "Africa/El_Aaiun",
];

/// Zones whose clocks change at a time off the hour (Chatham: 02:45 → 03:45).
const OFF_HOUR_TRANSITIONS: [&str; 2] = ["Pacific/Chatham", "NZ-CHAT"];

/// Zones whose DST shift is not a whole hour (Lord Howe: 30 minutes).
const HALF_HOUR_DST: [&str; 2] = ["Australia/Lord_Howe", "Australia/LHI"];

/// Does a property of the failed check hold? Unknown ones never do.
fn check_holds(property: &str, case: &Value, outcome: &Outcome) -> bool {
    let values = match &outcome.mismatch {
        Mismatch::Values(want, got) => Some((want, got)),
        _ => None,
    };
    match property {
        // A window whose bounds are the same instants, written differently: Dagster writes a
        // wall time inside a spring-forward gap with the offset before the gap.
        "same_instants" => values.is_some_and(|(want, got)| {
            ["start_ts", "end_ts"]
                .iter()
                .all(|k| want.get(k) == got.get(k))
                && want.get("start_ts").is_some()
        }),
        // Every bound that differs is, in Dagster's answer, a wall time the gap skipped, kept
        // with the offset before the gap (so less than an hour after Tessera's gap end).
        "kept_gap_wall_time" => values.is_some_and(|(want, got)| {
            differing_bounds(want, got).is_some_and(|bounds| {
                !bounds.is_empty() && bounds.iter().all(|(w, g)| w.get(19..) != g.get(19..))
            }) && ["start_ts", "end_ts"].iter().all(|k| {
                match (
                    want.get(k).and_then(Value::as_i64),
                    got.get(k).and_then(Value::as_i64),
                ) {
                    (Some(w), Some(g)) => w == g || (w - g > 0 && w - g < 3600),
                    _ => false,
                }
            })
        }),
        // Every bound that differs is the same wall time at its other occurrence (an
        // ambiguous time), outside 01:00–03:59.
        "other_occurrence_late" => values.is_some_and(|(want, got)| {
            differing_bounds(want, got).is_some_and(|bounds| {
                !bounds.is_empty()
                    && bounds.iter().all(|(w, g)| {
                        w.get(..19) == g.get(..19)
                            && w.get(19..) != g.get(19..)
                            && w.get(11..13)
                                .and_then(|h| h.parse::<u32>().ok())
                                .is_some_and(|h| !(1..=3).contains(&h))
                    })
            })
        }),
        // Every bound that differs is an hour earlier in Dagster's answer than in Tessera's:
        // a tick inside a spring-forward gap moved before the gap instead of to its end.
        "moved_before_gap" => values.is_some_and(|(want, got)| {
            ["start_ts", "end_ts"]
                .iter()
                .any(|k| want.get(k) != got.get(k))
                && ["start_ts", "end_ts"].iter().all(|k| {
                    match (
                        want.get(k).and_then(Value::as_i64),
                        got.get(k).and_then(Value::as_i64),
                    ) {
                        (Some(w), Some(g)) => w == g || (g - w > 0 && g - w <= 3600),
                        _ => false,
                    }
                })
        }),
        // Dagster's has_partition_key disagrees with its own listing: true for a key it does
        // not list, or false for one it lists.
        "has_key_against_listing" => {
            let Some(key) = outcome.name.strip_prefix("has_partition_key:") else {
                return false;
            };
            let Some(index) = listed_index(case, key) else {
                return false;
            };
            values.is_some_and(|(want, got)| {
                want == &Value::Bool(index.is_null()) && got == &Value::Bool(!index.is_null())
            })
        }
        // The same upstream partitions, and Tessera reports more of them as required but
        // nonexistent: every upstream window overlapping the input, where Dagster keeps those
        // that start inside it.
        "more_nonexistent_overlapping" => values.is_some_and(|(want, got)| {
            let keys = |v: &Value, k: &str| -> Option<Vec<String>> {
                v.get(k)?
                    .as_array()?
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect()
            };
            let rbn = "required_but_nonexistent_keys";
            want.get("upstream_keys") == got.get("upstream_keys")
                && match (keys(want, rbn), keys(got, rbn)) {
                    (Some(w), Some(g)) => g.len() > w.len() && w.iter().all(|k| g.contains(k)),
                    _ => false,
                }
        }),
        // Dagster's range lacks its own end key, which Tessera's has last.
        "range_end_dropped" => {
            let Some(end) = outcome
                .name
                .strip_prefix("partition_keys_in_range:")
                .and_then(|r| r.split_once("..."))
                .map(|(_, end)| end)
            else {
                return false;
            };
            values.is_some_and(|(want, got)| match (want.as_array(), got.as_array()) {
                (Some(w), Some(g)) => {
                    g.len() == w.len() + 1
                        && g[..w.len()] == w[..]
                        && g.last().and_then(Value::as_str) == Some(end)
                }
                _ => false,
            })
        }
        // Dagster's own listing of the definition repeats a key (a `fmt` coarser than the
        // schedule): the definition is invalid, and a key's index is ambiguous.
        "listing_has_duplicates" => case
            .get("checks")
            .and_then(Value::as_array)
            .and_then(|checks| {
                checks
                    .iter()
                    .find(|c| c.get("op").and_then(Value::as_str) == Some("partition_keys"))
            })
            .and_then(|c| c.get("result"))
            .and_then(Value::as_array)
            .is_some_and(|keys| {
                let mut seen = std::collections::HashSet::new();
                keys.iter().any(|k| !seen.insert(k))
            }),
        // Dagster and Tessera both refuse, with errors of different classes.
        "both_refuse" => matches!(outcome.mismatch, Mismatch::BothRefused),
        // Dagster names a required-but-nonexistent partition of a multi-partitioned upstream
        // by a bare dimension key.
        "bare_multi_keys" => {
            case.pointer("/upstream_def/type").and_then(Value::as_str) == Some("multi")
                && values.is_some_and(|(want, _)| {
                    want.get("required_but_nonexistent_keys")
                        .and_then(Value::as_array)
                        .is_some_and(|keys| {
                            keys.iter()
                                .any(|k| k.as_str().is_some_and(|k| !k.contains('|')))
                        })
                })
        }
        _ => false,
    }
}

/// The window bounds (`start`, `end`) that differ, as (Dagster's, Tessera's) strings.
fn differing_bounds<'a>(want: &'a Value, got: &'a Value) -> Option<Vec<(&'a str, &'a str)>> {
    let mut out = Vec::new();
    for k in ["start", "end"] {
        let (w, g) = (want.get(k)?.as_str()?, got.get(k)?.as_str()?);
        if w != g {
            out.push((w, g));
        }
    }
    Some(out)
}

/// The recorded `key_index` of a key in a definition case.
fn listed_index<'a>(case: &'a Value, key: &str) -> Option<&'a Value> {
    case.get("checks")?.as_array()?.iter().find_map(|c| {
        (c.get("op")?.as_str()? == "key_index" && c.pointer("/args/key")?.as_str()? == key)
            .then(|| c.get("result"))
            .flatten()
    })
}

fn every_case() -> Vec<String> {
    vec!["*".to_string()]
}

/// Every definition spec in a case, dimensions included.
fn definitions(case: &Value) -> Vec<&Value> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        if !v.is_object() {
            return;
        }
        out.push(v);
        if let Some(dims) = v.get("dimensions").and_then(Value::as_object) {
            for d in dims.values() {
                walk(d, out);
            }
        }
    }
    let mut out = Vec::new();
    for field in ["def", "upstream_def", "downstream_def"] {
        if let Some(v) = case.get(field) {
            walk(v, &mut out);
        }
    }
    out
}

/// Do all the properties hold for this definition spec? An unknown property never holds, so
/// a typo excuses nothing.
fn holds(properties: &[&String], def: &Value) -> bool {
    let zone = def.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
    properties.iter().all(|p| match p.as_str() {
        "multi" => def.get("type").and_then(Value::as_str) == Some("multi"),
        "zone:negative_dst" => NEGATIVE_DST.contains(&zone),
        "zone:off_hour_transitions" => OFF_HOUR_TRANSITIONS.contains(&zone),
        "zone:half_hour_dst" => HALF_HOUR_DST.contains(&zone),
        "exclusions" => def
            .get("exclusions")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        "dimensions>2" => def
            .get("dimensions")
            .and_then(Value::as_object)
            .is_some_and(|d| d.len() > 2),
        "end_offset>0" => def
            .get("end_offset")
            .and_then(Value::as_i64)
            .is_some_and(|k| k > 0),
        _ => false,
    })
}

/// Glob match with `*` only; everything else is literal.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{check_holds, glob};
    use crate::check::{Mismatch, Outcome};

    fn failed(name: &str, want: serde_json::Value, got: serde_json::Value) -> Outcome {
        Outcome {
            name: name.to_string(),
            failure: Some("differs".to_string()),
            mismatch: Mismatch::Values(want, got),
        }
    }

    #[test]
    fn behaviours_are_recognised_by_what_differs() {
        let window = |start: &str, start_ts: i64| json!({"start": start, "start_ts": start_ts, "end": "2024-01-02T00:00:00+00:00", "end_ts": 5});
        let case = json!({"checks": [
            {"op": "key_index", "args": {"key": "2024-03-10-02:00"}, "result": null},
            {"op": "key_index", "args": {"key": "2024-03-10-03:00"}, "result": 6},
        ]});
        // The same instant, written with another offset.
        let o = failed(
            "time_window_for_partition_key:x",
            window("2022-03-22T00:00:00+03:30", 100),
            window("2022-03-22T01:00:00+04:30", 100),
        );
        assert!(check_holds("same_instants", &case, &o));
        assert!(!check_holds("other_occurrence_late", &case, &o));
        // The same wall time at its other occurrence, late in the day; not at 01:30.
        let late = failed(
            "time_window_for_partition_key:x",
            window("2019-02-16T23:00:00-02:00", 100),
            window("2019-02-16T23:00:00-03:00", 3700),
        );
        assert!(check_holds("other_occurrence_late", &case, &late));
        assert!(!check_holds("same_instants", &case, &late));
        let early = failed(
            "time_window_for_partition_key:x",
            window("2024-11-03T01:30:00-04:00", 100),
            window("2024-11-03T01:30:00-05:00", 3700),
        );
        assert!(!check_holds("other_occurrence_late", &case, &early));
        // has_partition_key against Dagster's own listing, both ways; not for a listed key
        // Dagster accepts.
        let gap = failed(
            "has_partition_key:2024-03-10-02:00",
            json!(true),
            json!(false),
        );
        assert!(check_holds("has_key_against_listing", &case, &gap));
        let listed = failed(
            "has_partition_key:2024-03-10-03:00",
            json!(false),
            json!(true),
        );
        assert!(check_holds("has_key_against_listing", &case, &listed));
        let wrong = failed(
            "has_partition_key:2024-03-10-03:00",
            json!(true),
            json!(false),
        );
        assert!(!check_holds("has_key_against_listing", &case, &wrong));
        // A range missing its own end key; not one missing another key.
        let dropped = failed(
            "partition_keys_in_range:a...c",
            json!(["a", "b"]),
            json!(["a", "b", "c"]),
        );
        assert!(check_holds("range_end_dropped", &case, &dropped));
        let other = failed(
            "partition_keys_in_range:a...c",
            json!(["a", "c"]),
            json!(["a", "b", "c"]),
        );
        assert!(!check_holds("range_end_dropped", &case, &other));
        let listing =
            |keys: serde_json::Value| json!({"checks": [{"op": "partition_keys", "result": keys}]});
        assert!(check_holds(
            "listing_has_duplicates",
            &listing(json!(["2024-06", "2024-06"])),
            &o
        ));
        assert!(!check_holds(
            "listing_has_duplicates",
            &listing(json!(["2024-06", "2024-07"])),
            &o
        ));
        // Dagster names a nonexistent upstream partition of a multi definition by one
        // dimension's key; not when every key is a full multi key, nor for another upstream.
        let multi_up = json!({"upstream_def": {"type": "multi"}});
        let bare = failed(
            "get_upstream_mapped_partitions_result_for_partitions:x",
            json!({"required_but_nonexistent_keys": ["2024-01-05"]}),
            json!({"required_but_nonexistent_keys": ["2024-01-05|a"]}),
        );
        assert!(check_holds("bare_multi_keys", &multi_up, &bare));
        let full = failed(
            "get_upstream_mapped_partitions_result_for_partitions:x",
            json!({"required_but_nonexistent_keys": ["2024-01-05|a"]}),
            json!({"required_but_nonexistent_keys": []}),
        );
        assert!(!check_holds("bare_multi_keys", &multi_up, &full));
        let single_up = json!({"upstream_def": {"type": "time_window"}});
        assert!(!check_holds("bare_multi_keys", &single_up, &bare));
        // An unknown property never holds.
        assert!(!check_holds("same_instant", &case, &o));
    }

    #[test]
    fn globs() {
        assert!(glob("a.b", "a.b"));
        assert!(!glob("a.b", "a.bc"));
        assert!(glob("dst.*.spring.*", "dst.hourly.NY.spring.eo0"));
        assert!(!glob("dst.*.spring.*", "dst.hourly.NY.fall.eo0"));
        assert!(glob("*", ""));
        assert!(glob("a*a", "aa"));
        assert!(!glob("a*a", "a"));
        assert!(glob(
            "has_partition_key:*-02:00",
            "has_partition_key:2024-03-10-02:00"
        ));
    }
}
