/** `spec.pipeline`: a declarative job graph of sources, steps and sinks; every expression is CEL. */
import { list, obj, type Schema } from "./builders.ts";
import { sink } from "./pipeline-sinks.ts";
import { steps } from "./pipeline-steps.ts";
import { sources } from "./pipeline-sources.ts";
import { custom, type Obj } from "./rules.ts";

const ids = (v: unknown): string[] => (Array.isArray(v) ? (v as Obj[]).map((x) => x.id).filter((x): x is string => typeof x === "string") : []);

/** The declarative pipeline. */
export const pipeline: Schema = obj(
  "Pipeline",
  "A declarative job: sources, steps and sinks, wired by id (`input`). Every expression is a CEL string, compiled once; no JavaScript is ever evaluated from a manifest. The reserved stream `dead-letter` carries records that failed a check or an expression, with their reason.",
  {
    sources,
    steps,
    sinks: list("The pipeline's outputs.", sink, { min: 1, max: 32, mapKeys: ["id"] }),
  },
  {
    required: ["sources", "sinks"],
    rules: [
      custom(
        "!has(self.steps) || self.steps.all(st, !self.sources.exists(so, so.id == st.id))",
        "step ids must differ from source ids",
        (p) => {
          const src = new Set(ids(p.sources));
          return ids(p.steps).every((s) => !src.has(s));
        },
        { fieldPath: ".steps" },
      ),
    ],
  },
);
