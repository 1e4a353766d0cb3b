/** Every generated file, computed in memory: the generator writes them, the staleness test compares them. */
import { resources, streamJob, streamSavepoint } from "../schema/crds.ts";
import { chartCrdTemplate, crdYaml } from "./crd-yaml.ts";
import { referenceSource } from "./markdown.ts";
import { typesSource } from "./typescript.ts";
import { validatorsSource } from "./validators.ts";

/** Repository-relative path → content of every generated file. */
export function generateAll(): Map<string, string> {
  return new Map([
    ["crds/streamjob.yaml", crdYaml(streamJob)],
    ["crds/streamsavepoint.yaml", crdYaml(streamSavepoint)],
    ["charts/runnel-operator/templates/crds/streamjob.yaml", chartCrdTemplate(streamJob)],
    ["charts/runnel-operator/templates/crds/streamsavepoint.yaml", chartCrdTemplate(streamSavepoint)],
    ["runtime/spec/generated/types.ts", typesSource(resources)],
    ["runtime/spec/generated/validators.ts", validatorsSource(resources)],
    ["docs/crd-reference.md", referenceSource(resources)],
  ]);
}
