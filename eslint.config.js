// Lint: typescript-eslint with type information, strict where async code hurts, and the
// boundary between the runtime and the operator enforced (docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    files: ["runtime/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "@kubernetes/client-node", message: "runtime/ runs without Kubernetes; cluster calls belong in operator/." }],
          patterns: [{ group: ["**/operator/**"], message: "runtime/ never imports operator/; the two meet in runtime/spec and runtime/worker-contract.ts." }],
        },
      ],
    },
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
