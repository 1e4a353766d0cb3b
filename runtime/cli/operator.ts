/**
 * `runnel operator`: the StreamJob controller. The operator (operator/, with
 * @kubernetes/client-node) is loaded only when this command runs — by a dynamic import of a path
 * resolved at run time — so `runnel run`, `validate` and `worker` never load it, and runtime/
 * has no import of operator/ that a bundler or the type checker would follow (ADR 19).
 */

/** The usage line of `runnel operator --help` (the full option list: `runnel operator -h` inside the operator). */
export const OPERATOR_USAGE_LINE = `runnel operator [--kubeconfig <file>] [--namespace <ns>]... [--no-leader-elect] [--listen <host:port>]
                [--lease-namespace <ns>] [--lease-name <name>] [--identity <id>] [--worker-image <image>]
                [--state-size <quantity>] [--concurrency <n>] [--resync <duration>]`;

/** The operator's entry point, as loaded at run time. */
interface OperatorModule {
  runOperator(argv: string[]): Promise<number>;
}

/** Runs `runnel operator`; returns the exit code. */
export async function operator(argv: string[]): Promise<number> {
  const entry = new URL("../../operator/main.ts", import.meta.url);
  const mod = (await import(entry.href)) as OperatorModule;
  return mod.runOperator(argv);
}
