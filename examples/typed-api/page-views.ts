/**
 * A typed-API job: views per page in 1-second event-time windows, printing pages with at least
 * 100 views in a second. Run it in-process (local mode):
 *
 *   npm run runnel -- run examples/typed-api/page-views.ts
 *
 * The generator emits 200,000 views over 20 pages (skewed: a few pages get most views) at 40,000
 * a second, in event time as in wall-clock time (about 5 s), up to 200 ms out of order; the
 * watermark allows 500 ms of disorder, so no view is late.
 */
import { count, generatorSource, job, stdoutSink, tumbling } from "../../runtime/api/index.ts";

interface View {
  page: string;
  user: number;
  ts: number;
}

const j = job("page-views", { parallelism: 2 });
j.source(
  generatorSource<View>({
    partitions: 2,
    countPerPartition: 100_000,
    ratePerSec: 40_000,
    throttle: true,
    keys: 20,
    skew: 1,
    maxOutOfOrdernessMs: 200,
    seed: 7,
    make: (e) => ({ page: `/page/${e.key}`, user: Math.floor(e.rnd * 5_000), ts: e.ts }),
  }),
  { watermarks: { timestamp: (v: View) => v.ts, maxOutOfOrdernessMs: 500 } },
)
  .keyBy((v) => v.page)
  .window(tumbling({ sizeMs: 1_000 }))
  .aggregate(count<View>(), (views, { key, window }) => ({ second: window.start / 1000, page: key, views }))
  .filter((r) => r.views >= 100)
  .sink(stdoutSink({ format: (r) => `second ${r.second}  ${r.page.padEnd(9)} ${String(r.views).padStart(5)} views` }), { uid: "busy-pages" });

export default j;
