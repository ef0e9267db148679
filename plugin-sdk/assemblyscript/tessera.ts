// The Tessera kit for AssemblyScript: plugins as WebAssembly core modules of the flat world
// (`plugin-sdk/flat/README.md`). A plugin declares its assets and sensors with the builders
// below, registers them with `plugin(...)` at the top level, and re-exports the kit's exports:
//
//     import { plugin, asset, daily, Context, Inputs, Output, info } from "./tessera";
//     export { cabi_realloc, tessera_definitions, tessera_materialize, tessera_evaluate_sensor } from "./tessera";
//
//     function hello(ctx: Context, inputs: Inputs): Output {
//       return Output.text("hello, " + ctx.partitionKey() + "\n");
//     }
//
//     plugin([asset("hello", hello).partitions(daily("2024-01-01"))], [], []);
//
// Built with `asc --runtime stub --exportStart _initialize` (what `cargo xtask plugins` and
// `tessera plugin build` do): a bump allocator, because every call runs in a fresh instance,
// and the top-level code run once when the host instantiates the module. Strings are UTF-16
// inside AssemblyScript and UTF-8 across the boundary; the kit converts.

// ---------------------------------------------------------------------------------------------
// JSON: a small parser and writer (AssemblyScript has none built in).

export const enum Kind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/// A parsed JSON value.
export class JSONValue {
  kind: Kind = Kind.Null;
  bool: bool = false;
  number: f64 = 0;
  string: string = "";
  items: JSONValue[] = [];
  keys: string[] = [];

  get isNull(): bool {
    return this.kind == Kind.Null;
  }

  /// The member `key` of an object; null when absent or not an object.
  get(key: string): JSONValue | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }

  /// The string member `key`, or `fallback`.
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v != null && v.kind == Kind.String ? v.string : fallback;
  }

  /// The number member `key`, or `fallback`.
  getNumber(key: string, fallback: f64 = 0): f64 {
    const v = this.get(key);
    return v != null && v.kind == Kind.Number ? v.number : fallback;
  }

  /// The array member `key` (empty when absent).
  getArray(key: string): JSONValue[] {
    const v = this.get(key);
    return v != null && v.kind == Kind.Array ? v.items : [];
  }

  /// The strings of the array member `key`.
  getStrings(key: string): string[] {
    const items = this.getArray(key);
    const out = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) out[i] = items[i].string;
    return out;
  }
}

/// Parses a JSON document; null when it is not one.
export function parseJSON(text: string): JSONValue | null {
  const p = new Parser(text);
  const v = p.value();
  if (v == null) return null;
  p.space();
  return p.pos == text.length ? v : null;
}

class Parser {
  pos: i32 = 0;
  constructor(public text: string) {}

  space(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  literal(word: string): bool {
    if (this.text.substr(this.pos, word.length) != word) return false;
    this.pos += word.length;
    return true;
  }

  value(): JSONValue | null {
    this.space();
    if (this.pos >= this.text.length) return null;
    const c = this.text.charCodeAt(this.pos);
    const v = new JSONValue();
    if (c == 0x7b /* { */) {
      v.kind = Kind.Object;
      this.pos++;
      this.space();
      if (this.text.charCodeAt(this.pos) == 0x7d) {
        this.pos++;
        return v;
      }
      while (true) {
        this.space();
        const key = this.str();
        if (key == null) return null;
        this.space();
        if (this.text.charCodeAt(this.pos) != 0x3a /* : */) return null;
        this.pos++;
        const item = this.value();
        if (item == null) return null;
        v.keys.push(key);
        v.items.push(item);
        this.space();
        const d = this.text.charCodeAt(this.pos++);
        if (d == 0x7d) return v;
        if (d != 0x2c) return null;
      }
    }
    if (c == 0x5b /* [ */) {
      v.kind = Kind.Array;
      this.pos++;
      this.space();
      if (this.text.charCodeAt(this.pos) == 0x5d) {
        this.pos++;
        return v;
      }
      while (true) {
        const item = this.value();
        if (item == null) return null;
        v.items.push(item);
        this.space();
        const d = this.text.charCodeAt(this.pos++);
        if (d == 0x5d) return v;
        if (d != 0x2c) return null;
      }
    }
    if (c == 0x22 /* " */) {
      const s = this.str();
      if (s == null) return null;
      v.kind = Kind.String;
      v.string = s;
      return v;
    }
    if (this.literal("true")) {
      v.kind = Kind.Bool;
      v.bool = true;
      return v;
    }
    if (this.literal("false")) {
      v.kind = Kind.Bool;
      return v;
    }
    if (this.literal("null")) return v;
    const start = this.pos;
    while (this.pos < this.text.length) {
      const d = this.text.charCodeAt(this.pos);
      if (!((d >= 0x30 && d <= 0x39) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x65 || d == 0x45)) break;
      this.pos++;
    }
    if (this.pos == start) return null;
    v.kind = Kind.Number;
    v.number = parseFloat(this.text.substring(start, this.pos));
    return v;
  }

  str(): string | null {
    if (this.text.charCodeAt(this.pos) != 0x22) return null;
    this.pos++;
    const parts: string[] = [];
    let start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) {
        parts.push(this.text.substring(start, this.pos));
        this.pos++;
        return parts.join("");
      }
      if (c == 0x5c /* \ */) {
        parts.push(this.text.substring(start, this.pos));
        const e = this.text.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) parts.push("\n");
        else if (e == 0x74) parts.push("\t");
        else if (e == 0x72) parts.push("\r");
        else if (e == 0x62) parts.push("\b");
        else if (e == 0x66) parts.push("\f");
        else if (e == 0x75 /* u */) {
          parts.push(String.fromCharCode(<i32>parseInt(this.text.substr(this.pos, 4), 16)));
          this.pos += 4;
        } else parts.push(String.fromCharCode(e));
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    return null;
  }
}

