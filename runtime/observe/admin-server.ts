/**
 * The admin HTTP API of a running job. Read-only and unauthenticated (probes, Prometheus):
 * GET `/healthz` (the process serves), `/readyz` (restored and running), `/metrics`
 * (Prometheus), `/status` (JSON) and `/savepoints/<id>` (a savepoint's state). Mutating, with
 * the job's bearer token: POST `/savepoints` (trigger) and POST `/stop` (stop with a savepoint),
 * both taking `{"name": "<relative name>"}` (a name under the job's savepoint root, never a path)
 * and answering 202 with the savepoint's id. `runnel run --admin` serves it locally; the worker
 * pods of a cluster serve it on their pod IP.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { authorize, type AdminToken } from "./admin-auth.ts";
import type { SavepointAccepted, SavepointRequest } from "../worker-contract.ts";
import { SavepointRequestError, type SavepointControl } from "./savepoint-control.ts";
import { RunnelError } from "../errors.ts";

/** What the admin API serves. */
export interface AdminSource {
  /** The metrics (a prom-client registry, or one merged from a worker's threads at each scrape). */
  registry: Pick<Registry, "contentType" | "metrics">;
  /** True once the job restored its state and runs. */
  ready: () => boolean | Promise<boolean>;
  /** The job's status as JSON-serialisable data. */
  /** (May answer a promise: some values are fetched, like the consumer lag.) */
  status: () => Promise<unknown> | object;
  /** Savepoints and stop-with-savepoint; without it those endpoints answer 501. */
  savepoints?: SavepointControl;
  /** The bearer token mutating endpoints require; without one they answer 403. */
  token?: AdminToken;
}

/** A started admin server. */
export interface AdminServer {
  /** Base URL, e.g. http://127.0.0.1:9249. */
  url: string;
  close(): Promise<void>;
}

/** Largest request body accepted (savepoint options are tiny). */
const MAX_BODY_BYTES = 16 * 1024;

const ENDPOINTS = "GET /healthz, /readyz, /metrics, /status, /savepoints/<id>; POST /savepoints, /stop";

type Handler = (source: AdminSource, req: IncomingMessage, res: ServerResponse, param: string) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

function send(res: ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "content-type": type, "cache-control": "no-store", ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, code, "application/json", `${JSON.stringify(body, null, 2)}\n`, headers);
}

/** A request the client got wrong; answered with `status` and the message as JSON. */
class BadRequest extends RunnelError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message, false, { errorClass: "configuration" });
    this.status = status;
  }
}

const BODY_SHAPE = '{"name": "<relative name>"} (a name under the job\'s savepoint root, the same to every worker)';

/** Reads a small `SavepointRequest` body: empty is {}, anything else a JSON object with only `name` (a non-empty string). */
async function savepointRequest(req: IncomingMessage): Promise<SavepointRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(400, `the request body is not JSON: ${(err as Error).message}; send ${BODY_SHAPE} or nothing`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BadRequest(400, `the request body must be a JSON object like ${BODY_SHAPE}`);
  if ("dir" in body)
    throw new BadRequest(400, `savepoints are written under the job's savepoint root (spec.savepoint.storage.path), not into any folder: send ${BODY_SHAPE}`);
  const unknown = Object.keys(body).filter((k) => k !== "name");
  if (unknown.length > 0)
    throw new BadRequest(400, `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}; the only field is 'name'`);
  const name = (body as { name?: unknown }).name;
  if (name === undefined) return {};
  if (typeof name !== "string" || name === "") throw new BadRequest(400, `'name' must be a non-empty string: ${BODY_SHAPE}`);
  return { name };
}

/** The savepoint control, or a 501 when this process takes no savepoints. */
function control(source: AdminSource): SavepointControl {
  if (!source.savepoints) throw new BadRequest(501, "this process does not take savepoints (savepoints are served by the workers of a distributed job)");
  return source.savepoints;
}

/** Answers 401/403 and returns false unless the request carries the configured bearer token. */
function authorized(source: AdminSource, req: IncomingMessage, res: ServerResponse): boolean {
  const result = authorize(source.token?.(), req.headers.authorization);
  if (result.ok) return true;
  sendJson(res, result.status, { error: result.message }, result.challenge ? { "www-authenticate": result.challenge } : {});
  return false;
}

/** POST handler that authorises, parses the `SavepointRequest` and answers 202 with the savepoint id (`SavepointAccepted`). */
function mutation(start: (control: SavepointControl, name: string | undefined) => Promise<string>): Handler {
  return async (source, req, res) => {
    if (!authorized(source, req, res)) {
      req.resume();
      return;
    }
    const sp = control(source);
    const { name } = await savepointRequest(req);
    const accepted: SavepointAccepted = { id: await start(sp, name) };
    sendJson(res, 202, accepted, { location: `/savepoints/${encodeURIComponent(accepted.id)}` });
  };
}

const ROUTES: Route[] = [
  { pattern: /^\/healthz$/, methods: { GET: (_s, _q, res) => send(res, 200, "text/plain", "ok\n") } },
  {
    pattern: /^\/readyz$/,
    methods: {
      GET: async (s, _q, res) =>
        (await s.ready()) ? send(res, 200, "text/plain", "ok\n") : send(res, 503, "text/plain", "not ready: restoring or starting\n"),
    },
  },
  { pattern: /^\/metrics$/, methods: { GET: async (s, _q, res) => send(res, 200, s.registry.contentType, await s.registry.metrics()) } },
  { pattern: /^\/status$/, methods: { GET: async (s, _q, res) => sendJson(res, 200, await s.status()) } },
  { pattern: /^\/savepoints\/?$/, methods: { POST: mutation((c, name) => c.trigger(name)) } },
  {
    pattern: /^\/savepoints\/([^/]+)$/,
    methods: {
      GET: async (s, _q, res, id) => {
        const status = await control(s).status(id);
        if (status === undefined) throw new BadRequest(404, `no savepoint with id '${id}' (ids come from POST /savepoints or POST /stop)`);
        sendJson(res, 200, status);
      },
    },
  },
  { pattern: /^\/stop\/?$/, methods: { POST: mutation((c, name) => c.stopWithSavepoint(name)) } },
];

async function route(source: AdminSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] as string;
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const handler = r.methods[req.method ?? ""];
    if (!handler) {
      const allowed = Object.keys(r.methods).join(", ");
      req.resume();
      return send(res, 405, "text/plain", `method ${req.method} is not allowed on ${path}; allowed: ${allowed}\n`, { allow: allowed });
    }
    let param = "";
    try {
      param = m[1] === undefined ? "" : decodeURIComponent(m[1]);
    } catch {
      throw new BadRequest(400, `malformed percent-encoding in ${path}`);
    }
    return handler(source, req, res, param);
  }
  req.resume();
  return send(res, 404, "text/plain", `not found: ${path}; the endpoints are ${ENDPOINTS}\n`);
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof BadRequest || err instanceof SavepointRequestError) return sendJson(res, err.status, { error: err.message });
  sendJson(res, 500, { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
}

/** Starts the admin server on host:port (port 0 picks a free one). */
export async function startAdminServer(source: AdminSource, options: { host: string; port: number }): Promise<AdminServer> {
  const server = createServer((req, res) => {
    route(source, req, res).catch((err: unknown) => fail(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
