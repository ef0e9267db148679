"""The Python kit: declare assets, partitions, mappings and sensors with decorators, and expose
the result as the component's `guest` export.

    from tessera import Plugin, daily, time_window, Output

    plugin = Plugin()

    @plugin.asset("hello", partitions=daily("2024-01-01"))
    def hello(context, inputs):
        return Output.text(f"hello, {context.partition_key()}\\n")

    Guest = plugin.guest()

`componentize-py` turns the module into a component of the WIT world `plugin`
(`plugin-sdk/wit/plugin.wit`); its generated bindings (`wit_world`) exist only while it builds,
and this module is the one place that speaks them.
"""

from __future__ import annotations

import json as _json
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import checks as _checks
from wit_world.exports import mappings as _mappings
from wit_world.imports import host, types

# ---- errors -------------------------------------------------------------------------------


class InvalidInput(Exception):
    """The inputs or the request are not what the logic accepts: the host will not retry."""


class Failed(Exception):
    """The logic failed: the host may retry, per its policy. Any other exception counts as this."""


def _plugin_error(e: BaseException) -> types.PluginError:
    if isinstance(e, InvalidInput):
        return types.PluginError_InvalidInput(str(e))
    if isinstance(e, Failed):
        return types.PluginError_Failed(str(e))
    # An exception the plugin did not mean to raise: where it came from helps.
    return types.PluginError_Failed("".join(traceback.format_exception(e)).rstrip())


# ---- logging ------------------------------------------------------------------------------


def _log_at(level: types.LogLevel) -> Callable[..., None]:
    def emit(message: str, **fields: Any) -> None:
        host.log(level, str(message), [(k, str(v)) for k, v in fields.items()])

    return emit


class log:  # noqa: N801 - used as a namespace: `log.info(...)`
    """Log lines to the host, which adds the plugin, asset, partition and run."""

    trace = staticmethod(_log_at(host.LogLevel.TRACE))
    debug = staticmethod(_log_at(host.LogLevel.DEBUG))
    info = staticmethod(_log_at(host.LogLevel.INFO))
    warn = staticmethod(_log_at(host.LogLevel.WARN))
    error = staticmethod(_log_at(host.LogLevel.ERROR))


def dynamic_partition_keys(name: str) -> list[str]:
    """The current keys of a dynamic partitions set, in insertion order."""
    return list(host.dynamic_partition_keys(name))


# ---- partitions ---------------------------------------------------------------------------


def _cadence(
    kind: types.Cadence,
    start: str,
    *,
    end: Optional[str] = None,
    timezone: Optional[str] = None,
    fmt: Optional[str] = None,
    end_offset: int = 0,
    minute_offset: int = 0,
    hour_offset: int = 0,
    day_offset: Optional[int] = None,
    exclude: Optional[Iterable[str]] = None,
) -> types.Partitions:
    return types.Partitions_Cadence(
        types.CadencePartitions(
            cadence=kind,
            start=start,
            end=end,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
            minute_offset=minute_offset,
            hour_offset=hour_offset,
            day_offset=day_offset,
            exclusions=list(exclude) if exclude else None,
        )
    )


def hourly(start: str, **options: Any) -> types.Partitions:
    """Options: end, timezone, fmt, end_offset, minute_offset."""
    return _cadence(types.Cadence.HOURLY, start, **options)


def daily(start: str, **options: Any) -> types.Partitions:
    """Options: end, timezone, fmt, end_offset, minute_offset, hour_offset, and exclude: ticks
    that are not partitions -- "2024-12-25" (every tick that local day), "2024-12-24T13:00" (the
    tick at that wall time) or a cron schedule ("* * * * 6,0": weekends). Every cadence and
    cron() takes exclude."""
    return _cadence(types.Cadence.DAILY, start, **options)


def weekly(start: str, **options: Any) -> types.Partitions:
    """Options as daily, and day_offset (0 = Sunday ... 6 = Saturday)."""
    return _cadence(types.Cadence.WEEKLY, start, **options)


def monthly(start: str, **options: Any) -> types.Partitions:
    """Options as daily, and day_offset (the day of the month)."""
    return _cadence(types.Cadence.MONTHLY, start, **options)


