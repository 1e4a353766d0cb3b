// The second change the Kafka adapter makes to kafkajs: a cluster remembers the coordinator it
// found for a group or transactional id — no FindCoordinator round trip before every
// transactional request — and forgets it when a request to it fails (a moved coordinator) or its
// connection is gone. Checked on the lookup wrapper with a broker of our own, and on kafkajs's
// own Cluster class once applied.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { rememberCoordinators, rememberingLookup, type CoordinatorBroker } from "../../../runtime/kafka/coordinator-cache.ts";

/** A coordinator whose endTxn answers as told. */
function broker(name: string): CoordinatorBroker & { name: string; connected: boolean; fail: boolean; endTxn(): Promise<string> } {
  return {
    name,
    connected: true,
    fail: false,
    isConnected() {
      return this.connected;
    },
    async endTxn() {
      if (this.fail) throw Object.assign(new Error("NOT_COORDINATOR"), { type: "NOT_COORDINATOR" });
      return `ended by ${this.name}`;
    },
  };
}

describe("remembered coordinators", () => {
  it("look a coordinator up once per cluster and key, and answer through it", async () => {
    const lookups: string[] = [];
    const b = broker("b1");
    const find = rememberingLookup(async function (this: object, { groupId, coordinatorType }) {
      lookups.push(`${coordinatorType ?? 0}:${groupId}`);
      return b;
    });
    const cluster = {};
    const first = (await find.call(cluster, { groupId: "txn-1", coordinatorType: 1 })) as ReturnType<typeof broker>;
    const again = (await find.call(cluster, { groupId: "txn-1", coordinatorType: 1 })) as ReturnType<typeof broker>;
    expect(again).toBe(first);
    expect(await again.endTxn()).toBe("ended by b1");
    expect(again.name).toBe("b1");
    await find.call(cluster, { groupId: "txn-1" }); // the group coordinator of the same name is another key
    await find.call({}, { groupId: "txn-1", coordinatorType: 1 }); // another cluster (producer) looks up its own
    expect(lookups).toEqual(["1:txn-1", "0:txn-1", "1:txn-1"]);
  });

  it("forget a coordinator whose request failed, or whose connection is gone", async () => {
    const brokers = [broker("old"), broker("new"), broker("newest")];
    let next = 0;
    const find = rememberingLookup(async () => brokers[next++] as CoordinatorBroker);
    const cluster = {};
    const old = (await find.call(cluster, { groupId: "g" })) as ReturnType<typeof broker>;
    (brokers[0] as ReturnType<typeof broker>).fail = true; // the coordinator moved
    await expect(old.endTxn()).rejects.toThrow("NOT_COORDINATOR");
    const moved = (await find.call(cluster, { groupId: "g" })) as ReturnType<typeof broker>;
    expect(await moved.endTxn()).toBe("ended by new");
    expect(await find.call(cluster, { groupId: "g" })).toBe(moved);
    (brokers[1] as ReturnType<typeof broker>).connected = false;
    expect(((await find.call(cluster, { groupId: "g" })) as ReturnType<typeof broker>).name).toBe("newest");
    expect(next).toBe(3);
  });

  it("are applied once to kafkajs's Cluster", () => {
    const Cluster = createRequire(import.meta.url)("kafkajs/src/cluster/index.js") as {
      prototype: { findGroupCoordinator: unknown; runnelRemembersCoordinators?: boolean };
    };
    rememberCoordinators();
    const applied = Cluster.prototype.findGroupCoordinator;
    expect(Cluster.prototype.runnelRemembersCoordinators).toBe(true);
    expect(rememberCoordinators()).toBe(true);
    expect(Cluster.prototype.findGroupCoordinator).toBe(applied);
  });
});
