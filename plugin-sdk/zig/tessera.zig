//! The Tessera kit for Zig: plugins as WebAssembly core modules of the flat world
//! (`plugin-sdk/flat/README.md`). A plugin declares its assets and sensors as data and calls
//! `tessera.exportPlugin(plugin)` at comptime; the kit exports `cabi_realloc`,
//! `tessera_definitions`, `tessera_materialize` and `tessera_evaluate_sensor`, reads the host's
//! JSON documents and writes the plugin's.
//!
//!     const tessera = @import("tessera");
//!
//!     fn hello(ctx: *tessera.Context, _: *tessera.Inputs) tessera.Error!tessera.Output {
//!         const key = try ctx.partitionKey();
//!         return .{ .data = try ctx.print("hello, {s}\n", .{key}) };
//!     }
//!
//!     pub const plugin: tessera.Plugin = .{
//!         .assets = &.{.{ .key = "hello", .compute = hello, .partitions = tessera.daily("2024-01-01") }},
//!     };
//!
//!     comptime {
//!         tessera.exportPlugin(plugin);
//!     }
//!
//! Built with `-target wasm32-freestanding -fno-entry -rdynamic` (what `cargo xtask plugins`
//! and `tessera plugin build` do): no libc, no WASI, nothing imported but the host's `log` and
//! `dynamic_partition_keys` when the plugin uses them. Every call runs in a fresh instance, so
//! the kit allocates from one arena and never frees.

const std = @import("std");

/// Everything a call allocates comes from here; the instance is dropped after the call.
pub const allocator: std.mem.Allocator = std.heap.wasm_allocator;

// ---------------------------------------------------------------------------------------------
// Definitions: the `definitions` document, in the host's JSON form (snake_case fields, variants
// as `{"Case": value}`, unit variants as `"Case"`).

/// A metadata value: `{"Text": "…"}`, `{"Integer": 3}`, …
pub const MetadataValue = union(enum) {
    Text: []const u8,
    Integer: i64,
    Float: f64,
    Boolean: bool,
    /// A JSON document, as text.
    Json: []const u8,
    Url: []const u8,
    Path: []const u8,
};

pub const MetadataEntry = struct {
    key: []const u8,
    value: MetadataValue,
};

/// Metadata entries, for `Output.metadata` and `Asset.metadata`.
pub const meta = struct {
    pub fn text(key: []const u8, v: []const u8) MetadataEntry {
        return .{ .key = key, .value = .{ .Text = v } };
    }
    pub fn integer(key: []const u8, v: i64) MetadataEntry {
        return .{ .key = key, .value = .{ .Integer = v } };
    }
    pub fn float(key: []const u8, v: f64) MetadataEntry {
        return .{ .key = key, .value = .{ .Float = v } };
    }
    pub fn boolean(key: []const u8, v: bool) MetadataEntry {
        return .{ .key = key, .value = .{ .Boolean = v } };
    }
    pub fn json(key: []const u8, v: []const u8) MetadataEntry {
        return .{ .key = key, .value = .{ .Json = v } };
    }
};

pub const Cadence = enum { Hourly, Daily, Weekly, Monthly };

/// Hourly, daily, weekly or monthly partitions with Dagster's defaults.
pub const CadencePartitions = struct {
    cadence: Cadence,
    start: []const u8,
    end: ?[]const u8 = null,
    timezone: ?[]const u8 = null,
    fmt: ?[]const u8 = null,
    end_offset: i64 = 0,
    minute_offset: u32 = 0,
    hour_offset: u32 = 0,
    day_offset: ?u32 = null,
    /// Calendar days (`YYYY-MM-DD`), wall times (`YYYY-MM-DDTHH:MM`) or cron schedules whose
    /// ticks are not partitions.
    exclusions: ?[]const []const u8 = null,
};

/// Partitions from any 5-field cron schedule.
pub const CronPartitions = struct {
    cron_schedule: []const u8,
    start: []const u8,
    end: ?[]const u8 = null,
    timezone: ?[]const u8 = null,
    fmt: []const u8,
    end_offset: i64 = 0,
    exclusions: ?[]const []const u8 = null,
};

