//! Case JSON → Tessera values: definitions, mappings, dynamic-partition stores.
//!
//! The specs are Dagster's constructor arguments as recorded; this module is the one place
//! that knows how each maps onto Tessera's builders.

use serde_json::Value;
use tessera_partitions::fmt::Civil;
use tessera_partitions::{
    DateSpec, DimensionMapping, MemoryDynamicStore, MultiPartitions, PartitionKey,
    PartitionMapping, PartitionsDefinition, StaticMapping, StaticPartitions, TimeWindowBuilder,
    TimeWindowMapping, TimeWindowPartitions,
};

/// A spec the runner cannot read (as opposed to a definition Tessera rejects).
#[derive(Debug)]
pub(crate) struct SpecError(pub(crate) String);

pub(crate) type Built = Result<PartitionsDefinition, tessera_partitions::Error>;

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|x| !x.is_null())
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<Option<&'a str>, SpecError> {
    match field(v, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(SpecError(format!(
            "field {name:?} is not a string: {other}"
        ))),
    }
}

fn req_str<'a>(v: &'a Value, name: &str) -> Result<&'a str, SpecError> {
    str_field(v, name)?.ok_or_else(|| SpecError(format!("missing field {name:?} in {v}")))
}

fn int_field(v: &Value, name: &str) -> Result<Option<i64>, SpecError> {
    match field(v, name) {
        None => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| SpecError(format!("field {name:?} is not an integer: {x}"))),
    }
}

fn u32_field(v: &Value, name: &str) -> Result<Option<u32>, SpecError> {
    int_field(v, name)?
        .map(|i| u32::try_from(i).map_err(|_| SpecError(format!("{name} {i} out of range"))))
        .transpose()
}

pub(crate) fn str_list(v: &Value) -> Result<Vec<String>, SpecError> {
    let arr = v
        .as_array()
        .ok_or_else(|| SpecError(format!("expected an array of strings, got {v}")))?;
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| SpecError(format!("expected a string, got {x}")))
        })
        .collect()
}

/// `2024-06-14T00:20:00` (a naive Python datetime's isoformat).
fn naive(text: &str) -> Result<Civil, SpecError> {
    let bad = || SpecError(format!("bad naive datetime {text:?}"));
    let dt = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| bad())?;
    use chrono::{Datelike, Timelike};
    let small = |x: u32| u8::try_from(x).map_err(|_| bad());
    Ok(Civil {
        year: dt.year(),
        month: small(dt.month())?,
        day: small(dt.day())?,
        hour: small(dt.hour())?,
        minute: small(dt.minute())?,
        second: small(dt.second())?,
    })
}

fn date(v: &Value, name: &str) -> Result<Option<DateSpec>, SpecError> {
    let Some(text) = str_field(v, name)? else {
        return Ok(None);
    };
    let kind = str_field(v, &format!("{name}_type"))?;
    Ok(Some(match kind {
        None | Some("string" | "str") => DateSpec::Text(text.to_string()),
        Some("naive_datetime") => DateSpec::Local(naive(text)?),
        Some(other) => return Err(SpecError(format!("unknown {name}_type {other:?}"))),
    }))
}

