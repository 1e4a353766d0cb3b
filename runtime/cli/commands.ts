/** The `runnel` subcommands: what each does, and whether it is available in this build. */
import { operator, OPERATOR_USAGE_LINE } from "./operator.ts";
import { run, RUN_USAGE } from "./run.ts";
import { savepoint, SAVEPOINT_USAGE } from "./savepoint.ts";
import { start } from "./start.ts";
import { validate } from "./validate.ts";
import { worker, WORKER_USAGE } from "./worker.ts";

export interface CommandSpec {
  /** The word typed after `runnel`. */
  name: string;
  /** Usage line shown by `runnel <name> --help`. */
  usage: string;
  /** One line for the overview in `runnel --help`. */
  summary: string;
  /** Runs the command and resolves to the process exit code; absent while not yet built. */
  run?: (args: string[]) => Promise<number>;
}

/** Every subcommand, in the order `runnel --help` lists them. */
export const commands: CommandSpec[] = [
  {
    name: "run",
    usage: RUN_USAGE,
    summary: "run a job in-process on this machine (local mode: no Kafka, no cluster)",
    run,
  },
  {
    name: "validate",
    usage: "runnel validate <streamjob.yaml>... [--output text|json]   (- reads standard input)",
    summary: "check a StreamJob manifest and print each error with its field path",
    run: validate,
  },
  {
    name: "worker",
    usage: WORKER_USAGE,
    summary: "run this pod's share of a job's tasks (started by the operator inside a worker pod)",
    run: worker,
  },
  {
    name: "savepoint",
    usage: SAVEPOINT_USAGE,
    summary: "inspect or dispose of a distributed job's savepoint",
    run: savepoint,
  },
  {
    name: "operator",
    usage: OPERATOR_USAGE_LINE,
    summary: "run the StreamJob controller against a Kubernetes cluster (in a pod, or with --kubeconfig)",
    run: operator,
  },
  {
    name: "start",
    usage: "runnel start [runnel run options, e.g. --max-records 10000]",
    summary: "run a bundled example system on generated data (what `npm start` does)",
    run: start,
  },
];
