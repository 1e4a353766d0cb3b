/**
 * The events a partial match has taken: a persistent singly linked list, newest first. Branches
 * of a partial match share their common prefix, so branching costs one node. The nodes are plain
 * objects, so a key's partial matches (with shared tails) survive V8 serialisation as they are.
 */

/** One taken event. */
export interface EventNode {
  /** The event. */
  readonly e: unknown;
  /** Index of the stage that took it. */
  readonly s: number;
  /** Per-key sequence number of the event (skip strategies compare these). */
  readonly q: number;
  /** The events taken before it, or null. */
  readonly p: EventNode | null;
}

/** The events of `list` taken by stage `stage`, oldest first. */
export function eventsOfStage<T>(list: EventNode | null, stage: number): T[] {
  const out: T[] = [];
  for (let n = list; n !== null; n = n.p) if (n.s === stage) out.push(n.e as T);
  return out.reverse();
}

/** A match as the API hands it out: stage name → events, stages in pattern order, empty ones left out. */
export function materialize<T>(list: EventNode | null, names: readonly string[]): Map<string, T[]> {
  const nodes: EventNode[] = [];
  for (let n = list; n !== null; n = n.p) nodes.push(n);
  const out = new Map<string, T[]>();
  // Oldest first: stages appear in pattern order because a match takes them in that order.
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i] as EventNode;
    const name = names[n.s] as string;
    const list = out.get(name);
    if (list === undefined) out.set(name, [n.e as T]);
    else list.push(n.e as T);
  }
  return out;
}
