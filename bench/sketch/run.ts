// Benchmark of @boxoffice/sketch (Trending.record, Trending.buffered) against exact per-bucket ZINCRBY
// counting (awaited with 50 in flight, and pipelined) and the in-process `bloom-filters` CMS, on one
// Zipf(1.1) stream of 1,000,000 events over 100,000 items spread over a 3-day window of hourly
// buckets. Reports events/s, Redis memory of the window, top-10 recall and hashing cost.
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { deleteByPrefix, getRedis, scanKeys } from '@boxoffice/local-redis';
import { counterIndexes, Trending } from '@boxoffice/sketch';
import bloomFilters from 'bloom-filters';
import { Redis } from 'ioredis';
import { loadNote, print, type Table, writeSection } from '../lib/report.js';
import { zipfItems } from './zipf.js';

// bloom-filters is CommonJS only; its named exports are not visible to ESM.
const { CountMinSketch: ReferenceCms, Hashing } = bloomFilters;

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const ITEMS = 100_000;
const CONCURRENCY = 50;
const HOUR = 3_600_000;
const WINDOW = 72 * HOUR;

const server = await getRedis();
const redis = new Redis(server.url);
const prefix = `benchsketch${randomUUID().slice(0, 8)}`;
const now = Date.now();

console.log(
  `sketch bench: ${EVENTS} events, Redis ${server.url} (${server.source}), prefix ${prefix}, load average ${loadavg()[0]?.toFixed(1)}`,
);
const items = zipfItems(EVENTS, ITEMS, 1.1, 20_251_125);
// Chronological over the window (just under 3 days, so every event is inside it).
const at = Array.from(
  { length: EVENTS },
  (_, i) => now - WINDOW + 60_000 + Math.floor((i / EVENTS) * (WINDOW - 120_000)),
);
const exact = new Map<string, number>();
for (const item of items) exact.set(item, (exact.get(item) ?? 0) + 1);
const exactTop10 = [...exact]
  .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  .slice(0, 10)
  .map(([item]) => item);

async function concurrently(
  n: number,
  fn: (i: number) => Promise<unknown>,
  count = EVENTS,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

// Every timed method first runs on the stream's first WARMUP events into throw-away keys, so that
// none is measured with cold JIT code or an unloaded script.
const WARMUP = Math.min(50_000, EVENTS);

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** Kinds of Trending keys (`…}:<kind>:<bucket>`, or `…}:meta`), for the memory breakdown. */
const KINDS: Record<string, string> = {
  c: 'counters',
  t: 'candidates',
  o: 'overflow',
  s: 'dedupe',
  meta: 'metadata',
};

interface Memory {
  bytes: number;
  keys: number;
  /** bytes per kind of key (Trending keys only) */
  byKind: Map<string, number>;
}

async function memory(pattern: string): Promise<Memory> {
  const keys = await scanKeys(redis, pattern);
  let bytes = 0;
  const byKind = new Map<string, number>();
  for (const key of keys) {
    const size = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    bytes += size;
    const kind = KINDS[/\}:([a-z]+)/.exec(key)?.[1] ?? ''];
    if (kind) byKind.set(kind, (byKind.get(kind) ?? 0) + size);
  }
  return { bytes, keys: keys.length, byKind };
}

const bucketOf = (i: number) => Math.floor((at[i] as number) / HOUR);
const recall = (top: { item: string }[]) =>
  top.filter((t) => exactTop10.includes(t.item)).length / 10;

interface Row {
  name: string;
  seconds: number;
  memory?: Memory;
  recall?: number;
}

// 1. Live ingestion: every event happens now (one bucket), as in a running shop.
const live: Row[] = [];
// 2. The same stream replayed over a full 3-day window (73 hourly buckets): window memory.
const replay: Row[] = [];

