/** A pipeline step: an id, its input(s), and exactly one operator. */
import { list, obj, oneOf, str, type Schema } from "./builders.ts";
import { id, notReserved, ref } from "./common.ts";
import { clean, dedup, explode, filter, keyBy, mapStep, project, route, score, union } from "./steps-basic.ts";
import { cep } from "./steps-cep.ts";
import { broadcastRules, lookupJoin, processStep } from "./steps-stateful.ts";
import { over, window } from "./steps-window.ts";
import { custom, exactlyOne } from "./rules.ts";

/** The operator fields of a step, each a member of the step's one-of union. */
export const operators: Record<string, Schema> = {
  filter,
  clean,
  map: mapStep,
  project,
  explode,
  keyBy,
  route,
  union,
  dedup,
  score,
  window,
  over,
  process: processStep,
  cep,
  broadcastRules,
  lookupJoin,
};

/** The names of the operator fields. */
export const operatorNames: readonly string[] = Object.keys(operators);

/** One pipeline step. */
export const step: Schema = obj(
  "Step",
  "One operator of the pipeline graph. Set `id`, `input` (or `inputs` for union) and exactly one operator field.",
  {
    id: id("Unique id of the step; later steps and sinks name it in `input`."),
    uid: str("Stable operator uid used to map state in savepoints (default: the id). Keep it when renaming a step to keep its state.", {
      pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,127}$",
      maxLength: 128,
    }),
    input: ref("The stream this step reads."),
    inputs: list("For union: the streams merged.", ref("A stream."), { min: 2, max: 16 }),
    onError: oneOf(
      ["dead-letter", "skip", "fail"],
      "What an expression error on a record does: route the record to the dead-letter stream (counted), skip it (counted), or fail the job.",
      "dead-letter",
    ),
    ...operators,
  },
  {
    required: ["id"],
    rules: [
      exactlyOne(operatorNames, "operator of"),
      exactlyOne(["input", "inputs"]),
      notReserved,
      custom(
        "has(self.inputs) == has(self.union)",
        "union takes `inputs` (two or more); every other step takes one `input`",
        (s) => (s.inputs !== undefined) === (s.union !== undefined),
      ),
    ],
  },
);

/** The steps list, keyed by id. */
export const steps: Schema = list("The operators, each naming its input(s); the graph is by reference, order does not matter.", step, {
  max: 128,
  mapKeys: ["id"],
});
