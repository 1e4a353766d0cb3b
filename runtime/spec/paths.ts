/** Paths into manifests: JSON pointers to kubectl-style paths, and schema lookup along a path. */
import type { Schema } from "./schema/builders.ts";

/** One step of a path: an object key or an array index. */
export type Segment = string | number;

const identifier = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Renders segments kubectl-style: `.spec.pipeline.steps[2].window.size`. */
export function formatPath(segments: readonly Segment[]): string {
  return segments.map((s) => (typeof s === "number" ? `[${s}]` : identifier.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join("");
}

/** Splits a JSON pointer (`/spec/steps/2`) into segments, numbering those that index arrays in `data`. */
export function pointerSegments(pointer: string, data: unknown): Segment[] {
  if (pointer === "") return [];
  const out: Segment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(cur) && /^[0-9]+$/.test(key)) {
      out.push(Number(key));
      cur = cur[Number(key)];
    } else {
      out.push(key);
      cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

/** The schema node describing the value at `segments`, if the path exists in the schema. */
export function schemaAt(root: Schema, segments: readonly Segment[]): Schema | undefined {
  let node: Schema | undefined = root;
  for (const seg of segments) {
    if (!node) return undefined;
    if (node.type === "array") node = node.items;
    else if (typeof seg === "string" && node.properties?.[seg]) node = node.properties[seg];
    else if (node.additionalProperties) node = node.additionalProperties;
    else return undefined;
  }
  return node;
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest candidate to `word`, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** The first sentence of a description, for hints. */
export function firstSentence(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const m = /^.*?[.!?](\s|$)/.exec(text);
  return (m ? m[0] : text).trim();
}
