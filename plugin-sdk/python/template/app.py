"""A Tessera plugin in Python: copy this directory to plugins/python/<name>/ and run
`cargo xtask plugins`; the component lands at target/plugins/<name>.wasm. The build puts the
kit's tessera.py on the module path."""

from tessera import (
    AssetSpec,
    Context,
    Inputs,
    Output,
    Plugin,
    SensorContext,
    SensorResult,
    daily,
    log,
    time_window,
)

plugin = Plugin()


@plugin.asset("hello", partitions=daily("2024-01-01"), description="A greeting per day.", code_version="1")
def hello(context: Context, inputs: Inputs) -> Output:
    """One daily partition: a line of text naming its day."""
    day = context.partition_key()
    log.info(f"greeted {day}")
    return Output.text(f"hello, {day}\n", day=day)


@plugin.asset(
    "hello_week",
    partitions=daily("2024-01-01"),
    inputs={"hello": time_window(-6, 0, allow_nonexistent=True)},
)
def hello_week(context: Context, inputs: Inputs) -> Output:
    """The week up to a day: reads seven upstream days through a time-window mapping."""
    greetings = [text for _, text in inputs.text("hello")]
    return Output.text("".join(greetings), days=len(greetings))


@plugin.multi_asset(
    "hello_sizes",
    [
        AssetSpec("hello_chars", partitions=daily("2024-01-01"), inputs={"hello": None}),
        AssetSpec("hello_lines", partitions=daily("2024-01-01"), inputs={"hello": None}),
    ],
)
def sizes(context: Context, inputs: Inputs) -> dict[str, Output]:
    """Two assets from one function: a day's greeting measured in characters and in lines. It
    returns the outputs of the assets asked for (context.assets), by key."""
    [(_, text)] = inputs.text("hello")
    every = {
        "hello_chars": Output.text(str(len(text))),
        "hello_lines": Output.text(str(text.count("\n"))),
    }
    return {asset: every[asset] for asset in context.assets}


@plugin.sensor("next_day", targets=["hello"])
def next_day(context: SensorContext, result: SensorResult) -> None:
    """Asks for the next day after the cursor, keyed by that day: the host drops a run key it
    has launched before. The cursor counts the days asked for."""
    asked = int(context.cursor or "0")
    if asked >= 28:
        result.skip("February is far enough")
        return
    day = f"2024-01-{asked + 1:02d}"
    result.request_run("hello", day, run_key=day)
    result.set_cursor(str(asked + 1))


Guest = plugin.guest()
