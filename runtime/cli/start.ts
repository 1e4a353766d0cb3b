/** `runnel start` (what `npm start` runs): the quickstart StreamJob, locally, on generated data. */
import { join } from "node:path";
import { run } from "./run.ts";

/** The manifest `npm start` runs. */
export const QUICKSTART = join(import.meta.dirname, "..", "..", "examples", "quickstart", "orders.yaml");

/** Runs the quickstart manifest with `runnel run` (extra arguments pass through); stops on Ctrl-C with a summary. */
export async function start(args: string[]): Promise<number> {
  console.error(
    [
      "Runnel quickstart: examples/quickstart/orders.yaml, in-process on generated data (no Kafka, no cluster).",
      "Orders per region in 5-second event-time windows, checked against rules from a broadcast stream;",
      "orders with a non-positive amount go to the dead-letter output with their reason.",
      "Results print below as they fire; the progress line shows events/s, the watermark and the dead letters counted.",
      "Ctrl-C stops with a summary: counts by reason and one dead letter of each (--out <dir> writes them all).",
      "",
    ].join("\n"),
  );
  return run([QUICKSTART, ...args]);
}