def cron(
    schedule: str,
    start: str,
    fmt: str,
    *,
    end: Optional[str] = None,
    timezone: Optional[str] = None,
    end_offset: int = 0,
    exclude: Optional[Iterable[str]] = None,
) -> types.Partitions:
    """Any 5-field cron schedule; start (and end) written in fmt."""
    return types.Partitions_Cron(
        types.CronPartitions(
            cron_schedule=schedule,
            start=start,
            end=end,
            timezone=timezone,
            fmt=fmt,
            end_offset=end_offset,
            exclusions=list(exclude) if exclude else None,
        )
    )


def static_keys(keys: Iterable[str]) -> types.Partitions:
    """Fixed keys, in this order."""
    return types.Partitions_StaticKeys(list(keys))


def dynamic(name: str) -> types.Partitions:
    """Keys added and removed at run time (by sensors or `tessera dynamic add`)."""
    return types.Partitions_Dynamic(name)


def _dimensions(dimensions: dict[str, types.Partitions]) -> list[types.Dimension]:
    dims = []
    for name, partitions in dimensions.items():
        one = {
            types.Partitions_StaticKeys: types.DimensionPartitions_StaticKeys,
            types.Partitions_Cadence: types.DimensionPartitions_Cadence,
            types.Partitions_Cron: types.DimensionPartitions_Cron,
            types.Partitions_Dynamic: types.DimensionPartitions_Dynamic,
        }.get(type(partitions))
        if one is None:
            raise TypeError(f"dimension {name}: a one-dimensional definition, not {partitions!r}")
        dims.append(types.Dimension(name=name, partitions=one(partitions.value)))
    return dims


def multi(**dimensions: types.Partitions) -> types.Partitions:
    """2 to 8 one-dimensional definitions by dimension name: multi(date=daily(...), region=static_keys([...]))."""
    return types.Partitions_Multi(_dimensions(dimensions))


