/** Schema pieces shared by StreamJob and StreamSavepoint: names, references, Kubernetes shapes. */
import { int, list, map, obj, oneOf, preserved, str, intOrString, type Schema } from "./builders.ts";
import { custom, type Rule } from "./rules.ts";

/** Step, source and sink ids: they name operator uids and internal topics, so Kafka-safe characters only. */
export const idPattern = "^[A-Za-z][A-Za-z0-9_-]{0,62}$";

/** A stream reference: a source/step id, optionally `.output` for a side output; `dead-letter` is reserved. */
export const refPattern = "^[A-Za-z][A-Za-z0-9_-]{0,62}(\\.[A-Za-z][A-Za-z0-9_-]{0,62})?$";

/** `dead-letter` names the dead-letter stream, so no source or step may take it as its id. */
export const notReserved: Rule = custom("self.id != 'dead-letter'", "dead-letter is reserved for the dead-letter stream", (s) => s.id !== "dead-letter", {
  fieldPath: ".id",
});

/** An id of a source, step or sink. */
export function id(description: string): Schema {
  return str(description, { pattern: idPattern, maxLength: 63, hint: "a letter, then letters, digits, _ or - (at most 63)" });
}

/** A reference to a stream in the pipeline graph. */
export function ref(description: string): Schema {
  return str(`${description} Names a source or step id, or \`<step>.<output>\` for a side output, or \`dead-letter\`.`, {
    pattern: refPattern,
    maxLength: 127,
    hint: "a source or step id, or <step>.<output> for a side output",
  });
}

/** A Kubernetes object name (DNS subdomain). */
export function k8sName(description: string): Schema {
  return str(description, { pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253, hint: "lowercase letters, digits, - and ." });
}

/** A Kafka topic name. */
export function topicName(description: string): Schema {
  return str(description, { pattern: "^[A-Za-z0-9._-]{1,249}$", maxLength: 249, hint: "letters, digits, ., _ and - (at most 249)" });
}

/** A key of a Secret in the StreamJob's namespace. */
export const secretKeyRef: Schema = obj(
  "SecretKeyRef",
  "A key of a Secret in the StreamJob's namespace.",
  {
    name: k8sName("Name of the Secret."),
    key: str("Key within the Secret.", { pattern: "^[-._a-zA-Z0-9]+$", maxLength: 253 }),
  },
  { required: ["name", "key"] },
);

/** metav1.Condition, as `kubectl wait --for=condition=…`, kstatus and Argo CD read it. */
export const condition: Schema = obj(
  "Condition",
  "One aspect of the object's current state (metav1.Condition).",
  {
    type: str("Condition type in CamelCase, e.g. Ready, Progressing, Degraded.", {
      pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
      maxLength: 316,
    }),
    status: oneOf(["True", "False", "Unknown"], "Status of the condition."),
    observedGeneration: int("The .metadata.generation the condition was set for.", { min: 0, int64: true }),
    lastTransitionTime: { ...str("When the condition last changed status.", { maxLength: 64 }), format: "date-time" },
    reason: str("A CamelCase, machine-readable reason for the last transition.", {
      pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
      maxLength: 1024,
      minLength: 1,
    }),
    message: str("Human-readable details about the last transition.", { maxLength: 32768 }),
  },
  { required: ["type", "status", "lastTransitionTime", "reason", "message"] },
);

/** The conditions list, keyed by type (so server-side apply merges per condition). */
export function conditions(description: string): Schema {
  return list(description, condition, { max: 16, mapKeys: ["type"] });
}

/** A timestamp string in RFC 3339 (`2026-01-02T15:04:05Z`). */
export function timestamp(description: string): Schema {
  return { ...str(description, { maxLength: 64 }), format: "date-time" };
}

/** A Kubernetes resource quantity (2, 500m, 1Gi, …). */
export const quantityPattern = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

const quantity = intOrString("A resource quantity, e.g. 2, 500m, 1Gi.", quantityPattern);

/** Container resources of each worker (corev1.ResourceRequirements without claims). */
export const resources: Schema = obj("Resources", "CPU and memory for each worker container.", {
  requests: map("Minimum resources, e.g. cpu: 500m, memory: 512Mi.", quantity, 16),
  limits: map("Maximum resources, e.g. memory: 1Gi.", quantity, 16),
});

/**
 * A curated subset of a pod template: the parts users legitimately tune (placement, identity,
 * extra volumes and env). Each value is the Kubernetes type itself, kept as-is here and validated
 * by the apiserver when the operator applies the StatefulSet; the worker container, its command,
 * probes, ports and security context stay the operator's.
 */
export const podTemplate: Schema = obj(
  "PodTemplateOverrides",
  "Overrides merged into each worker pod. A curated subset of a PodTemplateSpec: the worker container's image, command, ports, probes and security context are owned by the operator.",
  {
    metadata: obj("PodMetadata", "Extra labels and annotations for worker pods.", {
      labels: map("Labels added to worker pods.", str("Label value.", { maxLength: 63 })),
      annotations: map("Annotations added to worker pods.", str("Annotation value.", { maxLength: 65536 })),
    }),
    serviceAccountName: k8sName("Service account for worker pods (default: the one the operator creates for the job)."),
    priorityClassName: k8sName("PriorityClass of worker pods."),
    nodeSelector: map("Node labels worker pods must match.", str("Label value.", { maxLength: 63 })),
    affinity: preserved("A corev1.Affinity for worker pods."),
    tolerations: list("corev1.Toleration entries for worker pods.", preserved("A corev1.Toleration."), { max: 32 }),
    topologySpreadConstraints: list("corev1.TopologySpreadConstraint entries for worker pods.", preserved("A corev1.TopologySpreadConstraint."), { max: 16 }),
    imagePullSecrets: list(
      "Secrets for pulling the image.",
      obj("LocalObjectReference", "A reference to an object in the same namespace.", { name: k8sName("Name of the object.") }, { required: ["name"] }),
      { max: 16 },
    ),
    env: list("Extra corev1.EnvVar entries for the worker container.", preserved("A corev1.EnvVar."), { max: 128 }),
    volumes: list("Extra corev1.Volume entries for worker pods.", preserved("A corev1.Volume."), { max: 32 }),
    volumeMounts: list("Extra corev1.VolumeMount entries for the worker container.", preserved("A corev1.VolumeMount."), { max: 32 }),
    terminationGracePeriodSeconds: int("Seconds a worker gets to finish its final checkpoint after SIGTERM.", { min: 1, max: 3600 }),
  },
);
