/**
 * Steps with state beyond windows: dedup (keyed state with TTL) and broadcast rules (rules in
 * broadcast state, their CEL conditions compiled once when a rule arrives). Lookup joins are in
 * steps-lookup.ts.
 */
import type { Key, KeyedBroadcastProcessFunction, KeyedProcessFunction } from "../api/functions.ts";
import type { CompiledExpression } from "../cel/compile.ts";
import { parseDuration } from "../spec/duration.ts";
import type { Step } from "../spec/generated/types.ts";
import { counter, deadLetterSender, onErrorPolicy, stepUid, streamOf, type CompileContext, type Handle } from "./context.ts";
import { celExpression, errorText, fieldsFn, recordFn } from "./expr.ts";
import { carryKey, KEY, keyOf, toKey, type Rec } from "./values.ts";
import { RecordError } from "../errors.ts";

const INVALID = "\u0000invalid";

/** dedup: drops a record whose dedup key (per stream key) was seen within `within` of event time. */
export function compileDedup(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const d = step.dedup as NonNullable<Step["dedup"]>;
  const key = recordFn(d.key, `${path}.dedup.key`);
  const within = parseDuration(d.within);
  const onError = onErrorPolicy(ctx, step);
  const duplicate = counter(ctx.metrics.dropped, `${step.id}/duplicate`);
  const partitionKey = (r: unknown): Key => {
    try {
      const dk = toKey(key(r, keyOf(r)));
      const k = (r as Rec)[KEY];
      return k === undefined ? dk : `${toKey(k)}\u0000${dk}`;
    } catch {
      return INVALID;
    }
  };
  const stream = input.stream.keyBy(partitionKey).process<unknown>(
    (rt): KeyedProcessFunction<Key, unknown, unknown> => {
      const seen = rt.valueState<number>({ name: "seen", ttl: { ttlMs: within } });
      return {
        processElement(r, c, out) {
          if (c.key() === INVALID) {
            try {
              key(r, keyOf(r));
            } catch (err) {
              onError(err, r, c);
            }
            return;
          }
          const ts = c.timestamp();
          const first = seen.value();
          if (first !== undefined && ts >= first && ts - first < within) return duplicate();
          seen.update(ts);
          out.collect(r);
        },
      };
    },
    { uid: stepUid(step), name: step.id },
  );
  ctx.deadLetterProducers.push(stream);
  ctx.handles.set(step.id, { stream, keyed: input.keyed });
}

/** broadcastRules: applies the current rules of a broadcast source to every record, rules changing at run time. */
export function compileBroadcastRules(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const b = step.broadcastRules as NonNullable<Step["broadcastRules"]>;
  const rulesHandle = streamOf(ctx, b.rules, `${path}.broadcastRules.rules`);
  const ruleId = celExpression(b.ruleId ?? "rule.id", `${path}.broadcastRules.ruleId`, "dyn", ["rule"]);
  const deleteWhen = b.deleteWhen === undefined ? undefined : celExpression(b.deleteWhen, `${path}.broadcastRules.deleteWhen`, "bool", ["rule"]);
  const fixed = b.condition === undefined ? undefined : celExpression(b.condition, `${path}.broadcastRules.condition`, "bool", ["record", "key", "rule"]);
  const field = b.conditionField;
  const all = b.match === "all";
  const pass = b.unmatched === "pass";
  const emit = b.emit ? fieldsFn(b.emit, `${path}.broadcastRules.emit`, ["record", "key", "rule"]) : undefined;
  const onError = onErrorPolicy(ctx, step);
  const unmatched = counter(ctx.metrics.dropped, `${step.id}/unmatched`);
  const invalidRule = deadLetterSender(ctx, step.id, "invalid-rule");
  // Every task gets the same rule record: log it once per process, when the first task applies it.
  const log = ctx.options.log?.child({ step: step.id });
  const logged = new WeakSet<object>();
  const note = (rule: unknown, text: string, count: number): void => {
    if (!log || rule === null || typeof rule !== "object" || logged.has(rule)) return;
    logged.add(rule);
    log.info(`${text}; ${count} rule${count === 1 ? "" : "s"} in force`);
  };
  // A non-keyed input has no key to partition by: spread records over tasks in arrival order (deterministic).
  let spread = 0;
  const keyed = input.keyed
    ? input.stream.keyBy((r) => toKey((r as Rec)[KEY]), { colocated: input.colocated === true })
    : input.stream.keyBy(() => spread++ % 1024);
  const stream = keyed.connect(rulesHandle.stream.broadcast()).process<unknown>(
    (): KeyedBroadcastProcessFunction<Key, unknown, unknown, unknown> => {
      // Compiled rule conditions live beside the broadcast state (which must stay plain data for checkpoints).
      const compiled = new Map<string, CompiledExpression>();
      let ordered: [string, Rec][] | undefined;
      const conditionOf = (rule: Rec): CompiledExpression => {
        if (fixed) return fixed;
        const src = rule[field as string];
        if (typeof src !== "string") throw new RecordError(`rule has no CEL condition in field ${JSON.stringify(field)}`);
        let e = compiled.get(src);
        if (!e) {
          e = celExpression(src, `rule field ${field as string}`, "bool", ["record", "key", "rule"]);
          compiled.set(src, e);
        }
        return e;
      };
      const scope: { record: unknown; key: unknown; rule: unknown } = { record: undefined, key: undefined, rule: undefined };
      return {
        processElement(record, c, out) {
          if (ordered === undefined) ordered = [...c.broadcastState<Rec>("rules")].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
          scope.record = record;
          scope.key = keyOf(record);
          let matched = false;
          try {
            for (const [id, rule] of ordered) {
              scope.rule = rule;
              if (conditionOf(rule).evaluate(scope) !== true) continue;
              matched = true;
              out.collect(carryKey(emit ? emit(scope) : { ...(record as Rec), rule: id, action: rule.action ?? null }, record));
              if (!all) break;
            }
          } catch (err) {
            onError(err, record, c);
            return;
          }
          if (!matched) {
            if (pass) out.collect(record);
            else unmatched();
          }
        },
        processBroadcastElement(rule, c) {
          const rules = c.broadcastState<Rec>("rules");
          ordered = undefined;
          try {
            const id = String(toKey(ruleId.evaluate({ rule })));
            if (deleteWhen && deleteWhen.evaluate({ rule }) === true) {
              rules.delete(id);
              note(rule, `rule ${id} deleted`, rules.size);
            } else {
              if (!fixed) conditionOf(rule as Rec); // a rule whose condition does not compile is refused when it arrives
              rules.set(id, rule as Rec);
              note(rule, `rule ${id} set`, rules.size);
            }
          } catch (err) {
            note(rule, `a rule was refused: ${errorText(err)}`, rules.size);
            invalidRule(c, { rule, error: errorText(err) });
          }
        },
      };
    },
    { uid: stepUid(step), name: step.id },
  );
  ctx.deadLetterProducers.push(stream);
  ctx.handles.set(step.id, { stream, keyed: input.keyed, ...(input.keyed ? { colocated: true } : {}) });
}
