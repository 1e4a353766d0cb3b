/**
 * cel-js environments for Runnel's expression sites. Two kinds, both cached (creating one costs
 * far more than checking an expression):
 * - a checking environment per scope, with the variables' real types (record shapes as object
 *   types), used once per expression at compile time;
 * - an evaluation environment per set of variable names, every variable `dyn`, used for the
 *   compiled expression. Values stay the plain JS objects the runtime holds: a typed object
 *   variable would make cel-js wrap each record on every evaluation.
 */
import { Environment } from "@marcbachmann/cel-js";
import { registerExtensions } from "./extensions.ts";
import type { Scope } from "./types.ts";

const options = {
  // Records are built with map literals mixing value types: {'id': record.id, 'n': 1}.
  homogeneousAggregateLiterals: false,
};

let base: Environment | undefined;

/** The shared parent with Runnel's extensions (cloning freezes it, so it is built once). */
function baseEnvironment(): Environment {
  if (!base) {
    base = new Environment(options);
    registerExtensions(base);
  }
  return base;
}

const checking = new Map<string, Environment>();
const evaluating = new Map<string, Environment>();
/** A long-lived process (the operator) checks many manifests; past this many scopes the cache starts over. */
const maxCached = 512;

function remember(cache: Map<string, Environment>, key: string, env: Environment): Environment {
  if (cache.size >= maxCached) cache.clear();
  cache.set(key, env);
  return env;
}

/** The environment that type-checks expressions of `scope`. */
export function checkingEnvironment(scope: Scope): Environment {
  const cacheKey = JSON.stringify([scope.vars, scope.types ?? []]);
  let env = checking.get(cacheKey);
  if (!env) {
    env = baseEnvironment().clone(options);
    for (const t of scope.types ?? []) {
      // A constructor keeps cel-js from generating a converter; this environment never evaluates.
      const ctor = class {};
      env.registerType({ name: t.name, ctor, fields: { ...t.fields } });
    }
    for (const [name, type] of Object.entries(scope.vars)) env.registerVariable(name, type);
    remember(checking, cacheKey, env);
  }
  return env;
}

/** The environment that evaluates compiled expressions over the given variable names. */
export function evaluationEnvironment(vars: readonly string[]): Environment {
  const names = [...vars].sort();
  const cacheKey = names.join(",");
  let env = evaluating.get(cacheKey);
  if (!env) {
    env = baseEnvironment().clone(options);
    for (const name of names) env.registerVariable(name, "dyn");
    remember(evaluating, cacheKey, env);
  }
  return env;
}
