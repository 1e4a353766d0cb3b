/** The two custom resources: names, subresources, printer columns and their root schemas. */
import { obj, str, type Schema } from "./builders.ts";
import { streamJobSpec, streamJobStatus } from "./streamjob.ts";
import { streamSavepointSpec, streamSavepointStatus } from "./streamsavepoint.ts";

/** The API group of every Runnel resource. */
export const group = "runnel.dev";
/** The served and stored version. */
export const version = "v1alpha1";

/** A printer column of `kubectl get`. */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Everything the CRD generator needs for one kind. */
export interface ResourceDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  description: string;
  spec: Schema;
  status: Schema;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
  /** Constraints on metadata.name (the only part of metadata a CRD may constrain). */
  name: Schema;
}

/** The root schema of an object of this kind (apiVersion, kind, metadata, spec, status). */
export function rootSchema(def: ResourceDefinition): Schema {
  return obj(
    def.kind,
    def.description,
    {
      apiVersion: str("APIVersion of this object: runnel.dev/v1alpha1.", { maxLength: 64 }),
      kind: str(`Kind of this object: ${def.kind}.`, { maxLength: 64 }),
      metadata: { type: "object", description: "Standard object metadata.", tsType: "ObjectMeta", properties: { name: def.name } },
      spec: def.spec,
      status: def.status,
    },
    { required: ["spec"] },
  );
}

/** StreamJob: a streaming job run by the operator as a worker StatefulSet. */
export const streamJob: ResourceDefinition = {
  kind: "StreamJob",
  plural: "streamjobs",
  singular: "streamjob",
  shortNames: ["sj"],
  categories: ["runnel"],
  description:
    "A stateful streaming job: a declarative pipeline or a job module, run by the Runnel operator on worker pods that read and write Kafka exactly once.",
  // Worker pods are <name>-<ordinal> and StatefulSet revision labels <name>-<10-char hash>, both
  // limited to 63 characters; 52 leaves room for both.
  name: str("Name of the job: a DNS label of at most 52 characters (it names the worker StatefulSet and its pods).", {
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    maxLength: 52,
    hint: "lowercase letters, digits and -, starting and ending with a letter or digit, at most 52",
  }),
  spec: streamJobSpec,
  status: streamJobStatus,
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Lifecycle phase." },
    { name: "Ready", type: "string", jsonPath: ".status.readyWorkers", description: "Ready workers / desired." },
    { name: "Lag", type: "integer", jsonPath: ".status.lag", description: "Records behind the end of the inputs." },
    { name: "Last Savepoint", type: "date", jsonPath: ".status.lastSavepoint.timestamp", description: "When the last savepoint completed." },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since creation." },
    { name: "Parallelism", type: "integer", jsonPath: ".spec.parallelism", description: "Desired workers.", priority: 1 },
    { name: "Mode", type: "string", jsonPath: ".spec.upgradeMode", description: "Upgrade mode.", priority: 1 },
    { name: "Generation", type: "string", jsonPath: ".status.jobGeneration", description: "The job generation the workers run.", priority: 1 },
    { name: "Message", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].message', description: "Ready condition message.", priority: 1 },
  ],
  scale: { specReplicasPath: ".spec.parallelism", statusReplicasPath: ".status.parallelism", labelSelectorPath: ".status.selector" },
};

/** StreamSavepoint: one savepoint of a StreamJob. */
export const streamSavepoint: ResourceDefinition = {
  kind: "StreamSavepoint",
  plural: "streamsavepoints",
  singular: "streamsavepoint",
  shortNames: ["ssp"],
  categories: ["runnel"],
  description: "A savepoint of a StreamJob: creating it takes the savepoint; its status says where it is stored.",
  name: str("Name of the savepoint (a DNS subdomain).", { pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253 }),
  spec: streamSavepointSpec,
  status: streamSavepointStatus,
  printerColumns: [
    { name: "Job", type: "string", jsonPath: ".spec.jobName", description: "The StreamJob." },
    { name: "State", type: "string", jsonPath: ".status.state", description: "Savepoint state." },
    { name: "Location", type: "string", jsonPath: ".status.location", description: "Where it is stored.", priority: 1 },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since creation." },
  ],
};

/** Both resources, in generation order. */
export const resources: readonly ResourceDefinition[] = [streamJob, streamSavepoint];
