/**
 * Cross-field rules. Each constructor writes a rule twice from the same arguments: as CEL for the
 * apiserver (`x-kubernetes-validations`) and as a TypeScript check for `runnel validate`, so the
 * two cannot drift apart rule by rule.
 */
import { parseDuration } from "../duration.ts";

/** A plain JSON object as rule checks see it (after defaults are applied, like the apiserver). */
export type Obj = Record<string, unknown>;

/** The reasons the apiserver accepts for a validation rule. */
export type RuleReason = "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";

/** One cross-field rule. */
export interface Rule {
  /** The CEL expression over `self` (and `oldSelf` for transition rules). */
  rule: string;
  message: string;
  /** Where the error is reported, relative to the rule's object (e.g. `.slide`). */
  fieldPath?: string;
  reason?: RuleReason;
  /** The TypeScript twin of `rule`; absent only for transition rules, which need the stored object. */
  check?: (self: Obj) => boolean;
  /** A hint for the failing object, shown by `runnel validate`. */
  hint?: (self: Obj) => string | undefined;
}

/** Looks up a dotted path (`savepoint.storage`) in an object. */
export function lookup(self: unknown, path: string): unknown {
  let cur: unknown = self;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Obj)[part];
  }
  return cur;
}

/** `has(self.a) && has(self.a.b)` for a dotted path. */
function celHas(path: string): string {
  const parts = path.split(".");
  return parts.map((_, i) => `has(self.${parts.slice(0, i + 1).join(".")})`).join(" && ");
}

function present(self: Obj, path: string): boolean {
  return lookup(self, path) !== undefined;
}

function setFields(self: Obj, fields: readonly string[]): string[] {
  return fields.filter((f) => present(self, f));
}

/** Exactly one of the fields must be set (a union by member field, the Kubernetes way). */
export function exactlyOne(fields: readonly string[], what = "of"): Rule {
  return {
    rule: `[${fields.map((f) => `has(self.${f})`).join(", ")}].exists_one(x, x)`,
    message: `exactly one ${what} ${fields.join(", ")} must be set`,
    check: (self) => setFields(self, fields).length === 1,
    hint: (self) => {
      const set = setFields(self, fields);
      return set.length === 0 ? `none is set; add one of: ${fields.join(", ")}` : `${set.join(" and ")} are set; keep one`;
    },
  };
}

/** At most one of the fields may be set. */
export function atMostOne(fields: readonly string[]): Rule {
  return {
    rule: `[${fields.map((f) => `has(self.${f})`).join(", ")}].filter(x, x).size() <= 1`,
    message: `at most one of ${fields.join(", ")} may be set`,
    check: (self) => setFields(self, fields).length <= 1,
    hint: (self) => `${setFields(self, fields).join(" and ")} are set`,
  };
}

/** At least one of the fields must be set. */
export function atLeastOne(fields: readonly string[]): Rule {
  return {
    rule: fields.map((f) => `has(self.${f})`).join(" || "),
    message: `at least one of ${fields.join(", ")} must be set`,
    check: (self) => setFields(self, fields).length >= 1,
  };
}

function celIn(field: string, values: readonly string[]): string {
  return values.length === 1 ? `self.${field} == '${values[0]}'` : `self.${field} in [${values.map((v) => `'${v}'`).join(", ")}]`;
}

function isOneOf(self: Obj, field: string, values: readonly string[]): boolean {
  const v = lookup(self, field);
  return typeof v === "string" && values.includes(v);
}

/** When `field` is one of `values`, `needed` must be set. */
export function requiredWhen(field: string, values: readonly string[], needed: string): Rule {
  return {
    rule: `!(${celHas(field)} && ${celIn(field, values)}) || ${celHas(needed)}`,
    message: `${needed} is required when ${field} is ${values.join(" or ")}`,
    fieldPath: `.${needed}`,
    reason: "FieldValueRequired",
    check: (self) => !isOneOf(self, field, values) || present(self, needed),
  };
}

/** `forbidden` may only be set when `field` is one of `values`. */
export function allowedOnlyWhen(field: string, values: readonly string[], forbidden: string): Rule {
  return {
    rule: `!(${celHas(forbidden)}) || (${celHas(field)} && ${celIn(field, values)})`,
    message: `${forbidden} is only allowed when ${field} is ${values.join(" or ")}`,
    fieldPath: `.${forbidden}`,
    reason: "FieldValueForbidden",
    check: (self) => !present(self, forbidden) || isOneOf(self, field, values),
  };
}

/** When `field` is set, `needed` must be set too. */
export function requires(field: string, needed: string, message: string): Rule {
  return {
    rule: `!(${celHas(field)}) || (${celHas(needed)})`,
    message,
    fieldPath: `.${field}`,
    reason: "FieldValueRequired",
    check: (self) => !present(self, field) || present(self, needed),
  };
}

/** Duration `a` must not exceed duration `b` (both optional; the rule applies when both are set). */
export function durationAtMost(a: string, b: string, message: string): Rule {
  return {
    rule: `!has(self.${a}) || !has(self.${b}) || duration(self.${a}) <= duration(self.${b})`,
    message,
    fieldPath: `.${a}`,
    check: (self) => {
      const x = lookup(self, a);
      const y = lookup(self, b);
      if (typeof x !== "string" || typeof y !== "string") return true;
      return parseDuration(x) <= parseDuration(y);
    },
  };
}

/** Duration `field` must be at least `min` (e.g. `100ms`). */
export function durationAtLeast(field: string, min: string, message: string): Rule {
  const minMs = parseDuration(min);
  return {
    rule: `!has(self.${field}) || duration(self.${field}) >= duration('${min}')`,
    message,
    fieldPath: `.${field}`,
    check: (self) => {
      const v = lookup(self, field);
      return typeof v !== "string" || parseDuration(v) >= minMs;
    },
  };
}

/** Number `a` must not exceed number `b` (both optional). */
export function numberAtMost(a: string, b: string, message: string): Rule {
  return {
    rule: `!has(self.${a}) || !has(self.${b}) || self.${a} <= self.${b}`,
    message,
    fieldPath: `.${a}`,
    check: (self) => {
      const x = lookup(self, a);
      const y = lookup(self, b);
      return typeof x !== "number" || typeof y !== "number" || x <= y;
    },
  };
}

/** A rule the constructors above cannot express; give its CEL and its TypeScript twin together. */
export function custom(
  rule: string,
  message: string,
  check: ((self: Obj) => boolean) | undefined,
  o: { fieldPath?: string; reason?: RuleReason; hint?: (self: Obj) => string | undefined } = {},
): Rule {
  return { rule, message, check, ...o };
}
