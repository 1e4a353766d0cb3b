/**
 * `runnel validate <file>`: checks StreamJob (and StreamSavepoint) manifests without a cluster —
 * schema and rules as the apiserver applies them, then the pipeline graph and every CEL expression —
 * and prints each finding with its field path and a hint. Exit 0 when valid (warnings allowed),
 * 1 when invalid (the command's answer, not a failure of it), 2 on a usage error (one line).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { checkDocument, type DocumentReport } from "../spec/check.ts";
import { formatFindings } from "../spec/findings.ts";
import { parseManifests } from "../spec/manifest.ts";
import { UsageError } from "./args.ts";
import { reportFailure } from "./failure.ts";

/** Usage line of the command. */
export const VALIDATE_USAGE = "runnel validate <streamjob.yaml>... [--output text|json]   (- reads standard input)";

const EXIT_VALID = 0;
const EXIT_INVALID = 1;

/** The outcome for one file. */
interface FileReport {
  file: string;
  valid: boolean;
  errors: number;
  warnings: number;
  documents: DocumentReport[];
  /** A problem with the file as a whole (YAML syntax, no Runnel document). */
  problem?: string;
}

/** Runs `runnel validate` and resolves to its exit code. */
export async function validate(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { output: { type: "string", short: "o", default: "text" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    return usageError(argumentProblem(e as NodeJS.ErrnoException));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(`Usage: ${VALIDATE_USAGE}\n\nChecks manifests: schema, pipeline graph and CEL expressions; prints each finding with its field path.`);
    return EXIT_VALID;
  }
  const output = values.output;
  if (output !== "text" && output !== "json") return usageError(`--output must be text or json, not ${JSON.stringify(output)}.`);
  if (positionals.length === 0) return usageError("which manifest? Name a file, e.g. runnel validate streamjob.yaml.");
  const texts: { file: string; text: string }[] = [];
  for (const file of positionals) {
    const text = read(file);
    if (typeof text !== "string") return usageError(text.error);
    texts.push({ file, text });
  }
  const reports = await Promise.all(texts.map(({ file, text }) => checkFile(file, text)));
  if (output === "json") console.log(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
  else for (const r of reports) printText(r);
  return reports.every((r) => r.valid) ? EXIT_VALID : EXIT_INVALID;
}

/** Says what is wrong with the arguments in words, from parseArgs' error. */
function argumentProblem(e: NodeJS.ErrnoException): string {
  const option = /'(-[^']*)'/.exec(e.message)?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option ?? ""}; the options are --output text|json and --help.`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return "--output needs a value: --output text or --output json.";
  return e.message;
}

function usageError(message: string): number {
  return reportFailure("validate", new UsageError(message));
}

/** Reads a file (or standard input for `-`), or says in words why it cannot. */
function read(file: string): string | { error: string } {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const full = resolve(file);
    if (code === "ENOENT") return { error: `${file}: no such file (looked for ${full}); check the path.` };
    if (code === "EISDIR") return { error: `${file} is a directory; name a manifest file inside it.` };
    if (code === "EACCES") return { error: `${file}: permission denied; check the file's permissions.` };
    return { error: `cannot read ${file}: ${(e as Error).message}` };
  }
}

/** Parses and checks every document of one file. */
async function checkFile(file: string, text: string): Promise<FileReport> {
  let docs: unknown[];
  try {
    docs = parseManifests(text);
  } catch (e) {
    // The yaml package appends a source excerpt after a blank line; the first lines name the position.
    return {
      file,
      valid: false,
      errors: 1,
      warnings: 0,
      documents: [],
      problem: (e as Error).message.split(/\n\s*\n/)[0]?.replace(/:$/, "") ?? "invalid YAML",
    };
  }
  // Local source files are relative to the manifest's folder (the working directory for standard input).
  const baseDir = file === "-" ? process.cwd() : dirname(resolve(file));
  const documents = await Promise.all(docs.map((d) => checkDocument(d, { baseDir })));
  const all = documents.flatMap((d) => d.findings);
  const errors = all.filter((f) => f.severity === "error").length;
  const warnings = all.length - errors;
  if (!documents.some((d) => d.checked)) {
    return {
      file,
      valid: false,
      errors: errors + 1,
      warnings,
      documents,
      problem: "no StreamJob or StreamSavepoint document found (kind: StreamJob, apiVersion: runnel.dev/v1alpha1)",
    };
  }
  return { file, valid: errors === 0, errors, warnings, documents };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Prints one file's findings and its closing line. */
function printText(r: FileReport): void {
  const several = r.documents.length > 1;
  r.documents.forEach((d, i) => {
    const label = `${d.kind}${d.name ? ` ${d.name}` : ""} (document ${i + 1})`;
    if (!d.checked) {
      console.log(`${r.file}: ${several ? `document ${i + 1}: ` : ""}${d.note ?? "skipped"}`);
      return;
    }
    if (several && d.findings.length > 0) console.log(`--- ${label}`);
    if (d.findings.length > 0) console.log(formatFindings(d.findings));
    if (d.note && d.findings.length > 0) console.log(`(${d.note})`);
  });
  if (r.problem) console.log(`${r.file}: ${r.problem}`);
  if (!r.valid) {
    console.log(`${r.file}: ${plural(r.errors, "error")}, ${plural(r.warnings, "warning")}`);
    return;
  }
  const names = r.documents.filter((d) => d.checked).map((d) => `${d.kind} ${d.name ?? "(unnamed)"}`);
  console.log(`${r.file}: valid ${names.join(", ")}${r.warnings > 0 ? ` (${plural(r.warnings, "warning")})` : ""}`);
}
