/** A changelog partition in memory, as the changelog replay reads it (a fake of our own Source interface). */
import type { Source } from "../../runtime/connectors/types.ts";
import type { ChangelogRecord } from "../../runtime/distributed/changelog.ts";

/** A one-partition changelog holding `records`; a read returns up to `perRead` of them and first calls `onRead` (e.g. to move a clock). */
export function memoryChangelog(records: ChangelogRecord[], options: { perRead?: number; onRead?: () => void } = {}): Source<ChangelogRecord> {
  return {
    name: "changelog",
    partitions: 1,
    async open(_p, position) {
      let next = typeof position === "number" ? position : 0;
      return {
        async read(max) {
          options.onRead?.();
          const out = records.filter((r) => r.offset >= next).slice(0, Math.min(max, options.perRead ?? max));
          if (out.length > 0) next = (out.at(-1) as ChangelogRecord).offset + 1;
          return { records: out, done: false };
        },
        position: () => next,
        close: async () => {},
      };
    },
  };
}