/// A JSON text written value by value, in the order the plugin chooses (byte-for-byte output
/// that matches another language's serializer, which may sort keys). No spaces.
export class JSONWriter {
  private parts: string[] = [];
  private first: bool[] = [true];

  private separate(): void {
    const top = this.first.length - 1;
    if (this.first[top]) this.first[top] = false;
    else this.parts.push(",");
  }

  beginObject(): JSONWriter {
    this.separate();
    this.parts.push("{");
    this.first.push(true);
    return this;
  }

  endObject(): JSONWriter {
    this.first.pop();
    this.parts.push("}");
    return this;
  }

  beginArray(): JSONWriter {
    this.separate();
    this.parts.push("[");
    this.first.push(true);
    return this;
  }

  endArray(): JSONWriter {
    this.first.pop();
    this.parts.push("]");
    return this;
  }

  /// An object's key; the value follows.
  key(name: string): JSONWriter {
    this.separate();
    this.parts.push(quote(name));
    this.parts.push(":");
    // The value after a key takes no comma.
    this.first[this.first.length - 1] = true;
    return this;
  }

  string(value: string): JSONWriter {
    this.separate();
    this.parts.push(quote(value));
    return this;
  }

  nullableString(value: string | null): JSONWriter {
    if (value == null) return this.null();
    return this.string(value);
  }

  int(value: i64): JSONWriter {
    this.separate();
    this.parts.push(value.toString());
    return this;
  }

  float(value: f64): JSONWriter {
    this.separate();
    this.parts.push(value.toString());
    return this;
  }

  bool(value: bool): JSONWriter {
    this.separate();
    this.parts.push(value ? "true" : "false");
    return this;
  }

  null(): JSONWriter {
    this.separate();
    this.parts.push("null");
    return this;
  }

  /// A value already written as JSON.
  raw(json: string): JSONWriter {
    this.separate();
    this.parts.push(json);
    return this;
  }

  strings(values: string[]): JSONWriter {
    this.beginArray();
    for (let i = 0; i < values.length; i++) this.string(values[i]);
    return this.endArray();
  }

  toString(): string {
    return this.parts.join("");
  }
}

const HEX = "0123456789abcdef";

/// A JSON string literal, escaped as serde_json escapes.
export function quote(s: string): string {
  const parts: string[] = ['"'];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let escaped: string | null = null;
    if (c == 0x22) escaped = '\\"';
    else if (c == 0x5c) escaped = "\\\\";
    else if (c == 0x0a) escaped = "\\n";
    else if (c == 0x0d) escaped = "\\r";
    else if (c == 0x09) escaped = "\\t";
    else if (c == 0x08) escaped = "\\b";
    else if (c == 0x0c) escaped = "\\f";
    else if (c < 0x20) escaped = "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    if (escaped != null) {
      parts.push(s.substring(start, i));
      parts.push(escaped);
      start = i + 1;
    }
  }
  parts.push(s.substring(start));
  parts.push('"');
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// Definitions.

