//! A Tessera plugin in Zig: `tessera plugin new NAME --lang zig` makes a copy of this file, and
//! `tessera plugin build` (or, in this repository, `cargo xtask plugins` for
//! `plugins/zig/<name>/plugin.zig`) makes it `<name>.wasm`, a core module the host loads.

const std = @import("std");
const tessera = @import("tessera");

/// One daily partition: a line of text naming its day.
fn hello(ctx: *tessera.Context, _: *tessera.Inputs) tessera.Error!tessera.Output {
    const day = try ctx.partitionKey();
    tessera.info("greeted {s}", .{day});
    const metadata = try tessera.allocator.dupe(tessera.MetadataEntry, &.{tessera.meta.text("day", day)});
    return .{ .data = try ctx.print("hello, {s}\n", .{day}), .metadata = metadata };
}

/// The week up to a day: reads seven upstream days through a time-window mapping.
fn week(_: *tessera.Context, inputs: *tessera.Inputs) tessera.Error!tessera.Output {
    const days = inputs.get("hello");
    var text: std.ArrayList(u8) = .empty;
    for (days) |d| try text.appendSlice(tessera.allocator, d.data);
    const metadata = try tessera.allocator.dupe(tessera.MetadataEntry, &.{tessera.meta.integer("days", @intCast(days.len))});
    return .{ .data = text.items, .metadata = metadata };
}

/// A multi-asset: one function writes the greeting's size in characters and in lines, for the
/// assets the run asks for.
fn sizes(ctx: *tessera.Context, inputs: *tessera.Inputs, out: *tessera.Outputs) tessera.Error!void {
    const days = inputs.get("hello");
    if (days.len == 0) return ctx.invalid("no greeting to measure", .{});
    const greeting = days[0].data;
    const lines = std.mem.count(u8, greeting, "\n");
    if (ctx.isRequested("hello_chars")) {
        try out.put("hello_chars", .{ .data = try ctx.print("{d}", .{greeting.len}) });
    }
    if (ctx.isRequested("hello_lines")) {
        try out.put("hello_lines", .{ .data = try ctx.print("{d}", .{lines}) });
    }
}

/// Every evaluation asks for the next day after the cursor, keyed by that day: the host drops a
/// run key it has launched before. The cursor counts the days asked for.
fn nextDay(ctx: *tessera.SensorContext, result: *tessera.SensorResult) tessera.Error!void {
    const asked = if (ctx.cursor) |c| std.fmt.parseInt(u32, c, 10) catch 0 else 0;
    if (asked >= 28) return result.skip("February is far enough", .{});
    const day = try std.fmt.allocPrint(tessera.allocator, "2024-01-{d:0>2}", .{asked + 1});
    const assets = try tessera.allocator.dupe([]const u8, &.{"hello"});
    try result.requestRun(.{ .run_key = day, .assets = assets, .partition = .{ .Key = day } });
    result.setCursor(try std.fmt.allocPrint(tessera.allocator, "{d}", .{asked + 1}));
}

pub const plugin: tessera.Plugin = .{
    .assets = &.{
        .{
            .key = "hello",
            .compute = hello,
            .partitions = tessera.daily("2024-01-01"),
            .description = "A greeting per day.",
            .code_version = "1",
        },
        .{
            .key = "hello_week",
            .compute = week,
            .partitions = tessera.daily("2024-01-01"),
            .inputs = &.{.{ .asset = "hello", .mapping = tessera.timeWindow(-6, 0, true) }},
        },
    },
    .multi_assets = &.{.{
        .name = "hello_sizes",
        .compute = sizes,
        .assets = &.{
            .{ .key = "hello_chars", .partitions = tessera.daily("2024-01-01"), .inputs = &.{.{ .asset = "hello" }} },
            .{ .key = "hello_lines", .partitions = tessera.daily("2024-01-01"), .inputs = &.{.{ .asset = "hello" }} },
        },
    }},
    .sensors = &.{.{
        .name = "next_day",
        .evaluate = nextDay,
        .minimum_interval_seconds = 30,
        .targets = &.{"hello"},
    }},
};

comptime {
    tessera.exportPlugin(plugin);
}
