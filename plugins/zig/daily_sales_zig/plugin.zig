//! `daily_sales_zig`: the Rust `daily_sales` asset written in Zig with the Zig kit. Each
//! partition is `{"date":<key>,"sales":<number>}`, byte for byte the Rust asset's value for the
//! same day, the number a stable function of the date.

const tessera = @import("tessera");

const CODE_VERSION = "1";

/// FNV-1a: the same hash the Rust asset uses.
fn fnv1a(text: []const u8) u64 {
    var h: u64 = 0xcbf2_9ce4_8422_2325;
    for (text) |b| h = (h ^ b) *% 0x0100_0000_01b3;
    return h;
}

/// Between 1000 and 9999, from the date alone.
fn salesFor(date: []const u8) u64 {
    return 1_000 + fnv1a(date) % 9_000;
}

fn dailySales(ctx: *tessera.Context, _: *tessera.Inputs) tessera.Error!tessera.Output {
    const date = try ctx.partitionKey();
    const sales = salesFor(date);
    tessera.info("sales for {s}: {d}", .{ date, sales });
    const metadata = try tessera.allocator.dupe(tessera.MetadataEntry, &.{tessera.meta.integer("sales", @intCast(sales))});
    return .{
        .data = try tessera.stringify(.{ .date = date, .sales = sales }),
        .metadata = metadata,
    };
}

pub const plugin: tessera.Plugin = .{
    .assets = &.{.{
        .key = "daily_sales_zig",
        .compute = dailySales,
        .partitions = tessera.daily("2024-01-01"),
        .description = "Sales per day: {\"date\": key, \"sales\": n} (Zig).",
        .code_version = CODE_VERSION,
    }},
};

comptime {
    tessera.exportPlugin(plugin);
}
