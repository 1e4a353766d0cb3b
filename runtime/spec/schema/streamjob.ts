/** The StreamJob spec and status. */
import { bool, duration, int, intOrString, list, map, obj, oneOf, str, preserved, type Schema } from "./builders.ts";
import { conditions, k8sName, podTemplate, quantityPattern, resources, secretKeyRef, timestamp } from "./common.ts";
import { pipeline } from "./pipeline.ts";
import { custom, durationAtLeast, exactlyOne, requiredWhen, requires, type Obj } from "./rules.ts";

const kafka = obj(
  "KafkaConnection",
  "How workers reach Kafka (sources, sinks, changelogs and checkpoint transactions).",
  {
    bootstrapServers: list(
      "host:port of one or more brokers.",
      str("A broker address.", { pattern: "^[^\\s:]+:[0-9]{1,5}$", maxLength: 261, hint: "host:port, e.g. kafka:9092" }),
      { min: 1, max: 16 },
    ),
    clientId: str("Kafka client id prefix (default: <namespace>.<job>).", { maxLength: 253 }),
    tls: obj(
      "KafkaTls",
      "TLS to the brokers.",
      {
        enabled: bool("Use TLS.", true),
        caSecretRef: secretKeyRef,
        certSecretRef: secretKeyRef,
        keySecretRef: secretKeyRef,
        insecureSkipVerify: bool("Do not verify the broker certificate (testing only).", false),
      },
      { rules: [requires("certSecretRef", "keySecretRef", "a client certificate needs its key (keySecretRef)")] },
    ),
    sasl: obj(
      "KafkaSasl",
      "SASL authentication.",
      {
        mechanism: oneOf(["plain", "scram-sha-256", "scram-sha-512"], "SASL mechanism."),
        username: str("User name (or usernameSecretRef).", { maxLength: 253 }),
        usernameSecretRef: secretKeyRef,
        passwordSecretRef: secretKeyRef,
      },
      { required: ["mechanism", "passwordSecretRef"], rules: [exactlyOne(["username", "usernameSecretRef"])] },
    ),
  },
  { required: ["bootstrapServers"] },
);

const checkpoint = obj(
  "CheckpointSettings",
  "Checkpoints: per task, one Kafka transaction holds outputs, state changes and input offsets.",
  {
    interval: duration("Time between checkpoints.", "5s"),
    timeout: duration("A checkpoint not committed within this is aborted and retried.", "1m"),
    mode: oneOf(
      ["exactly-once", "at-least-once"],
      "exactly-once commits outputs transactionally (read_committed readers see each once); at-least-once skips transactions.",
      "exactly-once",
    ),
  },
  { rules: [durationAtLeast("interval", "100ms", "checkpoint interval must be at least 100ms")] },
);

const savepoint = obj(
  "SavepointSettings",
  "Savepoints: portable snapshots used by upgrades, rescales and manual triggers.",
  {
    storage: obj(
      "SavepointStorage",
      "Where savepoints are written.",
      {
        path: str(
          "Folder for savepoints inside worker pods (or on disk in local mode): the savepoint root. Admin requests name savepoints relative to it; nothing is written outside it.",
          {
            maxLength: 4096,
            minLength: 1,
            pattern: "^/",
            hint: "an absolute path, e.g. /savepoints",
          },
        ),
        claimName: k8sName("A ReadWriteMany PersistentVolumeClaim mounted at `path` in every worker; without it, `path` must come from a podTemplate volume."),
      },
      { required: ["path"] },
    ),
    interval: duration("Take a periodic savepoint this often; none when absent."),
    historyMax: int("Savepoints kept (older ones are disposed).", { min: 1, max: 100, default: 5 }),
    historyMaxAge: duration("Savepoints older than this are disposed (the newest one is always kept); none when absent."),
    timeout: duration(
      "A savepoint not completed within this fails, naming the workers it waited for, and the job resumes (`runnel worker --savepoint-timeout` overrides it).",
      "10m",
    ),
  },
  { required: ["storage"] },
);

const restartPolicy = obj(
  "RestartPolicy",
  "How worker crashes are handled: restarts are counted in a sliding window; past maxRestarts the job is stopped with a Failed condition instead of looping. The delay before each restart is the kubelet's crash-loop back-off.",
  {
    maxRestarts: int("Restarts allowed within `window`.", { min: 0, max: 1000, default: 5 }),
    window: duration("The sliding window restarts are counted in.", "10m"),
  },
);