/// One dimension of a multi definition.
pub const Dimension = struct {
    name: []const u8,
    partitions: DimensionPartitions,
};

pub const DimensionPartitions = union(enum) {
    StaticKeys: []const []const u8,
    Cadence: CadencePartitions,
    Cron: CronPartitions,
    Dynamic: []const u8,
};

/// Which partitions an asset has.
pub const Partitions = union(enum) {
    StaticKeys: []const []const u8,
    Cadence: CadencePartitions,
    Cron: CronPartitions,
    /// The name of a dynamic partitions set.
    Dynamic: []const u8,
    /// The product of 2 to 8 named dimensions.
    Multi: []const Dimension,
};

pub fn daily(start: []const u8) Partitions {
    return .{ .Cadence = .{ .cadence = .Daily, .start = start } };
}
pub fn hourly(start: []const u8) Partitions {
    return .{ .Cadence = .{ .cadence = .Hourly, .start = start } };
}
pub fn weekly(start: []const u8) Partitions {
    return .{ .Cadence = .{ .cadence = .Weekly, .start = start } };
}
pub fn monthly(start: []const u8) Partitions {
    return .{ .Cadence = .{ .cadence = .Monthly, .start = start } };
}
pub fn staticKeys(keys: []const []const u8) Partitions {
    return .{ .StaticKeys = keys };
}
pub fn dynamic(name: []const u8) Partitions {
    return .{ .Dynamic = name };
}

/// Offsets count in partitions of the downstream asset.
pub const TimeWindowMapping = struct {
    start_offset: i64 = 0,
    end_offset: i64 = 0,
    allow_nonexistent_upstream_partitions: bool = false,
};

pub const StaticPair = struct {
    upstream: []const u8,
    downstream: []const []const u8,
};

/// How the partitions of a downstream asset depend on those of an input.
pub const Mapping = union(enum) {
    Identity,
    All,
    Last,
    Specific: []const []const u8,
    StaticMap: []const StaticPair,
    TimeWindow: TimeWindowMapping,
    /// The dimension of the multi side that matches the other side (null: inferred).
    MultiToSingle: ?[]const u8,
    /// A mapping a plugin exports, by name.
    Plugin: []const u8,

    pub fn jsonStringify(self: Mapping, jw: anytype) !void {
        return writeVariant(self, jw);
    }
};

/// A variant as the host reads it: `{"Case": payload}`, and a case without payload as
/// `"Case"` (std.json would write `{"Case": {}}`).
fn writeVariant(self: anytype, jw: anytype) !void {
    switch (self) {
        inline else => |payload, tag| {
            if (@TypeOf(payload) == void) {
                try jw.write(@tagName(tag));
            } else {
                try jw.beginObject();
                try jw.objectField(@tagName(tag));
                try jw.write(payload);
                try jw.endObject();
            }
        },
    }
}

/// A time-window mapping: the downstream partition reads the upstream ones from `start` to
/// `end` partitions away (`timeWindow(-1, 0, true)`: the day before and the day itself, and on
/// the first day what exists).
pub fn timeWindow(start: i64, end: i64, allow_nonexistent: bool) Mapping {
    return .{ .TimeWindow = .{
        .start_offset = start,
        .end_offset = end,
        .allow_nonexistent_upstream_partitions = allow_nonexistent,
    } };
}

/// When a downstream window runs while some upstream partitions are missing.
pub const Rollup = union(enum) {
    WaitAll,
    /// Seconds after the downstream window's end.
    WaitUntil: u64,
    RunPartial,

    pub fn jsonStringify(self: Rollup, jw: anytype) !void {
        return writeVariant(self, jw);
    }
};

pub const Input = struct {
    /// The upstream asset's key.
    asset: []const u8,
    /// Null: inferred as Dagster does.
    mapping: ?Mapping = null,
    allow_missing: bool = false,
    rollup: ?Rollup = null,
};

