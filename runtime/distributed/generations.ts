/**
 * Job generations (ADR 16). A generation is one lineage of a job's internal topics: restarts stay
 * in it, a restore from a savepoint or a fresh start begins a new one. The job's compacted
 * generations topic is the durable record — one record per generation ever started (key = the
 * generation) and which one is current (key `_current`, which no generation token can be) — so a
 * worker restarted with stale arguments resumes the newest generation instead of an older one.
 */
import { resolve } from "node:path";
import { createKafkaSource } from "../connectors/kafka/source.ts";
import type { KafkaAdmin, KafkaClient, KafkaConnection } from "../kafka/index.ts";
import { ConnectorError, GenerationError } from "../errors.ts";
import { isGeneration, type JobGeneration } from "../worker-contract.ts";

/** What the generations topic holds for one generation. */
export interface GenerationRecord {
  generation: JobGeneration;
  /** The savepoint it was restored from (absolute path); absent for a fresh start. */
  restoredFrom?: string;
  /** When it was first started (ISO time). */
  startedAt: string;
  /** Set once a stop-with-savepoint sealed it: nothing may run in it any more. */
  sealed?: { savepoint: string; path: string; at: string };
}

/** Every recorded generation and the current one. */
export interface Generations {
  records: Map<JobGeneration, GenerationRecord>;
  current: JobGeneration | undefined;
}

/** Name of the generation a job gets when it was never started and none is named. */
export const FIRST_GENERATION = "g0";

/** Key of the record naming the current generation (a leading underscore is never a generation token). */
const CURRENT_KEY = "_current";

/** What a worker asks for. */
export interface GenerationRequest {
  /** --generation / $RUNNEL_GENERATION. */
  generation?: JobGeneration;
  /** --restore-from. */
  restoreFrom?: string;
  /** --allow-old-generation. */
  allowOldGeneration?: boolean;
  /** Reads the id of the savepoint at restoreFrom (only called when a generation must be named from it). */
  savepointId: () => Promise<string>;
}

/** The generation a worker runs. */
export interface ChosenGeneration {
  generation: JobGeneration;
  /** True when it must be recorded (a new generation, or an old one made current again). */
  record: boolean;
  /** Its record as it will stand (new ones: restoredFrom and startedAt filled in). */
  entry: GenerationRecord;
  /** Why (a log line). */
  reason: string;
}

/**
 * Decides the generation to run (ADR 16): a named one that is current runs; an unknown one starts
 * (from restoreFrom, else fresh); a known but older one is refused unless allowOldGeneration. No
 * name: the current one resumes — unless restoreFrom names another savepoint than it came from,
 * which starts a generation named after that savepoint's id; nothing recorded starts `g0`.
 */
export async function chooseGeneration(known: Generations, request: GenerationRequest, now = new Date()): Promise<ChosenGeneration> {
  const restoredFrom = request.restoreFrom === undefined ? undefined : resolve(request.restoreFrom);
  const start = (generation: JobGeneration, reason: string): ChosenGeneration => ({
    generation,
    record: true,
    entry: { generation, ...(restoredFrom === undefined ? {} : { restoredFrom }), startedAt: now.toISOString() },
    reason,
  });
  const current = known.current === undefined ? undefined : known.records.get(known.current);
  const g = request.generation;
  if (g !== undefined) {
    if (!isGeneration(g)) throw new GenerationError(`'${String(g)}' is not a generation token: lowercase letters, digits and dashes, at most 40 characters`);
    const entry = known.records.get(g);
    if (!entry) return start(g, restoredFrom ? `new generation ${g} from savepoint ${restoredFrom}` : `new generation ${g} (fresh state)`);
    if (g === known.current) return { generation: g, record: false, entry, reason: `resuming generation ${g}` };
    if (!request.allowOldGeneration) {
      const since = current ? ` (started ${current.startedAt}${current.restoredFrom ? ` from ${current.restoredFrom}` : ""})` : "";
      throw new GenerationError(
        `generation ${g} is not the job's current generation ${known.current ?? "(none)"}${since}: start the workers with --generation ${known.current ?? "<new>"}, or pass --allow-old-generation to run ${g} again on purpose`,
      );
    }
    return { generation: g, record: true, entry, reason: `running the older generation ${g} again (--allow-old-generation); it becomes current` };
  }
  if (restoredFrom === undefined) {
    if (current) return { generation: current.generation, record: false, entry: current, reason: `resuming the current generation ${current.generation}` };
    return start(FIRST_GENERATION, `first generation ${FIRST_GENERATION} (fresh state)`);
  }
  if (current?.restoredFrom === restoredFrom)
    return {
      generation: current.generation,
      record: false,
      entry: current,
      reason: `resuming generation ${current.generation} (restored from ${restoredFrom})`,
    };
  // A new generation named after the savepoint; a savepoint restored twice gets -2, -3, ...
  const id = await request.savepointId();
  let name = id;
  for (let n = 2; known.records.has(name); n++) name = `${id}-${n}`;
  return start(name, `new generation ${name} from savepoint ${restoredFrom}`);
}