/// Which partitions an asset has: a `partitions` value of the definitions document.
export class Partitions {
  constructor(public json: string) {}
}

/// Hourly, daily, weekly or monthly partitions with Dagster's defaults; the options below
/// change them.
export class CadencePartitions extends Partitions {
  private tz: string | null = null;
  private fmtText: string | null = null;
  private endText: string | null = null;
  private endOffsetValue: i64 = 0;
  private minuteOffsetValue: u32 = 0;
  private hourOffsetValue: u32 = 0;
  private dayOffsetValue: i32 = -1;
  private excluded: string[] | null = null;

  constructor(public cadence: string, public start: string) {
    super("");
    this.write();
  }

  timezone(tz: string): CadencePartitions {
    this.tz = tz;
    return this.write();
  }
  fmt(fmt: string): CadencePartitions {
    this.fmtText = fmt;
    return this.write();
  }
  end(end: string): CadencePartitions {
    this.endText = end;
    return this.write();
  }
  endOffset(n: i64): CadencePartitions {
    this.endOffsetValue = n;
    return this.write();
  }
  minuteOffset(n: u32): CadencePartitions {
    this.minuteOffsetValue = n;
    return this.write();
  }
  hourOffset(n: u32): CadencePartitions {
    this.hourOffsetValue = n;
    return this.write();
  }
  dayOffset(n: u32): CadencePartitions {
    this.dayOffsetValue = <i32>n;
    return this.write();
  }
  /// Calendar days, wall times or cron schedules whose ticks are not partitions.
  exclusions(items: string[]): CadencePartitions {
    this.excluded = items;
    return this.write();
  }

  private write(): CadencePartitions {
    const w = new JSONWriter().beginObject().key("Cadence").beginObject();
    w.key("cadence").string(this.cadence).key("start").string(this.start);
    w.key("end").nullableString(this.endText).key("timezone").nullableString(this.tz);
    w.key("fmt").nullableString(this.fmtText).key("end_offset").int(this.endOffsetValue);
    w.key("minute_offset").int(this.minuteOffsetValue).key("hour_offset").int(this.hourOffsetValue);
    w.key("day_offset");
    if (this.dayOffsetValue < 0) w.null();
    else w.int(this.dayOffsetValue);
    w.key("exclusions");
    const excluded = this.excluded;
    if (excluded == null) w.null();
    else w.strings(excluded);
    this.json = w.endObject().endObject().toString();
    return this;
  }
}

export function hourly(start: string): CadencePartitions {
  return new CadencePartitions("Hourly", start);
}
export function daily(start: string): CadencePartitions {
  return new CadencePartitions("Daily", start);
}
export function weekly(start: string): CadencePartitions {
  return new CadencePartitions("Weekly", start);
}
export function monthly(start: string): CadencePartitions {
  return new CadencePartitions("Monthly", start);
}
export function staticKeys(keys: string[]): Partitions {
  return new Partitions(new JSONWriter().beginObject().key("StaticKeys").strings(keys).endObject().toString());
}
/// Keys added and removed at run time: the name of the set.
export function dynamicPartitions(name: string): Partitions {
  return new Partitions(new JSONWriter().beginObject().key("Dynamic").string(name).endObject().toString());
}
/// Any `partitions` value, written as the definitions document's JSON (multi and sparse
/// definitions, cron schedules: see the flat contract's JSON Schema).
export function rawPartitions(json: string): Partitions {
  return new Partitions(json);
}

/// How the partitions of a downstream asset depend on those of an input.
export class Mapping {
  constructor(public json: string) {}
}

export function identity(): Mapping {
  return new Mapping('"Identity"');
}
export function allPartitions(): Mapping {
  return new Mapping('"All"');
}
export function lastPartition(): Mapping {
  return new Mapping('"Last"');
}
/// Offsets count in partitions of the downstream asset.
export function timeWindow(start: i64, end: i64, allowNonexistent: bool = false): Mapping {
  const w = new JSONWriter().beginObject().key("TimeWindow").beginObject();
  w.key("start_offset").int(start).key("end_offset").int(end);
  w.key("allow_nonexistent_upstream_partitions").bool(allowNonexistent);
  return new Mapping(w.endObject().endObject().toString());
}
export function specific(keys: string[]): Mapping {
  return new Mapping(new JSONWriter().beginObject().key("Specific").strings(keys).endObject().toString());
}
/// A mapping a plugin exports, by name.
export function pluginMapping(name: string): Mapping {
  return new Mapping(new JSONWriter().beginObject().key("Plugin").string(name).endObject().toString());
}
/// Any `partition-mapping` value as JSON.
export function rawMapping(json: string): Mapping {
  return new Mapping(json);
}

