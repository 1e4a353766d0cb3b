// The test tiers, each its own project: unit (no external services), preflight (smoke tests of the
// test environment itself: Kafka, Redis, helm, the node agent, Kubernetes), integration (the
// product against real Kafka / kube-apiserver / Redis from test/env), e2e (whole systems on the
// test env). `npm test` runs them in order through test/run-tiers.ts, which prints the summary.
import { defineConfig } from "vitest/config";

const envSetup = "./test/helpers/env-global-setup.ts";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Generous: a few unit tests start `runnel` processes, slow to start on a loaded machine.
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: "preflight",
          include: ["test/preflight/**/*.test.ts"],
          globalSetup: [envSetup],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: [envSetup],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Tests share one broker and one apiserver; files run one at a time so their load
          // does not make each other's readiness waits flaky on a 2-core machine.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: [envSetup],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
