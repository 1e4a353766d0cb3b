/**
 * The declarative keyed process function: declared value/list/map state, actions per record
 * (guarded by `when`; set, put, remove, append, clear, emit, schedule, cancel) and named timers
 * (event or processing time, optionally periodic with `every`). Actions run in order and later
 * ones see earlier updates, because they share one `state` view built per record.
 */
import type { Context, Key, KeyedContext, KeyedProcessFunction, ListState, MapState, OnTimerContext, RuntimeContext, ValueState } from "../api/functions.ts";
import { OutputTag } from "../api/output-tag.ts";
import type { CompiledExpression } from "../cel/compile.ts";
import { parseDuration } from "../spec/duration.ts";
import type { ProcessAction, StateDeclaration, Step } from "../spec/generated/types.ts";
import { onErrorPolicy, stepUid, type CompileContext, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { celExpression, fieldsFn } from "./expr.ts";
import { keyedInput } from "./steps-window.ts";
import { KEY, toNumber, type Rec } from "./values.ts";

const VARS = ["record", "key", "state", "timer", "watermark"] as const;

type Scope = Record<string, unknown> & {
  record: unknown;
  key: unknown;
  state: Record<string, unknown>;
  timer: unknown;
  /** The step's current watermark (epoch ms, CEL int; far below any event time before the first, clamped to the safe integers). */
  watermark: bigint;
};

/** The operator's watermark as CEL sees it; the bigint is made again only when the watermark moved (not per record). */
function watermarkReader(): (c: Context) => bigint {
  let last = Number.NaN;
  let value = 0n;
  return (c) => {
    const wm = c.currentWatermark();
    if (wm !== last) {
      last = wm;
      value = BigInt(Math.trunc(Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, wm))));
    }
    return value;
  };
}

type Handles = Map<string, { decl: StateDeclaration; value?: ValueState<unknown>; list?: ListState<unknown>; map?: MapState<string, unknown> }>;

/** One compiled action: runs against the scope, the state handles and the timer service. */
type Action = (scope: Scope, h: Handles, timers: TimerOps, c: Context, emit: (rec: Rec, to: OutputTag<unknown> | undefined) => void) => void;

interface TimerOps {
  schedule(name: string, at: number): void;
  cancel(name: string): void;
  base(name: string): number;
}

function compileAction(a: ProcessAction, path: string, stepId: string, timerNames: Set<string>): Action {
  const e = (src: string, p: string, returns: "dyn" | "bool" | "string" | "int" = "dyn"): CompiledExpression =>
    celExpression(src, `${path}.${p}`, returns, VARS);
  const when = a.when === undefined ? undefined : e(a.when, "when", "bool");
  const set = Object.entries(a.set ?? {}).map(([n, src]) => [n, e(src, `set.${n}`)] as const);
  const put = a.put ? { state: a.put.state, key: e(a.put.key, "put.key", "string"), value: e(a.put.value, "put.value") } : undefined;
  const remove = a.remove ? { state: a.remove.state, key: e(a.remove.key, "remove.key", "string") } : undefined;
  const append = a.append ? { state: a.append.state, value: e(a.append.value, "append.value") } : undefined;
  const clear = a.clear ?? [];
  const emit = a.emit ? fieldsFn(a.emit, `${path}.emit`, VARS) : undefined;
  const emitTo = a.emitTo === undefined ? undefined : new OutputTag<unknown>(`${stepId}.${a.emitTo}`);
  const sched = a.schedule;
  if (sched && !timerNames.has(sched.timer)) throw new PipelineError(`${path}.schedule.timer`, `no timer ${JSON.stringify(sched.timer)} is declared`);
  const at = sched?.at === undefined ? undefined : e(sched.at, "schedule.at", "int");
  const after = sched?.after === undefined ? undefined : parseDuration(sched.after);
  return (scope, h, timers, _c, doEmit) => {
    if (when && when.evaluate(scope) !== true) return;
    for (const [n, ex] of set) {
      const v = ex.evaluate(scope);
      h.get(n)?.value?.update(v);
      scope.state[n] = v;
    }
    if (put) {
      const k = String(put.key.evaluate(scope));
      const v = put.value.evaluate(scope);
      const m = h.get(put.state);
      m?.map?.put(k, v);
      const max = m?.decl.maxSize;
      if (m?.map && max !== undefined && m.map.size() > max) m.map.remove((m.map.entries().next().value as [string, unknown])[0]);
      (scope.state[put.state] as Record<string, unknown>)[k] = v;
    }
    if (remove) {
      const k = String(remove.key.evaluate(scope));
      h.get(remove.state)?.map?.remove(k);
      delete (scope.state[remove.state] as Record<string, unknown>)[k];
    }
    if (append) {
      const v = append.value.evaluate(scope);
      const l = h.get(append.state);
      l?.list?.add(v);
      const max = l?.decl.maxSize;
      if (l?.list && max !== undefined && l.list.get().length > max) l.list.update(l.list.get().slice(-max));
      (scope.state[append.state] as unknown[]).push(v);
    }
    for (const n of clear) {
      const s = h.get(n);
      s?.value?.clear();
      s?.list?.clear();
      s?.map?.clear();
      scope.state[n] = s?.list ? [] : s?.map ? {} : null;
    }
    if (emit) {
      const rec: Rec = emit(scope);
      rec[KEY] = scope.key;
      doEmit(rec, emitTo);
    }
    if (sched) timers.schedule(sched.timer, at ? toNumber(at.evaluate(scope)) : timers.base(sched.timer) + (after ?? 0));
    if (a.cancel !== undefined) timers.cancel(a.cancel);
  };
}