class InputSpec {
  constructor(public asset: string, public mapping: Mapping | null, public allowMissing: bool) {}
}

class MetadataSpec {
  constructor(public key: string, public json: string) {}
}

function metadataValue(kind: string, value: string): string {
  return new JSONWriter().beginObject().key(kind).raw(value).endObject().toString();
}

/// An asset: what it declares and the function that computes it (none for an asset of a
/// multi-asset, whose function is the multi-asset's).
export class Asset {
  partitionsValue: Partitions | null = null;
  inputs: InputSpec[] = [];
  descriptionText: string | null = null;
  codeVersionText: string | null = null;
  metadata: MetadataSpec[] = [];
  backfillJson: string | null = null;

  constructor(public key: string, public compute: MaterializeFn | null) {}

  partitions(p: Partitions): Asset {
    this.partitionsValue = p;
    return this;
  }
  /// An upstream asset; `mapping` null: inferred as Dagster does.
  input(asset: string, mapping: Mapping | null = null, allowMissing: bool = false): Asset {
    this.inputs.push(new InputSpec(asset, mapping, allowMissing));
    return this;
  }
  description(text: string): Asset {
    this.descriptionText = text;
    return this;
  }
  codeVersion(version: string): Asset {
    this.codeVersionText = version;
    return this;
  }
  metadataText(key: string, value: string): Asset {
    this.metadata.push(new MetadataSpec(key, metadataValue("Text", quote(value))));
    return this;
  }
  metadataInt(key: string, value: i64): Asset {
    this.metadata.push(new MetadataSpec(key, metadataValue("Integer", value.toString())));
    return this;
  }
  /// One run and call per contiguous range of partitions.
  singleRun(): Asset {
    this.backfillJson = '"SingleRun"';
    return this;
  }
  /// Runs of at most `n` contiguous partitions.
  multiRun(n: u32): Asset {
    this.backfillJson = metadataValue("MultiRun", n.toString());
    return this;
  }

  write(w: JSONWriter): void {
    w.beginObject().key("key").string(this.key);
    w.key("description").nullableString(this.descriptionText);
    w.key("partitions");
    const p = this.partitionsValue;
    if (p == null) w.null();
    else w.raw(p.json);
    w.key("inputs").beginArray();
    for (let i = 0; i < this.inputs.length; i++) {
      const input = this.inputs[i];
      w.beginObject().key("asset").string(input.asset).key("mapping");
      const m = input.mapping;
      if (m == null) w.null();
      else w.raw(m.json);
      w.key("allow_missing").bool(input.allowMissing).endObject();
    }
    w.endArray();
    w.key("code_version").nullableString(this.codeVersionText);
    writeMetadata(w.key("metadata"), this.metadata);
    w.key("backfill_policy");
    const b = this.backfillJson;
    if (b == null) w.null();
    else w.raw(b);
    w.endObject();
  }
}

function writeMetadata(w: JSONWriter, entries: MetadataSpec[]): void {
  w.beginArray();
  for (let i = 0; i < entries.length; i++) {
    w.beginObject().key("key").string(entries[i].key).key("value").raw(entries[i].json).endObject();
  }
  w.endArray();
}

export type MaterializeFn = (ctx: Context, inputs: Inputs) => Output;
export type MultiFn = (ctx: Context, inputs: Inputs, out: Outputs) => void;
export type SensorFn = (ctx: SensorContext, result: SensorResult) => void;

export function asset(key: string, compute: MaterializeFn): Asset {
  return new Asset(key, compute);
}

/// One function producing several assets, which share one partitions definition.
export class MultiAsset {
  assets: Asset[] = [];
  constructor(public name: string, public compute: MultiFn) {}
  add(spec: Asset): MultiAsset {
    this.assets.push(spec);
    return this;
  }
}

export function multiAsset(name: string, compute: MultiFn): MultiAsset {
  return new MultiAsset(name, compute);
}

