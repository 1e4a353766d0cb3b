/** Writes the ajv standalone validator module (no schema compilation at run time). */
import { Ajv } from "ajv";
import standaloneModule from "ajv/dist/standalone/index.js";
import type { ResourceDefinition } from "../schema/crds.ts";
import { ajvSchema } from "./ajv-schema.ts";
import { generatedHeader } from "./header.ts";
import { InternalError } from "../../errors.ts";

// ajv's code counts string length in code points through a CommonJS helper; inline the same
// function so the generated module is plain ESM that Node and vitest load directly.
// The module is CommonJS with `exports.default`; TypeScript and Node disagree on which is the default import.
const standaloneCode =
  (standaloneModule as unknown as { default?: typeof standaloneModule.default }).default ?? (standaloneModule as unknown as typeof standaloneModule.default);

const ucs2 = /const (\w+) = require\("ajv\/dist\/runtime\/ucs2length"\)\.default;/g;
const ucs2Inline = "const $1 = (s) => { let n = 0; for (const _ of s) n++; return n; };";

/** The validator module's source: `validate<Kind>` per resource. */
export function validatorsSource(defs: readonly ResourceDefinition[]): string {
  const ajv = new Ajv({
    code: { source: true, esm: true, lines: true },
    allErrors: true,
    useDefaults: true,
    strict: true,
    allowUnionTypes: true,
  });
  const exports: Record<string, string> = {};
  for (const def of defs) {
    ajv.addSchema(ajvSchema(def));
    exports[`validate${def.kind}`] = def.kind;
  }
  let code = standaloneCode(ajv, exports)
    .replace(ucs2, ucs2Inline)
    .replace(/^"use strict";\n?/, "");
  if (code.includes("require(")) throw new InternalError("ajv standalone code still requires a runtime module; inline it in codegen/validators.ts");
  code = `${generatedHeader("//")}\n// ajv standalone validators for ${defs.map((d) => d.kind).join(", ")}; see runtime/spec/validate.ts for the API.\n/* eslint-disable */\n// @ts-nocheck\n${code}`;
  return code.endsWith("\n") ? code : `${code}\n`;
}
