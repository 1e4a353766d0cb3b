/**
 * The operator's own HTTP endpoints: `/healthz` (liveness: the process serves and its watches are
 * not stalled), `/readyz` (readiness: the caches are synced; a standby replica is ready too, so a
 * rollout never waits on leadership) and `/metrics` (Prometheus).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** A health check: undefined when fine, else what is wrong. */
export type Check = () => string | undefined;

/** Options of the health/metrics server. */
export interface OperatorServerOptions {
  host: string;
  port: number;
  registry: Registry;
  healthy: Check;
  ready: Check;
}

/** A started server. */
export interface OperatorServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the health and metrics server. */
export async function startOperatorServer(options: OperatorServerOptions): Promise<OperatorServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer = (check: Check): void => {
      const problem = check();
      res.writeHead(problem === undefined ? 200 : 503, { "content-type": "text/plain; charset=utf-8" });
      res.end(problem === undefined ? "ok\n" : `${problem}\n`);
    };
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end("only GET\n");
      return;
    }
    if (path === "/healthz") return answer(options.healthy);
    if (path === "/readyz") return answer(options.ready);
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": options.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500).end(`${(err as Error).message}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: GET /healthz, /readyz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
