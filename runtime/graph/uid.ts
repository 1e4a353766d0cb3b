/**
 * Deterministic operator uids. An explicit uid wins; otherwise the uid is a hash of the
 * operator's kind, name, inputs' uids and its ordinal among identical siblings, so adding an
 * unrelated branch does not change existing uids (state stays mapped across job versions).
 */
import { JobDefinitionError } from "../errors.ts";
import type { GraphEdge, NodeSpec } from "./graph.ts";

/** FNV-1a over a string, as 8 hex digits (stable across runs and platforms). */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Resolves every node's uid; throws on duplicate explicit uids. */
export function deriveUids(nodes: { spec: NodeSpec; name: string; uid?: string }[], edges: GraphEdge[]): string[] {
  const uids: string[] = [];
  const seen = new Map<string, number>();
  const explicit = new Set<string>();
  for (const n of nodes) {
    if (n.uid === undefined) continue;
    if (explicit.has(n.uid)) throw new JobDefinitionError(`duplicate operator uid '${n.uid}'`);
    explicit.add(n.uid);
  }
  for (const [id, n] of nodes.entries()) {
    if (n.uid !== undefined) {
      uids.push(n.uid);
      continue;
    }
    const inputs = edges
      .filter((e) => e.to === id)
      .map((e) => `${e.input}:${uids[e.from]}:${e.partitioning}:${e.tag ?? ""}`)
      .join(",");
    const signature = `${n.spec.kind}|${n.name}|${inputs}`;
    const ordinal = seen.get(signature) ?? 0;
    seen.set(signature, ordinal + 1);
    let uid = `${n.spec.kind}-${fnv1a(`${signature}|${ordinal}`)}`;
    while (explicit.has(uid)) uid = `${uid}x`;
    uids.push(uid);
  }
  return uids;
}
