// A job's worker admin token is derived from the operator's key (ADR 28): the same for every
// replica holding the key, different for another job, another uid of the same name, or another key.
import { describe, expect, it } from "vitest";
import { deriveAdminToken } from "../../../operator/kube/admin-key.ts";
import type { StreamJob } from "../../../runtime/spec/generated/types.ts";

const job = (namespace: string, name: string, uid: string) => ({ metadata: { namespace, name, uid } }) as unknown as StreamJob;

describe("deriveAdminToken", () => {
  const key = Buffer.alloc(32, 7);

  it("is the same for the same key and job, 64 hex characters", () => {
    expect(deriveAdminToken(Buffer.from(key), job("team-a", "clicks", "u1"))).toBe(deriveAdminToken(key, job("team-a", "clicks", "u1")));
    expect(deriveAdminToken(key, job("team-a", "clicks", "u1"))).toMatch(/^[0-9a-f]{64}$/);
  });

  it("differs for another namespace, name, uid or key", () => {
    const tokens = [
      deriveAdminToken(key, job("team-a", "clicks", "u1")),
      deriveAdminToken(key, job("team-b", "clicks", "u1")),
      deriveAdminToken(key, job("team-a", "views", "u1")),
      deriveAdminToken(key, job("team-a", "clicks", "u2")),
      deriveAdminToken(Buffer.alloc(32, 8), job("team-a", "clicks", "u1")),
    ];
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
