/**
 * A Nexmark event generator (persons : auctions : bids = 1 : 3 : 46 per 50 events), after the
 * Beam/Flink Nexmark generator: deterministic from the event number, hot auctions and bidders,
 * event time advancing at a fixed rate. String payload fields (url, extra) are left out.
 */
import { hashRandom } from "../../runtime/connectors/generator.ts";
import type { ReadResult, Source, SourceReader } from "../../runtime/connectors/types.ts";

/** A new person. */
export interface Person {
  type: "person";
  id: number;
  name: string;
  city: string;
  state: string;
  dateTime: number;
}

/** A new auction. */
export interface Auction {
  type: "auction";
  id: number;
  seller: number;
  category: number;
  initialBid: number;
  expires: number;
  dateTime: number;
}

/** A bid. */
export interface Bid {
  type: "bid";
  auction: number;
  bidder: number;
  price: number;
  channel: string;
  dateTime: number;
}

/** Any Nexmark event. */
export type NexmarkEvent = Person | Auction | Bid;

const FIRST_PERSON = 1000;
const FIRST_AUCTION = 1000;
const STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const CHANNELS = ["Google", "Facebook", "Baidu", "Apple"];

/** Event number n, at `rate` events per second of event time from `base`. */
export function nexmarkEvent(n: number, options: { rate: number; base: number; seed: number }): NexmarkEvent {
  const epoch = Math.floor(n / 50);
  const offset = n % 50;
  const ts = options.base + Math.floor((n * 1000) / options.rate);
  const r1 = hashRandom(options.seed, n, 1);
  const r2 = hashRandom(options.seed, n, 2);
  if (offset === 0) {
    return {
      type: "person",
      id: FIRST_PERSON + epoch,
      name: NAMES[Math.floor(r1 * NAMES.length)] as string,
      city: CITIES[Math.floor(r2 * CITIES.length)] as string,
      state: STATES[Math.floor(hashRandom(options.seed, n, 3) * STATES.length)] as string,
      dateTime: ts,
    };
  }
  const lastPerson = FIRST_PERSON + epoch;
  if (offset < 4) {
    return {
      type: "auction",
      id: FIRST_AUCTION + epoch * 3 + offset - 1,
      seller: r1 < 0.5 ? Math.floor(lastPerson / 100) * 100 : lastPerson - Math.floor(r2 * Math.min(1000, epoch + 1)),
      category: 10 + Math.floor(hashRandom(options.seed, n, 3) * 5),
      initialBid: 1 + Math.floor(r2 * 1000),
      expires: ts + 10_000 + Math.floor(r1 * 20_000),
      dateTime: ts,
    };
  }
  const lastAuction = FIRST_AUCTION + epoch * 3 + 2;
  // Half the bids go to a hot auction (one in 100), the rest to one of the last 10,000 auctions.
  const auction = r1 < 0.5 ? Math.floor(lastAuction / 100) * 100 : lastAuction - Math.floor(r2 * Math.min(10_000, epoch * 3 + 3));
  const r3 = hashRandom(options.seed, n, 3);
  return {
    type: "bid",
    auction: Math.max(FIRST_AUCTION, auction),
    bidder: r3 < 0.25 ? Math.floor(lastPerson / 10) * 10 : lastPerson - Math.floor(r3 * Math.min(1000, epoch + 1)),
    price: Math.floor(Math.pow(10, r2 * 4) * 100),
    channel: CHANNELS[n % CHANNELS.length] as string,
    dateTime: ts,
  };
}

/** The generator's defaults: 100,000 events per second of event time from a fixed start, seed 1. */
export const NEXMARK_DEFAULTS = { rate: 100_000, base: 1_700_000_000_000, seed: 1 } as const;

/** Nexmark events as a partitioned, replayable source (event n of partition p is n*P + p). */
export function nexmarkSource(options: { events: number; partitions?: number; rate?: number; seed?: number }): Source<NexmarkEvent> {
  const partitions = options.partitions ?? 1;
  const cfg = { rate: options.rate ?? NEXMARK_DEFAULTS.rate, base: NEXMARK_DEFAULTS.base, seed: options.seed ?? NEXMARK_DEFAULTS.seed };
  const perPartition = Math.ceil(options.events / partitions);
  return {
    name: "nexmark",
    partitions,
    async open(partition, position): Promise<SourceReader<NexmarkEvent>> {
      let next = typeof position === "number" ? position : 0;
      return {
        async read(max): Promise<ReadResult<NexmarkEvent>> {
          const end = Math.min(perPartition, next + max);
          const records: NexmarkEvent[] = [];
          for (let i = next; i < end; i++) records.push(nexmarkEvent(i * partitions + partition, cfg));
          next = end;
          return { records, done: next >= perPartition };
        },
        position: () => next,
        close: async () => {},
      };
    },
  };
}
