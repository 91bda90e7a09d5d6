import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { CountMinSketch, counterIndexes, SketchLayoutError, Trending } from '../src/index.js';
import { readBucket } from './buckets.js';
import { exactCounts, exactTop, prng, zipfStream } from './zipf.js';

const HOUR = 3_600_000;

// The stored form of a Trending bucket's counters (layout trend3, src/lua/include/trend-counters.lua):
// 8-bit counters with an overflow hash, widened to 16 and 32 bits when many counters overflow.
describe.each(redisTargets())('Trending counters on $name', (target) => {
  const redis = useRedis(target);
  const now = Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000;
  const bucket = Math.floor(now / HOUR);
  const clock = () => now;

  /** Each write path: a lone record() (trend-record.lua), recordMany (trend-bulk.lua), dedupeBy (trend-add.lua). */
  const paths = [
    { path: 'record', write: (t: Trending, item: string, n: number) => t.record(item, n) },
    {
      path: 'recordMany',
      write: (t: Trending, item: string, n: number) => t.recordMany([[item, n]]),
    },
    {
      path: 'dedupeBy',
      write: (t: Trending, item: string, n: number) =>
        t.record(item, n, { dedupeBy: `u${Math.random()}` }),
    },
  ];

  it.each(paths)(
    'counters stay exact across the 8-bit boundary and far past it ($path)',
    async ({ path, write }) => {
      // wide enough that the one item's counters are alone: its estimate is its exact count
      const trending = new Trending(redis.client, {
        name: `b8${path}`,
        prefix: redis.prefix,
        width: 50_000,
        depth: 3,
        clock,
      });
      const steps: [number, number][] = [
        [254, 254],
        [1, 255],
        [1, 256],
        [65_279, 65_535],
        [1, 65_536],
        [2 ** 31, 2 ** 31 + 65_536],
      ];
      let total = 0;
      for (const [n, expected] of steps) {
        await write(trending, 'x', n);
        total += n;
        expect(await trending.estimate('x')).toBe(expected);
        const stored = await readBucket(redis.client, redis.prefix, `b8${path}`, bucket);
        // three counters overflowing is far below the limit: the bucket stays 8-bit
        expect(stored?.width).toBe(8);
        expect(stored?.bytes).toBe(16 + 150_000);
        expect(stored?.total).toBe(total);
        const idx = counterIndexes('x', 50_000, 3);
        expect(idx.map((i) => stored?.values[i])).toEqual([expected, expected, expected]);
        // at 255 and above the value lives in the overflow hash, the array holds 255
        expect(stored?.overflow.size).toBe(expected >= 255 ? 3 : 0);
      }
      expect(await trending.total()).toBe(total);
    },
  );

  it.each(paths)(
    'a large widened bucket reads and writes single counters at 16 and 32 bits ($path)',
    async ({ path, write }) => {
      // 150,000 counters: few counters per event, so they are read and written one by one
      const name = `big${path}`;
      const trending = new Trending(redis.client, {
        name,
        prefix: redis.prefix,
        width: 50_000,
        depth: 3,
        clock,
      });
      const stored = () => readBucket(redis.client, redis.prefix, name, bucket);
      // 50 items × 3 counters at 300: more than the limit of 128 overflowing fields → 16-bit
      await trending.recordMany(Array.from({ length: 50 }, (_, i) => [`h${i}`, 300] as const));
      expect((await stored())?.width).toBe(16);
      for (const [n, expected] of [
        [65_534, 65_534],
        [1, 65_535],
        [1, 65_536],
      ] as const) {
        await write(trending, 'x', n);
        expect(await trending.estimate('x')).toBe(expected);
        expect((await stored())?.width).toBe(16);
      }
      // 50 items past 65,535 → 32-bit, and single counters keep counting there
      await trending.recordMany(Array.from({ length: 50 }, (_, i) => [`h${i}`, 70_000] as const));
      expect((await stored())?.width).toBe(32);
      await write(trending, 'x', 5);
      expect(await trending.estimate('x')).toBe(65_541);
      expect(await trending.estimateMany(['h0', 'h49'])).toEqual([70_300, 70_300]);
      expect((await stored())?.bytes).toBe(16 + 150_000 * 4);
    },
  );

  /** Plain (non-conservative) Count-Min counters of `list`, computed in process. */
  function reference(list: [string, number][], width: number, depth: number): number[] {
    const counters = new Array<number>(width * depth).fill(0);
    for (const [item, n] of list) {
      for (const c of counterIndexes(item, width, depth)) counters[c] = (counters[c] as number) + n;
    }
    return counters;
  }

  it.each(paths)(
    'a bucket widens to 16, then 32 bits when many counters overflow, keeping every value ($path)',
    async ({ path, write }) => {
      // 200 counters: the overflow hash may hold 16 fields before the bucket widens
      const width = 100;
      const depth = 2;
      const name = `wide${path}`;
      const trending = new Trending(redis.client, {
        name,
        prefix: redis.prefix,
        width,
        depth,
        conservative: false,
        clock,
      });
      const list: [string, number][] = [];
      const check = async (expectedWidth: number) => {
        const stored = await readBucket(redis.client, redis.prefix, name, bucket);
        expect(stored?.width).toBe(expectedWidth);
        expect(stored?.bytes).toBe(16 + (width * depth * expectedWidth) / 8);
        expect(stored?.values).toEqual(reference(list, width, depth));
        const items = [...new Set(list.map(([item]) => item))];
        const counters = reference(list, width, depth);
        expect(await trending.estimateMany(items)).toEqual(
          items.map((item) =>
            Math.min(...counterIndexes(item, width, depth).map((c) => counters[c] as number)),
          ),
        );
        return stored;
      };
      // 30 items at 200: no counter of its own reaches 255, a few shared ones do
      for (let i = 0; i < 30; i++) {
        list.push([`a${i}`, 200]);
        await write(trending, `a${i}`, 200);
      }
      const before = await readBucket(redis.client, redis.prefix, name, bucket);
      expect(before?.overflow.size).toBeGreaterThan(0);
      expect(before?.overflow.size).toBeLessThanOrEqual(16);
      await check(8);
      // 20 more items at 300: more than 16 counters ≥ 255 → 16-bit
      for (let i = 0; i < 20; i++) {
        list.push([`b${i}`, 300]);
        await write(trending, `b${i}`, 300);
      }
      const at16 = await check(16);
      // only values ≥ 65,535 stay in the hash
      expect(at16?.overflow.size).toBe(0);
      // across the 16-bit boundary
      list.push([
        'b0',
        65_534 - (at16?.values[counterIndexes('b0', width, depth)[0] as number] ?? 0),
      ]);
      await write(trending, 'b0', list.at(-1)?.[1] as number);
      await check(16);
      list.push(['b0', 2]);
      await write(trending, 'b0', 2);
      const over = await check(16);
      expect(over?.overflow.size).toBeGreaterThan(0);
      // 20 items past 65,535: more than 16 counters overflow 16 bits → 32-bit, no hash
      for (let i = 0; i < 20; i++) {
        list.push([`c${i}`, 70_000]);
        await write(trending, `c${i}`, 70_000);
      }
      const at32 = await check(32);
      expect(at32?.overflow.size).toBe(0);
      expect(await redis.client.exists(`${redis.prefix}:trend:{${name}}:o:${bucket}`)).toBe(0);
      expect(await trending.total()).toBe(list.reduce((sum, [, n]) => sum + n, 0));
    },
  );

  it('writers batching differently store the same bytes, widening included', async () => {
    const other = redis.connect();
    const opts = { prefix: redis.prefix, clock, conservative: false, width: 300, depth: 3 };
    const one = new Trending(redis.client, { ...opts, name: 'same1' });
    const a = new Trending(redis.client, { ...opts, name: 'same2' });
    const b = new Trending(other, { ...opts, name: 'same2' });
    const random = prng(5);
    const events = Array.from({ length: 6000 }, (): [string, number] => [
      `e${Math.floor(random() ** 3 * 2000)}`,
      1 + Math.floor(random() * 40),
    ]);
    await one.recordMany(events);
    const batches = [];
    for (let i = 0; i < events.length; i += 97) batches.push(events.slice(i, i + 97));
    await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).recordMany(batch)));
    const [x, y] = await Promise.all([
      readBucket(redis.client, redis.prefix, 'same1', bucket),
      readBucket(redis.client, redis.prefix, 'same2', bucket),
    ]);
    // 900 counters, ~120,000 counted: the bucket had to widen, to the narrowest width whose
    // overflowing counters fit the limit max(16, 900 / 16) = 56
    const values = reference(events, 300, 3);
    const overflowing = (max: number) => values.filter((v) => v >= max).length;
    expect(overflowing(255)).toBeGreaterThan(56);
    expect(x?.width).toBe(overflowing(65_535) > 56 ? 32 : 16);
    expect(x?.values).toEqual(values);
    expect({ ...y, threshold: 0 }).toEqual({ ...x, threshold: 0 });
  });

  it('estimates equal those of a 32-bit Count-Min Sketch fed the same events, so top-10 recall is unchanged', {
    timeout: 60_000,
  }, async () => {
    const stream = zipfStream(200_000, 100_000, 1.1, 13);
    // a heavy hour (widens to 16 bits) and a light one (stays 8-bit), in first-seen order
    const heavy = [...exactCounts(stream.subarray(0, 190_000))];
    const light = [...exactCounts(stream.subarray(190_000))];
    const trending = new Trending(redis.client, {
      name: 'vs32',
      prefix: redis.prefix,
      window: { hours: 2 },
      clock,
    });
    const cmsHeavy = new CountMinSketch(redis.client, { key: 'vs32h', prefix: redis.prefix });
    const cmsLight = new CountMinSketch(redis.client, { key: 'vs32l', prefix: redis.prefix });
    await Promise.all([
      trending.recordMany(heavy.map(([item, n]) => [item, n, { at: new Date(now - HOUR) }])),
      trending.recordMany(light),
      cmsHeavy.addMany(heavy),
      cmsLight.addMany(light),
    ]);
    expect((await readBucket(redis.client, redis.prefix, 'vs32', bucket - 1))?.width).toBe(16);
    expect((await readBucket(redis.client, redis.prefix, 'vs32', bucket))?.width).toBe(8);
    const exact = exactCounts(stream);
    const items = [...exact.keys()];
    const [mine, h, l] = await Promise.all([
      trending.estimateMany(items),
      cmsHeavy.estimateMany(items),
      cmsLight.estimateMany(items),
    ]);
    expect(mine).toEqual(items.map((_, i) => (h[i] as number) + (l[i] as number)));
    const top = await trending.top(10);
    const truth = exactTop(exact, 10);
    expect(top.filter((t) => truth.includes(t.item)).length).toBeGreaterThanOrEqual(9);
    for (const t of top) {
      expect(t.estimate).toBe(
        (await cmsHeavy.estimate(t.item)) + (await cmsLight.estimate(t.item)),
      );
    }
  });

  it('refuses buckets of the previous layout (trend2: 32-bit counters) and writes nothing', async () => {
    const trending = new Trending(redis.client, { name: 'old', prefix: redis.prefix, clock });
    const meta = `${redis.prefix}:trend:{old}:meta`;
    const old = 'trend2:m3x2km1:w2719:d5:b3600000:m1437759:k10';
    await redis.client.hset(meta, 'layout', old);
    for (const attempt of [
      () => trending.record('a'),
      () => trending.recordMany([['a'], ['b', 2]]),
      () => trending.record('a', 1, { dedupeBy: 'u' }),
      () => trending.top(3),
      () => trending.estimate('a'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SketchLayoutError);
      expect(error).toMatchObject({
        code: 'SKETCH_LAYOUT_MISMATCH',
        key: meta,
        actual: old,
        expected: expect.stringMatching(/^trend3:/),
      });
    }
    expect(await readBucket(redis.client, redis.prefix, 'old', bucket)).toBeNull();
  });
});
