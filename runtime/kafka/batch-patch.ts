/**
 * The first change Runnel makes to kafkajs's internals (the others: coordinator-cache.ts, send-patch.ts). kafkajs
 * 2.2.x never hands a fetch to `eachBatch` when none of its records survive kafkajs's own
 * filtering: fetches of only transaction markers or aborted records, and fetches whose records
 * all lie below the fetch offset (the rest of a record batch removed by compaction). The first hide the markers our
 * read-committed filter needs; for the second kafkajs moves on by itself. Loading this module
 * redefines two predicates of kafkajs's Batch so that every fetch that returned any record
 * reaches eachBatch (kafkajs then resolves past it as usual), and an empty fetch still does not.
 * It refuses any kafkajs other than 2.2.x rather than guess. The change is process-wide, made
 * when the first partition consumer is created: another kafkajs consumer in the same process
 * then also gets such fetches in eachBatch, with an empty `batch.messages`.
 */
import { createRequire } from "node:module";
import { ConnectorError } from "../errors.ts";

/** The kafkajs version the patch is written for (major.minor). */
export const PATCHED_KAFKAJS = "2.2.";

/** The parts of kafkajs's Batch the patch redefines and reads. */
interface BatchPrototype {
  isEmpty(this: { rawMessages: unknown[] }): boolean;
  isEmptyDueToFiltering(): boolean;
  runnelDeliversFiltered?: boolean;
}

/** Refuses a kafkajs other than the one the patches are written for. */
export function kafkajsVersionChecked(): void {
  const require = createRequire(import.meta.url);
  const version = (require("kafkajs/package.json") as { version: string }).version;
  if (!version.startsWith(PATCHED_KAFKAJS))
    throw new ConnectorError(`Runnel's Kafka adapter is written for kafkajs ${PATCHED_KAFKAJS}x, found ${version}`, false);
}

/** The prototype of kafkajs's Batch, after checking the installed version. */
export function kafkajsBatchPrototype(): BatchPrototype {
  kafkajsVersionChecked();
  const require = createRequire(import.meta.url);
  return (require("kafkajs/src/consumer/batch.js") as { prototype: BatchPrototype }).prototype;
}

/** Makes every non-empty fetch reach eachBatch (once per process); returns whether it was already applied. */
export function deliverFilteredFetches(): boolean {
  const proto = kafkajsBatchPrototype();
  if (proto.runnelDeliversFiltered === true) return true;
  proto.runnelDeliversFiltered = true;
  // kafkajs's runner returns early for both before calling eachBatch.
  proto.isEmptyDueToFiltering = () => false;
  proto.isEmpty = function isEmpty(this: { rawMessages: unknown[] }): boolean {
    return this.rawMessages.length === 0;
  };
  return false;
}
