/**
 * The admin HTTP API of a running job: `/healthz` (the process serves), `/readyz` (restored and
 * running), `/metrics` (Prometheus) and `/status` (JSON). `runnel run --admin` serves it locally;
 * the worker pods of a cluster serve it on their pod IP for probes and Prometheus.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** What the admin API serves. */
export interface AdminSource {
  registry: Registry;
  /** True once the job restored its state and runs. */
  ready: () => boolean;
  /** The job's status as JSON-serialisable data. */
  status: () => unknown;
}

/** A started admin server. */
export interface AdminServer {
  /** Base URL, e.g. http://127.0.0.1:9249. */
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

async function route(source: AdminSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET") return send(res, 405, "text/plain", "only GET is served here\n");
  switch (path) {
    case "/healthz":
      return send(res, 200, "text/plain", "ok\n");
    case "/readyz":
      return source.ready() ? send(res, 200, "text/plain", "ok\n") : send(res, 503, "text/plain", "not ready: restoring or starting\n");
    case "/metrics":
      return send(res, 200, source.registry.contentType, await source.registry.metrics());
    case "/status":
      return send(res, 200, "application/json", `${JSON.stringify(source.status(), null, 2)}\n`);
    default:
      return send(res, 404, "text/plain", "not found; try /healthz, /readyz, /metrics or /status\n");
  }
}

/** Starts the admin server on host:port (port 0 picks a free one). */
export async function startAdminServer(source: AdminSource, options: { host: string; port: number }): Promise<AdminServer> {
  const server = createServer((req, res) => {
    route(source, req, res).catch((err: unknown) => send(res, 500, "text/plain", `${String(err)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
