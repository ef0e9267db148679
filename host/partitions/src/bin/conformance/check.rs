//! Evaluates one case: every check of a definition case, or the construct / validate / input /
//! result steps of a mapping case. Each step yields an [`Outcome`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tessera_partitions::{Context, Error, PartitionSubset, PartitionsDefinition, TimeWindow};

use crate::spec::{self, SpecError};

/// The result of one check.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// `op` or `op:arg`, e.g. `has_partition_key:2024-03-10-02:00`; for mappings `construct`,
    /// `validate`, `input`, `result`.
    pub(crate) name: String,
    /// Why it failed; `None` when it passed.
    pub(crate) failure: Option<String>,
    /// What differed, for deviations recognised by the difference itself.
    pub(crate) mismatch: Mismatch,
}

/// How a failed check differed from the recording.
#[derive(Debug, Clone, Default)]
pub(crate) enum Mismatch {
    /// Passed, or failed in a way not described further.
    #[default]
    Other,
    /// Both answered, with different values: Dagster's, then Tessera's.
    Values(Value, Value),
    /// Both refused, with an error of another class.
    BothRefused,
}

impl Outcome {
    fn new(name: String, failure: Option<String>) -> Self {
        Outcome {
            name,
            failure,
            mismatch: Mismatch::Other,
        }
    }

    fn compared(name: String, failure: Option<(String, Mismatch)>) -> Self {
        match failure {
            None => Outcome::new(name, None),
            Some((message, mismatch)) => Outcome {
                name,
                failure: Some(message),
                mismatch,
            },
        }
    }
}

/// The Dagster exception classes that correspond to a Tessera error. Dagster raises different
/// classes for the same mistake depending on which layer notices it (a `CheckError` from an
/// invariant, a `ParameterCheckError` from a type check, a `DagsterInvalidDefinitionError` from
/// validation), so an incompatible mapping accepts any of them.
fn dagster_classes(e: &Error) -> &'static [&'static str] {
    match e {
        Error::InvalidCron { .. }
        | Error::CronNeverFires { .. }
        | Error::InvalidFormat { .. }
        | Error::DuplicateKeys { .. }
        | Error::InvalidKeyText { .. }
        | Error::DimensionCount(_)
        | Error::InvalidDimension { .. }
        | Error::InvalidExclusion { .. }
        | Error::InvalidDefinition { .. } => &["DagsterInvalidDefinitionError", "CheckError"],
        Error::UnknownTimeZone(_) => &["ZoneInfoNotFoundError", "DagsterInvalidDefinitionError"],
        Error::InvalidDate { .. } | Error::UnparsableKey { .. } => &["ValueError"],
        Error::UnknownKey { .. } => &[
            "DagsterInvalidInvocationError",
            "DagsterUnknownPartitionError",
        ],
        Error::MalformedMultiKey { .. } => &["CheckError", "ValueError"],
        Error::RangeStartBeforeFirst { .. }
        | Error::RangeEndAfterLast { .. }
        | Error::UnknownDimension { .. } => &["CheckError"],
        Error::IncompatibleMapping { .. } => &[
            "CheckError",
            "ParameterCheckError",
            "DagsterInvalidDefinitionError",
            "DagsterInvalidInvocationError",
        ],
        Error::UnknownMappingSource { .. } | Error::UnknownMappingTarget { .. } => &["ValueError"],
        _ => &[],
    }
}

/// Compares what Tessera did with what Dagster recorded: `expected` is the case's `result`
/// (when `error` is absent) or its `error` object.
fn compare(
    got: Result<Value, Error>,
    expected: Option<&Value>,
    error: Option<&Value>,
) -> Option<(String, Mismatch)> {
    match (got, error.filter(|e| !e.is_null())) {
        (Ok(v), None) => {
            let want = expected.unwrap_or(&Value::Null);
            (&v != want).then(|| {
                (
                    format!("expected {want}, got {v}"),
                    Mismatch::Values(want.clone(), v),
                )
            })
        }
        (Ok(v), Some(e)) => Some((
            format!("expected {}, got {v}", error_class(e)),
            Mismatch::Other,
        )),
        (Err(e), None) => Some((
            format!(
                "expected {}, got error: {e}",
                expected.unwrap_or(&Value::Null)
            ),
            Mismatch::Other,
        )),
        (Err(e), Some(want)) => {
            let class = error_class(want);
            (!dagster_classes(&e).contains(&class.as_str())).then(|| {
                (
                    format!("expected {class}, got error: {e}"),
                    Mismatch::BothRefused,
                )
            })
        }
    }
}