/// How an asset may be run over several partitions.
pub const BackfillPolicy = union(enum) {
    SinglePartition,
    SingleRun,
    MultiRun: u32,

    pub fn jsonStringify(self: BackfillPolicy, jw: anytype) !void {
        return writeVariant(self, jw);
    }
};

/// What an asset's compute function returns: its value for the call's selection.
pub const Output = struct {
    data: []const u8,
    metadata: []const MetadataEntry = &.{},
};

pub const MaterializeFn = *const fn (ctx: *Context, inputs: *Inputs) Error!Output;

/// One asset and the function that computes it.
pub const Asset = struct {
    key: []const u8,
    compute: MaterializeFn,
    description: ?[]const u8 = null,
    /// Null: not partitioned.
    partitions: ?Partitions = null,
    inputs: []const Input = &.{},
    /// Changes when the logic changes; the plugin's content hash when null.
    code_version: ?[]const u8 = null,
    metadata: []const MetadataEntry = &.{},
    backfill_policy: ?BackfillPolicy = null,
};

/// A multi-asset's compute function: it puts an output for each requested asset
/// (`ctx.isRequested`) into `out`.
pub const MultiFn = *const fn (ctx: *Context, inputs: *Inputs, out: *Outputs) Error!void;

/// An asset of a multi-asset: what `Asset` declares, without a function of its own.
pub const Member = struct {
    key: []const u8,
    description: ?[]const u8 = null,
    partitions: ?Partitions = null,
    inputs: []const Input = &.{},
    code_version: ?[]const u8 = null,
    metadata: []const MetadataEntry = &.{},
    backfill_policy: ?BackfillPolicy = null,
};

/// One function producing several assets, which share one partitions definition.
pub const MultiAsset = struct {
    name: []const u8,
    compute: MultiFn,
    assets: []const Member,
};

pub const SensorFn = *const fn (ctx: *SensorContext, result: *SensorResult) Error!void;

pub const Sensor = struct {
    name: []const u8,
    evaluate: SensorFn,
    description: ?[]const u8 = null,
    minimum_interval_seconds: u32 = 30,
    /// Assets its run requests may target.
    targets: []const []const u8,
};

pub const Plugin = struct {
    assets: []const Asset = &.{},
    multi_assets: []const MultiAsset = &.{},
    sensors: []const Sensor = &.{},
};

// ---------------------------------------------------------------------------------------------
// Calls.

/// What a compute or sensor function may fail with. `error.InvalidInput` tells the host that
/// retrying will not help; any other error is a failure it may retry. `Context.fail` and
/// `Context.invalid` set the message the host shows.
pub const Error = error{ InvalidInput, Failed, OutOfMemory };

/// A half-open time window `[start, end)` in Unix seconds, with the UTC offsets of the
/// definition's zone at either end.
pub const TimeWindow = struct {
    start: i64,
    end: i64,
    start_utc_offset: i32,
    end_utc_offset: i32,
};

/// The call a compute function answers (the `materialize-context` document).
pub const Context = struct {
    computation: []const u8,
    assets: []const []const u8,
    partition_keys: []const []const u8,
    time_window: ?TimeWindow = null,
    run_id: []const u8,
    attempt: u32,
    /// Unix seconds.
    now: i64,
    /// Set by `fail` and `invalid`.
    message: ?[]const u8 = null,

    /// The one partition key of the call; an error for a range or an unpartitioned asset.
    pub fn partitionKey(self: *Context) Error![]const u8 {
        if (self.partition_keys.len != 1) {
            return self.invalid("{s} runs one partition at a time; the call has {d} keys", .{ self.computation, self.partition_keys.len });
        }
        return self.partition_keys[0];
    }

    /// The call's time window; an error for partitions that are not time windows.
    pub fn timeWindow(self: *Context) Error!TimeWindow {
        return self.time_window orelse self.invalid("{s} has no time window", .{self.computation});
    }

    /// Whether the call asks for `asset` (a multi-asset's call may ask for some of its assets).
    pub fn isRequested(self: *const Context, asset: []const u8) bool {
        for (self.assets) |a| {
            if (std.mem.eql(u8, a, asset)) return true;
        }
        return false;
    }

    /// Formatted text, allocated for the call.
    pub fn print(_: *Context, comptime format: []const u8, args: anytype) Error![]u8 {
        return std.fmt.allocPrint(allocator, format, args);
    }

    /// Fails the call with a message; the host may retry.
    pub fn fail(self: *Context, comptime format: []const u8, args: anytype) Error {
        self.message = std.fmt.allocPrint(allocator, format, args) catch null;
        return error.Failed;
    }

    /// Refuses the call with a message; retrying will not help.
    pub fn invalid(self: *Context, comptime format: []const u8, args: anytype) Error {
        self.message = std.fmt.allocPrint(allocator, format, args) catch null;
        return error.InvalidInput;
    }
};

