/**
 * Bearer-token authorisation of the admin API's mutating endpoints. The token is the job's
 * shared secret: from $RUNNEL_ADMIN_TOKEN or a file (a mounted Secret, re-read at each request
 * so a rotated Secret takes effect without a restart). Tokens are compared in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigurationError } from "../errors.ts";

/** Reads the configured token; undefined when none is configured. */
export type AdminToken = () => string | undefined;

/** Name of the environment variable holding the admin token. */
export const ADMIN_TOKEN_ENV = "RUNNEL_ADMIN_TOKEN";

/** How to configure a token, for the 403 answer of an unconfigured server. */
export const HOW_TO_CONFIGURE = `set $${ADMIN_TOKEN_ENV} or pass --admin-token-file <file> (e.g. a mounted Secret) to runnel worker`;

/** The outcome of checking a request's Authorization header. */
export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; message: string; challenge?: string };

const REALM = 'Bearer realm="runnel-admin"';

/** True when both strings are equal, in time independent of where they differ (digests have equal length). */
export function tokensEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a, "utf8").digest();
  const db = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(da, db);
}

/** The token of an `Authorization: Bearer <token>` header, undefined for another scheme or none. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m ? m[1] : undefined;
}

/** Checks a request's Authorization header against the configured token. */
export function authorize(configured: string | undefined, header: string | undefined): AuthResult {
  if (configured === undefined || configured === "") {
    return { ok: false, status: 403, message: `mutating admin endpoints are disabled because no admin token is configured: ${HOW_TO_CONFIGURE}` };
  }
  const given = bearerToken(header);
  if (given === undefined)
    return { ok: false, status: 401, message: "this endpoint requires the job's admin token: send 'Authorization: Bearer <token>'", challenge: REALM };
  if (!tokensEqual(given, configured))
    return { ok: false, status: 401, message: "the bearer token is not the job's admin token", challenge: `${REALM}, error="invalid_token"` };
  return { ok: true };
}

/** Reads a token file: its content without surrounding whitespace (a trailing newline is common). */
export function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ConfigurationError(`cannot read the admin token file '${path}': ${(err as Error).message}`, err);
  }
  if (token === "") throw new ConfigurationError(`the admin token file '${path}' is empty`);
  return token;
}

/**
 * The admin token a process uses: the file when given (checked now, re-read on use), else the
 * environment variable, else none. Throws when the file cannot be read or is empty.
 */
export function adminToken(options: { file?: string; env?: NodeJS.ProcessEnv }): AdminToken {
  const file = options.file;
  if (file !== undefined) {
    let last = readTokenFile(file);
    return () => {
      try {
        last = readTokenFile(file);
      } catch {
        // Keep the last good token while a Secret update swaps the file.
      }
      return last;
    };
  }
  const value = (options.env ?? process.env)[ADMIN_TOKEN_ENV]?.trim();
  return () => (value === undefined || value === "" ? undefined : value);
}
