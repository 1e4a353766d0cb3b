/**
 * Checks of a manifest against the machine it is validated on: the files its sources read in
 * local mode (`local.file.path`, relative to the manifest's folder). They are warnings, since a
 * cluster reads Kafka and never needs the files.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { finding, type Finding } from "./findings.ts";
import type { StreamJobSpec } from "./generated/types.ts";

/** A warning for every local source file that is missing or not a file, resolved against `baseDir`. */
export function checkLocalFiles(spec: StreamJobSpec, baseDir: string): Finding[] {
  const out: Finding[] = [];
  (spec.pipeline?.sources ?? []).forEach((source, i) => {
    const file = source.local?.file?.path;
    if (file === undefined) return;
    const full = resolve(baseDir, file);
    let problem: string | undefined;
    try {
      if (!statSync(full).isFile()) problem = `${file} is not a file (${full})`;
    } catch {
      problem = `${file} does not exist (looked for ${full})`;
    }
    if (problem)
      out.push(
        finding(
          "warning",
          `.spec.pipeline.sources[${i}].local.file.path`,
          problem,
          `only \`runnel run\` reads it (the path is relative to the manifest's folder); on a cluster the source reads ${source.kafka ? `Kafka topic ${source.kafka.topic}` : "Kafka"}`,
        ),
      );
  });
  return out;
}
