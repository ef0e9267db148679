"""Records Dagster's answers for the behaviours the conformance README lists as decisions, in
zones and schedules the other case files do not use: spring-forward gaps (also at midnight and
off the hour), negative DST (Dublin, Casablanca), ambiguous times late in the day, time-window
mappings whose input lies before the upstream start, and invalid multi definitions.

Run with the Dagster version the other cases were recorded from:

    python -m venv venv && venv/bin/pip install dagster==1.13.28
    venv/bin/python tests/data/dagster/record/zones.py tests/data/dagster

It writes `zone_defs.json` and `mapping_zones.json` in the schema of the other case files (see
../README.md), with the checks of `exclusions.py` (probes, ranges). Transitions are found in the
tz database Python has, the year 2024 (or the last year the zone had DST).
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster
from dagster import (
    DailyPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
)
from dagster._core.definitions.partitions.context import partition_loading_context

sys.path.insert(0, os.path.dirname(__file__))
from exclusions import build, def_case, error, mapping_case  # noqa: E402

ZONES = [
    "America/Sao_Paulo",
    "Asia/Tehran",
    "America/Santiago",
    "Europe/Dublin",
    "Africa/Casablanca",
    "Pacific/Chatham",
    "America/St_Johns",
    "Australia/Adelaide",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Europe/London",
    "America/Los_Angeles",
]


def transitions(zone, year):
    """(gap or fold, local wall time before, local wall time after, utc instant) of a year."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
    step = timedelta(minutes=15)
    prev = t.astimezone(tz).utcoffset()
    while t < end:
        t2 = t + step
        off = t2.astimezone(tz).utcoffset()
        if off != prev:
            before = (t2 - step).astimezone(tz)
            after = t2.astimezone(tz)
            kind = "gap" if off > prev else "fold"
            out.append((kind, t2, prev, off))
        prev = off
        t = t2
    return out


def year_with_dst(zone):
    for y in (2024, 2023, 2022, 2019, 2018, 2015):
        if transitions(zone, y):
            return y
    return None


def local(utc, offset):
    return (utc + offset).replace(tzinfo=None)


def hkey(dt):
    return dt.strftime("%Y-%m-%d-%H:%M")


