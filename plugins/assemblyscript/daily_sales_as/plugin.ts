// `daily_sales_as`: the Rust `daily_sales` asset written in AssemblyScript with the
// AssemblyScript kit. Each partition is `{"date":<key>,"sales":<number>}`, byte for byte the
// Rust asset's value for the same day, the number a stable function of the date.

import { plugin, asset, daily, info, Context, Inputs, JSONWriter, Output } from "./tessera";
export { cabi_realloc, tessera_definitions, tessera_materialize, tessera_evaluate_sensor } from "./tessera";

const CODE_VERSION = "1";

/// FNV-1a over the UTF-8 bytes: the same hash the Rust asset uses.
function fnv1a(text: string): u64 {
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < bytes.length; i++) {
    h = (h ^ <u64>bytes[i]) * 0x100000001b3;
  }
  return h;
}

/// Between 1000 and 9999, from the date alone.
function salesFor(date: string): u64 {
  return 1000 + (fnv1a(date) % 9000);
}

function dailySales(ctx: Context, inputs: Inputs): Output {
  const date = ctx.partitionKey();
  if (date.length == 0) return Output.invalid("daily_sales_as runs one partition at a time");
  const sales = salesFor(date);
  info("sales for " + date + ": " + sales.toString());
  const json = new JSONWriter().beginObject().key("date").string(date).key("sales").int(<i64>sales).endObject();
  return Output.text(json.toString()).metadataInt("sales", <i64>sales);
}

plugin(
  [
    asset("daily_sales_as", dailySales)
      .partitions(daily("2024-01-01"))
      .description('Sales per day: {"date": key, "sales": n} (AssemblyScript).')
      .codeVersion(CODE_VERSION),
  ],
  [],
  [],
);
