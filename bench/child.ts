/**
 * A measurement in a process of its own, so its peak RSS and CPU time are its own: a benchmark
 * file runs itself as a child, which prints its result as the last line of stdout, as JSON.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Runs `file` (a module URL, usually the caller's import.meta.url) with `args`; returns the JSON of its last stdout line. */
export async function jsonFromChild<T>(file: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, [fileURLToPath(file), ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res) => child.on("exit", res));
  if (code !== 0) throw new Error(`${fileURLToPath(file)} ${args.join(" ")} exited ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1) as string) as T;
}
