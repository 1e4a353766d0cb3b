/**
 * The operator's side of the worker admin API (runtime/worker-contract.ts): trigger a savepoint,
 * stop with a savepoint, poll one, read a worker's status. Workers are reached on their pod IP and
 * the contract's admin port; mutating calls carry the job's bearer token. Every call has a short
 * timeout: a reconcile never hangs on a worker.
 */
import {
  ADMIN_PATHS,
  ADMIN_PORT,
  type SavepointAccepted,
  type SavepointRequest,
  type SavepointStatusBody,
  type WorkerStatus,
} from "../../runtime/worker-contract.ts";
import { WorkerAdminError } from "../errors.ts";

/** Talks to workers' admin APIs. */
export interface WorkerAdmin {
  /** POST /savepoints; resolves to the savepoint id. */
  triggerSavepoint(ip: string, token: string, request: SavepointRequest): Promise<string>;
  /** POST /stop; resolves to the savepoint id. */
  stopWithSavepoint(ip: string, token: string, request: SavepointRequest): Promise<string>;
  /** GET /savepoints/<id>; undefined when the worker does not know the id (404). */
  savepointStatus(ip: string, id: string): Promise<SavepointStatusBody | undefined>;
  /** GET /status. */
  status(ip: string): Promise<WorkerStatus>;
}

/** Options of the HTTP worker admin client. */
export interface WorkerAdminOptions {
  /** Per-call timeout (default 3 s). */
  timeoutMs?: number;
  /** The admin port (default the contract's; tests may differ). */
  port?: number;
}

/** The admin API over HTTP. */
export function httpWorkerAdmin(options: WorkerAdminOptions = {}): WorkerAdmin {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const port = options.port ?? ADMIN_PORT;
  const url = (ip: string, path: string): string => `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}${path}`;

  async function call<T>(
    ip: string,
    method: "GET" | "POST",
    path: string,
    init: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(url(ip, path), {
        method,
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new WorkerAdminError(`${method} ${url(ip, path)}: no answer (${(err as Error).message})`, 0, err);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      // plain-text error bodies stay text
    }
    return { status: res.status, body: body as T };
  }

  function errorText(body: unknown): string {
    if (body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string") return (body as { error: string }).error;
    return typeof body === "string" ? body.slice(0, 300) : JSON.stringify(body).slice(0, 300);
  }

  async function start(ip: string, token: string, path: string, request: SavepointRequest): Promise<string> {
    const { status, body } = await call<SavepointAccepted>(ip, "POST", path, { token, body: request });
    if (status === 202 && typeof body.id === "string") return body.id;
    throw new WorkerAdminError(`POST ${path} on ${ip}: HTTP ${status}: ${errorText(body)}`, status);
  }

  return {
    triggerSavepoint: (ip, token, request) => start(ip, token, ADMIN_PATHS.savepoints, request),
    stopWithSavepoint: (ip, token, request) => start(ip, token, ADMIN_PATHS.stop, request),
    async savepointStatus(ip, id) {
      const { status, body } = await call<SavepointStatusBody>(ip, "GET", `${ADMIN_PATHS.savepoints}/${encodeURIComponent(id)}`);
      if (status === 404) return undefined;
      if (status !== 200) throw new WorkerAdminError(`GET savepoint ${id} on ${ip}: HTTP ${status}: ${errorText(body)}`, status);
      return body;
    },
    async status(ip) {
      const { status, body } = await call<WorkerStatus>(ip, "GET", ADMIN_PATHS.status);
      if (status !== 200) throw new WorkerAdminError(`GET /status on ${ip}: HTTP ${status}: ${errorText(body)}`, status);
      return body;
    },
  };
}
