/**
 * `runnel savepoint inspect|dispose <dir>`: what a distributed job's savepoint holds (job,
 * tasks, operators, whether every task was written) and deleting one that is no longer needed.
 */
import { existsSync } from "node:fs";
import { fileSavepointStorage, readSavepoint } from "../distributed/savepoint-store.ts";
import { UsageError } from "./args.ts";
import { reportFailure } from "./failure.ts";

/** Usage text of `runnel savepoint`. */
export const SAVEPOINT_USAGE = `runnel savepoint inspect <dir>   what the savepoint holds, and whether it is complete
runnel savepoint dispose [--missing-ok] <dir>
                                 delete the savepoint (refuses a folder that holds none; with
                                 --missing-ok, a folder that no longer exists is not an error)`;

/** Runs `runnel savepoint`; returns the exit code. */
export async function savepoint(argv: string[]): Promise<number> {
  // The operator disposes of savepoints with a Job that may run again after it succeeded.
  const missingOk = argv.includes("--missing-ok");
  const [action, dir, ...rest] = argv.filter((a) => a !== "--missing-ok");
  if ((action !== "inspect" && action !== "dispose") || dir === undefined || rest.length > 0)
    return reportFailure(
      "savepoint",
      new UsageError("expected inspect or dispose and one savepoint folder, e.g. runnel savepoint inspect /savepoints/upgrade-1"),
    );
  if (missingOk && action === "dispose" && !existsSync(dir)) {
    console.log(`runnel savepoint: nothing to dispose at ${dir} (already gone)`);
    return 0;
  }
  const storage = fileSavepointStorage(dir);
  try {
    const sp = await readSavepoint(storage);
    if (action === "dispose") {
      await storage.dispose();
      console.log(`runnel savepoint: disposed ${sp.id} (${sp.meta.job}) at ${dir}`);
      return 0;
    }
    let entries = 0;
    for (const t of sp.tasks) entries += t?.entryCount ?? 0;
    console.log(
      JSON.stringify(
        {
          id: sp.id,
          job: sp.meta.job,
          createdAt: sp.meta.createdAt,
          tasks: sp.meta.parallelism,
          complete: true,
          keyedEntries: entries,
          operators: sp.meta.operators,
          sources: Object.keys(sp.meta.sources),
        },
        null,
        2,
      ),
    );
    return 0;
  } catch (err) {
    return reportFailure("savepoint", err);
  }
}
