// The node agent's container init script: a volume mounted over a folder that holds the agent's
// own files (an emptyDir at /tmp while the agent keeps pods under /tmp) must not hide the sources
// of the container's other mounts, nor the agent's working dir, from the script.
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerMounts, initScript, type Mount } from "../../env/node-agent/mounts.ts";

const POD = "/tmp/runnel-testenv/data/node-agent/pods/ns_op_uid";
const mount = (source: string, target: string, extra: Partial<Mount> = {}): Mount => ({
  source,
  target,
  readOnly: false,
  file: false,
  nested: false,
  ...extra,
});

/** Lines of the script that mount or change directory, in order. */
function steps(script: string): string[] {
  return script.split("\n").filter((l) => l.startsWith("mount --bind") || l.startsWith("cd "));
}

describe("node agent init script", () => {
  it("mounts over the agent's folders last, after entering its working dir", () => {
    const script = initScript({
      hostname: "op",
      workingDir: `${POD}/work/operator`,
      workingDirOnHost: true,
      mounts: [
        mount(`${POD}/volumes/empty-dir/tmp`, "/tmp"),
        mount(`${POD}/volumes/projected/token`, "/var/run/secrets/kubernetes.io/serviceaccount", { readOnly: true }),
      ],
    });
    expect(steps(script)).toEqual([
      `mount --bind '${POD}/volumes/projected/token' '/var/run/secrets/kubernetes.io/serviceaccount'`,
      `cd '${POD}/work/operator'`,
      `mount --bind '${POD}/volumes/empty-dir/tmp' '/tmp'`,
    ]);
  });

  it("keeps a mount nested in a late one after it, and enters a container working dir after every mount", () => {
    const script = initScript({
      hostname: "w",
      workingDir: "/tmp/work",
      mounts: [
        mount(`${POD}/volumes/empty-dir/tmp`, "/tmp"),
        mount("/srv/data", "/tmp/data", { nested: true }),
        mount(`${POD}/volumes/configmap/conf`, "/etc/conf"),
      ],
    });
    expect(steps(script)).toEqual([
      `mount --bind '${POD}/volumes/configmap/conf' '/etc/conf'`,
      `mount --bind '${POD}/volumes/empty-dir/tmp' '/tmp'`,
      `mount --bind '/srv/data' '/tmp/data'`,
      `cd '/tmp/work'`,
    ]);
  });

  it("keeps the order of mounts that hide nothing", () => {
    const script = initScript({ hostname: "w", workingDir: "/", mounts: [mount("/srv/a", "/data"), mount("/srv/b", "/data/b", { nested: true })] });
    expect(steps(script)).toEqual([`mount --bind '/srv/a' '/data'`, `mount --bind '/srv/b' '/data/b'`, `cd '/'`]);
  });

  it("lays the image's files read-only under the container's volumes", () => {
    const host = mkdtempSync(join(tmpdir(), "image-files-"));
    mkdirSync(join(host, "app"));
    writeFileSync(join(host, "node"), "");
    mkdirSync(join(host, "state"));
    const mounts = containerMounts(
      { name: "c", volumeMounts: [{ name: "state", mountPath: "/app/state" }] },
      new Map([["state", join(host, "state")]]),
      {},
      { "/app": join(host, "app"), "/usr/local/bin/node": join(host, "node") },
    );
    expect(mounts.map((m) => [m.target, m.readOnly, m.file, m.nested])).toEqual([
      ["/app", true, false, false],
      ["/app/state", false, false, true],
      ["/usr/local/bin/node", true, true, false],
    ]);
    expect(() => containerMounts({ name: "c" }, new Map(), {}, { "/app": join(host, "missing") })).toThrow(/image file \/app: .*missing does not exist/);
  });
});