try {
  // (a) exact: ZINCRBY, 50 awaited commands in flight
  {
    const key = `${prefix}:a:${Math.floor(now / HOUR)}`;
    await concurrently(
      CONCURRENCY,
      (i) => redis.zincrby(`${prefix}:w:a`, 1, items[i] as string),
      WARMUP,
    );
    const seconds = await timed(() =>
      concurrently(CONCURRENCY, (i) => redis.zincrby(key, 1, items[i] as string)),
    );
    live.push({
      name: '(a) exact ZINCRBY, 50 in flight',
      seconds,
      memory: await memory(`${prefix}:a:*`),
      recall: 1,
    });
    await deleteByPrefix(redis, `${prefix}:a`);
  }
  // (a') the same, pipelined in batches of 1,000
  {
    const key = `${prefix}:p:${Math.floor(now / HOUR)}`;
    {
      const pipeline = redis.pipeline();
      for (let i = 0; i < WARMUP; i++) pipeline.zincrby(`${prefix}:w:p`, 1, items[i] as string);
      await pipeline.exec();
    }
    const seconds = await timed(async () => {
      for (let start = 0; start < EVENTS; start += 1000) {
        const pipeline = redis.pipeline();
        for (let i = start; i < Math.min(EVENTS, start + 1000); i++)
          pipeline.zincrby(key, 1, items[i] as string);
        await pipeline.exec();
      }
    });
    live.push({
      name: "(a') exact ZINCRBY, pipelined ×1000",
      seconds,
      memory: await memory(`${prefix}:p:*`),
      recall: 1,
    });
    await deleteByPrefix(redis, `${prefix}:p`);
  }
  // (b) Trending.record, 50 awaited calls in flight
  {
    const trending = new Trending(redis, { name: 'b', prefix });
    const warm = new Trending(redis, { name: 'wb', prefix });
    await concurrently(CONCURRENCY, (i) => warm.record(items[i] as string), WARMUP);
    const seconds = await timed(() =>
      concurrently(CONCURRENCY, (i) => trending.record(items[i] as string)),
    );
    live.push({
      name: '(b) Trending.record, 50 in flight',
      seconds,
      memory: await memory(`${prefix}:trend:{b}:*`),
      recall: recall(await trending.top(10)),
    });
  }
  // (c) Trending.buffered: in-process aggregation; flushes every flushMs, every maxItems distinct
  // entries, and on close. The example settings, then a larger maxItems (fewer flushes).
  for (const maxItems of [10_000, 100_000]) {
    const name = `c${maxItems}`;
    const trending = new Trending(redis, { name, prefix });
    {
      const warm = new Trending(redis, { name: `w${name}`, prefix }).buffered({ maxItems });
      for (let i = 0; i < WARMUP; i++) warm.record(items[i] as string);
      await warm.close();
    }
    const seconds = await timed(async () => {
      const buffer = trending.buffered({ maxItems, flushMs: 1000 });
      for (let i = 0; i < EVENTS; i++) {
        buffer.record(items[i] as string);
        // let triggered flushes run, as a server handling requests would
        if ((i & 0x3fff) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await buffer.close();
    });
    live.push({
      name: `(c) Trending.buffered (flushMs 1000, maxItems ${maxItems.toLocaleString('en-US')})`,
      seconds,
      memory: await memory(`${prefix}:trend:{${name}}:*`),
      recall: recall(await trending.top(10)),
    });
  }
  // (d) in-process bloom-filters CountMinSketch, sized explicitly (its create() gives 1 row at 0.99)
  {
    const ref = new ReferenceCms(2719, 5);
    const warm = new ReferenceCms(2719, 5);
    for (let i = 0; i < WARMUP; i++) warm.update(items[i] as string);
    const seconds = await timed(() => {
      for (let i = 0; i < EVENTS; i++) ref.update(items[i] as string);
    });
    const top = [...exact.keys()]
      .map((item) => ({ item, estimate: ref.count(item) }))
      .sort((a, b) => b.estimate - a.estimate)
      .slice(0, 10);
    live.push({
      name: '(d) bloom-filters CountMinSketch (in process, not shared)',
      seconds,
      recall: recall(top),
    });
  }

  // Replay over 3 days: exact per-bucket ZSETs (pipelined) against Trending.buffered.
  {
    const seconds = await timed(async () => {
      for (let start = 0; start < EVENTS; start += 1000) {
        const pipeline = redis.pipeline();
        for (let i = start; i < Math.min(EVENTS, start + 1000); i++) {
          pipeline.zincrby(`${prefix}:r:${bucketOf(i)}`, 1, items[i] as string);
        }
        await pipeline.exec();
      }
    });
    replay.push({
      name: 'exact ZINCRBY per hourly bucket (pipelined)',
      seconds,
      memory: await memory(`${prefix}:r:*`),
      recall: 1,
    });
    await deleteByPrefix(redis, `${prefix}:r`);
  }
  for (const epsilon of [0.001, 0.005]) {
    const name = `r${epsilon}`;
    const trending = new Trending(redis, {
      name,
      prefix,
      window: { days: 3 },
      bucket: { hours: 1 },
      epsilon,
    });
    const seconds = await timed(async () => {
      const buffer = trending.buffered({ maxItems: 10_000, flushMs: 1000 });
      for (let i = 0; i < EVENTS; i++) {
        buffer.record(items[i] as string, 1, { at: new Date(at[i] as number) });
        if ((i & 0x3fff) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await buffer.close();
    });
    replay.push({
      name: `Trending.buffered, ε = ${epsilon} (width ${trending.width}, depth ${trending.depth})`,
      seconds,
      memory: await memory(`${prefix}:trend:{${name}}:*`),
      recall: recall(await trending.top(10)),
    });
  }
} finally {
  await deleteByPrefix(redis, prefix);
}

// Hashing: the item → counter indexes step alone, ours against bloom-filters' (xxhashjs).
const hashing = new Hashing();
const oursHash = await timed(() => {
  for (let i = 0; i < EVENTS; i++) counterIndexes(items[i] as string, 2719, 5);
});
const refHash = await timed(() => {
  for (let i = 0; i < EVENTS; i++) hashing.getIndexes(items[i] as string, 2719, 5, 0x1234);
});

const mb = (b: number | undefined) => (b === undefined ? 'in process' : (b / 2 ** 20).toFixed(2));
const baseRate = EVENTS / (live[0] as Row).seconds;
const liveTable: Table = {
  title: `Live ingestion: ${EVENTS.toLocaleString('en-US')} Zipf(1.1) events over ${ITEMS.toLocaleString('en-US')} items, all in the current bucket`,
  columns: ['method', 'events/s', '× (a)', 'Redis MiB', 'top-10 recall'],
  rows: live.map((r) => [
    r.name,
    EVENTS / r.seconds,
    (EVENTS / r.seconds / baseRate).toFixed(2),
    mb(r.memory?.bytes),
    r.recall ?? '—',
  ]),
  notes: ['Targets (issue #6): (c) ≥ 10× (a); (b) ≥ 0.5× (a); top-10 recall ≥ 0.9.'],
};
const exactMem = (replay[0] as Row).memory?.bytes ?? Number.NaN;
const replayTable: Table = {
  title: 'The same stream spread over a 3-day window of hourly buckets: Redis memory of the window',
  columns: [
    'method',
    'events/s',
    'Redis MiB',
    'keys',
    'memory ÷ exact',
    'where the memory is (KiB)',
    'top-10 recall',
  ],
  rows: replay.map((r) => [
    r.name,
    EVENTS / r.seconds,
    mb(r.memory?.bytes),
    r.memory?.keys ?? '—',
    r === replay[0] ? '1' : `1/${(exactMem / (r.memory?.bytes ?? Number.NaN)).toFixed(1)}`,
    r.memory && r.memory.byKind.size > 0
      ? Object.values(KINDS)
          .filter((kind) => r.memory?.byKind.has(kind))
          .map((kind) => `${kind} ${((r.memory?.byKind.get(kind) as number) / 1024).toFixed(1)}`)
          .join(' · ')
      : 'ZSETs',
    r.recall ?? '—',
  ]),
  notes: [
    "Target: window memory ≤ 1/20 of exact per-bucket counting. Memory is the sum of MEMORY USAGE over the window's keys, same stream, same Redis (exact: one ZSET per bucket; Trending: per bucket one counters string (8-bit counters, widened to 16 or 32 bits only when many counters overflow), one top-100 candidate ZSET and, once some counter reaches 255, a small overflow hash; plus a metadata hash).",
    'A Trending bucket costs about 1 byte per counter while few counters pass 255 and at most 4 (the 32-bit layout) at any traffic; exact counting grows with the distinct items per bucket, so the ratio generally improves with volume.',
  ],
};
const hashTable: Table = {
  title: 'Hashing an item to its 5 counter indexes (width 2719)',
  columns: ['implementation', 'ns/event', 'speed-up'],
  rows: [
    [
      '@boxoffice/sketch counterIndexes (MurmurHash3 ×2, Kirsch–Mitzenmacher)',
      (oursHash * 1e9) / EVENTS,
      (refHash / oursHash).toFixed(1),
    ],
    ['bloom-filters Hashing.getIndexes (xxhashjs)', (refHash * 1e9) / EVENTS, '1.0'],
  ],
  notes: ['Target: ours ≥ 3× faster per event.'],
};
for (const t of [liveTable, replayTable, hashTable]) print(t);
// Only a full run (the 1,000,000 events) goes into BENCHMARKS.md.
if (EVENTS === 1_000_000)
  writeSection(
    'sketch',
    '@boxoffice/sketch — trending counts',
    [liveTable, replayTable, hashTable],
    [
      loadNote(),
      `Every timed method first ran on the stream's first ${WARMUP.toLocaleString('en-US')} events into throw-away keys (warm JIT, scripts loaded).`,
      'Redis is the standalone server found by `@boxoffice/local-redis` (Redis 7, no RedisBloom module).',
      'On a loaded machine the baseline (a) itself varies severalfold between runs, and every × (a) ratio with it: packages/sketch/README.md lists several runs and a script-level comparison.',
    ],
  );
redis.disconnect();
await server.stop();
