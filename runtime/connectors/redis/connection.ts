/**
 * Connections to Redis for the Redis sink and the Redis lookup join (ioredis, ADR 25). One client
 * per sink or lookup step and process, shared by the tasks that run there; requests are pipelined
 * per micro-batch by the callers, never awaited per record.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ConnectorError } from "../../errors.ts";
import { SECRETS_DIR } from "../../worker-contract.ts";

/** Where a Redis server is and how to log in (the `redis` section of a sink or lookup join). */
export interface RedisEndpoint {
  /** host:port. */
  address: string;
  /** Database number (default 0). */
  database?: number;
  /** The password's Secret key, read from the mounted secrets folder. */
  passwordSecretRef?: { name: string; key: string };
  /** Connect with TLS. */
  tls?: boolean;
}

/** Options of openRedis. */
export interface OpenRedisOptions {
  /** Folder where Secrets named by the spec are mounted (`<dir>/<secret>/<key>`); default $RUNNEL_SECRETS_DIR or the worker contract's. */
  secretsDir?: string;
  /** A name for errors and the client (the sink or step id). */
  name: string;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

/** The password of an endpoint, from the mounted Secret; a clear error when it is not there. */
function password(endpoint: RedisEndpoint, options: OpenRedisOptions): string | undefined {
  const ref = endpoint.passwordSecretRef;
  if (!ref) return undefined;
  const dir = options.secretsDir ?? process.env.RUNNEL_SECRETS_DIR ?? SECRETS_DIR;
  const file = join(dir, ref.name, ref.key);
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConnectorError(
      `${options.name}: cannot read the Redis password of Secret ${ref.name}/${ref.key} at ${file} (${(err as Error).message}); mount the Secret there or set RUNNEL_SECRETS_DIR`,
      false,
      err,
    );
  }
}

/** Splits host:port; a clear configuration error otherwise. */
export function parseAddress(address: string, name: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw new ConnectorError(`${name}: Redis address '${address}' is not host:port (e.g. redis:6379)`, false);
  return { host: m[1] as string, port };
}

/**
 * Connects to Redis. Unreachable servers fail as a transient ConnectorError naming the address
 * (a restart may help once Redis is up); commands fail fast instead of queueing while offline.
 */
export async function openRedis(endpoint: RedisEndpoint, options: OpenRedisOptions): Promise<Redis> {
  const { host, port } = parseAddress(endpoint.address, options.name);
  const pass = password(endpoint, options);
  const client = new Redis({
    host,
    port,
    db: endpoint.database ?? 0,
    ...(pass === undefined ? {} : { password: pass }),
    ...(endpoint.tls ? { tls: { servername: host } } : {}),
    lazyConnect: true,
    connectionName: `runnel-${options.name}`.replace(/[^A-Za-z0-9._-]/g, "-"),
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    // Reconnect a few times, then give up: the worker restarts and the replay rewrites what was lost.
    retryStrategy: (times) => (times > 5 ? null : Math.min(times * 200, 2_000)),
  });
  // Errors surface through the commands that fail; the client's own event would otherwise be unhandled.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new ConnectorError(
      `${options.name}: cannot reach Redis at ${endpoint.address}: ${(err as Error).message}; check the address and that Redis is up`,
      true,
      err,
    );
  }
  return client;
}

/** A Redis failure of a batch of commands as a ConnectorError (connection trouble is transient; a refused command is not). */
export function redisError(name: string, what: string, err: unknown): ConnectorError {
  const message = err instanceof Error ? err.message : String(err);
  const refused = /^(WRONGTYPE|ERR|NOSCRIPT|NOPERM|NOAUTH|WRONGPASS|READONLY)/.test(message);
  const hint = /^WRONGTYPE/.test(message) ? "; a key the job writes holds another type: change the key expression or keyPrefix, or delete the key" : "";
  return new ConnectorError(`${name}: ${what} failed: ${message}${hint}`, !refused, err);
}
