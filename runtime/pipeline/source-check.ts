/**
 * What a stream source's records must be before they enter the pipeline: JSON objects, with a
 * readable event time when the source says where it is, and values of the types its `fields`
 * declare. A record that is not goes to the dead-letter stream with its reason, the error and,
 * for a file line, its origin (`file:line`), counted per `<source>/<reason>`; the job goes on.
 * The check wraps the source's reader, so it is one code path for local generators and files and
 * for Kafka sources on a cluster. It runs before the engine assigns event time: a rejected record
 * never moves the watermark (it carries the highest event time its partition has seen), and a
 * router right after the source sends it to the dead-letter stream. A broadcast source has no
 * router — every task reads it in full, so its dead letters would be written once per task — and
 * counts its rejected records as dropped instead.
 */
import type { Context } from "../api/functions.ts";
import type { FileOrigin } from "../connectors/file.ts";
import type { ReadResult, Source, SourceReader } from "../connectors/types.ts";
import type { EventTime, Source as SourceSpec, Step } from "../spec/generated/types.ts";
import { parseDeclaredType } from "../cel/types.ts";
import { claimUid, counter, DEAD_LETTER_TAG, type CompileContext, type Handle } from "./context.ts";
import { recordFn } from "./expr.ts";
import { internalized, isRecord } from "./readers.ts";
import { pooledCheckLoop, unrolledFieldCheck, type FieldOk, type LoopState } from "./source-check-pools.ts";
import { processStep } from "./stages.ts";
import { toNumber } from "./values.ts";

/** Why a source rejected a record (the dead letter's `reason`). */
export type SourceRejection = "invalid-json" | "not-an-object" | "event-time" | "field-type";

const REASONS: readonly SourceRejection[] = ["invalid-json", "not-an-object", "event-time", "field-type"];

/** The line of its file a record came from (non-enumerable, like the generator's timestamp). */
const LINE: unique symbol = Symbol("runnel.line");

/** A record its source rejected, on its way from the reader to the source's router. */
class Rejected {
  readonly reason: SourceRejection;
  readonly error: string;
  readonly record: unknown;
  readonly origin: string | undefined;
  constructor(reason: SourceRejection, error: string, record: unknown, origin: string | undefined) {
    this.reason = reason;
    this.error = error;
    this.record = record;
    this.origin = origin;
  }
}

function rejected(reason: SourceRejection, error: string, record: unknown, origin: string | undefined): Rejected {
  return new Rejected(reason, error, record, origin);
}

function isRejected(r: unknown): r is Rejected {
  return r instanceof Rejected;
}

/** What JSON.parse made of a line, in words. */
function kindOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? "a string" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** The parse of a pipeline's ndjson source: a JSON object noting its line, else a rejected record (never throws). */
export function jsonObjectLines(): (line: string, origin: FileOrigin) => unknown {
  return (line, origin) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      return rejected("invalid-json", `not JSON: ${(err as Error).message}`, line, `${origin.path}:${origin.line}`);
    }
    if (!isRecord(v)) return rejected("not-an-object", `the line is JSON but ${kindOf(v)}, not an object`, v, `${origin.path}:${origin.line}`);
    Object.defineProperty(v, LINE, { value: origin.line, enumerable: false });
    return v;
  };
}

/** How a source reads event time: NaN when a record has none; `explain` says why, for the dead letter. */
export interface EventTimeReader {
  read: (r: unknown) => number;
  explain: (r: unknown) => string;
  /** Set when `read` is this field's value in epoch millis (the source check reads it inline). */
  field?: string;
}