/** Reads and writes the job's generations topic. */
export interface GenerationLog {
  readonly topic: string;
  /** Reads every record up to the topic's current end. */
  read(): Promise<Generations>;
  /** Writes a generation's record and makes it current (one batch: both or neither). */
  makeCurrent(entry: GenerationRecord): Promise<void>;
  /** Records that a generation was stopped with a savepoint. */
  seal(entry: GenerationRecord, sealed: { savepoint: string; path: string }): Promise<void>;
}

/** Options of the generations log. */
export interface GenerationLogOptions {
  kafka: KafkaClient;
  admin: KafkaAdmin;
  connection: KafkaConnection;
  topic: string;
  /** Consumer group of this process's reader (static assignment only). */
  readerGroup: string;
  timeoutMs?: number;
}

/** The generations log of a job (its topic must exist: compacted, one partition). */
export function generationLog(options: GenerationLogOptions): GenerationLog {
  const { topic } = options;

  async function write(messages: { key: string; value: string }[]): Promise<void> {
    const producer = options.kafka.producer();
    try {
      await producer.connect();
      await producer.send(
        topic,
        messages.map((m) => ({ ...m, partition: 0 })),
      );
    } catch (err) {
      throw new ConnectorError(`cannot write the job's generations topic '${topic}': ${(err as Error).message}`, true, err);
    } finally {
      await producer.disconnect();
    }
  }

  return {
    topic,
    async read() {
      const ends = await options.admin.offsets(topic);
      const end = ends.find((e) => e.partition === 0)?.high ?? 0;
      const found: Generations = { records: new Map(), current: undefined };
      if (end === 0) return found;
      const source = await createKafkaSource<{ key: string; value: string | null }>({
        connection: options.connection,
        topic,
        readerGroup: options.readerGroup,
        deserialize: (m) => ({ key: m.key?.toString("utf8") ?? "", value: m.value === null ? null : m.value.toString("utf8") }),
      });
      const reader = await source.open(0, 0);
      const timeoutMs = options.timeoutMs ?? 60_000;
      const deadline = Date.now() + timeoutMs;
      try {
        while ((reader.position() as number) < end) {
          if (Date.now() > deadline) throw new ConnectorError(`the job's generations topic '${topic}' was not read to its end within ${timeoutMs} ms`, true);
          const { records } = await reader.read(10_000);
          for (const { key, value } of records) {
            if (key === CURRENT_KEY) found.current = value === null ? undefined : (JSON.parse(value) as { generation: string }).generation;
            else if (value === null) found.records.delete(key);
            else found.records.set(key, JSON.parse(value) as GenerationRecord);
          }
          if (records.length === 0) await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await reader.close();
      }
      return found;
    },
    makeCurrent: (entry) =>
      write([
        { key: entry.generation, value: JSON.stringify(entry) },
        { key: CURRENT_KEY, value: JSON.stringify({ generation: entry.generation, at: new Date().toISOString() }) },
      ]),
    seal: (entry, sealed) => write([{ key: entry.generation, value: JSON.stringify({ ...entry, sealed: { ...sealed, at: new Date().toISOString() } }) }]),
  };
}
