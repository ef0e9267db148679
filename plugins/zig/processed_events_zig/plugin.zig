//! `processed_events_zig`: the Rust `processed_events` asset written in Zig with the Zig kit.
//!
//! It reads `raw_events` (declared by the Rust `processed_events` plugin) for the day and the
//! day before, deduplicates the events by id and writes the same JSON document, byte for byte,
//! as the Rust asset: keys sorted, no spaces. It also has a sensor that asks for each finished
//! day once.

const std = @import("std");
const tessera = @import("tessera");

const CODE_VERSION = "1";

const Event = struct {
    id: []const u8,
    event_date: []const u8,
    value: u64,
};

const RawEvents = struct {
    date: []const u8,
    events: []const Event,
};

fn lessThan(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.lessThan(u8, a, b);
}

fn processedEvents(ctx: *tessera.Context, inputs: *tessera.Inputs) tessera.Error!tessera.Output {
    const date = try ctx.partitionKey();
    const parts = inputs.get("raw_events");
    const raws = try inputs.json(ctx, RawEvents, "raw_events");
    var received: u64 = 0;
    // The first delivery of each id wins.
    var unique: std.StringArrayHashMapUnmanaged(Event) = .empty;
    for (raws) |raw| {
        for (raw.events) |event| {
            received += 1;
            const slot = try unique.getOrPut(tessera.allocator, event.id);
            if (!slot.found_existing) slot.value_ptr.* = event;
        }
    }
    var by_event_date: std.StringArrayHashMapUnmanaged(u64) = .empty;
    var value_sum: u64 = 0;
    for (unique.values()) |event| {
        const slot = try by_event_date.getOrPut(tessera.allocator, event.event_date);
        slot.value_ptr.* = if (slot.found_existing) slot.value_ptr.* + 1 else 1;
        value_sum += event.value;
    }
    const dates = try tessera.allocator.dupe([]const u8, by_event_date.keys());
    std.mem.sort([]const u8, dates, {}, lessThan);
    const keys = try tessera.allocator.alloc([]const u8, parts.len);
    for (parts, keys) |p, *k| k.* = p.key;
    const count = unique.count();
    tessera.info("{s}: {d} events from {d} partitions, {d} unique", .{ date, received, keys.len, count });

    // The Rust asset's keys, in the sorted order its serializer writes them.
    var doc: tessera.ObjectWriter = undefined;
    try doc.init();
    try doc.beginObject("by_event_date");
    for (dates) |d| try doc.field(d, by_event_date.get(d).?);
    try doc.endObject();
    try doc.field("date", date);
    try doc.field("duplicates", received - count);
    try doc.field("events_received", received);
    try doc.field("input_partitions", keys);
    try doc.field("unique_events", count);
    try doc.field("value_sum", value_sum);
    const metadata = try tessera.allocator.dupe(tessera.MetadataEntry, &.{tessera.meta.integer("unique_events", @intCast(count))});
    return .{ .data = try doc.finish(), .metadata = metadata };
}

/// Every evaluation asks for the day after the cursor, keyed by that day, until the day before
/// `now`: the host drops a run key it has launched before, so a restart asks for nothing twice.
fn nextDay(ctx: *tessera.SensorContext, result: *tessera.SensorResult) tessera.Error!void {
    const next = ctx.cursor orelse "2024-01-01";
    const day = tessera.dayNumber(next) orelse return ctx.fail("the cursor \"{s}\" is not a day", .{next});
    if ((day + 1) * 86400 > ctx.now) {
        return result.skip("{s} is not over yet", .{next});
    }
    const assets = try tessera.allocator.dupe([]const u8, &.{"processed_events_zig"});
    try result.requestRun(.{ .run_key = next, .assets = assets, .partition = .{ .Key = next } });
    result.setCursor(try tessera.dateOf(day + 1));
}

pub const plugin: tessera.Plugin = .{
    .assets = &.{.{
        .key = "processed_events_zig",
        .compute = processedEvents,
        .partitions = tessera.daily("2024-01-01"),
        // The first day has no previous day: run with what exists.
        .inputs = &.{.{ .asset = "raw_events", .mapping = tessera.timeWindow(-1, 0, true) }},
        .description = "Events of the day and the day before, deduplicated by id (Zig).",
        .code_version = CODE_VERSION,
    }},
    .sensors = &.{.{
        .name = "processed_events_zig_days",
        .evaluate = nextDay,
        .description = "Asks for each finished day of processed_events_zig, once.",
        .minimum_interval_seconds = 60,
        .targets = &.{"processed_events_zig"},
    }},
};

comptime {
    tessera.exportPlugin(plugin);
}
