/** Nexmark q5 as a job module for `runnel run` (the local-threads benchmark): args [events, partitions, output dir]. */
import { fileSink } from "../../runtime/connectors/file.ts";
import { nexmarkSource } from "./model.ts";
import { q5 } from "./queries.ts";

export default function q5FileJob(args: string[]) {
  const [events, partitions, out] = args;
  return q5(nexmarkSource({ events: Number(events), partitions: Number(partitions) }), fileSink({ dir: out ?? "q5-out" }));
}