/** Reads event time as the spec says: a field or an expression, in epoch millis or seconds or ISO-8601. */
export function eventTimeReader(t: EventTime, path: string): EventTimeReader {
  const format = t.format ?? "epoch-millis";
  const field = t.field === undefined ? undefined : internalized(t.field);
  const expression = t.expression === undefined ? undefined : recordFn(t.expression, `${path}.timestamp.expression`, "int");
  const raw = (r: unknown): unknown => (field !== undefined ? (r as Record<string, unknown>)[field] : expression?.(r, null));
  const convert =
    format === "iso-8601"
      ? (v: unknown) => (typeof v === "string" ? Date.parse(v) : Number.NaN)
      : format === "epoch-seconds"
        ? (v: unknown) => toNumber(v) * 1000
        : toNumber;
  const explain = (r: unknown): string => {
    const where = field !== undefined ? `event-time field ${JSON.stringify(t.field)}` : `event-time expression ${JSON.stringify(t.expression)}`;
    let v: unknown;
    try {
      v = raw(r);
    } catch (err) {
      return `${where} failed: ${(err as Error).message}`;
    }
    if (v === undefined || v === null) return `${where} is missing`;
    return `${where} is ${JSON.stringify(typeof v === "bigint" ? v.toString() : v)}, not ${format === "iso-8601" ? "an ISO-8601 time" : `a number (${format})`}`;
  };
  if (field !== undefined && format === "epoch-millis") {
    // The common case, without the general path's conversions.
    return {
      read: (r) => {
        const v = (r as Record<string, unknown>)[field];
        return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : Number.NaN;
      },
      explain,
      field,
    };
  }
  return {
    read: (r) => {
      try {
        return convert(raw(r));
      } catch {
        return Number.NaN;
      }
    },
    explain,
  };
}

/** Checks one value against a declared type; `coerce` may convert it first (returns the value to keep, or NOT_OF_TYPE). */
type TypeCheck = (v: unknown) => unknown;
const NOT_OF_TYPE: unique symbol = Symbol("not of type");

const INT_TEXT = /^-?[0-9]+$/;
const NUMBER_TEXT = /^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

