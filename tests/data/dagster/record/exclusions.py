"""Records Dagster's answers for time-window definitions with calendar exclusions.

Run with the Dagster version the other cases were recorded from:

    python -m venv venv && venv/bin/pip install dagster==1.13.28
    venv/bin/python tests/data/dagster/record/exclusions.py tests/data/dagster

It writes `exclusion_defs.json` and `mapping_exclusions.json` in the schema of the other case
files (see ../README.md). Every clock-dependent call gets an explicit `now`; the output is
deterministic. Exclusions are written as Dagster takes them: cron strings, and datetimes as
ISO wall times (`2024-06-12T00:00:00`) turned into naive `datetime`s, which Dagster places in
the definition's zone.
"""

import json
import os
import sys
from datetime import datetime

import dagster
from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionKeyRange,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from dagster._core.definitions.partitions.context import partition_loading_context

NOW = "2024-06-15T12:30:00+00:00"


def exclusions(items):
    out = []
    for item in items:
        if len(item) >= 10 and item[4] == "-" and item[7] == "-":
            out.append(datetime.fromisoformat(item))
        else:
            out.append(item)
    return out


def build(spec):
    kw = {}
    for name in ("timezone", "fmt", "end_offset", "minute_offset", "hour_offset", "day_offset"):
        if name in spec:
            kw[name] = spec[name]
    if "exclusions" in spec:
        kw["exclusions"] = exclusions(spec["exclusions"])
    t = spec["type"]
    if t == "time_window":
        if "end" in spec:
            kw["end"] = spec["end"]
        return TimeWindowPartitionsDefinition(
            cron_schedule=spec["cron_schedule"], start=spec["start"], **kw
        )
    if "end_date" in spec:
        kw["end_date"] = spec["end_date"]
    cls = {
        "daily": DailyPartitionsDefinition,
        "hourly": HourlyPartitionsDefinition,
        "weekly": WeeklyPartitionsDefinition,
        "monthly": MonthlyPartitionsDefinition,
    }[t]
    return cls(start_date=spec["start_date"], **kw)


def error(e):
    mro = [c.__name__ for c in type(e).__mro__]
    mro = mro[: mro.index("Exception") + 1] if "Exception" in mro else mro
    return {"class": type(e).__name__, "mro": mro, "message": str(e)}


def call(f):
    try:
        return {"result": f()}
    except Exception as e:  # noqa: BLE001 - recording what Dagster raises is the point
        return {"error": error(e)}


def window(w):
    return {
        "start": w.start.isoformat(),
        "end": w.end.isoformat(),
        "start_ts": int(w.start.timestamp()),
        "end_ts": int(w.end.timestamp()),
    }


def def_case(cid, spec, probes, ranges, now=NOW, note=None):
    case = {
        "id": cid,
        "kind": "partitions_def",
        "category": "exclusion_defs",
        "note": note,
        "def": spec,
        "now": now,
        "dynamic_partitions": None,
        "construct_error": None,
        "resolved": None,
        "checks": [],
    }
    try:
        d = build(spec)
    except Exception as e:  # noqa: BLE001
        case["construct_error"] = error(e)
        return case
    checks = case["checks"]
    with partition_loading_context(effective_dt=datetime.fromisoformat(now)):
        keys = d.get_partition_keys()
        checks.append({"op": "num_partitions", "args": {}, "result": len(keys)})
        checks.append({"op": "get_num_partitions", "args": {}, "result": d.get_num_partitions()})
        checks.append({"op": "partition_keys", "args": {}, "result": keys})
        checks.append({"op": "first_keys", "args": {"n": 3}, "result": keys[:3]})
        checks.append({"op": "last_keys", "args": {"n": 3}, "result": keys[-3:]})
        checks.append({"op": "first_partition_key", "args": {}, **call(d.get_first_partition_key)})
        checks.append({"op": "last_partition_key", "args": {}, **call(d.get_last_partition_key)})
        for key in probes + keys[:2] + keys[-2:]:
            args = {"key": key}
            checks.append({"op": "has_partition_key", "args": args, **call(lambda: d.has_partition_key(key))})
            checks.append(
                {"op": "key_index", "args": args, "result": keys.index(key) if key in keys else None}
            )
            checks.append(
                {
                    "op": "time_window_for_partition_key",
                    "args": args,
                    **call(lambda: window(d.time_window_for_partition_key(key))),
                }
            )
        for a, b in ranges:
            checks.append(
                {
                    "op": "partition_keys_in_range",
                    "args": {"start": a, "end": b},
                    **call(lambda: d.get_partition_keys_in_range(PartitionKeyRange(a, b))),
                }
            )
    return case


def ordered(d, keys):
    return sorted(keys, key=lambda k: d.time_window_for_partition_key(k).start.timestamp())


