/** The StreamSavepoint spec and status. */
import { bool, int, obj, oneOf, str, type Schema } from "./builders.ts";
import { conditions, k8sName, timestamp } from "./common.ts";
import { custom } from "./rules.ts";

/** StreamSavepoint spec: which job, how, and whether to delete the files with the object. */
export const streamSavepointSpec: Schema = obj(
  "StreamSavepointSpec",
  "A savepoint of a StreamJob: creating the object takes it (or registers an existing one with `path`). Immutable.",
  {
    jobName: k8sName("The StreamJob in this namespace."),
    type: oneOf(["savepoint", "stop"], "savepoint keeps the job running; stop is stop-with-savepoint (the job is suspended afterwards).", "savepoint"),
    format: oneOf(["canonical"], "Savepoint format: canonical is portable (state exported by key, re-split on restore).", "canonical"),
    disposeOnDelete: bool("Delete the savepoint files when this object is deleted.", false),
    path: str("Register an existing savepoint at this location instead of taking one.", { maxLength: 4096, minLength: 1 }),
  },
  {
    required: ["jobName"],
    rules: [custom("self == oldSelf", "spec is immutable; create a new StreamSavepoint instead", undefined)],
  },
);

/** StreamSavepoint status. */
export const streamSavepointStatus: Schema = obj("StreamSavepointStatus", "Progress and result of the savepoint.", {
  observedGeneration: int("The .metadata.generation this status describes.", { min: 0, int64: true }),
  state: oneOf(["Pending", "InProgress", "Completed", "Failed", "Disposed"], "Where the savepoint is."),
  location: str("Where the savepoint is stored.", { maxLength: 4096 }),
  timestamp: timestamp("When it completed."),
  specHash: str("Hash of the job spec it was taken under.", { maxLength: 128 }),
  jobGeneration: str("The job generation it was taken from.", { maxLength: 64 }),
  claimName: k8sName("The PersistentVolumeClaim holding it (so it can be disposed even after its job is gone)."),
  storagePath: str("Where that claim is mounted (the job's spec.savepoint.storage.path).", { maxLength: 4096 }),
  error: str("Why it failed.", { maxLength: 32768 }),
  conditions: conditions("Ready (completed), Failed, … in the metav1.Condition shape."),
});