/// What a multi-asset's function writes: an output per requested asset, for the whole
/// selection or (`putFor`) one per partition key of it.
pub const Outputs = struct {
    items: std.ArrayList(OutputItem) = .empty,

    pub fn put(self: *Outputs, asset: []const u8, output: Output) Error!void {
        try self.items.append(allocator, .{ .asset = asset, .output = output });
    }

    pub fn putFor(self: *Outputs, asset: []const u8, key: []const u8, output: Output) Error!void {
        try self.items.append(allocator, .{ .asset = asset, .partition = key, .output = output });
    }
};

pub const OutputItem = struct {
    asset: []const u8,
    partition: ?[]const u8 = null,
    output: Output,
};

/// One upstream partition: its key and bytes.
pub const Partition = struct {
    key: []const u8,
    data: []const u8,
};

/// The call's inputs: per upstream asset, the partitions it maps to.
pub const Inputs = struct {
    assets: []const []const u8,
    partitions: []const []const Partition,

    /// The partitions of `asset`, in key order (empty when it is not an input of the call).
    pub fn get(self: *const Inputs, asset: []const u8) []const Partition {
        for (self.assets, self.partitions) |name, parts| {
            if (std.mem.eql(u8, name, asset)) return parts;
        }
        return &.{};
    }

    /// Each partition of `asset` parsed as JSON into `T` (unknown fields ignored). No input
    /// `asset` in the call is invalid input; a partition that does not parse is a failure
    /// (`ctx.message` says which).
    pub fn json(self: *const Inputs, ctx: *Context, comptime T: type, asset: []const u8) Error![]T {
        const parts = self.get(asset);
        if (parts.len == 0) return ctx.invalid("the call has no input {s}", .{asset});
        const out = try allocator.alloc(T, parts.len);
        for (parts, out) |p, *o| {
            o.* = std.json.parseFromSliceLeaky(T, allocator, p.data, .{
                .ignore_unknown_fields = true,
                .allocate = .alloc_always,
            }) catch |e| return ctx.fail("{s}[{s}] is not what {s} reads: {s}", .{ asset, p.key, ctx.computation, @errorName(e) });
        }
        return out;
    }
};

/// A sensor evaluation (the `sensor-context` document).
pub const SensorContext = struct {
    sensor: []const u8,
    /// What the last evaluation returned as its cursor.
    cursor: ?[]const u8 = null,
    /// Unix seconds of the last evaluation.
    last_evaluation: ?i64 = null,
    now: i64,
    message: ?[]const u8 = null,

    pub fn fail(self: *SensorContext, comptime format: []const u8, args: anytype) Error {
        self.message = std.fmt.allocPrint(allocator, format, args) catch null;
        return error.Failed;
    }
};

pub const Tag = struct { key: []const u8, value: []const u8 };

pub const KeyRange = struct { start: []const u8, end: []const u8 };

/// Which partitions a run request asks for.
pub const Selection = union(enum) {
    None,
    Key: []const u8,
    Range: KeyRange,

    pub fn jsonStringify(self: Selection, jw: anytype) !void {
        return writeVariant(self, jw);
    }
};

pub const RunRequest = struct {
    /// Requests with a run key already launched are dropped by the host.
    run_key: ?[]const u8 = null,
    assets: []const []const u8,
    partition: Selection = .None,
    tags: []const Tag = &.{},
};

