/**
 * Read-committed delivery we can rely on. kafkajs 2.2.4 drops aborted records by walking the
 * fetch response's aborted-transaction list in offset order, activating one entry per message
 * and ignoring which producer it names; when a fetch begins after the first offsets of several
 * aborted transactions (many transactional producers on one partition, then a crash), records
 * of an aborted transaction reach the application. A read_committed fetch ends at the last
 * stable offset, so every transactional record it returns is followed in the log by its
 * transaction's commit or abort marker. This filter holds each transactional record until its
 * producer's marker arrives (in this fetch or a later one) and releases records in offset
 * order, dropping those of aborted transactions — Kafka's read_committed semantics, derived
 * from the control records themselves.
 *
 * The filter is pure (no client in it); the partition consumer feeds it the raw records of each
 * fetch, which batch-patch.ts makes kafkajs hand over even when only markers arrived.
 */
/** A raw record of a fetch, control records included (kafkajs's shape). */
export interface RawMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  isControlRecord?: boolean;
  batchContext?: { producerId: string; inTransaction: boolean };
}

interface Held {
  m: RawMessage;
  /** 0 waiting for its marker, 1 committed (or not transactional), 2 aborted. */
  s: 0 | 1 | 2;
}

/** Read-committed filtering of one partition's fetches. */
export class CommittedFilter {
  private queue: Held[] = [];
  private head = 0;
  private readonly open = new Map<string, Held[]>();
  private next = 0;

  /** Every offset below this was released, dropped as aborted, or was a control record. */
  get through(): number {
    return this.head < this.queue.length ? Number((this.queue[this.head] as Held).m.offset) : this.next;
  }

  /** The next offset this filter takes: everything below it was taken (or skipped) already. */
  get expected(): number {
    return this.next;
  }

  /** Ignores raw messages below `offset` (a partition read from a position; offsets the log no longer holds). */
  startAt(offset: number): void {
    this.next = Math.max(this.next, offset);
  }

  /**
   * Takes one fetch's raw messages (in offset order; anything below what was taken before is
   * ignored, so re-fetches are harmless); returns the records now deliverable, in offset order.
   */
  accept(messages: RawMessage[]): RawMessage[] {
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < this.next) continue;
      this.next = offset + 1;
      const ctx = m.batchContext;
      if (m.isControlRecord) {
        // Control record key: version (int16), type (int16): 0 abort, 1 commit.
        const type = m.key && m.key.length >= 4 ? m.key.readInt16BE(2) : -1;
        const held = ctx ? this.open.get(ctx.producerId) : undefined;
        if (held && ctx) {
          for (const h of held) h.s = type === 1 ? 1 : 2;
          this.open.delete(ctx.producerId);
        }
        continue;
      }
      const h: Held = { m, s: ctx?.inTransaction ? 0 : 1 };
      if (h.s === 0 && ctx) {
        const list = this.open.get(ctx.producerId) ?? [];
        list.push(h);
        this.open.set(ctx.producerId, list);
      }
      this.queue.push(h);
    }
    const out: RawMessage[] = [];
    while (this.head < this.queue.length) {
      const h = this.queue[this.head] as Held;
      if (h.s === 0) break;
      if (h.s === 1) out.push(h.m);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