/** Names the stream sources whose declared partition count is below parallelism (both fields, for `runnel validate`). */
function parallelismHint(spec: Obj): string | undefined {
  const par = typeof spec.parallelism === "number" ? spec.parallelism : 1;
  const srcs = ((spec.pipeline as Obj | undefined)?.sources ?? []) as Obj[];
  if (!Array.isArray(srcs)) return undefined;
  const low = srcs.flatMap((s, i) => {
    const p = (s.kafka as Obj | undefined)?.partitions;
    return typeof p === "number" && (s.mode ?? "stream") === "stream" && p < par
      ? [`.spec.pipeline.sources[${i}].kafka.partitions is ${p} (source ${String(s.id)})`]
      : [];
  });
  return low.length ? `.spec.parallelism is ${par} but ${low.join(", ")}; lower parallelism or add partitions` : undefined;
}

/** StreamJob spec. */
export const streamJobSpec: Schema = obj(
  "StreamJobSpec",
  "The desired state of a streaming job.",
  {
    image: str("Runnel image for the workers (default: the operator's configured image).", { maxLength: 1024 }),
    imagePullPolicy: oneOf(["Always", "IfNotPresent", "Never"], "Image pull policy."),
    parallelism: int(
      "Number of worker pods. Each owns the partitions p with p mod parallelism == its ordinal, so it is bounded by the input partition count. Changing it (or kubectl scale) rescales through a savepoint or the last state.",
      { min: 1, max: 1024, default: 1 },
    ),
    state: oneOf(
      ["running", "suspended"],
      "running runs the job; suspended stops it (with a savepoint in savepoint mode) and keeps its state for later.",
      "running",
    ),
    upgradeMode: oneOf(
      ["stateless", "savepoint", "last-state"],
      "How a spec change is rolled out: stateless starts fresh, savepoint does stop-with-savepoint and restores from it, last-state restarts from the latest checkpoint.",
      "last-state",
    ),
    pipeline,
    sql: str(
      "The job as a Flink-style SQL script: CREATE TABLE (with WITH connector options), CREATE VIEW, SET and INSERT INTO statements, compiled onto the same runtime as a pipeline. See docs/sql.md.",
      { minLength: 1, maxLength: 262144 },
    ),
    module: obj(
      "ModuleJob",
      "A job built with the typed TypeScript API: a module inside the image that exports it.",
      {
        path: str("Path of the module inside the image, e.g. /app/jobs/clicks.ts.", { maxLength: 4096, minLength: 1 }),
        export: str("The export holding the job.", { maxLength: 253, default: "default" }),
        config: preserved("Configuration passed to the module (any JSON)."),
      },
      { required: ["path"] },
    ),
    kafka,
    checkpoint,
    savepoint,
    restartPolicy,
    rollback: obj("RollbackSettings", "Rolling back failed upgrades to the last stable spec and its savepoint.", {
      enabled: bool("Roll back when an upgrade does not become stable.", true),
      readinessTimeout: duration("An upgrade whose workers are not all ready within this has failed.", "5m"),
      stableAfter: duration("A spec is stable after checkpoints complete with no restarts for this long.", "1m"),
    }),
    resources,
    threadsPerWorker: int(
      "Threads each worker pod runs its tasks on (Node worker threads, each with its own state stores, producers and consumers). Default: the whole cores of resources.limits.cpu (at least 1), else 1. The job's tasks are spread over parallelism × threadsPerWorker threads, so changing it restarts the workers from their state, as a rescale does.",
      { min: 1, max: 64 },
    ),
    stateStorage: obj(
      "StateStorage",
      "The volume each worker keeps its tasks' local state (LevelDB) on: a PersistentVolumeClaim per worker, from the StatefulSet's volumeClaimTemplate. Immutable once the job runs.",
      {
        size: intOrString("Requested size of each worker's state volume.", quantityPattern),
        storageClassName: k8sName("StorageClass of the state volumes (default: the cluster's default class)."),
      },
    ),
    stateCache: obj(
      "StateCache",
      "The write-back cache in front of each task's LevelDB state: what bounds a worker's memory, not the key count (ADR 31). Changing it restarts the workers from their state.",
      {
        entries: int(
          "Keyed-state entries each task keeps in memory; beyond it the oldest-loaded half is written back and dropped, and a watermark firing more keys than a quarter of it loads and fires them in slices; each keyed operator keeps up to four times as many timers per time domain in memory and the later ones in the store (ADR 34). Each task also keeps a filter of the keys its store holds, 16 bytes per entry of this bound (at most 16 MiB), so keys never stored are not read (ADR 39). Default 200000.",
          { min: 10, max: 100_000_000 },
        ),
      },
    ),
    podTemplate,
    savepointTriggerNonce: int("Change to any new value to take a savepoint now (one-shot).", { int64: true }),
    restartNonce: int("Change to any new value to restart the workers now (from the last checkpoint).", { int64: true }),
    restoreFrom: obj(
      "RestoreFrom",
      "The savepoint a job without state starts from.",
      {
        savepointName: k8sName("A StreamSavepoint in this namespace."),
        path: str("A savepoint location in the savepoint storage.", { maxLength: 4096, minLength: 1 }),
      },
      { rules: [exactlyOne(["savepointName", "path"])] },
    ),
    allowNonRestoredState: bool("Allow restoring a savepoint with state for operators the job no longer has (that state is dropped).", false),
    dropIncompatibleState: list(
      "Steps whose restored state is dropped when it is incompatible with the job (e.g. a window whose size or lateness changed, an aggregation changed under the same name) instead of the restore being refused; the step starts empty. Compatible state is always kept, so the entry is harmless once the job runs.",
      str("A step id (operator uid).", { maxLength: 253, minLength: 1 }),
      { max: 64, set: true },
    ),
  },
  {
    rules: [
      exactlyOne(["pipeline", "module", "sql"], "of"),
      requiredWhen("upgradeMode", ["savepoint"], "savepoint"),
      requires("savepointTriggerNonce", "savepoint", "savepointTriggerNonce needs savepoint storage (spec.savepoint)"),
      custom(
        "!has(self.pipeline) || self.pipeline.sources.all(s, !has(s.kafka) || !has(s.kafka.partitions) || (has(s.mode) && s.mode != 'stream') || s.kafka.partitions >= self.parallelism)",
        "parallelism must not exceed the partition count of a stream source (workers beyond it would idle)",
        (spec) => {
          const par = typeof spec.parallelism === "number" ? spec.parallelism : 1;
          const srcs = ((spec.pipeline as Obj | undefined)?.sources ?? []) as Obj[];
          return (
            !Array.isArray(srcs) ||
            srcs.every((s) => {
              const k = s.kafka as Obj | undefined;
              return typeof k?.partitions !== "number" || (s.mode ?? "stream") !== "stream" || k.partitions >= par;
            })
          );
        },
        { fieldPath: ".parallelism", hint: parallelismHint },
      ),
    ],
  },
);