pub const DynamicPartitionsRequest = struct {
    name: []const u8,
    add: []const []const u8 = &.{},
    delete: []const []const u8 = &.{},
};

/// What a sensor evaluation returns (the `sensor-result` document), filled in by the sensor.
pub const SensorResult = struct {
    run_requests: std.ArrayList(RunRequest) = .empty,
    skip_reason: ?[]const u8 = null,
    /// Null keeps the current cursor.
    cursor: ?[]const u8 = null,
    dynamic_partitions: std.ArrayList(DynamicPartitionsRequest) = .empty,

    pub fn requestRun(self: *SensorResult, request: RunRequest) Error!void {
        try self.run_requests.append(allocator, request);
    }

    pub fn skip(self: *SensorResult, comptime format: []const u8, args: anytype) Error!void {
        self.skip_reason = try std.fmt.allocPrint(allocator, format, args);
    }

    pub fn setCursor(self: *SensorResult, cursor: []const u8) void {
        self.cursor = cursor;
    }

    pub fn changeDynamic(self: *SensorResult, request: DynamicPartitionsRequest) Error!void {
        try self.dynamic_partitions.append(allocator, request);
    }

    pub fn jsonStringify(self: SensorResult, jw: anytype) !void {
        try jw.beginObject();
        try jw.objectField("run_requests");
        try jw.write(self.run_requests.items);
        try jw.objectField("skip_reason");
        try jw.write(self.skip_reason);
        try jw.objectField("cursor");
        try jw.write(self.cursor);
        try jw.objectField("dynamic_partitions");
        try jw.write(self.dynamic_partitions.items);
        try jw.endObject();
    }
};

// ---------------------------------------------------------------------------------------------
// The host's imports.

pub const LogLevel = enum(u32) { trace = 0, debug = 1, info = 2, warn = 3, err = 4 };

extern "tessera" fn log(level: u32, message: [*]const u8, message_len: usize, fields: [*]const u32, fields_len: usize) void;
extern "tessera" fn dynamic_partition_keys(name: [*]const u8, name_len: usize, ret: *[2]u32) void;

/// A log line; the host adds plugin, asset, partition and run.
pub fn logLine(level: LogLevel, comptime format: []const u8, args: anytype) void {
    const message = std.fmt.allocPrint(allocator, format, args) catch return;
    const none = [_]u32{};
    log(@intFromEnum(level), message.ptr, message.len, &none, 0);
}

pub fn info(comptime format: []const u8, args: anytype) void {
    logLine(.info, format, args);
}

pub fn warn(comptime format: []const u8, args: anytype) void {
    logLine(.warn, format, args);
}

/// The current keys of a dynamic partitions set, in insertion order.
pub fn dynamicPartitionKeys(name: []const u8) []const []const u8 {
    var ret: [2]u32 = .{ 0, 0 };
    dynamic_partition_keys(name.ptr, name.len, &ret);
    const pairs: [*]const [2]u32 = @ptrFromInt(ret[0]);
    const keys = allocator.alloc([]const u8, ret[1]) catch return &.{};
    for (keys, 0..) |*k, i| {
        const p: [*]const u8 = @ptrFromInt(pairs[i][0]);
        k.* = p[0..pairs[i][1]];
    }
    return keys;
}

// ---------------------------------------------------------------------------------------------
// Dates: partition keys of daily definitions (`YYYY-MM-DD`) as day numbers and back.

/// Days since 1970-01-01 of a `YYYY-MM-DD` date; null when it is not one.
pub fn dayNumber(date: []const u8) ?i64 {
    if (date.len != 10 or date[4] != '-' or date[7] != '-') return null;
    const y = std.fmt.parseInt(i64, date[0..4], 10) catch return null;
    const m = std.fmt.parseInt(i64, date[5..7], 10) catch return null;
    const d = std.fmt.parseInt(i64, date[8..10], 10) catch return null;
    if (m < 1 or m > 12 or d < 1 or d > 31) return null;
    // Howard Hinnant's days_from_civil.
    const yy = if (m <= 2) y - 1 else y;
    const era = @divFloor(yy, 400);
    const yoe = yy - era * 400;
    const mp = @mod(m + 9, 12);
    const doy = @divFloor(153 * mp + 2, 5) + d - 1;
    const doe = yoe * 365 + @divFloor(yoe, 4) - @divFloor(yoe, 100) + doy;
    return era * 146097 + doe - 719468;
}