def mapping_case(cid, mapping, up_spec, down_spec, direction, keys, now=NOW, note=None):
    m = TimeWindowPartitionMapping(**mapping)
    case = {
        "id": cid,
        "kind": "mapping",
        "category": "mapping_exclusions",
        "note": note,
        "mapping": {"type": "TimeWindowPartitionMapping", **{"start_offset": 0, "end_offset": 0, "allow_nonexistent_upstream_partitions": False, **mapping}},
        "upstream_def": up_spec,
        "downstream_def": down_spec,
        "now": now,
        "direction": direction,
        "input": {"keys": keys},
        "construct_error": None,
        "input_error": None,
        "input_keys_effective": None,
        "validate_error": None,
        "expected": None,
        "error": None,
    }
    up, down = build(up_spec), build(down_spec)
    t = datetime.fromisoformat(now)
    with partition_loading_context(effective_dt=t):
        try:
            if direction == "to_upstream":
                r = m.get_upstream_mapped_partitions_result_for_partitions(
                    down.subset_with_partition_keys(keys), down, up, current_time=t
                )
                case["expected"] = {
                    "upstream_keys": ordered(up, r.partitions_subset.get_partition_keys()),
                    "required_but_nonexistent_keys": ordered(
                        up, r.required_but_nonexistent_subset.get_partition_keys()
                    ),
                }
            else:
                r = m.get_downstream_partitions_for_partitions(
                    up.subset_with_partition_keys(keys), up, down, current_time=t
                )
                case["expected"] = {"downstream_keys": ordered(down, r.get_partition_keys())}
        except Exception as e:  # noqa: BLE001
            case["error"] = error(e)
    return case


WEEKENDS = "0 0 * * 6,0"
BD = {"type": "daily", "start_date": "2024-06-03", "exclusions": [WEEKENDS]}
DAILY = {"type": "daily", "start_date": "2024-06-03"}


def defs():
    cases = []
    probes = ["2024-06-07", "2024-06-08", "2024-06-09", "2024-06-10", "2024-06-12", "2024-06-14", "2024-06-15", "2024-06-16", "2024-06-17", "2024-06-01"]
    ranges = [("2024-06-07", "2024-06-10"), ("2024-06-03", "2024-06-14"), ("2024-06-08", "2024-06-09"), ("2024-06-07", "2024-06-08")]
    for eo in (-1, 0, 1, 2):
        cases.append(def_case(f"excl.daily.weekends.eo{eo}", {**BD, "end_offset": eo}, probes, ranges))
    holidays = {**BD, "exclusions": [WEEKENDS, "2024-06-12T00:00:00"]}
    for eo in (0, 1, 3):
        cases.append(def_case(f"excl.daily.weekends_holiday.eo{eo}", {**holidays, "end_offset": eo}, probes, ranges,
                              note="dagster#33551: with end_offset > 0 the listing includes the excluded 2024-06-12" if eo > 0 else None))
    cases.append(def_case("excl.daily.weekends.monday_now", BD, probes, ranges, now="2024-06-17T00:00:00+00:00"))
    cases.append(def_case("excl.daily.start_on_saturday", {**BD, "start_date": "2024-06-08"}, probes, ranges))
    cases.append(def_case("excl.daily.end_date", {**BD, "end_date": "2024-06-13"}, probes, ranges))
    cases.append(def_case("excl.daily.berlin", {**BD, "timezone": "Europe/Berlin"}, probes, ranges))
    cases.append(def_case("excl.daily.hour6.datetimes", {"type": "daily", "start_date": "2024-06-03", "hour_offset": 6, "exclusions": ["2024-06-12T00:00:00", "2024-06-13T06:00:00"]}, probes, ranges,
                          note="a datetime excludes only the tick at exactly that wall time: midnight on the 12th matches no 06:00 tick"))
    hprobes = ["2024-06-07-23:00", "2024-06-08-00:00", "2024-06-08-01:00", "2024-06-10-00:00", "2024-06-14-12:00", "2024-06-15-11:00"]
    hranges = [("2024-06-07-22:00", "2024-06-10-01:00"), ("2024-06-08-00:00", "2024-06-08-05:00")]
    cases.append(def_case("excl.hourly.weekend_midnights", {"type": "hourly", "start_date": "2024-06-07-00:00", "exclusions": [WEEKENDS]}, hprobes, hranges,
                          note="a daily cron excludes only the hourly ticks it shares (Saturday and Sunday 00:00)"))
    cases.append(def_case("excl.hourly.weekends", {"type": "hourly", "start_date": "2024-06-07-00:00", "exclusions": ["* * * * 6,0"]}, hprobes, hranges))
    cases.append(def_case("excl.hourly.ny_spring_noons", {"type": "hourly", "start_date": "2024-03-09-00:00", "timezone": "America/New_York", "exclusions": ["0 12 * * *"]},
                          ["2024-03-10-01:00", "2024-03-10-02:00", "2024-03-10-03:00", "2024-03-10-12:00", "2024-03-10-13:00"], [("2024-03-10-00:00", "2024-03-10-13:00")],
                          now="2024-03-11T06:00:00+00:00"))
    cases.append(def_case("excl.hourly.ny_gap_datetime", {"type": "hourly", "start_date": "2024-03-09-00:00", "timezone": "America/New_York", "exclusions": ["2024-03-10T02:00:00"]},
                          ["2024-03-10-01:00", "2024-03-10-03:00", "2024-03-10-04:00"], [("2024-03-10-00:00", "2024-03-10-05:00")],
                          now="2024-03-11T06:00:00+00:00", note="an excluded wall time inside the spring-forward gap"))
    cases.append(def_case("excl.hourly.ny_fall_second_one", {"type": "hourly", "start_date": "2024-11-02-00:00", "timezone": "America/New_York", "exclusions": ["0 1 * * *"]},
                          ["2024-11-03-00:00", "2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00"], [("2024-11-03-00:00", "2024-11-03-03:00")],
                          now="2024-11-04T06:00:00+00:00", note="a cron exclusion at 01:00 on a fall-back day"))
    cases.append(def_case("excl.weekly.first_week", {"type": "weekly", "start_date": "2024-01-01", "exclusions": ["2024-02-04T00:00:00"]},
                          ["2024-01-28", "2024-02-04", "2024-02-11"], [("2024-01-28", "2024-02-11")]))
    cases.append(def_case("excl.monthly.january", {"type": "monthly", "start_date": "2022-01-01", "exclusions": ["0 0 1 1 *"]},
                          ["2023-01-01", "2023-02-01", "2022-12-01", "2022-01-01"], [("2022-12-01", "2023-02-01")]))
    cases.append(def_case("excl.cron.weekday_9am_holiday", {"type": "time_window", "cron_schedule": "0 9 * * 1-5", "start": "2024-06-03", "fmt": "%Y-%m-%d", "exclusions": ["2024-06-12T09:00:00"]},
                          probes, ranges))
    cases.append(def_case("excl.invalid_cron", {**BD, "exclusions": ["0 0 * * 8"]}, [], []))
    return cases


