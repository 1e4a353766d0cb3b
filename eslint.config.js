// Lint: typescript-eslint with type information, strict where async code hurts, and the
// boundary between the runtime and the operator enforced (docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const clientNode = { name: "@kubernetes/client-node", message: "runtime/ runs without Kubernetes; cluster calls belong in operator/." };
const operatorDir = { group: ["**/operator/**"], message: "runtime/ never imports operator/; the two meet in runtime/spec and runtime/worker-contract.ts." };
const kafkajs = {
  name: "kafkajs",
  message: "Kafka is reached only through runtime/kafka/ (the adapter: admin, producers, partition consumer, read-committed reader).",
};
const kafkajsInternals = { group: ["kafkajs/*"], message: "kafkajs internals are touched only inside runtime/kafka/." };

export default tseslint.config(
  { ignores: ["node_modules/**", "crds/**", "charts/**", "docs/**", ".scratch/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The runtime runs without Kubernetes: `runnel run` never loads the operator or client-node.
    // And it speaks to Kafka only through its adapter, runtime/kafka/ (ADR 12).
    files: ["runtime/**/*.ts"],
    ignores: ["runtime/kafka/**"],
    rules: { "no-restricted-imports": ["error", { paths: [clientNode, kafkajs], patterns: [operatorDir, kafkajsInternals] }] },
  },
  {
    files: ["runtime/kafka/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { paths: [clientNode], patterns: [operatorDir] }] },
  },
  {
    // Benchmarks measure Runnel's own client, through the same adapter.
    files: ["bench/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { paths: [kafkajs], patterns: [kafkajsInternals] }] },
  },
  {
    // The operator sees the runtime only through the schema, the worker contract, the error taxonomy and the logger.
    files: ["operator/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "(^|/)runtime/(?!spec/|worker-contract\\.ts$|errors\\.ts$|log\\.ts$)",
              message: "operator/ may import only runtime/spec, runtime/worker-contract.ts, runtime/errors.ts and runtime/log.ts.",
            },
          ],
        },
      ],
    },
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
);