/** A check of a declared CEL type on JSON values; undefined for `dyn` and types JSON cannot be checked against. */
function typeCheck(type: string, coerce: boolean): TypeCheck | undefined {
  switch (type) {
    case "string":
      return coerce
        ? (v) => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : typeof v === "bigint" ? v.toString() : NOT_OF_TYPE)
        : (v) => (typeof v === "string" ? v : NOT_OF_TYPE);
    case "int":
      return (v) => {
        if ((typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint") return v;
        if (coerce && typeof v === "string" && INT_TEXT.test(v.trim()) && Number.isSafeInteger(Number(v))) return Number(v);
        return NOT_OF_TYPE;
      };
    case "double":
      return (v) => {
        if (typeof v === "number" || typeof v === "bigint") return v;
        if (coerce && typeof v === "string" && NUMBER_TEXT.test(v.trim())) return Number(v);
        return NOT_OF_TYPE;
      };
    case "bool":
      return (v) => (typeof v === "boolean" ? v : coerce && (v === "true" || v === "false") ? v === "true" : NOT_OF_TYPE);
    case "timestamp":
      return (v) => ((typeof v === "string" && Number.isFinite(Date.parse(v))) || (typeof v === "number" && Number.isFinite(v)) ? v : NOT_OF_TYPE);
    case "bytes":
    case "duration":
      return (v) => (typeof v === "string" ? v : NOT_OF_TYPE);
  }
  const list = /^list(?:<(.+)>)?$/.exec(type);
  if (list) {
    const element = list[1] === undefined ? undefined : typeCheck(list[1], false);
    return (v) => (Array.isArray(v) && (element === undefined || v.every((x) => x === null || element(x) !== NOT_OF_TYPE)) ? v : NOT_OF_TYPE);
  }
  const map = /^map(?:<[a-z]+, (.+)>)?$/.exec(type);
  if (map) {
    const value = map[1] === undefined ? undefined : typeCheck(map[1], false);
    return (v) => (isRecord(v) && (value === undefined || Object.values(v).every((x) => x === null || value(x) !== NOT_OF_TYPE)) ? v : NOT_OF_TYPE);
  }
  return undefined;
}

/** A source's check of its declared fields: `ok` on every record, `problem` to say why one fails. */
export interface FieldTypeCheck {
  /** Whether the record passes (values converted in place with `coerce`). */
  ok: (r: Record<string, unknown>) => boolean;
  /** The problem of a record, or undefined when it is fine. */
  problem: (r: Record<string, unknown>) => string | undefined;
}

/** Whether a present value has a scalar type, inline for the common types. */
function scalarOk(type: string): FieldOk | undefined {
  switch (type) {
    case "string":
      return (v) => typeof v === "string";
    case "double":
      return (v) => typeof v === "number" || typeof v === "bigint";
    case "int":
      return (v) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
    case "bool":
      return (v) => typeof v === "boolean";
    default:
      return undefined;
  }
}

/**
 * Checks a record's declared fields: absent and null ones pass (`has()` is how expressions ask);
 * present ones must have their type, after conversion with `coerce`. Enforcing runs on every
 * record, so up to 8 fields are checked one by one from a literal of the source's own
 * (source-check-pools.ts); `key` names the source.
 */
export function fieldTypeCheck(fields: Readonly<Record<string, string>>, coerce: boolean, key = ""): FieldTypeCheck | undefined {
  const declared = Object.entries(fields)
    .map(([name, text]) => [internalized(name), text, parseDeclaredType(text)] as const)
    .filter((f): f is readonly [string, string, string] => f[2] !== undefined && typeCheck(f[2], coerce) !== undefined);
  if (declared.length === 0) return undefined;
  const problem = (name: string, v: unknown): string =>
    `field ${JSON.stringify(name)} is ${JSON.stringify(typeof v === "bigint" ? v.toString() : v)}, not ${fields[name] ?? "its declared type"}${coerce ? " (nor convertible to it)" : ""}`;
  const checks = declared.map(([name, , type]) => [name, typeCheck(type, coerce) as TypeCheck] as const);
  if (coerce) {
    const find = (r: Record<string, unknown>): string | undefined => {
      for (const [name, check] of checks) {
        const v = r[name];
        if (v === undefined || v === null) continue;
        const kept = check(v);
        if (kept === NOT_OF_TYPE) return problem(name, v);
        if (kept !== v) r[name] = kept;
      }
      return undefined;
    };
    return { ok: (r) => find(r) === undefined, problem: find };
  }
  const oks = declared.map(([name, , type]): readonly [string, FieldOk] => {
    const check = typeCheck(type, false) as TypeCheck;
    return [name, scalarOk(type) ?? ((v) => check(v) !== NOT_OF_TYPE)];
  });
  const failing =
    unrolledFieldCheck(key, oks) ??
    ((r: Record<string, unknown>): number => {
      for (let i = 0; i < oks.length; i++) {
        const [name, ok] = oks[i] as readonly [string, FieldOk];
        const v = r[name];
        if (v !== undefined && v !== null && !ok(v)) return i;
      }
      return -1;
    });
  return {
    ok: (r) => failing(r) < 0,
    problem: (r) => {
      const i = failing(r);
      if (i < 0) return undefined;
      const name = (oks[i] as readonly [string, FieldOk])[0];
      return problem(name, r[name]);
    },
  };
}

/** What a checked source does with each record. */
interface RecordCheck {
  time: (r: unknown) => number;
  explainTime: ((r: unknown) => string) | undefined;
  fields: FieldTypeCheck | undefined;
  /** The event-time field read inline by the batch loop (epoch millis), or "". */
  timeField: string;
  /** The origin text of a record that does not carry one (a file line). */
  origin: (r: unknown) => string | undefined;
  /** Rejected records leave the stream here, counted (a broadcast source); otherwise they go on to the router. */
  drop: ((reason: SourceRejection) => void) | undefined;
}

/** Why a record that is no rejected record already fails the check (its event time read aside). */
function problemOf(v: unknown, check: RecordCheck): Rejected | undefined {
  if (!isRecord(v)) return rejected("not-an-object", `the record is ${kindOf(v)}, not an object`, v, check.origin(v));
  const problem = check.fields?.problem(v);
  return problem === undefined ? undefined : rejected("field-type", problem, v, check.origin(v));
}

/** Wraps a source so each batch is checked and carries its event times (see the module comment); `key` names the source. */
function checkedSource(source: Source<unknown>, check: RecordCheck, parsedLines: boolean, key: string): Source<unknown> {
  const { fields, drop } = check;
  const loop = pooledCheckLoop(key, {
    fieldsOk: fields?.ok ?? (() => true),
    timeField: check.timeField,
    time: check.time,
    // Only a file's lines can arrive rejected already.
    reject: (v) => (parsedLines && isRejected(v) ? v : (problemOf(v, check) ?? rejected("not-an-object", "the record was rejected", v, check.origin(v)))),
    rejectTime: (v) => rejected("event-time", check.explainTime?.(v) ?? "no event time", v, check.origin(v)),
    rejected: Rejected,
    drop: drop ? (bad) => drop((bad as Rejected).reason) : undefined,
  });
  return {
    name: source.name,
    partitions: source.partitions,
    async open(partition, position): Promise<SourceReader<unknown>> {
      const reader = await source.open(partition, position);
      // Rejected records take the highest event time seen so far: they never move the watermark.
      const state: LoopState = { highest: 0, timestamps: [] };
      const checked: SourceReader<unknown> = {
        async read(max): Promise<ReadResult<unknown>> {
          const r = await reader.read(max);
          // The batch is the reader's to hand over: checked in place.
          r.timestamps = loop(r, state);
          return r;
        },
        position: () => reader.position(),
        close: () => reader.close(),
      };
      if (reader.watermark) checked.watermark = () => (reader.watermark as NonNullable<SourceReader<unknown>["watermark"]>)();
      return checked;
    },
  };
}

/**
 * Checks a compiled stream or broadcast source: wraps `source` and, for stream sources, adds the
 * router that sends rejected records to the dead-letter stream. Returns the source to read and a
 * function that turns the source's handle into the one steps read. Nothing is added when nothing
 * can be rejected (a generator without declared fields or event time).
 */
export function checkSource(
  ctx: CompileContext,
  spec: SourceSpec,
  path: string,
  source: Source<unknown>,
  options: { time: (r: unknown) => number; file?: string },
): { source: Source<unknown>; route: (h: Handle) => Handle } {
  const time = spec.timestamp ? eventTimeReader(spec.timestamp, path) : undefined;
  const key = `${spec.id}\u0000${JSON.stringify(spec.fields ?? {})}\u0000${spec.timestamp?.field ?? ""}`;
  const fields = spec.fields ? fieldTypeCheck(spec.fields, spec.fieldTypes === "coerce", key) : undefined;
  if (!time && !fields && options.file === undefined) return { source, route: (h) => h };
  const broadcast = spec.mode === "broadcast";
  const drops = new Map(REASONS.map((r) => [r, counter(ctx.metrics.dropped, `${spec.id}/${r}`)]));
  const file = options.file;
  const check: RecordCheck = {
    time: time?.read ?? options.time,
    timeField: time?.field ?? "",
    explainTime: time?.explain,
    fields,
    origin:
      file === undefined
        ? () => undefined
        : (r) => ((r as { [LINE]?: number } | null)?.[LINE] === undefined ? undefined : `${file}:${(r as { [LINE]: number })[LINE]}`),
    drop: broadcast ? (reason) => drops.get(reason)?.() : undefined,
  };
  const checked = checkedSource(source, check, file !== undefined, key);
  if (broadcast) return { source: checked, route: (h) => h };
  return {
    source: checked,
    route: (h) => {
      // The router is a stage like a step's: the source's sole reader fuses after it.
      const dead = new Map(REASONS.map((r) => [r, counter(ctx.metrics.deadLetters, `${spec.id}/${r}`)]));
      const router = { id: spec.id, uid: claimUid(ctx, `${spec.id}.checked`, path), input: spec.id } as Step;
      const send = (c: Context, r: Rejected): void => {
        dead.get(r.reason)?.();
        c.output(DEAD_LETTER_TAG, {
          step: spec.id,
          reason: r.reason,
          error: r.error,
          record: r.record,
          ...(r.origin === undefined ? {} : { origin: r.origin }),
        });
      };
      const stream = processStep(ctx, router, h, (r, _k, c, out) => (isRejected(r) ? send(c, r) : out.collect(r)));
      const stage = ctx.stages.get(stream);
      return { ...h, stream, ...(stage ? { stage } : {}) };
    },
  };
}