/// An asset of a multi-asset.
export function member(key: string): Asset {
  return new Asset(key, null);
}

export class Sensor {
  descriptionText: string | null = null;
  interval: u32 = 30;
  targetList: string[] = [];
  constructor(public name: string, public evaluate: SensorFn) {}
  description(text: string): Sensor {
    this.descriptionText = text;
    return this;
  }
  /// Seconds between evaluations, at least.
  minimumInterval(seconds: u32): Sensor {
    this.interval = seconds;
    return this;
  }
  /// Assets its run requests may target.
  targets(assets: string[]): Sensor {
    this.targetList = assets;
    return this;
  }
}

export function sensor(name: string, evaluate: SensorFn): Sensor {
  return new Sensor(name, evaluate);
}

let registeredAssets: Asset[] = [];
let registeredMulti: MultiAsset[] = [];
let registeredSensors: Sensor[] = [];

/// Registers the plugin's assets, multi-assets and sensors; call it once, at the top level.
export function plugin(assets: Asset[], multiAssets: MultiAsset[], sensors: Sensor[]): void {
  registeredAssets = assets;
  registeredMulti = multiAssets;
  registeredSensors = sensors;
}

// ---------------------------------------------------------------------------------------------
// Calls.

/// A half-open time window `[start, end)` in Unix seconds, with the UTC offsets of the
/// definition's zone at either end.
export class TimeWindow {
  constructor(public start: i64, public end: i64, public startUtcOffset: i32, public endUtcOffset: i32) {}
}

/// The call a compute function answers (the `materialize-context` document).
export class Context {
  computation: string = "";
  assets: string[] = [];
  partitionKeys: string[] = [];
  timeWindow: TimeWindow | null = null;
  runId: string = "";
  attempt: u32 = 1;
  /// Unix seconds.
  now: i64 = 0;

  /// The one partition key of the call ("" for a range or an unpartitioned asset: check
  /// `partitionKeys` when either can happen).
  partitionKey(): string {
    return this.partitionKeys.length == 1 ? this.partitionKeys[0] : "";
  }

  /// Whether the call asks for `asset` (a multi-asset's call may ask for some of its assets).
  isRequested(asset: string): bool {
    return this.assets.includes(asset);
  }
}

/// One upstream partition: its key and bytes.
export class Partition {
  constructor(public key: string, public data: ArrayBuffer) {}

  /// The bytes as UTF-8 text.
  text(): string {
    return String.UTF8.decode(this.data);
  }

  /// The bytes parsed as JSON; null when they are not JSON.
  json(): JSONValue | null {
    return parseJSON(this.text());
  }
}

/// The call's inputs: per upstream asset, the partitions it maps to.
export class Inputs {
  assets: string[] = [];
  partitions: Partition[][] = [];

  /// The partitions of `asset`, in key order (empty when it is not an input of the call).
  get(asset: string): Partition[] {
    for (let i = 0; i < this.assets.length; i++) {
      if (this.assets[i] == asset) return this.partitions[i];
    }
    return [];
  }
}

/// An asset's value for the call's selection, or the call's error.
export class Output {
  metadata: MetadataSpec[] = [];
  /// Set by `fail` and `invalid`.
  error: string | null = null;
  invalidInput: bool = false;

  constructor(public data: ArrayBuffer) {}

  static text(text: string): Output {
    return new Output(String.UTF8.encode(text));
  }

  /// A failure the host may retry.
  static fail(message: string): Output {
    const o = new Output(new ArrayBuffer(0));
    o.error = message;
    return o;
  }

  /// Invalid input: retrying will not help.
  static invalid(message: string): Output {
    const o = Output.fail(message);
    o.invalidInput = true;
    return o;
  }

  metadataText(key: string, value: string): Output {
    this.metadata.push(new MetadataSpec(key, metadataValue("Text", quote(value))));
    return this;
  }
  metadataInt(key: string, value: i64): Output {
    this.metadata.push(new MetadataSpec(key, metadataValue("Integer", value.toString())));
    return this;
  }
  metadataFloat(key: string, value: f64): Output {
    this.metadata.push(new MetadataSpec(key, metadataValue("Float", value.toString())));
    return this;
  }
}

/// What a multi-asset's function writes: an output per requested asset, for the whole
/// selection or (`putFor`) one per partition key of it.
export class Outputs {
  assets: string[] = [];
  keys: (string | null)[] = [];
  outputs: Output[] = [];
  /// Set by `fail` and `invalid`.
  error: Output | null = null;

