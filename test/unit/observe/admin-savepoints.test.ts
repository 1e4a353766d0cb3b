// The admin API's mutating endpoints: POST /savepoints and /stop need the job's bearer token
// (403 with how to configure one when none is, 401 with a challenge when it is missing or
// wrong), answer 202 with an id that GET /savepoints/<id> polls; wrong methods get 405 with
// the allowed ones, bad bodies 400, refused requests the status the control gives.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { adminToken, authorize, bearerToken, tokensEqual, type AdminToken } from "../../../runtime/observe/admin-auth.ts";
import { startAdminServer, type AdminServer } from "../../../runtime/observe/admin-server.ts";
import { SavepointRequestError, type SavepointControl, type SavepointStatus } from "../../../runtime/observe/savepoint-control.ts";

/** A SavepointControl that records requests and completes savepoints when told to. */
class FakeSavepoints implements SavepointControl {
  readonly requests: { kind: "trigger" | "stop"; name: string | undefined }[] = [];
  readonly statuses = new Map<string, SavepointStatus>();
  stopping = false;

  async trigger(name?: string): Promise<string> {
    return this.start("trigger", name);
  }
  status(id: string): SavepointStatus | undefined {
    return this.statuses.get(id);
  }
  async stopWithSavepoint(name?: string): Promise<string> {
    if (this.stopping) throw new SavepointRequestError("the job is already stopping");
    this.stopping = true;
    return this.start("stop", name);
  }
  complete(id: string, path: string): void {
    this.statuses.set(id, { id, state: "completed", path });
  }
  private start(kind: "trigger" | "stop", name: string | undefined): string {
    this.requests.push({ kind, name });
    const id = `sp-${this.requests.length}`;
    this.statuses.set(id, { id, state: "pending" });
    return id;
  }
}

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(options: { token?: AdminToken; savepoints?: SavepointControl } = {}): Promise<void> {
  server = await startAdminServer({ registry: new Registry(), ready: () => true, status: () => ({ ok: true }), ...options }, { host: "127.0.0.1", port: 0 });
}

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: string } = {},
): Promise<{ status: number; headers: Headers; body: string; json: () => unknown }> {
  const res = await fetch(`${server?.url}${path}`, {
    method,
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const body = await res.text();
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body) as unknown };
}

const TOKEN = "s3cret-token";
const token: AdminToken = () => TOKEN;