def mappings():
    cases = []
    week = {"type": "weekly", "start_date": "2024-06-02"}
    hourly = {"type": "hourly", "start_date": "2024-06-03-00:00"}
    month = {"type": "monthly", "start_date": "2024-06-01"}
    none = {}
    for keys in (["2024-06-07"], ["2024-06-08"], ["2024-06-10"], ["2024-06-07", "2024-06-08", "2024-06-09", "2024-06-10"]):
        tag = "_".join(k[-2:] for k in keys)
        cases.append(mapping_case(f"mx.daily_from_bd.up.{tag}", none, BD, DAILY, "to_upstream", keys))
        cases.append(mapping_case(f"mx.daily_to_bd.down.{tag}", none, DAILY, BD, "to_downstream", keys))
    for keys in (["2024-06-07"], ["2024-06-10"], ["2024-06-07", "2024-06-10"]):
        tag = "_".join(k[-2:] for k in keys)
        cases.append(mapping_case(f"mx.bd_from_daily.up.{tag}", none, DAILY, BD, "to_upstream", keys))
        cases.append(mapping_case(f"mx.bd_to_daily.down.{tag}", none, BD, DAILY, "to_downstream", keys))
        cases.append(mapping_case(f"mx.bd_lag.up.{tag}", {"start_offset": -1, "end_offset": -1}, BD, BD, "to_upstream", keys))
        cases.append(mapping_case(f"mx.bd_lag.down.{tag}", {"start_offset": -1, "end_offset": -1}, BD, BD, "to_downstream", keys))
        cases.append(mapping_case(f"mx.bd_from_hourly.up.{tag}", none, hourly, BD, "to_upstream", keys))
    cases.append(mapping_case("mx.weekly_from_bd.up.09", none, BD, week, "to_upstream", ["2024-06-09"],
                              note="Dagster includes the Friday before the week (06-07): its subset code treats the week's start, a Sunday, as inside the last business day"))
    cases.append(mapping_case("mx.weekly_from_bd.up.02", none, BD, week, "to_upstream", ["2024-06-02"]))
    cases.append(mapping_case("mx.bd_to_weekly.down.07", none, BD, week, "to_downstream", ["2024-06-07"]))
    cases.append(mapping_case("mx.monthly_from_bd.up", none, BD, month, "to_upstream", ["2024-06-01"], now="2024-07-02T00:00:00+00:00"))
    cases.append(mapping_case("mx.daily_from_bd.window.up", {"start_offset": -2}, BD, DAILY, "to_upstream", ["2024-06-10"]))
    return cases


def write(dirname, category, cases):
    doc = {"schema_version": 1, "dagster_version": dagster.__version__, "category": category, "split": "public", "cases": cases}
    with open(os.path.join(dirname, f"{category}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    write(out, "exclusion_defs", defs())
    write(out, "mapping_exclusions", mappings())
