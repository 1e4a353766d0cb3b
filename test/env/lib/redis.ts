/** A Redis server from Debian's redis-server package, on loopback, with no persistence. */
import { mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { ports } from "./layout.ts";
import { startDaemon, waitUntil } from "./processes.ts";

/** Starts redis-server and waits until it answers PING; returns its URL. */
export async function startRedis({ runDir }: { runDir: string }): Promise<string> {
  const data = join(runDir, "data", "redis");
  mkdirSync(data, { recursive: true });
  const pid = startDaemon({
    name: "redis",
    runDir,
    command: "redis-server",
    args: ["--bind", "127.0.0.1", "--port", String(ports.redis), "--dir", data, "--save", "", "--appendonly", "no", "--daemonize", "no"],
  });
  await waitUntil("redis", () => ping(ports.redis), { timeoutMs: 20_000, pid, logFile: join(runDir, "logs", "redis.log") });
  return `redis://127.0.0.1:${ports.redis}`;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(2_000, () => socket.destroy(new Error("timeout")));
    socket.once("data", (data) => {
      socket.end();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.once("error", reject);
  });
}
