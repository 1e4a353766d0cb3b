#!/usr/bin/env node
/**
 * Entry point of the `runnel` command line: parses the subcommand and dispatches to it. The
 * commands are imported when a command runs, after Node's compile cache is on (see the end).
 */
import { enableCompileCache } from "node:module";
import type { CommandSpec } from "./commands.ts";
import { reportFailure } from "./failure.ts";

const EXIT_USAGE = 2;
const EXIT_UNAVAILABLE = 3;

function overview(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "runnel — stateful stream processing on Kubernetes",
    "",
    "Usage: runnel <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `runnel <command> --help` for a command's options.",
  ].join("\n");
}

function isHelp(arg: string | undefined): boolean {
  return arg === "--help" || arg === "-h" || arg === "help";
}

/** Runs the CLI with the given arguments (without `node` and the script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { commands } = await import("./commands.ts");
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name)) {
    console.log(overview(commands));
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command: CommandSpec | undefined = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`runnel: unknown command '${name}'.`);
    console.error(`Known commands: ${commands.map((c) => c.name).join(", ")}. Run \`runnel --help\` for what each does.`);
    return EXIT_USAGE;
  }
  if (isHelp(rest[0])) {
    console.log(`Usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  if (!command.run) {
    console.error(`runnel ${name}: not yet available in this version (${command.summary}).`);
    return EXIT_UNAVAILABLE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // Commands report their own failures; anything escaping them still gets one line and its class's code.
    return reportFailure(name, err);
  }
}

if (import.meta.main) {
  // Node keeps the compiled modules (TypeScript stripped, V8's code) on disk by their content: the
  // runtime loads in about half the time after the first start. Where: $NODE_COMPILE_CACHE, else the
  // temporary folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off; a folder it cannot write leaves it off.
  enableCompileCache();
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // A worker is a pod's process: once it is done, it exits, whatever client sockets linger.
  if (process.argv[2] === "worker") process.exit(code);
}