fn error_class(e: &Value) -> String {
    e.get("class")
        .and_then(Value::as_str)
        .unwrap_or("an error")
        .to_string()
}

fn keys_json(keys: impl Iterator<Item = impl AsRef<str>>) -> Value {
    Value::Array(
        keys.map(|k| Value::String(k.as_ref().to_string()))
            .collect(),
    )
}

/// Python's `datetime.isoformat()` for a whole-second aware datetime.
fn window_json(w: &TimeWindow) -> Value {
    json!({
        "start": w.start().format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "end": w.end().format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "start_ts": w.start,
        "end_ts": w.end,
    })
}

pub(crate) fn parse_now(case: &Value) -> Result<DateTime<Utc>, SpecError> {
    let text = case
        .get("now")
        .and_then(Value::as_str)
        .ok_or_else(|| SpecError("case without now".into()))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| SpecError(format!("bad now {text:?}: {e}")))
}

/// Runs a `partitions_def` case.
pub(crate) fn definition_case(case: &Value) -> Result<Vec<Outcome>, SpecError> {
    let now = parse_now(case)?;
    let store = spec::dynamic_store(case.get("dynamic_partitions"))?;
    let cx = Context::new(now).with_dynamic(&store);
    let built = spec::definition(case.get("def").unwrap_or(&Value::Null))?
        .ok_or_else(|| SpecError("partitions_def case with a null def".into()))?;
    let mut out = Vec::new();
    let construct_error = case.get("construct_error").filter(|e| !e.is_null());
    let def = match (built, construct_error) {
        (Ok(def), None) => def,
        (Ok(_), Some(e)) => {
            out.push(Outcome::new(
                "construct".into(),
                Some(format!(
                    "expected {}, but the definition was built",
                    error_class(e)
                )),
            ));
            return Ok(out);
        }
        (Err(e), want) => {
            let failure = compare(Err(e), None, want);
            out.push(Outcome::compared("construct".into(), failure));
            return Ok(out);
        }
    };
    if let Some(resolved) = case.get("resolved").filter(|r| !r.is_null()) {
        out.push(Outcome::new(
            "resolved".into(),
            check_resolved(&def, resolved),
        ));
    }
    let checks = case
        .get("checks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for check in checks {
        let op = check.get("op").and_then(Value::as_str).unwrap_or("?");
        let args = check.get("args").cloned().unwrap_or(Value::Null);
        let arg = |name: &str| {
            args.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (name, got) = match op {
            "validate" => ("validate".to_string(), def.validate().map(|()| Value::Null)),
            "partition_keys" => (op.to_string(), def.keys(&cx).map(keys_json)),
            "num_partitions" | "get_num_partitions" => {
                (op.to_string(), def.count(&cx).map(Value::from))
            }
            "first_keys" | "last_keys" => {
                let n = args.get("n").and_then(Value::as_u64).unwrap_or(0);
                let got = def.count(&cx).and_then(|count| {
                    let from = if op == "first_keys" {
                        0
                    } else {
                        count.saturating_sub(n)
                    };
                    Ok(keys_json(def.keys_from(&cx, from, n.min(count))?))
                });
                (format!("{op}:{n}"), got)
            }
            "first_partition_key" => (
                op.to_string(),
                def.first_key(&cx)
                    .map(|k| k.map_or(Value::Null, |k| Value::from(k.into_string()))),
            ),
            "last_partition_key" => (
                op.to_string(),
                def.last_key(&cx)
                    .map(|k| k.map_or(Value::Null, |k| Value::from(k.into_string()))),
            ),
            "has_partition_key" => {
                let key = arg("key");
                (
                    format!("{op}:{key}"),
                    def.has_key(&cx, &key).map(Value::from),
                )
            }
            "key_index" => {
                let key = arg("key");
                (
                    format!("{op}:{key}"),
                    def.index_of(&cx, &key)
                        .map(|i| i.map_or(Value::Null, Value::from)),
                )
            }
            "time_window_for_partition_key" => {
                let key = arg("key");
                (
                    format!("{op}:{key}"),
                    def.time_window_for_key(&key).map(|w| window_json(&w)),
                )
            }
            "keys_by_dimension" => {
                let key = arg("key");
                let got = match &def {
                    PartitionsDefinition::Multi(m) => m.split_key(&key).map(|parts| {
                        Value::Object(
                            m.dimensions()
                                .iter()
                                .zip(parts)
                                .map(|(d, p)| (d.name.clone(), Value::from(p)))
                                .collect(),
                        )
                    }),
                    _ => Ok(Value::Null),
                };
                (format!("{op}:{key}"), got)
            }
            "partition_keys_in_range" => {
                let (start, end) = (arg("start"), arg("end"));
                let got = def
                    .range(&cx, &start, &end)
                    .and_then(|subset| Ok(keys_json(def.subset_keys(&cx, &subset)?)));
                (format!("{op}:{start}...{end}"), got)
            }
            other => {
                out.push(Outcome::new(
                    other.to_string(),
                    Some(format!("unsupported op {other:?}")),
                ));
                continue;
            }
        };
        out.push(Outcome::compared(
            name,
            compare(got, check.get("result"), check.get("error")),
        ));
    }
    Ok(out)
}

/// The resolved form: cron (offsets folded in), fmt, zone, parsed start/end, end_offset.
fn check_resolved(def: &PartitionsDefinition, resolved: &Value) -> Option<String> {
    match (def, resolved.get("type").and_then(Value::as_str)) {
        (PartitionsDefinition::TimeWindow(tw), Some("time_window")) => {
            let got = json!({
                "cron_schedule": tw.cron_schedule(),
                "fmt": tw.fmt(),
                "timezone": tw.timezone(),
                "start_ts": tw.start(),
                "end_ts": tw.end(),
                "end_offset": tw.end_offset(),
            });
            let want = json!({
                "cron_schedule": resolved.get("cron_schedule"),
                "fmt": resolved.get("fmt"),
                "timezone": resolved.get("timezone"),
                "start_ts": resolved.get("start_ts"),
                "end_ts": resolved.get("end_ts"),
                "end_offset": resolved.get("end_offset"),
            });
            (got != want).then(|| format!("expected {want}, got {got}"))
        }
        (PartitionsDefinition::Static(s), Some("static")) => {
            let got = keys_json(s.keys().iter());
            let want = resolved
                .get("partition_keys")
                .cloned()
                .unwrap_or(Value::Null);
            (got != want).then(|| format!("expected {want}, got {got}"))
        }
        (PartitionsDefinition::Multi(m), Some("multi")) => {
            let got = keys_json(m.dimensions().iter().map(|d| d.name.as_str()));
            let want = resolved
                .get("dimension_order")
                .cloned()
                .unwrap_or(Value::Null);
            (got != want).then(|| format!("expected dimension order {want}, got {got}"))
        }
        (PartitionsDefinition::Dynamic(_), Some("dynamic")) => None,
        (_, other) => Some(format!("expected a {other:?} definition, built {def}")),
    }
}

/// Runs a `mapping` case.
pub(crate) fn mapping_case(case: &Value) -> Result<Vec<Outcome>, SpecError> {
    let now = parse_now(case)?;
    let store = spec::dynamic_store(case.get("dynamic_partitions"))?;
    let cx = Context::new(now).with_dynamic(&store);
    let mapping = spec::mapping(case.get("mapping").unwrap_or(&Value::Null))?;
    let up = spec::definition(case.get("upstream_def").unwrap_or(&Value::Null))?
        .ok_or_else(|| SpecError("mapping case with a null upstream_def".into()))?;
    let down = spec::definition(case.get("downstream_def").unwrap_or(&Value::Null))?;
    let mut out = Vec::new();
    let construct_error = case.get("construct_error").filter(|e| !e.is_null());
    let (up, down) = match (up, down.transpose(), construct_error) {
        (Ok(up), Ok(down), None) => (up, down),
        (Ok(_), Ok(_), Some(e)) => {
            out.push(Outcome::new(
                "construct".into(),
                Some(format!(
                    "expected {}, but the definitions were built",
                    error_class(e)
                )),
            ));
            return Ok(out);
        }
        (Err(e), _, want) | (_, Err(e), want) => {
            out.push(Outcome::compared(
                "construct".into(),
                compare(Err(e), None, want),
            ));
            return Ok(out);
        }
    };

    let validated = mapping.validate(&up, down.as_ref()).map(|()| Value::Null);
    out.push(Outcome::compared(
        "validate".into(),
        compare(validated, None, case.get("validate_error")),
    ));

    let to_upstream = match case.get("direction").and_then(Value::as_str) {
        Some("to_upstream") => true,
        Some("to_downstream") => false,
        other => return Err(SpecError(format!("unknown direction {other:?}"))),
    };
    let from = if to_upstream {
        down.as_ref()
    } else {
        Some(&up)
    };
    let input = case.get("input").unwrap_or(&Value::Null);
    let subset = match build_input(&cx, input, from) {
        Ok(s) => s,
        Err(InputError::Spec(e)) => return Err(e),
        Err(InputError::Tessera(e)) => {
            let failure = compare(Err(e), None, case.get("input_error"));
            out.push(Outcome::compared("input".into(), failure));
            return Ok(out);
        }
    };
    if let (Some(from), Some(effective)) = (
        from,
        case.get("input_keys_effective").filter(|v| !v.is_null()),
    ) {
        let got = from.subset_keys(&cx, &subset).map(keys_json);
        out.push(Outcome::compared(
            "input".into(),
            compare(got, Some(effective), None),
        ));
    }

    let result = if to_upstream {
        mapping
            .to_upstream(&cx, &subset, down.as_ref(), &up)
            .and_then(|r| {
                let keys = keys_json(up.subset_keys(&cx, &r.partitions)?);
                let rbn = keys_json(up.subset_keys(&cx, &r.required_but_nonexistent)?);
                Ok(json!({"upstream_keys": keys, "required_but_nonexistent_keys": rbn}))
            })
    } else {
        let down = down
            .as_ref()
            .ok_or_else(|| SpecError("to_downstream with an unpartitioned downstream".into()))?;
        mapping
            .to_downstream(&cx, &subset, &up, down)
            .and_then(|s| Ok(json!({"downstream_keys": keys_json(down.subset_keys(&cx, &s)?)})))
    };
    let expected = case.get("expected").map(|e| normalise(e, &up));
    let result = result.map(|r| normalise(&r, &up));
    out.push(Outcome::compared(
        "result".into(),
        compare(result, expected.as_ref(), case.get("error")),
    ));
    Ok(out)
}

/// Dagster returns sets; the recording orders them by the target definition (see the case
/// README). Tessera's subsets list keys the same way except for required-but-nonexistent keys
/// of non-time-window upstreams, which are compared as sorted sets.
fn normalise(v: &Value, up: &PartitionsDefinition) -> Value {
    let mut v = v.clone();
    if !matches!(up, PartitionsDefinition::TimeWindow(_))
        && let Some(Value::Array(keys)) = v.get_mut("required_but_nonexistent_keys")
    {
        keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    v
}

enum InputError {
    Spec(SpecError),
    Tessera(Error),
}

impl From<Error> for InputError {
    fn from(e: Error) -> Self {
        InputError::Tessera(e)
    }
}

/// Builds the input subset as Dagster's `subset_with_partition_keys` does: for time windows a
/// key snaps to the first window starting at or after the time it names, and partitions that
/// do not exist at `now` are dropped; other definitions keep every key, known or not.
fn build_input(
    cx: &Context<'_>,
    input: &Value,
    from: Option<&PartitionsDefinition>,
) -> Result<PartitionSubset, InputError> {
    let Some(from) = from else {
        return Ok(PartitionSubset::empty());
    };
    if input.get("none").is_some() {
        return Ok(PartitionSubset::empty());
    }
    if input.get("all").is_some() {
        return Ok(from.all(cx)?);
    }
    let count = from.count(cx)? as i64;
    if let Some(range) = input.get("range") {
        let ends = spec::str_list(range).map_err(InputError::Spec)?;
        let [start, end] = ends.as_slice() else {
            return Err(InputError::Spec(SpecError(format!("bad range {range}"))));
        };
        let subset = from.range(cx, start, end)?;
        return Ok(match from {
            PartitionsDefinition::TimeWindow(_) => {
                subset.intersection(&PartitionSubset::from_range(0, count))
            }
            _ => subset,
        });
    }
    let keys = input
        .get("keys")
        .ok_or_else(|| InputError::Spec(SpecError(format!("unknown input {input}"))))?;
    let keys = spec::str_list(keys).map_err(InputError::Spec)?;
    let mut subset = PartitionSubset::empty();
    for key in keys {
        match from {
            PartitionsDefinition::TimeWindow(tw) => {
                let window = tw.window_for_key(&key)?;
                if let Some(i) = tw.index_of_start(window.start)
                    && (0..count).contains(&i)
                {
                    subset.insert_index(i);
                }
            }
            _ => match from.index_of(cx, &key)? {
                Some(i) => subset.insert_index(i),
                None => subset.insert_unindexed(key.into()),
            },
        }
    }
    Ok(subset)
}

/// Whether a case is a mapping case (else a definition case).
pub(crate) fn is_mapping(case: &Value) -> bool {
    case.get("kind").and_then(Value::as_str) == Some("mapping")
}
