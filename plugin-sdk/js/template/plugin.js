// A Tessera plugin in JavaScript: copy this directory to plugins/js/<name>/ and run
// `cargo xtask plugins`; the component lands at target/plugins/<name>.wasm. The build puts the
// kit's tessera.js beside this file.

import {
    plugin,
    asset,
    assetSpec,
    multiAsset,
    sensor,
    daily,
    timeWindow,
    output,
    log,
} from "./tessera.js";

// One daily partition: a line of text naming its day.
function hello(context) {
    const day = context.partitionKey();
    log.info(`greeted ${day}`);
    return output(`hello, ${day}\n`).metadata("day", day);
}

// The week up to a day: reads seven upstream days through a time-window mapping.
function helloWeek(context, inputs) {
    const greetings = inputs.text("hello").map((p) => p.text);
    return output(greetings.join("")).metadata("days", greetings.length);
}

// Two assets from one function: a day's greeting measured in characters and in lines. It
// returns the outputs of the assets asked for (`context.assets`), by key.
function sizes(context, inputs) {
    const [{ text }] = inputs.text("hello");
    const all = {
        hello_chars: output(String(text.length)),
        hello_lines: output(String(text.split("\n").length - 1)),
    };
    return Object.fromEntries(context.assets.map((a) => [a, all[a]]));
}

// Every evaluation asks for the next day after the cursor, keyed by that day: the host drops a
// run key it has launched before. The cursor counts the days asked for.
function nextDay(context, result) {
    const asked = Number(context.cursor ?? "0");
    if (asked >= 28) {
        result.skip("February is far enough");
        return;
    }
    const day = `2024-01-${String(asked + 1).padStart(2, "0")}`;
    result.requestRun({ runKey: day, assets: "hello", partition: day });
    result.setCursor(String(asked + 1));
}

export const guest = plugin({
    assets: [
        asset("hello", hello)
            .partitions(daily("2024-01-01"))
            .description("A greeting per day.")
            .codeVersion("1"),
        asset("hello_week", helloWeek)
            .partitions(daily("2024-01-01"))
            .input("hello", timeWindow(-6, 0, { allowNonexistent: true })),
        multiAsset("hello_sizes", sizes, [
            assetSpec("hello_chars").partitions(daily("2024-01-01")).input("hello"),
            assetSpec("hello_lines").partitions(daily("2024-01-01")).input("hello"),
        ]),
    ],
    sensors: [sensor("next_day", nextDay).targets("hello")],
});
