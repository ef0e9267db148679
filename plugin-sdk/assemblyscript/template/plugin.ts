// A Tessera plugin in AssemblyScript: `tessera plugin new NAME --lang assemblyscript` makes a
// copy of this file, and `tessera plugin build` (or, in this repository, `cargo xtask plugins`
// for `plugins/assemblyscript/<name>/plugin.ts`) makes it `<name>.wasm`, a core module the host
// loads. The kit, `tessera.ts`, is copied beside it when it builds.

import {
  plugin, asset, member, multiAsset, sensor, daily, timeWindow, info,
  Context, Inputs, Output, Outputs, SensorContext, SensorResult,
} from "./tessera";
export { cabi_realloc, tessera_definitions, tessera_materialize, tessera_evaluate_sensor } from "./tessera";

/// One daily partition: a line of text naming its day.
function hello(ctx: Context, inputs: Inputs): Output {
  const day = ctx.partitionKey();
  if (day.length == 0) return Output.invalid("hello runs one day at a time");
  info("greeted " + day);
  return Output.text("hello, " + day + "\n").metadataText("day", day);
}

/// The week up to a day: reads seven upstream days through a time-window mapping.
function week(ctx: Context, inputs: Inputs): Output {
  const days = inputs.get("hello");
  let text = "";
  for (let i = 0; i < days.length; i++) text += days[i].text();
  return Output.text(text).metadataInt("days", days.length);
}

/// A multi-asset: one function writes the greeting's size in characters and in lines, for the
/// assets the run asks for.
function sizes(ctx: Context, inputs: Inputs, out: Outputs): void {
  const days = inputs.get("hello");
  if (days.length == 0) {
    out.invalid("no greeting to measure");
    return;
  }
  const greeting = days[0].text();
  const lines = greeting.split("\n").length - 1;
  if (ctx.isRequested("hello_chars")) out.put("hello_chars", Output.text(days[0].data.byteLength.toString()));
  if (ctx.isRequested("hello_lines")) out.put("hello_lines", Output.text(lines.toString()));
}

/// Every evaluation asks for the next day after the cursor, keyed by that day: the host drops a
/// run key it has launched before. The cursor counts the days asked for.
function nextDay(ctx: SensorContext, result: SensorResult): void {
  const cursor = ctx.cursor;
  const asked = cursor != null ? I32.parseInt(cursor) : 0;
  if (asked >= 28) {
    result.skip("February is far enough");
    return;
  }
  const day = "2024-01-" + (asked + 1).toString().padStart(2, "0");
  result.requestRun(day, ["hello"], day);
  result.setCursor((asked + 1).toString());
}

plugin(
  [
    asset("hello", hello).partitions(daily("2024-01-01")).description("A greeting per day.").codeVersion("1"),
    asset("hello_week", week).partitions(daily("2024-01-01")).input("hello", timeWindow(-6, 0, true)),
  ],
  [
    multiAsset("hello_sizes", sizes)
      .add(member("hello_chars").partitions(daily("2024-01-01")).input("hello"))
      .add(member("hello_lines").partitions(daily("2024-01-01")).input("hello")),
  ],
  [sensor("next_day", nextDay).minimumInterval(30).targets(["hello"])],
);
