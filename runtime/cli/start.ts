/** `runnel start` (what `npm start` runs): the guided first run of a bundled example system. */

/** Explains what `npm start` will run once the local runtime lands; exits 0 so `npm ci && npm start` succeeds. */
export async function start(_args: string[]): Promise<number> {
  console.log(
    [
      "Runnel — stateful stream processing on Kubernetes",
      "",
      "`npm start` will run a bundled example system (a windowed, keyed pipeline with a rule filter)",
      "in-process on generated data, with a live progress line, ending cleanly on Ctrl-C.",
      "That needs the local runtime, which this build does not have yet.",
      "",
      "What works today:",
      "  npm test                   the whole test suite, against a real Kafka broker, Kubernetes control",
      "                             plane, helm and Redis that it builds and starts itself (test/env)",
      "  npm run runnel -- --help   the command line and its planned subcommands",
      "  npm run runnel -- validate test/fixtures/streamjobs/risk.yaml",
      "                             check a StreamJob manifest (schema, graph, CEL types)",
    ].join("\n"),
  );
  return 0;
}
