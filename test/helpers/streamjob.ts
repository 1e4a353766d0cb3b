/** A StreamJob for tests that only need a valid one (operator unit and integration tests). */
import type { StreamJob, StreamJobSpec } from "../../runtime/spec/generated/types.ts";

/** A small valid StreamJob `clicks` (a filter from topic in to topic out), with spec and metadata overrides. */
export function testJob(spec: Partial<StreamJobSpec> = {}, metadata: StreamJob["metadata"] = {}): StreamJob {
  return {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: "clicks", namespace: "ns", uid: "0123abcd-0000-0000-0000-000000000000", generation: 1, resourceVersion: "1", ...metadata },
    spec: {
      parallelism: 2,
      kafka: { bootstrapServers: ["kafka:9092"] },
      pipeline: {
        sources: [{ id: "in", kafka: { topic: "in" } }],
        steps: [{ id: "valid", input: "in", filter: { condition: "record.n > 0" } }],
        sinks: [{ id: "out", input: "valid", kafka: { topic: "out" } }],
      },
      ...spec,
    },
  };
}