/// The `YYYY-MM-DD` date of a day number, allocated for the call.
pub fn dateOf(days: i64) Error![]u8 {
    const z = days + 719468;
    const era = @divFloor(z, 146097);
    const doe = z - era * 146097;
    const yoe = @divFloor(doe - @divFloor(doe, 1460) + @divFloor(doe, 36524) - @divFloor(doe, 146096), 365);
    const doy = doe - (365 * yoe + @divFloor(yoe, 4) - @divFloor(yoe, 100));
    const mp = @divFloor(5 * doy + 2, 153);
    const d = doy - @divFloor(153 * mp + 2, 5) + 1;
    const m = if (mp < 10) mp + 3 else mp - 9;
    const y = yoe + era * 400 + @as(i64, if (m <= 2) 1 else 0);
    return std.fmt.allocPrint(allocator, "{d:0>4}-{d:0>2}-{d:0>2}", .{ @as(u64, @intCast(y)), @as(u64, @intCast(m)), @as(u64, @intCast(d)) });
}

/// The local date of a Unix time with a UTC offset in seconds (`window.start - 1` with
/// `window.start_utc_offset`: the day before a daily window).
pub fn dateAt(unix: i64, utc_offset: i32) Error![]u8 {
    return dateOf(@divFloor(unix + utc_offset, 86400));
}

// ---------------------------------------------------------------------------------------------
// JSON helpers.

/// `value` as a JSON document (fields in declaration order, no spaces), allocated for the call.
pub fn stringify(value: anytype) Error![]u8 {
    return std.json.Stringify.valueAlloc(allocator, value, .{});
}

/// A JSON object written field by field, in the order the plugin chooses (byte-for-byte output
/// that matches another language's serializer, which may sort keys).
pub const ObjectWriter = struct {
    out: std.Io.Writer.Allocating,
    stream: std.json.Stringify,

    pub fn init(self: *ObjectWriter) Error!void {
        self.out = .init(allocator);
        self.stream = .{ .writer = &self.out.writer };
        self.stream.beginObject() catch return error.OutOfMemory;
    }

    pub fn field(self: *ObjectWriter, name: []const u8, value: anytype) Error!void {
        self.stream.objectField(name) catch return error.OutOfMemory;
        self.stream.write(value) catch return error.OutOfMemory;
    }

    /// Starts a nested object under `name`; end it with `endObject`.
    pub fn beginObject(self: *ObjectWriter, name: []const u8) Error!void {
        self.stream.objectField(name) catch return error.OutOfMemory;
        self.stream.beginObject() catch return error.OutOfMemory;
    }

    pub fn endObject(self: *ObjectWriter) Error!void {
        self.stream.endObject() catch return error.OutOfMemory;
    }

    /// Closes the object and returns its bytes.
    pub fn finish(self: *ObjectWriter) Error![]u8 {
        self.stream.endObject() catch return error.OutOfMemory;
        return self.out.toOwnedSlice();
    }
};

// ---------------------------------------------------------------------------------------------
// The flat world's exports.

/// The return area the exports point the host at (tag, then two pointer/length pairs).
var ret_area: [5]u32 align(8) = .{ 0, 0, 0, 0, 0 };

fn slice(ptr: [*]const u8, len: usize) []const u8 {
    return if (len == 0) "" else ptr[0..len];
}

/// `definitions`' result: a string, `(ptr, len)` at the area's start.
fn plainString(s: []const u8) u32 {
    ret_area[0] = @intFromPtr(s.ptr);
    ret_area[1] = s.len;
    return @intFromPtr(&ret_area);
}

/// `result<string, _>`'s ok: tag 0, then `(ptr, len)`.
fn okString(s: []const u8) u32 {
    ret_area[0] = 0;
    ret_area[1] = @intFromPtr(s.ptr);
    ret_area[2] = s.len;
    return @intFromPtr(&ret_area);
}