  put(asset: string, output: Output): void {
    if (output.error != null) this.error = output;
    this.assets.push(asset);
    this.keys.push(null);
    this.outputs.push(output);
  }

  putFor(asset: string, key: string, output: Output): void {
    this.put(asset, output);
    this.keys[this.keys.length - 1] = key;
  }

  fail(message: string): void {
    this.error = Output.fail(message);
  }

  invalid(message: string): void {
    this.error = Output.invalid(message);
  }
}

/// A sensor evaluation (the `sensor-context` document).
export class SensorContext {
  sensor: string = "";
  /// What the last evaluation returned as its cursor.
  cursor: string | null = null;
  now: i64 = 0;
}

/// What a sensor evaluation returns, filled in by the sensor.
export class SensorResult {
  private requests: string[] = [];
  private dynamicChanges: string[] = [];
  skipReason: string | null = null;
  /// Null keeps the current cursor.
  cursor: string | null = null;
  error: string | null = null;

  /// A run of `assets` for the partition `key` ("" for an unpartitioned asset); the host drops
  /// a request whose run key it has launched before.
  requestRun(runKey: string, assets: string[], key: string): void {
    const w = new JSONWriter().beginObject().key("run_key").string(runKey);
    w.key("assets").strings(assets).key("partition");
    if (key.length == 0) w.string("None");
    else w.beginObject().key("Key").string(key).endObject();
    w.key("tags").beginArray().endArray().endObject();
    this.requests.push(w.toString());
  }

  skip(reason: string): void {
    this.skipReason = reason;
  }

  setCursor(cursor: string): void {
    this.cursor = cursor;
  }

  /// Fails the evaluation; the host records the failure.
  fail(message: string): void {
    this.error = message;
  }

  /// Adds keys to and deletes keys from the dynamic partitions set `name`; the host applies
  /// it before it checks the run requests.
  changeDynamic(name: string, add: string[], remove: string[]): void {
    const w = new JSONWriter().beginObject().key("name").string(name);
    w.key("add").strings(add).key("delete").strings(remove).endObject();
    this.dynamicChanges.push(w.toString());
  }

  toJSON(): string {
    const w = new JSONWriter().beginObject().key("run_requests").beginArray();
    for (let i = 0; i < this.requests.length; i++) w.raw(this.requests[i]);
    w.endArray().key("skip_reason").nullableString(this.skipReason);
    w.key("cursor").nullableString(this.cursor);
    w.key("dynamic_partitions").beginArray();
    for (let i = 0; i < this.dynamicChanges.length; i++) w.raw(this.dynamicChanges[i]);
    return w.endArray().endObject().toString();
  }
}

// ---------------------------------------------------------------------------------------------
// The host's imports.

@external("tessera", "log")
declare function hostLog(level: u32, message: usize, messageLen: usize, fields: usize, fieldsLen: usize): void;

/// A log line at `level` (0 trace, 1 debug, 2 info, 3 warn, 4 error); the host adds plugin,
/// asset, partition and run.
export function log(level: u32, message: string): void {
  const bytes = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(bytes), bytes.byteLength, 0, 0);
}

@external("tessera", "dynamic_partition_keys")
declare function hostDynamicKeys(name: usize, nameLen: usize, ret: usize): void;

/// The current keys of the dynamic partitions set `name`, in insertion order.
export function dynamicPartitionKeys(name: string): string[] {
  const bytes = String.UTF8.encode(name);
  const ret = heap.alloc(8);
  hostDynamicKeys(changetype<usize>(bytes), bytes.byteLength, ret);
  const list = <usize>load<u32>(ret);
  const count = <i32>load<u32>(ret, 4);
  const keys = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const at = list + <usize>i * 8;
    keys[i] = String.UTF8.decodeUnsafe(<usize>load<u32>(at), <usize>load<u32>(at, 4));
  }
  return keys;
}

export function info(message: string): void {
  log(2, message);
}

export function warn(message: string): void {
  log(3, message);
}

// ---------------------------------------------------------------------------------------------
// Dates: daily partition keys (`YYYY-MM-DD`) as day numbers and back.