describe("admin API: savepoints and stop", () => {
  it("triggers a savepoint with the bearer token and polls it until it completes", async () => {
    const sp = new FakeSavepoints();
    await serve({ token, savepoints: sp });
    const started = await call("POST", "/savepoints", { token: TOKEN, body: JSON.stringify({ name: "manual" }) });
    expect(started.status).toBe(202);
    expect(started.json()).toEqual({ id: "sp-1" });
    expect(started.headers.get("location")).toBe("/savepoints/sp-1");
    expect(sp.requests).toEqual([{ kind: "trigger", name: "manual" }]);

    // Polling is a GET: no token needed.
    expect((await call("GET", "/savepoints/sp-1")).json()).toEqual({ id: "sp-1", state: "pending" });
    sp.complete("sp-1", "/savepoints/manual/savepoint-7");
    expect((await call("GET", "/savepoints/sp-1")).json()).toEqual({ id: "sp-1", state: "completed", path: "/savepoints/manual/savepoint-7" });

    const noBody = await call("POST", "/savepoints", { token: TOKEN });
    expect(noBody.status).toBe(202);
    expect(sp.requests[1]).toEqual({ kind: "trigger", name: undefined });
  });

  it("stops with a savepoint once; a second stop is refused with 409", async () => {
    const sp = new FakeSavepoints();
    await serve({ token, savepoints: sp });
    const stop = await call("POST", "/stop", { token: TOKEN, body: "{}" });
    expect(stop.status).toBe(202);
    expect(stop.json()).toEqual({ id: "sp-1" });
    expect(sp.requests).toEqual([{ kind: "stop", name: undefined }]);
    const again = await call("POST", "/stop", { token: TOKEN });
    expect(again.status).toBe(409);
    expect(again.json()).toEqual({ error: "the job is already stopping" });
  });

  it("answers 403 with how to configure a token when none is configured", async () => {
    const sp = new FakeSavepoints();
    await serve({ savepoints: sp });
    for (const path of ["/savepoints", "/stop"]) {
      const res = await call("POST", path, { token: "anything" });
      expect(res.status).toBe(403);
      expect((res.json() as { error: string }).error).toMatch(/RUNNEL_ADMIN_TOKEN.*--admin-token-file/);
    }
    await server?.close();
    await serve({ token: () => undefined, savepoints: sp });
    expect((await call("POST", "/stop")).status).toBe(403);
    expect(sp.requests).toEqual([]);
  });

  it("answers 401 with a Bearer challenge when the token is missing or wrong", async () => {
    const sp = new FakeSavepoints();
    await serve({ token, savepoints: sp });
    const missing = await call("POST", "/savepoints");
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="runnel-admin"');
    const wrong = await call("POST", "/stop", { token: "s3cret-tokeN" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toBe('Bearer realm="runnel-admin", error="invalid_token"');
    const basic = await fetch(`${server?.url}/stop`, { method: "POST", headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` } });
    expect(basic.status).toBe(401);
    expect(sp.requests).toEqual([]);
  });

  it("answers 405 with the allowed methods, 404 for unknown paths and savepoints", async () => {
    await serve({ token, savepoints: new FakeSavepoints() });
    const getStop = await call("GET", "/stop");
    expect(getStop.status).toBe(405);
    expect(getStop.headers.get("allow")).toBe("POST");
    expect(getStop.body).toContain("allowed: POST");
    expect((await call("GET", "/savepoints")).headers.get("allow")).toBe("POST");
    const postMetrics = await call("POST", "/metrics", { token: TOKEN });
    expect(postMetrics.status).toBe(405);
    expect(postMetrics.headers.get("allow")).toBe("GET");
    expect((await call("DELETE", "/savepoints/sp-1", { token: TOKEN })).headers.get("allow")).toBe("GET");

    const unknown = await call("GET", "/savepoints/nope");
    expect(unknown.status).toBe(404);
    expect((unknown.json() as { error: string }).error).toContain("'nope'");
    const notFound = await call("GET", "/nope");
    expect(notFound.status).toBe(404);
    expect(notFound.body).toContain("POST /savepoints, /stop");
  });

  it('rejects bodies that are not {"name": string} with 400, and any "dir" (savepoints go under the job\'s root)', async () => {
    const sp = new FakeSavepoints();
    await serve({ token, savepoints: sp });
    for (const [body, message] of [
      ["not json", /not JSON/],
      ["[1]", /JSON object/],
      ['{"name": 3}', /non-empty string/],
      ['{"name": ""}', /non-empty string/],
      ['{"name": "x", "force": true}', /unknown field 'force'/],
      ['{"dir": "/etc"}', /under the job's savepoint root.*"name"/],
    ] as const) {
      const res = await call("POST", "/savepoints", { token: TOKEN, body });
      expect(res.status, body).toBe(400);
      expect((res.json() as { error: string }).error).toMatch(message);
    }
    const huge = await call("POST", "/savepoints", { token: TOKEN, body: JSON.stringify({ name: "x".repeat(20_000) }) });
    expect(huge.status).toBe(413);
    expect(sp.requests).toEqual([]);
  });

  it("answers 501 when the process takes no savepoints, and 500 with the message when the control fails", async () => {
    await serve({ token });
    const res = await call("POST", "/savepoints", { token: TOKEN });
    expect(res.status).toBe(501);
    expect((await call("GET", "/savepoints/sp-1")).status).toBe(501);
    await server?.close();
    const broken: SavepointControl = {
      trigger: () => Promise.reject(new Error("disk full")),
      status: () => undefined,
      stopWithSavepoint: () => Promise.reject(new SavepointRequestError("not running yet", 503)),
    };
    await serve({ token, savepoints: broken });
    const failed = await call("POST", "/savepoints", { token: TOKEN });
    expect(failed.status).toBe(500);
    expect(failed.json()).toEqual({ error: "Error: disk full" });
    expect((await call("POST", "/stop", { token: TOKEN })).status).toBe(503);
  });

  it("keeps probes, metrics and status unauthenticated", async () => {
    await serve({ token, savepoints: new FakeSavepoints() });
    for (const path of ["/healthz", "/readyz", "/metrics", "/status"]) expect((await call("GET", path)).status, path).toBe(200);
  });
});

describe("admin token", () => {
  it("compares tokens by value and parses Bearer headers", () => {
    expect(tokensEqual("abc", "abc")).toBe(true);
    expect(tokensEqual("abc", "abd")).toBe(false);
    expect(tokensEqual("abc", "abcd")).toBe(false);
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(authorize("t", "Bearer t")).toEqual({ ok: true });
    expect(authorize("", "Bearer ")).toMatchObject({ ok: false, status: 403 });
  });

  it("reads the token from a file (re-read on use, trimmed) or the environment; a file wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "runnel-token-"));
    const file = join(dir, "token");
    writeFileSync(file, "first\n");
    const fromFile = adminToken({ file, env: { RUNNEL_ADMIN_TOKEN: "env-token" } });
    expect(fromFile()).toBe("first");
    writeFileSync(file, "rotated\n");
    expect(fromFile()).toBe("rotated");
    expect(adminToken({ env: { RUNNEL_ADMIN_TOKEN: " env-token " } })()).toBe("env-token");
    expect(adminToken({ env: {} })()).toBeUndefined();
    writeFileSync(file, "\n");
    expect(() => adminToken({ file, env: {} })).toThrow(/empty/);
    expect(() => adminToken({ file: join(dir, "missing"), env: {} })).toThrow(/ENOENT/);
  });
});
