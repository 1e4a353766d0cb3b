/**
 * The entry point, as in Flink: `CEP.pattern(keyedStream, pattern, options).select(fn)` or
 * `.process(fn)`. The pattern is compiled (CEL conditions included) once, when the job is
 * defined, so a malformed pattern fails job construction rather than the running job; each task
 * then builds its own matcher (scratch buffers, condition cache) around the shared plan.
 */
import type { Key } from "../api/functions.ts";
import type { DataStream, KeyedStream, OperatorOptions } from "../api/job.ts";
import { cepProcessFunction, type CepOutputs, type PatternProcessFunction } from "./operator.ts";
import type { Pattern } from "./pattern.ts";
import { compilePlan, type Plan } from "./plan.ts";

/** Options of CEP.pattern. */
export interface CepOptions<T> extends CepOutputs<T> {
  /** Operator uid (stable identity of the CEP state in checkpoints and savepoints). */
  uid?: string;
  /** Display name. */
  name?: string;
}

/** A keyed stream with a pattern applied; choose how matches are turned into records. */
export class PatternStream<K extends Key, T> {
  /** The compiled pattern. */
  readonly plan: Plan<T>;
  private readonly input: KeyedStream<K, T>;
  private readonly options: CepOptions<T>;

  constructor(input: KeyedStream<K, T>, pattern: Pattern<T>, options: CepOptions<T>) {
    this.input = input;
    this.options = options;
    this.plan = compilePlan(pattern);
  }

  /** One output record per match. */
  select<O>(fn: (match: Map<string, T[]>) => O): DataStream<O> {
    return this.process<O>((match, _ctx, out) => out.collect(fn(match)));
  }

  /** Full control per match: zero or more outputs, side outputs, the key. */
  process<O>(fn: PatternProcessFunction<T, O>): DataStream<O> {
    const { uid, name, timedOut, late } = this.options;
    const ops: OperatorOptions = { name: name ?? "cep", ...(uid === undefined ? {} : { uid }) };
    const outputs: CepOutputs<T> = { ...(timedOut === undefined ? {} : { timedOut }), ...(late === undefined ? {} : { late }) };
    return this.input.process<O>(cepProcessFunction<K, T, O>(this.plan, outputs, fn), ops);
  }
}

/** Flink's CEP entry point. */
export const CEP = {
  /** Applies `pattern` to every key of `input`, in event time. */
  pattern<K extends Key, T>(input: KeyedStream<K, T>, pattern: Pattern<T>, options: CepOptions<T> = {}): PatternStream<K, T> {
    return new PatternStream<K, T>(input, pattern, options);
  },
};
