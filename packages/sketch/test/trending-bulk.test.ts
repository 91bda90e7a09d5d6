import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { counterIndexes, Trending } from '../src/index.js';
import { prng } from './zipf.js';

const HOUR = 3_600_000;
const MAX = 2 ** 32 - 1;

// The bulk write path (trend-bulk.lua: recordMany, concurrent record() and buffer flushes) against a
// reference Count-Min Sketch computed here, for its three ways of reading counters: the whole
// counter array (batch large for the sketch), one GETRANGE (small sketch), BITFIELD GET (large one).
describe.each(redisTargets())('Trending bulk writes on $name', (target) => {
  const redis = useRedis(target);
  const now = Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000;
  const clock = () => now;

  /** Events over `items` distinct items, with repeats in the same batch. */
  function events(count: number, items: number, seed: number): [string, number][] {
    const random = prng(seed);
    return Array.from({ length: count }, () => [
      `i${Math.floor(random() ** 2 * items)}`,
      1 + Math.floor(random() * 5),
    ]);
  }

  /** Plain (non-conservative) Count-Min estimates of `list` computed in process. */
  function reference(list: [string, number][], width: number, depth: number) {
    const counters = new Map<number, number>();
    for (const [item, n] of list) {
      for (const c of counterIndexes(item, width, depth)) {
        counters.set(c, Math.min(MAX, (counters.get(c) ?? 0) + n));
      }
    }
    return (item: string) =>
      Math.min(...counterIndexes(item, width, depth).map((c) => counters.get(c) ?? 0));
  }

  const modes = [
    { mode: 'whole counter array', width: 40, depth: 4, batch: 400 },
    { mode: 'one GETRANGE', width: 2000, depth: 5, batch: 30 },
    { mode: 'BITFIELD GET', width: 200_000, depth: 5, batch: 30 },
  ];

  it.each(modes)(
    'without conservative update, equals the reference sketch exactly ($mode)',
    async ({ width, depth, batch }) => {
      const trending = new Trending(redis.client, {
        name: `plain${width}`,
        prefix: redis.prefix,
        width,
        depth,
        conservative: false,
        clock,
      });
      const list = events(3 * batch, 300, width);
      for (let start = 0; start < list.length; start += batch) {
        const counted = await trending.recordMany(list.slice(start, start + batch));
        expect(counted.every((c) => c)).toBe(true);
      }
      const estimate = reference(list, width, depth);
      const items = [...new Set(list.map(([item]) => item)), 'never-seen'];
      expect(await trending.estimateMany(items)).toEqual(items.map(estimate));
      expect(await trending.total()).toBe(list.reduce((sum, [, n]) => sum + n, 0));
    },
  );

  it.each(modes)(
    'with conservative update, never undercounts and never exceeds the plain sketch ($mode)',
    async ({ width, depth, batch }) => {
      const trending = new Trending(redis.client, {
        name: `cons${width}`,
        prefix: redis.prefix,
        width,
        depth,
        clock,
      });
      const list = events(3 * batch, 300, width + 1);
      for (let start = 0; start < list.length; start += batch) {
        await trending.recordMany(list.slice(start, start + batch));
      }
      const exact = new Map<string, number>();
      for (const [item, n] of list) exact.set(item, (exact.get(item) ?? 0) + n);
      const upper = reference(list, width, depth);
      const items = [...exact.keys()];
      const estimates = await trending.estimateMany(items);
      items.forEach((item, i) => {
        expect(estimates[i]).toBeGreaterThanOrEqual(exact.get(item) as number);
        expect(estimates[i]).toBeLessThanOrEqual(upper(item));
      });
    },
  );

  it('batches keep the top-K candidates of the bucket (top-K of old members and new candidates)', async () => {
    const trending = new Trending(redis.client, {
      name: 'topk',
      prefix: redis.prefix,
      width: 100_000,
      depth: 5,
      topK: 5,
      clock,
    });
    // distinct counts (no ties): item k gets k events, sent in shuffled batches of 25
    const list: [string, number][] = [];
    for (let k = 1; k <= 40; k++) for (let j = 0; j < k; j++) list.push([`k${k}`, 1]);
    const random = prng(11);
    list.sort(() => random() - 0.5);
    for (let start = 0; start < list.length; start += 25) {
      await trending.recordMany(list.slice(start, start + 25));
    }
    const top = await trending.top(5);
    expect(top.map((t) => [t.item, t.estimate])).toEqual([
      ['k40', 40],
      ['k39', 39],
      ['k38', 38],
      ['k37', 37],
      ['k36', 36],
    ]);
    expect(
      await redis.client.zcard(`${redis.prefix}:trend:{topk}:t:${Math.floor(now / HOUR)}`),
    ).toBe(5);
  });

  it('a large flush keeps the candidate set at topK members in the compact encoding', async () => {
    const trending = new Trending(redis.client, { name: 'compact', prefix: redis.prefix, clock });
    const buffer = trending.buffered({ flushMs: 60_000, maxItems: 100_000 });
    for (let i = 0; i < 5000; i++) buffer.record(`item${i}`, 1 + (i % 97));
    await buffer.close();
    const key = `${redis.prefix}:trend:{compact}:t:${Math.floor(now / HOUR)}`;
    expect(await redis.client.zcard(key)).toBe(100);
    expect(['listpack', 'ziplist']).toContain(await redis.client.call('OBJECT', 'ENCODING', key));
    const top = await trending.top(3);
    expect(top.every((t) => t.estimate >= 97)).toBe(true);
  });

  it('a buffered item summing past 2^32 saturates its counters and keeps the exact total', async () => {
    const trending = new Trending(redis.client, {
      name: 'sat',
      prefix: redis.prefix,
      width: 100,
      depth: 3,
      clock,
    });
    const buffer = trending.buffered({ flushMs: 60_000 });
    for (let i = 0; i < 3; i++) buffer.record('hot', 2 ** 31);
    buffer.record('cold', 7);
    await buffer.close();
    expect(await trending.estimate('hot')).toBe(MAX);
    expect(await trending.estimate('cold')).toBeGreaterThanOrEqual(7);
    expect(await trending.total()).toBe(3 * 2 ** 31 + 7);
  });

  it('non-ASCII items round-trip through a buffer flush', async () => {
    const trending = new Trending(redis.client, { name: 'utf8', prefix: redis.prefix, clock });
    const items = ['é', 'naïve-ü', '😀 emoji', 'plain', '中文商品'];
    const buffer = trending.buffered({ flushMs: 60_000 });
    items.forEach((item, i) => {
      buffer.record(item, i + 1);
    });
    await buffer.close();
    const top = await trending.top(5);
    expect(top.map((t) => t.item)).toEqual([...items].reverse());
    expect(await trending.estimateMany(items)).toEqual([1, 2, 3, 4, 5]);
  });
});