/// Days since 1970-01-01 of a `YYYY-MM-DD` date; `i64.MIN_VALUE` when it is not one.
export function dayNumber(date: string): i64 {
  if (date.length != 10 || date.charAt(4) != "-" || date.charAt(7) != "-") return i64.MIN_VALUE;
  for (let i = 0; i < 10; i++) {
    const c = date.charCodeAt(i);
    if (i != 4 && i != 7 && (c < 0x30 || c > 0x39)) return i64.MIN_VALUE;
  }
  const y = i64.parse(date.substr(0, 4));
  const m = i64.parse(date.substr(5, 2));
  const d = i64.parse(date.substr(8, 2));
  if (m < 1 || m > 12 || d < 1 || d > 31) return i64.MIN_VALUE;
  const yy = m <= 2 ? y - 1 : y;
  const era = floorDiv(yy, 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = floorDiv(153 * mp + 2, 5) + d - 1;
  const doe = yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100) + doy;
  return era * 146097 + doe - 719468;
}

/// The `YYYY-MM-DD` date of a day number.
export function dateOf(days: i64): string {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365);
  const doy = doe - (365 * yoe + floorDiv(yoe, 4) - floorDiv(yoe, 100));
  const mp = floorDiv(5 * doy + 2, 153);
  const d = doy - floorDiv(153 * mp + 2, 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y.toString().padStart(4, "0") + "-" + m.toString().padStart(2, "0") + "-" + d.toString().padStart(2, "0");
}

function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// ---------------------------------------------------------------------------------------------
// The flat world's exports (re-export them from the plugin's entry file).

/// The return area the exports point the host at (tag, then two pointer/length pairs).
const RET: usize = memory.data(24, 8);

function text(ptr: usize, len: usize): string {
  return String.UTF8.decodeUnsafe(ptr, len);
}

/// A string the host reads: UTF-8 bytes kept alive until the instance ends (the stub runtime
/// never frees).
function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function plainString(s: string): usize {
  const b = utf8(s);
  store<u32>(RET, <u32>changetype<usize>(b));
  store<u32>(RET, <u32>b.byteLength, 4);
  return RET;
}

function result(tag: u8, doc: string): usize {
  const b = utf8(doc);
  store<u8>(RET, tag);
  store<u32>(RET, <u32>changetype<usize>(b), 4);
  store<u32>(RET, <u32>b.byteLength, 8);
  return RET;
}

function errorResult(message: string, invalidInput: bool): usize {
  const kind = invalidInput ? "InvalidInput" : "Failed";
  return result(1, new JSONWriter().beginObject().key(kind).string(message).endObject().toString());
}

export function cabi_realloc(old: usize, oldLen: usize, align: usize, newLen: usize): usize {
  // The stub runtime aligns every block to 16 bytes, more than the canonical ABI asks.
  const block = heap.alloc(newLen);
  if (old != 0) memory.copy(block, old, min(oldLen, newLen));
  return block;
}

export function tessera_definitions(): usize {
  const w = new JSONWriter().beginObject().key("computations").beginArray();
  for (let i = 0; i < registeredAssets.length; i++) {
    const a = registeredAssets[i];
    w.beginObject().key("name").string(a.key).key("assets").beginArray();
    a.write(w);
    w.endArray().endObject();
  }
  for (let i = 0; i < registeredMulti.length; i++) {
    const m = registeredMulti[i];
    w.beginObject().key("name").string(m.name).key("assets").beginArray();
    for (let j = 0; j < m.assets.length; j++) m.assets[j].write(w);
    w.endArray().endObject();
  }
  w.endArray().key("sensors").beginArray();
  for (let i = 0; i < registeredSensors.length; i++) {
    const s = registeredSensors[i];
    w.beginObject().key("name").string(s.name).key("description").nullableString(s.descriptionText);
    w.key("minimum_interval_seconds").int(s.interval).key("targets").strings(s.targetList).endObject();
  }
  return plainString(w.endArray().endObject().toString());
}

function readContext(doc: JSONValue): Context {
  const ctx = new Context();
  ctx.computation = doc.getString("computation");
  ctx.assets = doc.getStrings("assets");
  ctx.partitionKeys = doc.getStrings("partition_keys");
  const w = doc.get("time_window");
  if (w != null && !w.isNull) {
    ctx.timeWindow = new TimeWindow(
      <i64>w.getNumber("start"),
      <i64>w.getNumber("end"),
      <i32>w.getNumber("start_utc_offset"),
      <i32>w.getNumber("end_utc_offset"),
    );
  }
  ctx.runId = doc.getString("run_id");
  ctx.attempt = <u32>doc.getNumber("attempt", 1);
  ctx.now = <i64>doc.getNumber("now");
  return ctx;
}