fn errorDocument(err: Error, message: ?[]const u8) u32 {
    const text = message orelse @errorName(err);
    const doc = switch (err) {
        error.InvalidInput => stringify(.{ .InvalidInput = text }),
        else => stringify(.{ .Failed = text }),
    } catch "{\"Failed\":\"out of memory\"}";
    ret_area[0] = 1;
    ret_area[1] = @intFromPtr(doc.ptr);
    ret_area[2] = doc.len;
    return @intFromPtr(&ret_area);
}

const WireInput = struct { asset: []const u8, partitions: []const []const u8 };

/// What the host reads of an asset (the compute function is not data).
const WireAsset = struct {
    key: []const u8,
    description: ?[]const u8,
    partitions: ?Partitions,
    inputs: []const Input,
    code_version: ?[]const u8,
    metadata: []const MetadataEntry,
    backfill_policy: ?BackfillPolicy,
};

const WireComputation = struct { name: []const u8, assets: []const WireAsset };

const WireSensor = struct {
    name: []const u8,
    description: ?[]const u8,
    minimum_interval_seconds: u32,
    targets: []const []const u8,
};

/// Exports `plugin` as the module's flat-world functions. Call it once, in a `comptime` block.
pub fn exportPlugin(comptime plugin: Plugin) void {
    const exports = struct {
        fn realloc(old: ?[*]u8, old_len: usize, alignment: usize, new_len: usize) callconv(.c) ?[*]u8 {
            if (new_len == 0) return @ptrFromInt(alignment);
            const block = allocator.rawAlloc(new_len, std.mem.Alignment.fromByteUnits(alignment), @returnAddress()) orelse @trap();
            if (old) |o| {
                const n = @min(old_len, new_len);
                @memcpy(block[0..n], o[0..n]);
            }
            return block;
        }

        fn definitions() callconv(.c) u32 {
            const n = plugin.assets.len + plugin.multi_assets.len;
            var computations: [n]WireComputation = undefined;
            var singles: [plugin.assets.len]WireAsset = undefined;
            inline for (plugin.assets, 0..) |a, i| {
                singles[i] = wire(a);
                computations[i] = .{ .name = a.key, .assets = singles[i .. i + 1] };
            }
            inline for (plugin.multi_assets, 0..) |m, i| {
                var members: [m.assets.len]WireAsset = undefined;
                inline for (m.assets, 0..) |a, j| members[j] = wire(a);
                computations[plugin.assets.len + i] = .{
                    .name = m.name,
                    .assets = (allocator.dupe(WireAsset, &members) catch @trap()),
                };
            }
            var sensors: [plugin.sensors.len]WireSensor = undefined;
            inline for (plugin.sensors, 0..) |s, i| {
                sensors[i] = .{
                    .name = s.name,
                    .description = s.description,
                    .minimum_interval_seconds = s.minimum_interval_seconds,
                    .targets = s.targets,
                };
            }
            const doc = stringify(.{ .computations = computations[0..], .sensors = sensors[0..] }) catch @trap();
            return plainString(doc);
        }

        fn materialize(
            context_ptr: [*]const u8,
            context_len: usize,
            inputs_ptr: [*]const u8,
            inputs_len: usize,
            data_ptr: [*]const [2]u32,
            data_len: usize,
        ) callconv(.c) u32 {
            var ctx = std.json.parseFromSliceLeaky(Context, allocator, slice(context_ptr, context_len), .{
                .ignore_unknown_fields = true,
            }) catch |e| return errorDocument(error.InvalidInput, @errorName(e));
            const docs = std.json.parseFromSliceLeaky([]const WireInput, allocator, slice(inputs_ptr, inputs_len), .{}) catch |e|
                return errorDocument(error.InvalidInput, @errorName(e));
            var inputs = readInputs(docs, if (data_len == 0) &.{} else data_ptr[0..data_len]) catch |e|
                return errorDocument(e, null);
            var outputs: Outputs = .{};
            const found = blk: {
                inline for (plugin.assets) |a| {
                    if (std.mem.eql(u8, ctx.computation, a.key)) {
                        const output = a.compute(&ctx, &inputs) catch |e| return errorDocument(e, ctx.message);
                        outputs.put(a.key, output) catch @trap();
                        break :blk true;
                    }
                }
                inline for (plugin.multi_assets) |m| {
                    if (std.mem.eql(u8, ctx.computation, m.name)) {
                        m.compute(&ctx, &inputs, &outputs) catch |e| return errorDocument(e, ctx.message);
                        break :blk true;
                    }
                }
                break :blk false;
            };
            if (found) return outputsResult(outputs.items.items) catch @trap();
            return errorDocument(error.InvalidInput, std.fmt.allocPrint(allocator, "no computation {s}", .{ctx.computation}) catch null);
        }

        fn evaluateSensor(context_ptr: [*]const u8, context_len: usize) callconv(.c) u32 {
            var ctx = std.json.parseFromSliceLeaky(SensorContext, allocator, slice(context_ptr, context_len), .{
                .ignore_unknown_fields = true,
            }) catch |e| return errorDocument(error.InvalidInput, @errorName(e));
            inline for (plugin.sensors) |s| {
                if (std.mem.eql(u8, ctx.sensor, s.name)) {
                    var result: SensorResult = .{};
                    s.evaluate(&ctx, &result) catch |e| return errorDocument(e, ctx.message);
                    return okString(stringify(result) catch @trap());
                }
            }
            return errorDocument(error.InvalidInput, "no such sensor");
        }
    };
    @export(&exports.realloc, .{ .name = "cabi_realloc" });
    @export(&exports.definitions, .{ .name = "tessera_definitions" });
    @export(&exports.materialize, .{ .name = "tessera_materialize" });
    @export(&exports.evaluateSensor, .{ .name = "tessera_evaluate_sensor" });
}