const savepointRef = obj("SavepointRecord", "A completed savepoint.", {
  name: str("The StreamSavepoint object, if any (such savepoints are disposed with their object, not by the history).", { maxLength: 253 }),
  location: str("Where it is stored.", { maxLength: 4096 }),
  timestamp: timestamp("When it completed."),
  trigger: oneOf(["manual", "periodic", "upgrade", "rescale", "suspend", "nonce"], "What caused it."),
  specHash: str("Hash of the spec it was taken under.", { maxLength: 128 }),
  jobGeneration: str("The job generation it was taken from.", { maxLength: 64 }),
});

const jobGeneration = (description: string): Schema => str(description, { maxLength: 64 });

/** StreamJob status, written by the operator. */
export const streamJobStatus: Schema = obj("StreamJobStatus", "The observed state of a streaming job, written by the operator.", {
  observedGeneration: int("The .metadata.generation this status describes.", { min: 0, int64: true }),
  conditions: conditions("Ready, Progressing, Degraded, SavepointInProgress, and kstatus' Reconciling and Stalled, in the metav1.Condition shape."),
  phase: oneOf(
    ["Pending", "Deploying", "Running", "Upgrading", "Rescaling", "Savepointing", "Suspending", "Suspended", "RollingBack", "Failed", "Completed"],
    "Coarse lifecycle phase.",
  ),
  parallelism: int("Worker count currently running (the scale subresource's status replicas).", { min: 0 }),
  selector: str("Label selector of the worker pods (for the scale subresource and HPA).", { maxLength: 1024 }),
  readyWorkers: str("Ready workers over desired, e.g. 2/3 (printer column).", { maxLength: 32 }),
  workers: obj("WorkerCounts", "Worker pod counts.", {
    desired: int("Desired workers.", { min: 0 }),
    ready: int("Ready workers.", { min: 0 }),
  }),
  lag: int("Records behind the end of the job's inputs, summed over the ready workers (from their /status).", { min: 0, int64: true }),
  lastCheckpoint: obj("CheckpointProgress", "Checkpoints, as the workers report them.", {
    count: int("Checkpoints completed by the running worker processes, summed.", { min: 0, int64: true }),
    time: timestamp("When the operator last saw the count grow."),
  }),
  jobGeneration: jobGeneration("The job generation the workers run (one lineage of internal topics; see the worker contract)."),
  restoredFrom: str("The savepoint the current job generation started from (every start of the generation is given it).", { maxLength: 4096 }),
  jobGenerationCount: int("Job generations started so far (names the next one).", { min: 0 }),
  currentSpec: preserved("The job-affecting spec the workers run: the last valid spec applied, the base that spec changes are classified against."),
  lastSavepoint: savepointRef,
  savepoints: list("Recent savepoints, newest first (at most savepoint.historyMax).", savepointRef, { max: 100 }),
  observedSavepointTriggerNonce: int("The savepointTriggerNonce last acted on.", { int64: true }),
  observedRestartNonce: int("The restartNonce last acted on.", { int64: true }),
  currentSpecHash: str("Hash of the job-affecting spec the workers run.", { maxLength: 128 }),
  lastStableSpec: obj("StableSpec", "The last spec that ran stably: the rollback target.", {
    hash: str("Hash of the job-affecting spec.", { maxLength: 128 }),
    generation: int("Its metadata.generation.", { min: 0, int64: true }),
    jobGeneration: jobGeneration("The job generation that ran it."),
    parallelism: int("The worker count it ran with.", { min: 0 }),
    savepoint: str("Savepoint location to roll back to.", { maxLength: 4096 }),
    since: timestamp("When it became stable."),
    spec: preserved("The spec itself, to roll back to."),
  }),
  failedSpec: obj("FailedSpec", "A spec the operator gave up on (its upgrade failed or was rolled back); it is not tried again until the spec changes.", {
    hash: str("Hash of the job-affecting spec.", { maxLength: 128 }),
    generation: int("Its metadata.generation.", { min: 0, int64: true }),
    reason: str("A CamelCase reason.", { maxLength: 128 }),
    message: str("What happened.", { maxLength: 32768 }),
    time: timestamp("When."),
  }),
  pendingAction: obj(
    "PendingAction",
    "The action in progress, written before acting so a restarted operator resumes it (a write-ahead log).",
    {
      type: oneOf(["deploy", "upgrade", "rescale", "savepoint", "suspend", "resume", "restart", "rollback", "stop"], "The action."),
      step: str("The step reached, e.g. savepointing, scaledDown, rolling, scalingUp.", { maxLength: 64 }),
      startedAt: timestamp("When it started."),
      stepStartedAt: timestamp("When the current step started."),
      targetGeneration: int("The metadata.generation it moves to.", { min: 0, int64: true }),
      targetSpecHash: str("The spec hash it moves to.", { maxLength: 128 }),
      targetSpec: preserved("The job-affecting spec it moves to (fixed when the action starts)."),
      targetParallelism: int("The worker count it moves to.", { min: 0 }),
      targetJobGeneration: jobGeneration("The job generation the workers start in."),
      mode: oneOf(["stateless", "savepoint", "last-state"], "How state is carried over."),
      savepoint: str("The savepoint it takes or restores from.", { maxLength: 4096 }),
      details: map("Action-specific details.", str("A value.", { maxLength: 4096 }), 32),
    },
    { required: ["type"] },
  ),
  restarts: obj("RestartCounts", "Worker restarts.", {
    total: int("Restarts since the job started.", { min: 0 }),
    inWindow: int("Restarts within restartPolicy.window.", { min: 0 }),
    lastRestartTime: timestamp("The most recent restart."),
    recent: list("Times of the restarts within restartPolicy.window, newest first.", timestamp("A restart."), { max: 1001 }),
    seen: map("Restart count last seen per worker pod (`<pod uid>` → count).", int("Restarts.", { min: 0 }), 1024),
  }),
  lastError: obj("LastError", "The most recent error.", {
    time: timestamp("When it happened."),
    reason: str("A CamelCase reason.", { maxLength: 128 }),
    message: str("What happened.", { maxLength: 32768 }),
    worker: int("The worker ordinal, if any.", { min: 0 }),
    exitCode: int("The worker's exit code, if it exited.", { min: 0, max: 255 }),
    exitClass: str("What the exit code says (configuration, transient, fenced, data, internal, killed, …).", { maxLength: 32 }),
  }),
});