export function tessera_materialize(
  contextPtr: usize,
  contextLen: usize,
  inputsPtr: usize,
  inputsLen: usize,
  dataPtr: usize,
  dataLen: usize,
): usize {
  const contextDoc = parseJSON(text(contextPtr, contextLen));
  const inputsDoc = parseJSON(text(inputsPtr, inputsLen));
  if (contextDoc == null || inputsDoc == null) return errorResult("the host sent a document that is not JSON", true);
  const ctx = readContext(contextDoc);
  const inputs = new Inputs();
  let next: usize = 0;
  for (let i = 0; i < inputsDoc.items.length; i++) {
    const input = inputsDoc.items[i];
    const keys = input.getStrings("partitions");
    const parts = new Array<Partition>(keys.length);
    for (let k = 0; k < keys.length; k++) {
      if (next >= dataLen) return errorResult("the inputs document names more partitions than the data holds", true);
      const ptr = load<u32>(dataPtr + next * 8);
      const len = load<u32>(dataPtr + next * 8, 4);
      const bytes = new ArrayBuffer(<i32>len);
      memory.copy(changetype<usize>(bytes), ptr, len);
      parts[k] = new Partition(keys[k], bytes);
      next++;
    }
    inputs.assets.push(input.getString("asset"));
    inputs.partitions.push(parts);
  }
  const out = new Outputs();
  let found = false;
  for (let i = 0; i < registeredAssets.length; i++) {
    const a = registeredAssets[i];
    if (a.key == ctx.computation) {
      const compute = a.compute;
      if (compute != null) {
        out.put(a.key, compute(ctx, inputs));
        found = true;
      }
    }
  }
  for (let i = 0; i < registeredMulti.length; i++) {
    const m = registeredMulti[i];
    if (m.name == ctx.computation) {
      const compute = m.compute;
      compute(ctx, inputs, out);
      found = true;
    }
  }
  if (!found) return errorResult("no computation " + ctx.computation, true);
  const failed = out.error;
  if (failed != null) return errorResult(<string>failed.error, failed.invalidInput);
  const w = new JSONWriter().beginArray();
  const lists = heap.alloc(out.outputs.length * 8);
  for (let i = 0; i < out.outputs.length; i++) {
    const o = out.outputs[i];
    w.beginObject().key("asset").string(out.assets[i]).key("partition").nullableString(out.keys[i]);
    writeMetadata(w.key("metadata"), o.metadata);
    w.endObject();
    store<u32>(lists + i * 8, <u32>changetype<usize>(o.data));
    store<u32>(lists + i * 8, <u32>o.data.byteLength, 4);
  }
  const doc = utf8(w.endArray().toString());
  store<u8>(RET, 0);
  store<u32>(RET, <u32>changetype<usize>(doc), 4);
  store<u32>(RET, <u32>doc.byteLength, 8);
  store<u32>(RET, <u32>lists, 12);
  store<u32>(RET, <u32>out.outputs.length, 16);
  return RET;
}

export function tessera_evaluate_sensor(contextPtr: usize, contextLen: usize): usize {
  const doc = parseJSON(text(contextPtr, contextLen));
  if (doc == null) return errorResult("the host sent a document that is not JSON", true);
  const ctx = new SensorContext();
  ctx.sensor = doc.getString("sensor");
  const cursor = doc.get("cursor");
  if (cursor != null && cursor.kind == Kind.String) ctx.cursor = cursor.string;
  ctx.now = <i64>doc.getNumber("now");
  for (let i = 0; i < registeredSensors.length; i++) {
    const s = registeredSensors[i];
    if (s.name == ctx.sensor) {
      const r = new SensorResult();
      const evaluate = s.evaluate;
      evaluate(ctx, r);
      const failed = r.error;
      if (failed != null) return errorResult(failed, false);
      return result(0, r.toJSON());
    }
  }
  return errorResult("no sensor " + ctx.sensor, true);
}

/// What `--use abort=` points at: a failed assertion or an out-of-bounds access logs where it
/// happened and traps (the host reports the trap).
export function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  log(4, (message != null ? message : "abort") + " at " + (file != null ? file : "?") + ":" + line.toString() + ":" + column.toString());
  unreachable();
}