/// An asset's declaration as the host reads it.
fn wire(a: anytype) WireAsset {
    return .{
        .key = a.key,
        .description = a.description,
        .partitions = a.partitions,
        .inputs = a.inputs,
        .code_version = a.code_version,
        .metadata = a.metadata,
        .backfill_policy = a.backfill_policy,
    };
}

const WireOutput = struct {
    asset: []const u8,
    partition: ?[]const u8,
    metadata: []const MetadataEntry,
};

/// `materialize`'s ok result: the `flat-outputs` document and each output's bytes.
fn outputsResult(items: []const OutputItem) Error!u32 {
    const docs = try allocator.alloc(WireOutput, items.len);
    const lists = try allocator.alloc([2]u32, items.len);
    for (items, docs, lists) |item, *d, *l| {
        d.* = .{ .asset = item.asset, .partition = item.partition, .metadata = item.output.metadata };
        l.* = .{ @intFromPtr(item.output.data.ptr), item.output.data.len };
    }
    const doc = try stringify(docs);
    ret_area[0] = 0;
    ret_area[1] = @intFromPtr(doc.ptr);
    ret_area[2] = doc.len;
    ret_area[3] = @intFromPtr(lists.ptr);
    ret_area[4] = items.len;
    return @intFromPtr(&ret_area);
}

/// The call's inputs from the `flat-inputs` document and the byte lists beside it.
fn readInputs(docs: []const WireInput, data: []const [2]u32) Error!Inputs {
    const names = try allocator.alloc([]const u8, docs.len);
    const parts = try allocator.alloc([]const Partition, docs.len);
    var next: usize = 0;
    for (docs, names, parts) |w, *name, *ps| {
        name.* = w.asset;
        const list = try allocator.alloc(Partition, w.partitions.len);
        for (w.partitions, list) |key, *p| {
            if (next >= data.len) return error.InvalidInput;
            const ptr: [*]const u8 = @ptrFromInt(data[next][0]);
            p.* = .{ .key = key, .data = slice(ptr, data[next][1]) };
            next += 1;
        }
        ps.* = list;
    }
    return .{ .assets = names, .partitions = parts };
}
