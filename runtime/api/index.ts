/** The public typed API of Runnel: what a job module imports. */
export { job, DataStream, KeyedStream, JobBuilder, BroadcastStream, type OperatorOptions } from "./job.ts";
export { WindowedStream } from "./windowed.ts";
export { OutputTag, outputTag } from "./output-tag.ts";
export type * from "./functions.ts";
export { tumbling, sliding, session, globalWindow } from "../window/assigners.ts";
export type { TimeWindow, WindowInfo } from "../window/types.ts";
export { count, sum, avg, min, max, countDistinct, collect, topN, combine } from "../window/aggregators.ts";
export { collectionSource, queueSource, collectSink } from "../connectors/memory.ts";
export { stdoutSink, blackholeSink } from "../connectors/sinks.ts";
export type { Source, Sink, SourceReader, SinkWriter } from "../connectors/types.ts";
export { generatorSource, type GenEvent, type GeneratorOptions } from "../connectors/generator.ts";
export { fileSource, fileSink } from "../connectors/file.ts";
