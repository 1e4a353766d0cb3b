/** Helpers of the CEP tests: named events, a one-key job around a pattern, matches as strings. */
import { collectSink, collectionSource, job, type OutputTag } from "../../../runtime/api/index.ts";
import { createEngine, type EngineOptions } from "../../../runtime/exec/engine.ts";
import { CEP, type Pattern, type TimedOutMatch } from "../../../runtime/cep/index.ts";

/** A test event: name (its letter says which stage it is for), key, event time. */
export interface Ev {
  name: string;
  k: string;
  t: number;
  v?: number;
}

/** Events named as given, one key, timestamps 1, 2, 3, … (arrival order = time order). */
export function seq(names: string, k = "k"): Ev[] {
  return names
    .split(/\s+/)
    .filter((n) => n.length > 0)
    .map((name, i) => ({ name, k, t: i + 1 }));
}

/** A condition on the event name's first letter ("b1" is a "b"). */
export function is(letter: string): (e: Ev) => boolean {
  return (e) => e.name.startsWith(letter);
}

/** A match as "a b1 c" (events in stage order, as Flink's Map<String, List> lists them). */
export function render(m: Map<string, Ev[]>): string {
  return [...m.values()]
    .flat()
    .map((e) => e.name)
    .join(" ");
}

/** Runs `pattern` over `input` (one partition, watermarks from Ev.t) to the end; returns the matches. */
export async function matches(
  pattern: Pattern<Ev>,
  input: Ev[],
  options: { outOfOrderMs?: number; timedOut?: OutputTag<TimedOutMatch<Ev>>; late?: OutputTag<Ev>; engine?: Omit<EngineOptions, "graph"> } = {},
): Promise<{ matches: string[]; timedOut: TimedOutMatch<Ev>[]; late: Ev[] }> {
  const out = collectSink<string>();
  const timedOut = collectSink<TimedOutMatch<Ev>>();
  const late = collectSink<Ev>();
  const j = job("cep-test");
  const keyed = j
    .source(collectionSource({ partitions: [input] }), { watermarks: { timestamp: (e: Ev) => e.t, maxOutOfOrdernessMs: options.outOfOrderMs ?? 0 } })
    .keyBy((e) => e.k);
  const result = CEP.pattern(keyed, pattern, {
    uid: "cep",
    ...(options.timedOut ? { timedOut: options.timedOut } : {}),
    ...(options.late ? { late: options.late } : {}),
  }).select(render);
  result.sink(out);
  if (options.timedOut) result.getSideOutput(options.timedOut).sink(timedOut);
  if (options.late) result.getSideOutput(options.late).sink(late);
  await createEngine({ graph: j.build(), idleSleepMs: 0, ...options.engine }).run();
  return { matches: out.values(), timedOut: timedOut.values(), late: late.values() };
}

/** Just the matches, sorted (for results whose order Flink leaves open). */
export async function sortedMatches(pattern: Pattern<Ev>, input: Ev[]): Promise<string[]> {
  return (await matches(pattern, input)).matches.sort();
}