class Combinations:
    """Which combinations of some dimensions of a `sparse` definition exist."""

    @staticmethod
    def listed(dimensions: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple:
        """Fixed combinations of static dimensions: one key per dimension, in that order."""
        return (list(dimensions), types.CombinationSource_Listed([list(r) for r in rows]))

    @staticmethod
    def per_key(on: str, dependent: str, keys: dict[str, Iterable[str]]) -> tuple:
        """The keys of `dependent` that go with each key of `on`: each customer's regions."""
        rows = [[k, v] for k, values in keys.items() for v in values]
        return ([on, dependent], types.CombinationSource_Listed(rows))

    @staticmethod
    def dynamic(dimensions: Sequence[str], set_name: str) -> tuple:
        """Combinations held in a dynamic set: keys joined with '|' in dimension-name order."""
        return (list(dimensions), types.CombinationSource_Dynamic(set_name))


def sparse(combinations: tuple, **dimensions: types.Partitions) -> types.Partitions:
    """Only the declared combinations of some dimensions; the others are full:
    sparse(Combinations.per_key("customer", "region", {"acme": ["eu"]}), date=daily(...),
    customer=static_keys([...]), region=static_keys([...]))."""
    combined, source = combinations
    return types.Partitions_SparseMulti(
        types.SparseMultiPartitions(
            dimensions=_dimensions(dimensions), combined=combined, combinations=source
        )
    )


# ---- mappings -----------------------------------------------------------------------------


def identity() -> types.PartitionMapping:
    return types.PartitionMapping_Identity()


def all_partitions() -> types.PartitionMapping:
    return types.PartitionMapping_All()


def last() -> types.PartitionMapping:
    return types.PartitionMapping_Last()


def specific(keys: Iterable[str]) -> types.PartitionMapping:
    return types.PartitionMapping_Specific(list(keys))


def static_map(pairs: Mapping[str, Union[str, Sequence[str]]]) -> types.PartitionMapping:
    """{upstream_key: [downstream keys]} or {upstream_key: downstream_key}."""
    return types.PartitionMapping_StaticMap(
        [
            types.StaticPair(upstream=up, downstream=[down] if isinstance(down, str) else list(down))
            for up, down in pairs.items()
        ]
    )


def time_window(
    start_offset: int = 0, end_offset: int = 0, *, allow_nonexistent: bool = False
) -> types.PartitionMapping:
    """The upstream windows overlapping the downstream one, widened by offsets counted in
    downstream partitions: time_window(-1, 0) is the partition and the one before. With
    allow_nonexistent, upstream partitions before the start are dropped, not an error."""
    return types.PartitionMapping_TimeWindow(
        types.TimeWindowMapping(
            start_offset=start_offset,
            end_offset=end_offset,
            allow_nonexistent_upstream_partitions=allow_nonexistent,
        )
    )


def plugin_mapping(name: str) -> types.PartitionMapping:
    """Through a partition mapping a loaded plugin exports, by name (a Rust plugin's Mapper)."""
    return types.PartitionMapping_Plugin(name)


def multi_to_single(dimension: Optional[str] = None) -> types.PartitionMapping:
    """A multi-dimensional side maps to a one-dimensional one through `dimension`."""
    return types.PartitionMapping_MultiToSingle(dimension)


def multi_mapping(*dimensions: tuple[str, str, types.PartitionMapping]) -> types.PartitionMapping:
    """Between two multi-dimensional definitions, one mapping per pair of dimensions:
    multi_mapping(("date", "date", time_window(-1, 0)), ("region", "region", identity())).
    Each is a one-dimensional mapping (identity, all_partitions, last, specific, static_map,
    time_window); dimensions not listed depend on every partition."""
    kinds = {
        types.PartitionMapping_Identity: lambda m: types.DimensionMappingKind_Identity(),
        types.PartitionMapping_All: lambda m: types.DimensionMappingKind_All(),
        types.PartitionMapping_Last: lambda m: types.DimensionMappingKind_Last(),
        types.PartitionMapping_Specific: lambda m: types.DimensionMappingKind_Specific(m.value),
        types.PartitionMapping_StaticMap: lambda m: types.DimensionMappingKind_StaticMap(m.value),
        types.PartitionMapping_TimeWindow: lambda m: types.DimensionMappingKind_TimeWindow(m.value),
    }
    dims = []
    for upstream, downstream, mapping in dimensions:
        kind = kinds.get(type(mapping))
        if kind is None:
            raise TypeError(
                f"dimensions {upstream} -> {downstream}: a one-dimensional mapping, not {mapping!r}"
            )
        dims.append(
            types.DimensionMapping(
                upstream_dimension=upstream, downstream_dimension=downstream, mapping=kind(mapping)
            )
        )
    return types.PartitionMapping_Multi(dims)


class Rollup:
    """When a downstream window runs while some upstream partitions it maps to are missing, for
    the `rollups` argument: only when all exist (the default), or this many seconds after the
    window's end with what exists then, or with what exists."""

    @staticmethod
    def wait_all() -> types.RollupPolicy:
        return types.RollupPolicy_WaitAll()

    @staticmethod
    def wait_until(seconds_after_window_end: int) -> types.RollupPolicy:
        n = seconds_after_window_end
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise TypeError(f"wait_until: a whole number of seconds, not {n!r}")
        return types.RollupPolicy_WaitUntil(n)

    @staticmethod
    def run_partial() -> types.RollupPolicy:
        return types.RollupPolicy_RunPartial()


class BackfillPolicy:
    """How an asset may be run over several partitions (Dagster's BackfillPolicy), for the
    `backfill_policy` argument: one partition per run, one run per contiguous range, or runs of
    at most `max_partitions_per_run`. Undeclared: as each request asks."""

    @staticmethod
    def single_partition() -> types.BackfillPolicy:
        return types.BackfillPolicy_SinglePartition()

    @staticmethod
    def single_run() -> types.BackfillPolicy:
        return types.BackfillPolicy_SingleRun()

    @staticmethod
    def multi_run(max_partitions_per_run: int) -> types.BackfillPolicy:
        n = max_partitions_per_run
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 0xFFFFFFFF:
            raise TypeError(f"multi_run: a whole number above 0, not {n!r}")
        return types.BackfillPolicy_MultiRun(n)


# ---- metadata and JSON --------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """JSON with object keys sorted and no spaces: what serde_json writes for a BTreeMap, so a
    Python asset and a Rust one agree byte for byte on the same document."""
    return _json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _metadata_value(value: Any) -> types.MetadataValue:
    if isinstance(value, bool):
        return types.MetadataValue_Boolean(value)
    if isinstance(value, int):
        return types.MetadataValue_Integer(value)
    if isinstance(value, float):
        return types.MetadataValue_Float(value)
    if isinstance(value, str):
        return types.MetadataValue_Text(value)
    return types.MetadataValue_Json(canonical_json(value))


def _metadata(entries: Mapping[str, Any]) -> list[types.MetadataEntry]:
    return [types.MetadataEntry(key=k, value=_metadata_value(v)) for k, v in entries.items()]


# ---- outputs ------------------------------------------------------------------------------


@dataclass
class Output:
    """What an asset function returns: bytes and metadata."""

    data: bytes
    metadata: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def text(text: str, **metadata: Any) -> Output:
        return Output(text.encode("utf-8"), dict(metadata))

    @staticmethod
    def json(value: Any, **metadata: Any) -> Output:
        """The value as canonical JSON (see canonical_json)."""
        return Output(canonical_json(value).encode("utf-8"), dict(metadata))

    def with_metadata(self, key: str, value: Any) -> Output:
        self.metadata[key] = value
        return self


class PerPartition:
    """What a run over several partitions returns to give every partition its own value (and
    data version): `PerPartition({key: output, ...})` with every key of
    `context.partition_keys`. Downstream partitions then receive exactly the keys their mapping
    names; a plain output covers the whole range and reaches them whole."""

    def __init__(self, outputs: Mapping[str, Any]) -> None:
        self.outputs = dict(outputs)


def _to_outputs(asset: str, value: Any) -> list[types.Output]:
    if isinstance(value, PerPartition):
        return [_to_output(asset, v, k) for k, v in value.outputs.items()]
    return [_to_output(asset, value, None)]


def _to_output(asset: str, value: Any, partition: Optional[str]) -> types.Output:
    if isinstance(value, (bytes, bytearray)):
        value = Output(bytes(value))
    elif isinstance(value, str):
        value = Output.text(value)
    if not isinstance(value, Output):
        raise Failed(f"{asset}: an asset returns Output, bytes or str, not {type(value).__name__}")
    return types.Output(
        asset=asset, partition=partition, data=value.data, metadata=_metadata(value.metadata)
    )


# ---- what an asset function reads ---------------------------------------------------------


@dataclass(frozen=True)
class TimeWindow:
    """Unix seconds, half open; UTC offsets in seconds at either end."""

    start: int
    end: int
    start_offset: int
    end_offset: int


class Context:
    """The partition selection, the time window and the run, for one call."""

    def __init__(self, raw: types.MaterializeContext) -> None:
        self.computation: str = raw.computation
        self.assets: list[str] = list(raw.assets)
        self.partition_keys: list[str] = list(raw.partition_keys)
        self.run_id: str = raw.run_id
        self.attempt: int = raw.attempt
        self.now: int = raw.now
        self.selection = raw.partition
        w = raw.time_window
        self.time_window: Optional[TimeWindow] = (
            None
            if w is None
            else TimeWindow(w.start, w.end, w.start_utc_offset, w.end_utc_offset)
        )

    def partition_key(self) -> str:
        """The call's one partition key; InvalidInput for a range or an unpartitioned call."""
        if isinstance(self.selection, types.PartitionSelection_Key):
            return self.selection.value
        if isinstance(self.selection, types.PartitionSelection_Range):
            raise InvalidInput(f"{self.computation} runs one partition at a time, not a range")
        raise InvalidInput(f"{self.computation} is not partitioned")

    def partition_key_range(self) -> tuple[str, str]:
        """(start, end) of the selection, both included; a single key is a range of one."""
        if isinstance(self.selection, types.PartitionSelection_Key):
            return (self.selection.value, self.selection.value)
        if isinstance(self.selection, types.PartitionSelection_Range):
            return (self.selection.value.start, self.selection.value.end)
        raise InvalidInput(f"{self.computation} is not partitioned")


@dataclass(frozen=True)
class InputPartition:
    key: str
    data: bytes

    def text(self, asset: str = "input") -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput(f"{asset}[{self.key}] is not UTF-8: {e}") from None


class Inputs:
    """The upstream partitions of each input."""

    def __init__(self, raw: list[types.Input]) -> None:
        self._by_asset = {
            i.asset: [InputPartition(p.key, bytes(p.data)) for p in i.partitions] for i in raw
        }

    def get(self, asset: str) -> list[InputPartition]:
        """Every partition of the input; InvalidInput when the host sent none."""
        parts = self._by_asset.get(asset)
        if not parts:
            raise InvalidInput(f"no partitions of input {asset}")
        return parts

    def text(self, asset: str) -> list[tuple[str, str]]:
        """Each partition's data as text: [(key, text)]."""
        return [(p.key, p.text(asset)) for p in self.get(asset)]

    def json(self, asset: str) -> list[tuple[str, Any]]:
        """Each partition's data parsed as JSON: [(key, value)]."""
        out = []
        for key, text in self.text(asset):
            try:
                out.append((key, _json.loads(text)))
            except ValueError as e:
                raise InvalidInput(f"{asset}[{key}] is not JSON: {e}") from None
        return out

    def single_json(self, asset: str) -> Any:
        """The input's one partition parsed as JSON (an unpartitioned upstream, or identity)."""
        parts = self.json(asset)
        if len(parts) != 1:
            raise InvalidInput(f"{asset}: one partition expected, got {len(parts)}")
        return parts[0][1]


# ---- sensors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorContext:
    sensor: str
    cursor: Optional[str]
    last_evaluation: Optional[int]
    now: int


class SensorResult:
    """What a sensor evaluation returns; filled in by the sensor function."""

    def __init__(self) -> None:
        self._runs: list[types.RunRequest] = []
        self._skip: Optional[str] = None
        self._cursor: Optional[str] = None
        self._dynamic: list[types.DynamicPartitionsRequest] = []

    def request_run(
        self,
        assets: Union[str, Sequence[str]],
        partition: Union[None, str, tuple[str, str]] = None,
        *,
        run_key: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
    ) -> SensorResult:
        """Asks for a run of `assets` for `partition` (a key, a (start, end) range, or None when
        unpartitioned). A run_key the host has launched before is dropped."""
        if partition is None:
            selection: types.PartitionSelection = types.PartitionSelection_None_()
        elif isinstance(partition, str):
            selection = types.PartitionSelection_Key(partition)
        else:
            start, end = partition
            selection = types.PartitionSelection_Range(types.KeyRange(start=start, end=end))
        self._runs.append(
            types.RunRequest(
                run_key=run_key,
                assets=[assets] if isinstance(assets, str) else list(assets),
                partition=selection,
                tags=[types.Tag(key=k, value=str(v)) for k, v in (tags or {}).items()],
            )
        )
        return self

    def set_cursor(self, cursor: str) -> SensorResult:
        """The cursor the next evaluation reads; left unset, the current one stays."""
        self._cursor = str(cursor)
        return self

    def skip(self, reason: str) -> SensorResult:
        """Says why there is nothing to do."""
        self._skip = reason
        return self

    def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> SensorResult:
        """Adds keys to a dynamic partitions set, before the run requests are checked."""
        self._dynamic.append(types.DynamicPartitionsRequest(name=name, add=list(keys), delete=[]))
        return self

    def delete_dynamic_partitions(self, name: str, keys: Iterable[str]) -> SensorResult:
        self._dynamic.append(types.DynamicPartitionsRequest(name=name, add=[], delete=list(keys)))
        return self

    def _wit(self) -> types.SensorResult:
        return types.SensorResult(
            run_requests=self._runs,
            skip_reason=self._skip,
            cursor=self._cursor,
            dynamic_partitions=self._dynamic,
        )


# ---- declarations -------------------------------------------------------------------------


@dataclass
class AssetSpec:
    """An asset of a multi-asset computation; `Plugin.asset` takes the same arguments."""

    key: str
    partitions: Optional[types.Partitions] = None
    inputs: Mapping[str, Optional[types.PartitionMapping]] = field(default_factory=dict)
    allow_missing: Iterable[str] = ()
    description: Optional[str] = None
    code_version: Optional[str] = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: From BackfillPolicy.
    backfill_policy: Optional[types.BackfillPolicy] = None
    #: Input name -> its roll-up policy (from Rollup).
    rollups: Mapping[str, types.RollupPolicy] = field(default_factory=dict)

    def _wit(self) -> types.AssetDefinition:
        missing = set(self.allow_missing)
        return types.AssetDefinition(
            key=self.key,
            description=self.description,
            partitions=self.partitions,
            inputs=[
                types.AssetInput(
                    asset=a, mapping=m, allow_missing=a in missing, rollup=self.rollups.get(a)
                )
                for a, m in self.inputs.items()
            ],
            code_version=self.code_version,
            metadata=_metadata(self.metadata),
            backfill_policy=self.backfill_policy,
        )


# ---- partition mappings and asset checks a plugin exports ---------------------------------


@dataclass(frozen=True)
class MapRequest:
    """One question to a partition mapping: runs of keys (first, last), inclusive and in key
    order, of the side mapped from, for one input. `direction` is "to_upstream" (downstream
    keys given) or "to_downstream" (upstream keys given)."""

    mapping: str
    direction: str
    upstream_asset: str
    downstream_asset: str
    ranges: list[tuple[str, str]]


MapFn = Callable[[MapRequest], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class CheckContext:
    check: str
    asset: str
    now: int
    """Unix seconds."""


class CheckResult:
    """One partition's result: CheckResult.passed(key), .warning(key, why), .failed(key, why),
    each with metadata as keyword arguments."""

    def __init__(
        self, partition: str, outcome: str, description: Optional[str], metadata: dict[str, Any]
    ) -> None:
        self.partition = partition
        self.outcome = outcome
        self.description = description
        self.metadata = metadata

    @staticmethod
    def passed(partition: str, **metadata: Any) -> CheckResult:
        return CheckResult(partition, "pass", None, dict(metadata))

    @staticmethod
    def warning(partition: str, description: str, **metadata: Any) -> CheckResult:
        return CheckResult(partition, "warn", description, dict(metadata))

    @staticmethod
    def failed(partition: str, description: str, **metadata: Any) -> CheckResult:
        return CheckResult(partition, "fail", description, dict(metadata))

    def _wit(self) -> _checks.CheckResult:
        outcome = {
            "pass": _checks.CheckOutcome.PASS,
            "warn": _checks.CheckOutcome.WARN,
            "fail": _checks.CheckOutcome.FAIL,
        }[self.outcome]
        return _checks.CheckResult(
            partition=self.partition,
            outcome=outcome,
            description=self.description,
            metadata=_metadata(self.metadata),
        )


CheckFn = Callable[[CheckContext, list["InputPartition"]], Iterable[CheckResult]]


Compute = Callable[[Context, Inputs], Any]
Evaluate = Callable[[SensorContext, SensorResult], None]


class Plugin:
    """The plugin's assets, sensors, partition mappings and asset checks, declared with the
    methods below."""

    def __init__(self) -> None:
        self._computations: dict[str, tuple[Compute, list[AssetSpec], bool]] = {}
        self._sensors: dict[str, tuple[Evaluate, types.SensorDefinition]] = {}
        self._mappings: dict[str, tuple[MapFn, MapFn, _mappings.MappingDefinition]] = {}
        self._checks: dict[str, tuple[CheckFn, _checks.CheckDefinition]] = {}

    def asset(
        self,
        key: str,
        *,
        partitions: Optional[types.Partitions] = None,
        inputs: Optional[Mapping[str, Optional[types.PartitionMapping]]] = None,
        allow_missing: Iterable[str] = (),
        description: Optional[str] = None,
        code_version: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        backfill_policy: Optional[types.BackfillPolicy] = None,
        rollups: Optional[Mapping[str, types.RollupPolicy]] = None,
    ) -> Callable[[Compute], Compute]:
        """One asset computed by the decorated `fn(context, inputs)`, which returns an Output
        (or bytes or str) and raises InvalidInput or Failed (or anything) when it cannot.
        `inputs` maps each upstream asset to its mapping, or None to infer it;
        `allow_missing` names the inputs that may have missing partitions; `rollups` gives
        inputs a roll-up policy (Rollup.wait_until(86400), ...)."""
        spec = AssetSpec(
            key=key,
            partitions=partitions,
            inputs=dict(inputs or {}),
            allow_missing=tuple(allow_missing),
            description=description,
            code_version=code_version,
            metadata=dict(metadata or {}),
            backfill_policy=backfill_policy,
            rollups=dict(rollups or {}),
        )

        def register(fn: Compute) -> Compute:
            self._computations[key] = (fn, [spec], False)
            return fn

        return register

    def multi_asset(self, name: str, assets: Sequence[AssetSpec]) -> Callable[[Compute], Compute]:
        """One function producing several assets, which share one partitions definition: the
        decorated `fn(context, inputs)` returns {asset_key: Output} for `context.assets`."""

        def register(fn: Compute) -> Compute:
            self._computations[name] = (fn, list(assets), True)
            return fn

        return register

    def sensor(
        self,
        name: str,
        *,
        targets: Iterable[str] = (),
        minimum_interval_seconds: int = 30,
        description: Optional[str] = None,
    ) -> Callable[[Evaluate], Evaluate]:
        """A sensor: the decorated `fn(context, result)` reads context.cursor,
        context.last_evaluation and context.now (Unix seconds) and fills in the SensorResult."""
        definition = types.SensorDefinition(
            name=name,
            description=description,
            minimum_interval_seconds=minimum_interval_seconds,
            targets=list(targets),
        )

        def register(fn: Evaluate) -> Evaluate:
            self._sensors[name] = (fn, definition)
            return fn

        return register

    def mapping(
        self,
        name: str,
        *,
        to_upstream: MapFn,
        to_downstream: MapFn,
        description: Optional[str] = None,
    ) -> None:
        """A partition mapping this plugin exports (a fiscal calendar, "the last complete week
        of the month"), by a name unique among the loaded plugins: inputs of any plugin read
        through it with plugin_mapping(name). One function per direction, each given a
        MapRequest and returning runs of keys (first, last) of the other side. The host checks
        the answers and refuses a mapping whose keys the other side does not have, or whose
        answers do not map back onto what was asked."""
        definition = _mappings.MappingDefinition(name=name, description=description)
        self._mappings[name] = (to_upstream, to_downstream, definition)

    def check(
        self,
        name: str,
        *,
        asset: str,
        blocking: bool = False,
        description: Optional[str] = None,
    ) -> Callable[[CheckFn], CheckFn]:
        """A check on one of this plugin's assets, evaluated by the host per partition right
        after each materialization: the decorated `fn(context, values)` gets a CheckContext
        and the values just written ([InputPartition], one per key) and returns one
        CheckResult per key given. A blocking check's failed partitions stop the downstream
        partitions that read them from running."""
        definition = _checks.CheckDefinition(
            name=name, asset=asset, description=description, blocking=blocking
        )

        def register(fn: CheckFn) -> CheckFn:
            self._checks[name] = (fn, definition)
            return fn

        return register

    # -- the WIT side --

    def _definitions(self) -> types.Definitions:
        return types.Definitions(
            computations=[
                types.Computation(name=name, assets=[s._wit() for s in specs])
                for name, (_, specs, _) in self._computations.items()
            ],
            sensors=[d for _, d in self._sensors.values()],
        )

    def _materialize(
        self, raw: types.MaterializeContext, inputs: list[types.Input]
    ) -> list[types.Output]:
        found = self._computations.get(raw.computation)
        if found is None:
            raise Err(types.PluginError_InvalidInput(f"no computation {raw.computation}"))
        compute, specs, is_multi = found
        try:
            context = Context(raw)
            result = compute(context, Inputs(inputs))
            if not is_multi:
                return _to_outputs(specs[0].key, result)
            return [o for a in context.assets if a in result for o in _to_outputs(a, result[a])]
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            raise Err(_plugin_error(e)) from None

    def _evaluate_sensor(self, raw: types.SensorContext) -> types.SensorResult:
        found = self._sensors.get(raw.sensor)
        if found is None:
            raise Err(types.PluginError_InvalidInput(f"no sensor {raw.sensor}"))
        evaluate, _ = found
        try:
            result = SensorResult()
            evaluate(SensorContext(raw.sensor, raw.cursor, raw.last_evaluation, raw.now), result)
            return result._wit()
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            raise Err(_plugin_error(e)) from None

    def _map_partitions(self, raw: _mappings.MappingRequest) -> list[_mappings.KeyRange]:
        found = self._mappings.get(raw.mapping)
        if found is None:
            raise Err(types.PluginError_InvalidInput(f"no mapping {raw.mapping}"))
        to_upstream, to_downstream, _ = found
        upward = raw.direction == _mappings.MappingDirection.TO_UPSTREAM
        try:
            request = MapRequest(
                mapping=raw.mapping,
                direction="to_upstream" if upward else "to_downstream",
                upstream_asset=raw.upstream_asset,
                downstream_asset=raw.downstream_asset,
                ranges=[(r.first, r.last) for r in raw.ranges],
            )
            answer = (to_upstream if upward else to_downstream)(request)
            return [_mappings.KeyRange(first=str(a), last=str(b)) for a, b in answer]
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            raise Err(_plugin_error(e)) from None

    def _evaluate_check(
        self, raw: _checks.CheckContext, values: list[types.InputPartition]
    ) -> list[_checks.CheckResult]:
        found = self._checks.get(raw.check)
        if found is None:
            raise Err(types.PluginError_InvalidInput(f"no check {raw.check}"))
        evaluate, _ = found
        try:
            given = [InputPartition(v.key, v.data) for v in values]
            results = evaluate(CheckContext(raw.check, raw.asset, raw.now), given)
            out = []
            for r in results:
                if not isinstance(r, CheckResult):
                    raise Failed(
                        f"check {raw.check} returns CheckResult values, not {type(r).__name__}"
                    )
                out.append(r._wit())
            return out
        except Exception as e:  # noqa: BLE001 - every failure becomes the call's error
            raise Err(_plugin_error(e)) from None

    def guest(self) -> type:
        """The class componentize-py exports as the `guest` interface: `Guest = plugin.guest()`.
        This plugin's mappings and checks are what the component's `mappings` and `checks`
        exports (Mappings and Checks below) serve."""
        global _exported  # noqa: PLW0603 - the one plugin a component exports
        _exported = self
        plugin = self

        class Guest(exports.Guest):
            def definitions(self) -> types.Definitions:
                return plugin._definitions()

            def materialize(
                self, context: types.MaterializeContext, inputs: list[types.Input]
            ) -> list[types.Output]:
                return plugin._materialize(context, inputs)

            def evaluate_sensor(self, context: types.SensorContext) -> types.SensorResult:
                return plugin._evaluate_sensor(context)

        return Guest


# The plugin whose guest() the component exports: its mappings and checks are served below.
_exported: Optional[Plugin] = None


class Mappings(exports.Mappings):
    """The component's `mappings` export: the build (tessera_component.py) exports it beside
    the plugin module's Guest, serving what the plugin declared with Plugin.mapping."""

    def declared_mappings(self) -> list[_mappings.MappingDefinition]:
        if _exported is None:
            return []
        return [d for _, _, d in _exported._mappings.values()]

    def map_partitions(self, request: _mappings.MappingRequest) -> list[_mappings.KeyRange]:
        if _exported is None:
            raise Err(types.PluginError_InvalidInput(f"no mapping {request.mapping}"))
        return _exported._map_partitions(request)


class Checks(exports.Checks):
    """The component's `checks` export, like Mappings: what Plugin.check declared."""

    def declared_checks(self) -> list[_checks.CheckDefinition]:
        if _exported is None:
            return []
        return [d for _, d in _exported._checks.values()]

    def evaluate_check(
        self, context: _checks.CheckContext, values: list[types.InputPartition]
    ) -> list[_checks.CheckResult]:
        if _exported is None:
            raise Err(types.PluginError_InvalidInput(f"no check {context.check}"))
        return _exported._evaluate_check(context, values)