def defs():
    cases = []
    for zone in ZONES:
        year = year_with_dst(zone)
        if year is None:
            continue
        tag = zone.replace("/", "_")
        for kind, at, before, after in transitions(zone, year):
            wall_before = local(at, before)  # the wall time the clock leaves
            wall_after = local(at, after)  # the wall time the clock shows next
            name = "spring" if kind == "gap" else "fall"
            start = (wall_before - timedelta(hours=6)).replace(minute=0)
            now = (at + timedelta(hours=8)).isoformat()
            probes = [hkey(wall_before.replace(minute=0)), hkey(wall_after.replace(minute=0)),
                      hkey((wall_before - timedelta(hours=1)).replace(minute=0))]
            if kind == "gap":
                inside = wall_before + (wall_after - wall_before) / 2
                probes.append(hkey(inside.replace(minute=0)))
                probes.append(hkey(inside.replace(minute=30)))
            ranges = [(hkey(start), hkey((wall_after + timedelta(hours=2)).replace(minute=0)))]
            cases.append(def_case(f"zone.hourly.{tag}.{name}", {"type": "hourly", "start_date": hkey(start), "timezone": zone},
                                  probes, ranges, now=now))
            cases.append(def_case(f"zone.hourly_min30.{tag}.{name}", {"type": "hourly", "start_date": hkey(start), "minute_offset": 30, "timezone": zone},
                                  probes, ranges, now=now))
            day = wall_before.date()
            dstart = (day - timedelta(days=2)).isoformat()
            dnow = (at + timedelta(days=3)).isoformat()
            dprobes = [(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
            dranges = [(dstart, (day + timedelta(days=1)).isoformat())]
            # A daily tick at the transition's wall time: inside the gap, or the repeated hour.
            h, m = wall_before.hour, wall_before.minute
            if kind == "fold":
                h, m = wall_after.hour, wall_after.minute
            cases.append(def_case(f"zone.daily_at_transition.{tag}.{name}",
                                  {"type": "daily", "start_date": dstart, "timezone": zone, "hour_offset": h, "minute_offset": m},
                                  dprobes, dranges, now=dnow))
            cases.append(def_case(f"zone.cron_at_transition_30.{tag}.{name}",
                                  {"type": "time_window", "cron_schedule": f"{(m + 30) % 60} {h} * * *", "start": dstart, "fmt": "%Y-%m-%d", "timezone": zone},
                                  dprobes, dranges, now=dnow))
            cases.append(def_case(f"zone.daily.{tag}.{name}", {"type": "daily", "start_date": dstart, "timezone": zone},
                                  dprobes, dranges, now=dnow))
    return cases


def mappings():
    cases = []
    # Input entirely before the upstream start, offsets 0/0, different cadences.
    for zone in ("UTC", "America/New_York", "Europe/Dublin"):
        tag = zone.replace("/", "_")
        up_daily = {"type": "daily", "start_date": "2024-06-05", "timezone": zone}
        up_hourly = {"type": "hourly", "start_date": "2024-06-05-06:00", "timezone": zone}
        down_daily = {"type": "daily", "start_date": "2024-06-01", "timezone": zone}
        down_weekly = {"type": "weekly", "start_date": "2024-05-05", "timezone": zone}
        cases.append(mapping_case(f"zmap.before_start.daily_from_hourly.{tag}", {}, up_hourly, down_daily, "to_upstream", ["2024-06-03", "2024-06-04"]))
        cases.append(mapping_case(f"zmap.before_start.daily_from_hourly_same_day.{tag}", {}, up_hourly, down_daily, "to_upstream", ["2024-06-05"]))
        cases.append(mapping_case(f"zmap.before_start.weekly_from_daily.{tag}", {}, up_daily, down_weekly, "to_upstream", ["2024-05-26", "2024-06-02"]))
        cases.append(mapping_case(f"zmap.before_start.daily_from_daily.{tag}", {}, up_daily, down_daily, "to_upstream", ["2024-06-02", "2024-06-03"]))
        # Upstream windows coarser than the downstream ones, starting after the input.
        up_weekly = {"type": "weekly", "start_date": "2024-06-09", "timezone": zone}
        up_monthly = {"type": "monthly", "start_date": "2024-07-01", "timezone": zone}
        cases.append(mapping_case(f"zmap.before_start.daily_from_weekly.{tag}", {}, up_weekly, down_daily, "to_upstream", ["2024-06-04"]))
        cases.append(mapping_case(f"zmap.before_start.daily_from_weekly_two.{tag}", {}, up_weekly, down_daily, "to_upstream", ["2024-06-04", "2024-06-10"]))
        cases.append(mapping_case(f"zmap.before_start.daily_from_monthly.{tag}", {}, up_monthly, down_daily, "to_upstream", ["2024-06-15"]))
        hourly_m = {"type": "hourly", "start_date": "2024-06-05-06:30", "minute_offset": 30, "timezone": zone}
        cases.append(mapping_case(f"zmap.before_start.daily_from_hourly_min30.{tag}", {}, hourly_m, down_daily, "to_upstream", ["2024-06-04"]))
    return cases


def multi_mapping_case(cid, up_spec, down_spec, keys, now="2024-06-15T12:30:00+00:00"):
    """A MultiPartitionMapping (time windows on `date`, identity on `a`) to upstream."""
    from dagster import DimensionPartitionMapping, IdentityPartitionMapping, MultiPartitionMapping

    m = MultiPartitionMapping({
        "a": DimensionPartitionMapping("a", IdentityPartitionMapping()),
        "date": DimensionPartitionMapping("date", TimeWindowPartitionMapping()),
    })
    case = {
        "id": cid, "kind": "mapping", "category": "mapping_zones", "note": None,
        "mapping": {"type": "MultiPartitionMapping", "downstream_mappings_by_upstream_dimension": {
            "a": {"dimension_name": "a", "partition_mapping": {"type": "IdentityPartitionMapping"}},
            "date": {"dimension_name": "date", "partition_mapping": {"type": "TimeWindowPartitionMapping", "start_offset": 0, "end_offset": 0, "allow_nonexistent_upstream_partitions": False}},
        }},
        "upstream_def": up_spec, "downstream_def": down_spec, "now": now, "direction": "to_upstream",
        "input": {"keys": keys}, "construct_error": None, "input_error": None, "input_keys_effective": None,
        "validate_error": None, "expected": None, "error": None,
    }
    def multi(spec):
        dims = {}
        for name, d in spec["dimensions"].items():
            dims[name] = StaticPartitionsDefinition(d["partition_keys"]) if d["type"] == "static" else build(d)
        return MultiPartitionsDefinition(dims)
    up, down = multi(up_spec), multi(down_spec)
    t = datetime.fromisoformat(now)
    with partition_loading_context(effective_dt=t):
        try:
            r = m.get_upstream_mapped_partitions_result_for_partitions(
                down.subset_with_partition_keys(keys), down, up, current_time=t)
            case["expected"] = {
                "upstream_keys": sorted(r.partitions_subset.get_partition_keys()),
                "required_but_nonexistent_keys": sorted(r.required_but_nonexistent_subset.get_partition_keys()),
            }
        except Exception as e:  # noqa: BLE001
            case["error"] = error(e)
    return case


def multi_mappings():
    cases = []
    for zone in ("UTC", "America/Sao_Paulo", "Asia/Kathmandu"):
        tag = zone.replace("/", "_")
        a = {"type": "static", "partition_keys": ["x", "y"]}
        up = {"type": "multi", "dimensions": {"a": a, "date": {"type": "daily", "start_date": "2024-06-12", "timezone": zone}}}
        down = {"type": "multi", "dimensions": {"a": a, "date": {"type": "daily", "start_date": "2024-06-10", "timezone": zone}}}
        cases.append(multi_mapping_case(f"zmm.up_starts_later.{tag}", up, down, ["2024-06-10|x", "2024-06-11|y"]))
        cases.append(multi_mapping_case(f"zmm.up_starts_later.mixed.{tag}", up, down, ["2024-06-11|x", "2024-06-12|x"]))
    return cases


def multi_cases():
    """Invalid multi definitions: which error class Dagster raises."""
    cases = []
    specs = [
        ("zmulti.three_dims", {"a": ["x"], "b": ["y"], "c": ["z"]}),
        ("zmulti.one_dim", {"a": ["x"]}),
        ("zmulti.pipe_in_key", {"a": ["x|y"], "b": ["z"]}),
        ("zmulti.bracket_in_key", {"a": ["x[1]"], "b": ["z"]}),
        ("zmulti.comma_in_key", {"a": ["x,y"], "b": ["z"]}),
        ("zmulti.empty_name", {"": ["x"], "b": ["z"]}),
    ]
    for cid, dims in specs:
        spec = {"type": "multi", "dimensions": {n: {"type": "static", "partition_keys": k} for n, k in dims.items()}}
        case = {
            "id": cid, "kind": "partitions_def", "category": "zone_defs", "note": None, "def": spec,
            "now": "2024-06-15T12:30:00+00:00", "dynamic_partitions": None, "construct_error": None,
            "resolved": None, "checks": [],
        }
        try:
            d = MultiPartitionsDefinition({n: StaticPartitionsDefinition(k) for n, k in dims.items()})
            with partition_loading_context(effective_dt=datetime.fromisoformat(case["now"])):
                keys = d.get_partition_keys()
            case["checks"].append({"op": "num_partitions", "args": {}, "result": len(keys)})
            case["checks"].append({"op": "partition_keys", "args": {}, "result": keys})
        except Exception as e:  # noqa: BLE001
            case["construct_error"] = error(e)
        cases.append(case)
    return cases


def write(dirname, category, cases):
    for c in cases:
        c["category"] = category
    doc = {"schema_version": 1, "dagster_version": dagster.__version__, "category": category, "split": "public", "cases": cases}
    with open(os.path.join(dirname, f"{category}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    write(out, "zone_defs", defs() + multi_cases())
    write(out, "mapping_zones", mappings() + multi_mappings())
