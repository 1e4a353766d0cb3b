/**
 * State carries its schema. Every snapshot records, per operator uid, what the operator's stored
 * state looks like (its kind; for windows the assigner, trigger, lateness and the names and kinds
 * of the accumulators). A restore compares that with the job it restores into: equal state is
 * taken as is, state the operator knows how to carry over is migrated value by value (an added
 * aggregation starts empty), and anything else is refused with what changed — unless the user
 * asked to drop that operator's state. Without this, positional accumulators and window
 * arithmetic silently mix state written by another version of the job.
 */
import type { Key } from "../api/functions.ts";

/** The shape of an operator's stored state: plain JSON, compared as such. `operator` is the operator kind. */
export type StateSchema = { operator: string } & Record<string, unknown>;

/** Per state (table) name, a converter of stored values written under an older schema. */
export type StateMigration = Record<string, (value: unknown, key: Key) => unknown>;

/** An operator's state layout: its schema now, and how state written under another schema is carried over. */
export interface StateLayout {
  schema: StateSchema;
  /** Converters for state written under `from`, or what changed when it cannot be carried over. */
  migrate?(from: StateSchema): StateMigration | string;
}

/** What a restore does with one operator's state. */
export type StateAction = { kind: "keep" } | { kind: "migrate"; tables: StateMigration } | { kind: "drop"; reason: string };

/** What a restore does with the state of each operator uid (uids not listed: keep). */
export type RestorePlan = Map<string, StateAction>;

/** JSON equality of two schemas (key order ignored). */
export function sameSchema(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameSchema((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Why state of one operator cannot be restored as it is. */
export class IncompatibleState {
  readonly uid: string;
  readonly change: string;

  constructor(uid: string, change: string) {
    this.uid = uid;
    this.change = change;
  }
}

/**
 * Decides per operator what a restore does with state written under `written` (by uid) into a
 * job whose layouts are `current`. `drop` names uids whose incompatible state is dropped instead
 * of refused. Returns the plan, or the first incompatibility when one is not to be dropped.
 */
export function planRestore(options: {
  written: Record<string, StateSchema> | undefined;
  current: ReadonlyMap<string, StateLayout>;
  drop: ReadonlySet<string>;
}): RestorePlan | IncompatibleState {
  const plan: RestorePlan = new Map();
  // A snapshot from before schemas were recorded: nothing to compare.
  if (!options.written) return plan;
  for (const [uid, was] of Object.entries(options.written)) {
    const layout = options.current.get(uid);
    // Operators the job no longer has are the unknown-operator check's business.
    if (!layout || sameSchema(was, layout.schema)) continue;
    const change =
      was.operator !== layout.schema.operator
        ? `it held ${was.operator} state and is now a ${layout.schema.operator}`
        : (layout.migrate?.(was) ?? `its ${layout.schema.operator} state changed`);
    if (typeof change !== "string") {
      plan.set(uid, { kind: "migrate", tables: change });
      continue;
    }
    if (!options.drop.has(uid)) return new IncompatibleState(uid, change);
    plan.set(uid, { kind: "drop", reason: change });
  }
  return plan;
}
