/**
 * Static partition assignment on top of kafkajs, which has no `assign()`: a reader joins a
 * consumer group of its own and this assigner hands it exactly the partitions its tasks own.
 * Runnel assigns tasks to workers statically (worker w of N owns p mod N == w), so the group
 * coordinator must never move partitions between readers.
 */
// Before kafkajs loads: its sends then group messages in linear time (send-patch.ts).
import "./send-patch.ts";
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

/** Name of the assignment protocol in JoinGroup requests. */
export const STATIC_PROTOCOL = "RunnelStatic";

/**
 * An assigner giving every member of the group `partitions()` of `topic`. A second member (a
 * duplicate worker started by mistake) gets the same set: fencing its output is the job of the
 * transactional producer, not of the consumer group.
 */
export function staticAssigner(topic: string, partitions: () => number[]): PartitionAssigner {
  return () => ({
    name: STATIC_PROTOCOL,
    version: 1,
    async assign({ members }) {
      const assignment = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { [topic]: partitions() }, userData: Buffer.alloc(0) });
      return members.map((m) => ({ memberId: m.memberId, memberAssignment: assignment }));
    },
    protocol({ topics }) {
      return { name: STATIC_PROTOCOL, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}