/// A definition spec. `Ok(None)` is an unpartitioned asset (JSON `null`); the inner result is
/// Tessera's verdict on the definition.
pub(crate) fn definition(v: &Value) -> Result<Option<Built>, SpecError> {
    if v.is_null() {
        return Ok(None);
    }
    let ty = req_str(v, "type")?;
    let built = match ty {
        "daily" | "hourly" | "weekly" | "monthly" => {
            let start = date(v, "start_date")?
                .ok_or_else(|| SpecError(format!("{ty} def without start_date")))?;
            let mut b = match ty {
                "daily" => TimeWindowPartitions::daily(start),
                "hourly" => TimeWindowPartitions::hourly(start),
                "weekly" => TimeWindowPartitions::weekly(start),
                _ => TimeWindowPartitions::monthly(start),
            };
            if let Some(m) = u32_field(v, "minute_offset")? {
                b = b.minute_offset(m);
            }
            if let Some(h) = u32_field(v, "hour_offset")? {
                b = b.hour_offset(h);
            }
            if let Some(d) = u32_field(v, "day_offset")? {
                b = b.day_offset(d);
            }
            common(b, v, "end_date")?
                .build()
                .map(PartitionsDefinition::from)
        }
        "time_window" => {
            let start =
                date(v, "start")?.ok_or_else(|| SpecError("time_window without start".into()))?;
            let b =
                TimeWindowPartitions::cron(req_str(v, "cron_schedule")?, start, req_str(v, "fmt")?);
            common(b, v, "end")?.build().map(PartitionsDefinition::from)
        }
        "static" => {
            let keys = str_list(
                field(v, "partition_keys").ok_or_else(|| SpecError("no partition_keys".into()))?,
            )?;
            StaticPartitions::new(keys).map(PartitionsDefinition::from)
        }
        "dynamic" => Ok(PartitionsDefinition::Dynamic(
            tessera_partitions::DynamicPartitions::new(req_str(v, "name")?),
        )),
        "multi" => {
            let dims = field(v, "dimensions")
                .and_then(Value::as_object)
                .ok_or_else(|| SpecError("multi def without dimensions".into()))?;
            let mut built = Vec::new();
            let mut failed = None;
            for (name, spec) in dims {
                match definition(spec)? {
                    Some(Ok(d)) => built.push((name.clone(), d)),
                    Some(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    None => return Err(SpecError(format!("dimension {name:?} is null"))),
                }
            }
            match failed {
                Some(e) => Err(e),
                None => MultiPartitions::new(built).map(PartitionsDefinition::from),
            }
        }
        other => return Err(SpecError(format!("unknown definition type {other:?}"))),
    };
    Ok(Some(built))
}

fn common(
    mut b: TimeWindowBuilder,
    v: &Value,
    end_field: &str,
) -> Result<TimeWindowBuilder, SpecError> {
    if let Some(end) = date(v, end_field)? {
        b = b.end(end);
    }
    if let Some(tz) = str_field(v, "timezone")? {
        b = b.timezone(tz);
    }
    if let Some(fmt) = str_field(v, "fmt")? {
        b = b.fmt(fmt);
    }
    if let Some(k) = int_field(v, "end_offset")? {
        b = b.end_offset(k);
    }
    if let Some(items) = field(v, "exclusions") {
        b = b.exclude(str_list(items)?);
    }
    Ok(b)
}

pub(crate) fn mapping(v: &Value) -> Result<PartitionMapping, SpecError> {
    let ty = req_str(v, "type")?;
    Ok(match ty {
        "IdentityPartitionMapping" => PartitionMapping::Identity,
        "AllPartitionMapping" => PartitionMapping::All,
        "LastPartitionMapping" => PartitionMapping::Last,
        "TimeWindowPartitionMapping" => PartitionMapping::TimeWindow(TimeWindowMapping {
            start_offset: int_field(v, "start_offset")?.unwrap_or(0),
            end_offset: int_field(v, "end_offset")?.unwrap_or(0),
            allow_nonexistent_upstream_partitions: field(
                v,
                "allow_nonexistent_upstream_partitions",
            )
            .and_then(Value::as_bool)
            .unwrap_or(false),
        }),
        "SpecificPartitionsPartitionMapping" => PartitionMapping::SpecificPartitions(
            str_list(field(v, "partition_keys").unwrap_or(&Value::Null))?
                .into_iter()
                .map(PartitionKey::from)
                .collect(),
        ),
        "StaticPartitionMapping" => {
            let pairs = field(v, "downstream_partition_keys_by_upstream_partition_key")
                .and_then(Value::as_object)
                .ok_or_else(|| SpecError("static mapping without its map".into()))?;
            let mut out = Vec::new();
            for (up, down) in pairs {
                let targets = match down {
                    Value::String(s) => vec![s.clone()],
                    other => str_list(other)?,
                };
                out.push((up.clone(), targets));
            }
            PartitionMapping::Static(StaticMapping::new(out))
        }
        "MultiToSingleDimensionPartitionMapping" => PartitionMapping::MultiToSingleDimension {
            dimension: str_field(v, "partition_dimension_name")?.map(str::to_string),
        },
        "MultiPartitionMapping" => {
            let dims = field(v, "downstream_mappings_by_upstream_dimension")
                .and_then(Value::as_object)
                .ok_or_else(|| SpecError("multi mapping without its dimensions".into()))?;
            let mut out = std::collections::BTreeMap::new();
            for (up_dim, d) in dims {
                out.insert(
                    up_dim.clone(),
                    DimensionMapping {
                        downstream_dimension: req_str(d, "dimension_name")?.to_string(),
                        mapping: mapping(
                            field(d, "partition_mapping")
                                .ok_or_else(|| SpecError("dimension without mapping".into()))?,
                        )?,
                    },
                );
            }
            PartitionMapping::Multi(out)
        }
        other => return Err(SpecError(format!("unknown mapping type {other:?}"))),
    })
}

/// Applies a case's `dynamic_partitions` ops to a fresh store.
pub(crate) fn dynamic_store(ops: Option<&Value>) -> Result<MemoryDynamicStore, SpecError> {
    let mut store = MemoryDynamicStore::new();
    let Some(ops) = ops.filter(|v| !v.is_null()) else {
        return Ok(store);
    };
    let ops = ops
        .as_array()
        .ok_or_else(|| SpecError("dynamic_partitions is not an array".into()))?;
    for op in ops {
        let name = req_str(op, "name")?;
        if let Some(add) = field(op, "add") {
            store.add(name, str_list(add)?);
        } else if let Some(key) = str_field(op, "delete")? {
            store.delete(name, key);
        } else {
            return Err(SpecError(format!("unknown dynamic partitions op {op}")));
        }
    }
    Ok(store)
}