/** process: a keyed process function written as state declarations, actions and timers. */
export function compileProcess(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const p = step.process as NonNullable<Step["process"]>;
  const decls = p.state ?? [];
  const timerDecls = p.timers ?? [];
  const timerNames = new Set(timerDecls.map((t) => t.name));
  const onRecord = p.onRecord.map((a, i) => compileAction(a, `${path}.process.onRecord[${i}]`, step.id, timerNames));
  const timers = timerDecls.map((t, i) => ({
    name: t.name,
    processing: t.domain === "processing-time",
    every: t.every === undefined ? undefined : parseDuration(t.every),
    actions: t.actions.map((a, j) => compileAction(a, `${path}.process.timers[${i}].actions[${j}]`, step.id, timerNames)),
  }));
  const initial = new Map(
    decls
      .filter((d) => d.initial !== undefined)
      .map((d, i) => [d.name, celExpression(d.initial as string, `${path}.process.state[${i}].initial`, "dyn", ["key"])]),
  );
  const onError = onErrorPolicy(ctx, step);
  const sideTags = new Map<string, OutputTag<unknown>>();
  for (const a of [...p.onRecord, ...timerDecls.flatMap((t) => t.actions)])
    if (a.emitTo !== undefined) sideTags.set(a.emitTo, new OutputTag<unknown>(`${step.id}.${a.emitTo}`));

  const factory = (rt: RuntimeContext): KeyedProcessFunction<Key, unknown, unknown> => {
    const h: Handles = new Map();
    for (const d of decls) {
      const opts = { name: d.name, ...(d.ttl === undefined ? {} : { ttl: { ttlMs: parseDuration(d.ttl) } }) };
      if (d.kind === "value") h.set(d.name, { decl: d, value: rt.valueState(opts) });
      else if (d.kind === "list") h.set(d.name, { decl: d, list: rt.listState(opts) });
      else h.set(d.name, { decl: d, map: rt.mapState<string, unknown>(opts) });
    }
    // Timers fire without a record: the key as CEL saw it and each timer's due time are kept per key.
    const watermarkOf = watermarkReader();
    const rawKey = rt.valueState<unknown>({ name: "__key" });
    const due = new Map(timers.map((t) => [t.name, rt.valueState<number>({ name: `__timer.${t.name}` })]));
    let current: KeyedContext<Key>;
    const ops: TimerOps = {
      base: (name) => (timers.find((t) => t.name === name)?.processing ? current.timerService().currentProcessingTime() : current.timestamp()),
      schedule(name, at) {
        const t = timers.find((x) => x.name === name);
        const st = due.get(name);
        if (!t || !st) return;
        const ts = current.timerService();
        const prev = st.value();
        if (prev !== undefined && t.processing) ts.deleteProcessingTimeTimer(prev);
        else if (prev !== undefined) ts.deleteEventTimeTimer(prev);
        st.update(at);
        if (t.processing) ts.registerProcessingTimeTimer(at);
        else ts.registerEventTimeTimer(at);
      },
      cancel(name) {
        const t = timers.find((x) => x.name === name);
        const st = due.get(name);
        const prev = st?.value();
        if (!t || !st || prev === undefined) return;
        if (t.processing) current.timerService().deleteProcessingTimeTimer(prev);
        else current.timerService().deleteEventTimeTimer(prev);
        st.clear();
      },
    };
    const view = (key: unknown): Record<string, unknown> => {
      const s: Record<string, unknown> = {};
      for (const [name, x] of h) {
        if (x.value) s[name] = x.value.value() ?? initial.get(name)?.evaluate({ key }) ?? null;
        else if (x.list) s[name] = x.list.get().slice();
        else if (x.map) s[name] = Object.fromEntries(x.map.entries());
      }
      return s;
    };
    const run = (actions: Action[], scope: Scope, c: Context, out: { collect(v: unknown): void }): void => {
      const emit = (rec: Rec, to: OutputTag<unknown> | undefined): void => (to ? c.output(to, rec) : out.collect(rec));
      for (const a of actions) a(scope, h, ops, c, emit);
    };
    return {
      processElement(record, c, out) {
        current = c;
        const key = (record as Rec)[KEY] ?? null;
        try {
          if (timers.length > 0) rawKey.update(key);
          run(onRecord, { record, key, state: view(key), timer: null, watermark: watermarkOf(c) }, c, out);
          for (const t of timers) if (t.every !== undefined && due.get(t.name)?.value() === undefined) ops.schedule(t.name, ops.base(t.name) + t.every);
        } catch (err) {
          onError(err, record, c);
        }
      },
      onTimer(ts, c: OnTimerContext<Key>, out) {
        current = c;
        const key = rawKey.value() ?? null;
        const domain = c.timeDomain();
        for (const t of timers) {
          const st = due.get(t.name);
          if (t.processing !== (domain === "processing") || st?.value() !== ts) continue;
          st.clear();
          run(t.actions, { record: null, key, state: view(key), timer: { name: t.name, timestamp: BigInt(ts) }, watermark: watermarkOf(c) }, c, out);
          if (t.every !== undefined) ops.schedule(t.name, ts + t.every);
        }
      },
    };
  };
  const stream = keyedInput(input, step, path).process<unknown>(factory, { uid: stepUid(step), name: step.id });
  ctx.deadLetterProducers.push(stream);
  // Emitted in the key's task: a downstream keyed step on the same key stays there.
  ctx.handles.set(step.id, { stream, keyed: true, colocated: true });
  for (const [name, tag] of sideTags) ctx.handles.set(`${step.id}.${name}`, { stream: stream.getSideOutput(tag), keyed: true, colocated: true });
}
