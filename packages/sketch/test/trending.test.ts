import { clusterSlot } from '@boxoffice/internal';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it, vi } from 'vitest';
import { FlushError, SketchLayoutError, Trending } from '../src/index.js';
import { readBucket } from './buckets.js';
import { exactCounts, exactTop, prng, zipfStream } from './zipf.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const EVENTS = 1_000_000;
const ITEMS = 100_000;
const stream = zipfStream(EVENTS, ITEMS, 1.1, 7);

describe.each(redisTargets())('Trending on $name', (target) => {
  const redis = useRedis(target);
  // A fixed "now" inside the current real hour, so key expiry (real time) and the clock agree.
  const now = Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000;
  const clock = () => now;

  it(`Zipf(1.1), ${EVENTS} events over ${ITEMS} items spread over 3 days, through buffered(): top-10 overlap ≥ 9, estimates within bounds`, {
    timeout: 90_000,
  }, async () => {
    const trending = new Trending(redis.client, {
      name: 'zipf',
      prefix: redis.prefix,
      window: { days: 3 },
      bucket: { hours: 12 },
      clock,
    });
    const buffer = trending.buffered({ maxItems: 1_000_000, flushMs: 60_000 });
    const random = prng(3);
    for (const rank of stream)
      buffer.record(`p${rank}`, 1, { at: new Date(now - random() * 3 * DAY) });
    await buffer.close();
    expect(buffer.pending).toBe(0);

    const exact = exactCounts(stream);
    const top = await trending.top(10);
    const truth = exactTop(exact, 10);
    const overlap = top.filter((t) => truth.includes(t.item)).length;
    expect(overlap).toBeGreaterThanOrEqual(9);
    expect(await trending.total()).toBe(EVENTS);
    for (const t of top) {
      expect(t.estimate).toBeGreaterThanOrEqual(exact.get(t.item) as number);
      expect(t.errorBound).toBeCloseTo(trending.epsilon * EVENTS, 6);
    }
    // every 20th item (5,000 items, heavy and light alike)
    const sample = Array.from({ length: ITEMS / 20 }, (_, i) => `p${i * 20}`);
    const estimates = await trending.estimateMany(sample);
    let within = 0;
    sample.forEach((item, i) => {
      const t = exact.get(item) ?? 0;
      expect(estimates[i]).toBeGreaterThanOrEqual(t);
      if ((estimates[i] as number) <= t + trending.epsilon * EVENTS) within++;
    });
    expect(within / sample.length).toBeGreaterThanOrEqual(0.99);
  });

  it('record counts into the right bucket; late events count, events older than the window do not', async () => {
    const trending = new Trending(redis.client, { name: 'win', prefix: redis.prefix, clock });
    expect(await trending.record('x', 3)).toBe(true);
    expect(await trending.record('x', 2, { at: new Date(now - 2 * DAY) })).toBe(true); // late
    expect(await trending.record('x', 100, { at: new Date(now - 4 * DAY) })).toBe(false); // too old
    expect(await trending.estimate('x')).toBe(5);
    expect(await trending.estimate('x', { window: { hours: 24 } })).toBe(3);
    expect(await trending.total()).toBe(5);
    // The window as seen at other times: a day ago (only the late event), in 2 days (only "now"), in 4 days.
    expect(await trending.estimate('x', { at: new Date(now - DAY) })).toBe(2);
    expect(await trending.estimate('x', { at: new Date(now + 2 * DAY) })).toBe(3);
    expect(await trending.estimate('x', { at: new Date(now + 4 * DAY) })).toBe(0);
    const top = await trending.top(5);
    expect(top).toEqual([{ item: 'x', estimate: 5, errorBound: trending.epsilon * 5 }]);
  });

  it('every key shares the hash tag, and bucket keys expire window + one bucket after the bucket starts', async () => {
    const trending = new Trending(redis.client, { name: 'ttl', prefix: redis.prefix, clock });
    await trending.record('a', 1, { dedupeBy: 'u1' });
    await trending.record('b', 1, { at: new Date(now - DAY) });
    const keys = await scanKeys(redis.client, `${redis.prefix}:*`);
    expect(keys.length).toBe(6); // meta + (counters, candidates) × 2 buckets + one Bloom
    for (const key of keys) expect(key).toContain(`${redis.prefix}:trend:{ttl}:`);
    const bucketStart = Math.floor(now / HOUR) * HOUR;
    for (const key of keys.filter((k) => !k.endsWith(':meta'))) {
      const ttl = await redis.client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      const latest = bucketStart + HOUR + 3 * DAY - Date.now();
      expect(ttl).toBeLessThanOrEqual(latest + 1000);
    }
  });

  it('different Trendings spread over the Cluster: one hash tag per name', async () => {
    const slots = new Set<number>();
    for (const name of ['products', 'songs', 'concerts', 'seats', 'artists', 'venues']) {
      const trending = new Trending(redis.client, { name, prefix: redis.prefix, clock });
      await trending.record('x');
      const keys = await scanKeys(redis.client, `${redis.prefix}:trend:{${name}}:*`);
      expect(new Set(keys.map(clusterSlot)).size).toBe(1);
      slots.add(clusterSlot(keys[0] as string));
    }
    expect(slots.size).toBeGreaterThan(1);
  });

  it('dedupeBy counts a user once per item per bucket', async () => {
    const trending = new Trending(redis.client, { name: 'dd', prefix: redis.prefix, clock });
    expect(await trending.record('song', 1, { dedupeBy: 'alice' })).toBe(true);
    expect(await trending.record('song', 1, { dedupeBy: 'alice' })).toBe(false);
    expect(await trending.record('song', 1, { dedupeBy: 'bob' })).toBe(true);
    expect(await trending.record('other', 1, { dedupeBy: 'alice' })).toBe(true);
    expect(await trending.record('song', 1, { dedupeBy: 'alice', at: new Date(now - HOUR) })).toBe(
      true,
    );
    expect(await trending.record('song', 1)).toBe(true);
    expect(await trending.estimate('song')).toBe(4);
    expect(
      await trending.recordMany([
        ['song', 1, { dedupeBy: 'carol' }],
        ['song', 1, { dedupeBy: 'carol' }],
      ]),
    ).toEqual([true, false]);
  });

  it('concurrent record() calls (sent together) each resolve to their own result', async () => {
    const trending = new Trending(redis.client, { name: 'many', prefix: redis.prefix, clock });
    const calls = Array.from({ length: 600 }, (_, i) =>
      trending.record(`m${i % 7}`, 1 + (i % 3), {
        at: new Date(now - (i % 2) * HOUR),
        ...(i % 5 === 0 ? { dedupeBy: `u${i % 4}` } : {}),
      }),
    );
    const old = trending.record('m0', 1, { at: new Date(now - 5 * DAY) });
    const flags = await Promise.all(calls);
    expect(await old).toBe(false);
    // expected: a deduped event counts only the first time its (item, user, bucket) is seen
    const seen = new Set<string>();
    const exact = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const item = `m${i % 7}`;
      let counted = true;
      if (i % 5 === 0) {
        const key = `${item}/u${i % 4}/${i % 2}`;
        counted = !seen.has(key);
        seen.add(key);
      }
      expect(flags[i]).toBe(counted);
      if (counted) exact.set(item, (exact.get(item) ?? 0) + 1 + (i % 3));
    }
    const items = [...exact.keys()];
    expect(await trending.estimateMany(items)).toEqual(items.map((item) => exact.get(item)));
  });

  it('top-K candidate set stays bounded and keeps the heaviest items', async () => {
    const trending = new Trending(redis.client, {
      name: 'cap',
      prefix: redis.prefix,
      topK: 5,
      clock,
    });
    await trending.recordMany(
      Array.from({ length: 50 }, (_, i) => [`i${i}`, i + 1] as [string, number]),
    );
    const keys = await scanKeys(redis.client, `${redis.prefix}:*:t:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.client.zcard(keys[0] as string)).toBe(5);
    expect((await trending.top(5)).map((t) => t.item)).toEqual(['i49', 'i48', 'i47', 'i46', 'i45']);
    await expect(trending.top(6)).rejects.toThrow(RangeError);
  });

  it('two app instances recording concurrently give the same result as one', async () => {
    const other = redis.connect();
    const opts = { prefix: redis.prefix, clock, conservative: false, width: 1000, depth: 4 };
    const one = new Trending(redis.client, { ...opts, name: 'one' });
    const a = new Trending(redis.client, { ...opts, name: 'two' });
    const b = new Trending(other, { ...opts, name: 'two' });
    const events = Array.from(
      stream.subarray(0, 30_000),
      (r, i): [string, number, { at: Date }] => [
        `p${r}`,
        1,
        { at: new Date(now - (i % 3) * HOUR) },
      ],
    );
    await one.recordMany(events);
    const batches = [];
    for (let i = 0; i < events.length; i += 300) batches.push(events.slice(i, i + 300));
    await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).recordMany(batch)));
    const bucket = Math.floor(now / HOUR);
    for (const h of [0, 1, 2]) {
      const [x, y] = await Promise.all([
        readBucket(redis.client, redis.prefix, 'one', bucket - h),
        readBucket(redis.client, redis.prefix, 'two', bucket - h),
      ]);
      // 10,000 events in 4,000 counters: some pass 255, so the overflow hash is used
      expect(x?.overflow.size).toBeGreaterThan(0);
      // counters, total and the stored form (width, overflow fields); the header's candidate
      // admission threshold is a cache that depends on the order in which candidates were seen
      expect(x?.values).toHaveLength(4000);
      expect({ ...y, threshold: 0 }).toEqual({ ...x, threshold: 0 });
    }
    expect(await a.top(10)).toEqual(await one.top(10));
  });

  it('conservative concurrent recording never undercounts and keeps the total', async () => {
    const other = redis.connect();
    const a = new Trending(redis.client, {
      prefix: redis.prefix,
      clock,
      name: 'cu',
      width: 500,
      depth: 4,
    });
    const b = new Trending(other, {
      prefix: redis.prefix,
      clock,
      name: 'cu',
      width: 500,
      depth: 4,
    });
    const events = Array.from(stream.subarray(0, 20_000), (r): [string] => [`p${r}`]);
    const batches = [];
    for (let i = 0; i < events.length; i += 250) batches.push(events.slice(i, i + 250));
    await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).recordMany(batch)));
    const exact = exactCounts(stream.subarray(0, 20_000));
    const items = [...exact.keys()];
    const est = await b.estimateMany(items);
    items.forEach((item, i) => {
      expect(est[i]).toBeGreaterThanOrEqual(exact.get(item) as number);
    });
    expect(await a.total()).toBe(20_000);
  });

  it('refuses to mix layouts (another bucket size on the same name)', async () => {
    await new Trending(redis.client, { name: 'lay', prefix: redis.prefix, clock }).record('a');
    const other = new Trending(redis.client, {
      name: 'lay',
      prefix: redis.prefix,
      bucket: { hours: 2 },
      window: { days: 2 },
      clock,
    });
    await expect(other.record('a')).rejects.toThrow(SketchLayoutError);
    await expect(other.top(3)).rejects.toThrow(SketchLayoutError);
  });

  describe('buffered()', () => {
    it('aggregates in process and sends one round trip per flush', async () => {
      const trending = new Trending(redis.client, { name: 'buf', prefix: redis.prefix, clock });
      const buffer = trending.buffered({ flushMs: 60_000 });
      // 31 items × 3 buckets = 93 entries, + 1 deduped entry
      for (let i = 0; i < 3000; i++)
        buffer.record(`i${i % 31}`, 1, { at: new Date(now - (i % 3) * HOUR) });
      buffer.record('u', 1, { dedupeBy: 'x' });
      buffer.record('u', 1, { dedupeBy: 'x' });
      expect(buffer.pending).toBe(94);
      const pipeline = vi.spyOn(redis.client, 'pipeline');
      await buffer.flush();
      expect(pipeline).toHaveBeenCalledTimes(1);
      pipeline.mockRestore();
      expect(buffer.pending).toBe(0);
      expect(await trending.estimate('i7')).toBe(97);
      expect(await trending.estimate('u')).toBe(1);
      expect(await trending.total()).toBe(3001);
      await buffer.close();
    });

    it('flushes on maxItems and on the flushMs timer', async () => {
      const trending = new Trending(redis.client, { name: 'auto', prefix: redis.prefix, clock });
      const bySize = trending.buffered({ maxItems: 10, flushMs: 600_000 });
      for (let i = 0; i < 10; i++) bySize.record(`s${i}`);
      await vi.waitFor(async () => expect(await trending.estimate('s9')).toBe(1), {
        timeout: 20_000,
        interval: 50,
      });
      const byTime = trending.buffered({ flushMs: 50 });
      byTime.record('t', 5);
      await vi.waitFor(async () => expect(await trending.estimate('t')).toBe(5), {
        timeout: 20_000,
        interval: 50,
      });
      await Promise.all([bySize.close(), byTime.close()]);
    });

    it('close() flushes, and record after close throws', async () => {
      const trending = new Trending(redis.client, { name: 'close', prefix: redis.prefix, clock });
      const buffer = trending.buffered({ flushMs: 600_000 });
      buffer.record('c', 2);
      await buffer.close();
      expect(await trending.estimate('c')).toBe(2);
      expect(() => buffer.record('c')).toThrow(TypeError);
    });

    it('a flush that fails for one bucket retries only that bucket (no double counting)', async () => {
      const trending = new Trending(redis.client, { name: 'part', prefix: redis.prefix, clock });
      const buffer = trending.buffered({ flushMs: 600_000 });
      const bucket = Math.floor(now / HOUR);
      buffer.record('a', 1);
      buffer.record('a', 2, { at: new Date(now - HOUR) });
      // a key of the wrong type makes that bucket's script fail (WRONGTYPE), the other succeeds
      const bad = `${redis.prefix}:trend:{part}:c:${bucket - 1}`;
      await redis.client.lpush(bad, 'not a sketch');
      const error = await buffer.flush().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlushError);
      expect(error).toMatchObject({ pending: 1 });
      expect(buffer.pending).toBe(1);
      await redis.client.del(bad);
      expect(await trending.estimate('a')).toBe(1);
      await buffer.close();
      expect(await trending.estimate('a')).toBe(3);
    });

    it('a failed flush keeps its counts and a later flush delivers them', async () => {
      const client = redis.connect();
      const trending = new Trending(client, { name: 'retry', prefix: redis.prefix, clock });
      const errors: FlushError[] = [];
      const buffer = trending.buffered({ flushMs: 600_000, onError: (e) => errors.push(e) });
      await trending.record('warm');
      buffer.record('r', 3);
      buffer.record('q', 1, { dedupeBy: 'u' });
      client.disconnect();
      const error = await buffer.flush().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlushError);
      expect(error).toMatchObject({ code: 'SKETCH_FLUSH_FAILED', pending: 2 });
      buffer.record('r', 1); // counts added while failing merge with the kept ones
      expect(buffer.pending).toBe(2);
      await client.connect();
      await buffer.close();
      expect(await trending.estimate('r')).toBe(4);
      expect(await trending.estimate('q')).toBe(1);
    });
  });
});
