import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { CountMinSketch as ReferenceCms } from 'bloom-filters';
import { describe, expect, it } from 'vitest';
import { COUNTER_MAX, CountMinSketch, counterIndexes, SketchLayoutError } from '../src/index.js';
import { dumps, FOREIGN_VALUES, plant } from './foreign.js';
import { exactCounts, prng, zipfStream } from './zipf.js';

const EVENTS = 1_000_000;
const ITEMS = 100_000;
const stream = zipfStream(EVENTS, ITEMS, 1.1, 42);
const exact = exactCounts(stream);

describe.each(redisTargets())('CountMinSketch on $name', (target) => {
  const redis = useRedis(target);

  it('sizes from epsilon/delta by the textbook formulas', () => {
    const cms = new CountMinSketch(redis.client, {
      key: 'k',
      prefix: redis.prefix,
      epsilon: 0.001,
      delta: 0.01,
    });
    expect([cms.width, cms.depth]).toEqual([2719, 5]);
    const cms2 = new CountMinSketch(redis.client, {
      key: 'k',
      prefix: redis.prefix,
      width: 10,
      depth: 3,
    });
    expect([cms2.width, cms2.depth]).toEqual([10, 3]);
  });

  it(`on Zipf(1.1), ${EVENTS} events over ${ITEMS} items: never undercounts, ≤ exact + εN for ≥ 1 − δ of items`, async () => {
    const cms = new CountMinSketch(redis.client, {
      key: 'zipf',
      prefix: redis.prefix,
      epsilon: 0.001,
      delta: 0.01,
    });
    // Pre-aggregated like a buffer would (one entry per item), in stream order of first appearance.
    expect(await cms.addMany([...exact])).toHaveLength(exact.size);
    expect(await cms.total()).toBe(EVENTS);
    const all = Array.from({ length: ITEMS }, (_, i) => `p${i}`);
    const estimates = await cms.estimateMany(all);
    const bound = cms.epsilon * EVENTS;
    let within = 0;
    all.forEach((item, i) => {
      const truth = exact.get(item) ?? 0;
      const est = estimates[i] as number;
      expect(est).toBeGreaterThanOrEqual(truth);
      if (est <= truth + bound) within++;
    });
    expect(within / ITEMS).toBeGreaterThanOrEqual(1 - 0.01);
  });

  it('is tighter than the bloom-filters reference CMS of the same size (conservative update)', async () => {
    const sample = stream.subarray(0, 100_000);
    const counts = exactCounts(sample);
    const cms = new CountMinSketch(redis.client, {
      key: 'cmp',
      prefix: redis.prefix,
      width: 500,
      depth: 4,
    });
    await cms.addMany([...counts]);
    const ref = new ReferenceCms(500, 4); // sized explicitly: create(ε, accuracy) gives 1 row at 0.99
    for (const [item, n] of counts) ref.update(item, n);
    const items = [...counts.keys()];
    const ours = await cms.estimateMany(items);
    let oursErr = 0;
    let refErr = 0;
    items.forEach((item, i) => {
      const truth = counts.get(item) as number;
      expect(ours[i]).toBeGreaterThanOrEqual(truth);
      oursErr += (ours[i] as number) - truth;
      refErr += ref.count(item) - truth;
    });
    expect(oursErr).toBeLessThan(refErr);
  });

  it('stores the documented layout: big-endian u32 counters at counterIndexes, then an i64 total', async () => {
    const cms = new CountMinSketch(redis.client, {
      key: 'layout',
      prefix: redis.prefix,
      width: 100,
      depth: 3,
    });
    await cms.add('x', 7);
    const raw = (await redis.client.getBuffer(cms.redisKey)) as Buffer;
    expect(raw.length).toBe(100 * 3 * 4 + 8);
    for (const index of counterIndexes('x', 100, 3)) expect(raw.readUInt32BE(index * 4)).toBe(7);
    expect(raw.readBigInt64BE(100 * 3 * 4)).toBe(7n);
    expect(await redis.client.hget(cms.metaKey, 'layout')).toBe('cms1:m3x2edh1:w100:d3');
  });

  it('add resolves to the new estimate; numbers count as their decimal string', async () => {
    const cms = new CountMinSketch(redis.client, { key: 'one', prefix: redis.prefix });
    expect(await cms.add('a')).toBe(1);
    expect(await cms.add('a', 4)).toBe(5);
    expect(await cms.add(42, 2)).toBe(2);
    expect(await cms.estimate('42')).toBe(2);
    expect(await cms.estimate('never')).toBe(0);
    expect(await cms.total()).toBe(7);
    expect(await cms.addMany(['a', ['b', 3]])).toEqual([6, 3]);
  });

  it.each([true, false])(
    'saturates counters at 2^32 − 1 instead of wrapping (conservative: %s)',
    async (conservative) => {
      const cms = new CountMinSketch(redis.client, {
        key: 'sat',
        prefix: redis.prefix,
        width: 8,
        depth: 2,
        conservative,
      });
      for (let i = 0; i < 3; i++) await cms.add('hot', 2 ** 31);
      expect(await cms.estimate('hot')).toBe(COUNTER_MAX);
      expect(await cms.total()).toBe(3 * 2 ** 31);
    },
  );

  it('merge equals the sketch of the union (exactly without conservative update)', async () => {
    const opts = { prefix: redis.prefix, width: 1000, depth: 4, conservative: false };
    const a = new CountMinSketch(redis.client, { ...opts, key: 'a' });
    const b = new CountMinSketch(redis.client, { ...opts, key: 'b' });
    const c = new CountMinSketch(redis.client, { ...opts, key: 'c' });
    const union = new CountMinSketch(redis.client, { ...opts, key: 'union' });
    const parts = [
      stream.subarray(0, 30_000),
      stream.subarray(30_000, 50_000),
      stream.subarray(50_000, 60_000),
    ];
    const sketches = [a, b, c];
    for (const [i, part] of parts.entries()) {
      const counts = [...exactCounts(part)];
      await sketches[i]?.addMany(counts);
      await union.addMany(counts);
    }
    await a.merge(['b', 'c', 'missing']);
    const [merged, expected] = await Promise.all([
      redis.client.getBuffer(a.redisKey),
      redis.client.getBuffer(union.redisKey),
    ]);
    expect(merged?.equals(expected as Buffer)).toBe(true);
    expect(await a.total()).toBe(60_000);
    expect(await redis.client.strlen(a.redisKey)).toBe(1000 * 4 * 4 + 8);
    await expect(a.merge(['a'])).rejects.toThrow(RangeError);
  });

  it('merge of conservative sketches never undercounts the union', async () => {
    const opts = { prefix: redis.prefix, width: 300, depth: 4 };
    const a = new CountMinSketch(redis.client, { ...opts, key: 'ca' });
    const b = new CountMinSketch(redis.client, { ...opts, key: 'cb' });
    const p1 = exactCounts(stream.subarray(0, 20_000));
    const p2 = exactCounts(stream.subarray(20_000, 40_000));
    await a.addMany([...p1]);
    await b.addMany([...p2]);
    await a.merge(['cb']);
    const union = exactCounts(stream.subarray(0, 40_000));
    const items = [...union.keys()];
    const est = await a.estimateMany(items);
    items.forEach((item, i) => {
      expect(est[i]).toBeGreaterThanOrEqual(union.get(item) as number);
    });
    expect(await a.total()).toBe(40_000);
  });

  it('refuses to mix layouts (add, estimate, merge)', async () => {
    const small = new CountMinSketch(redis.client, {
      key: 'x',
      prefix: redis.prefix,
      width: 100,
      depth: 3,
    });
    const big = new CountMinSketch(redis.client, {
      key: 'x',
      prefix: redis.prefix,
      width: 200,
      depth: 3,
    });
    const other = new CountMinSketch(redis.client, {
      key: 'y',
      prefix: redis.prefix,
      width: 200,
      depth: 3,
    });
    await small.add('a');
    await other.add('a');
    const error = await big.add('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SketchLayoutError);
    expect(error).toMatchObject({ code: 'SKETCH_LAYOUT_MISMATCH', key: small.metaKey });
    await expect(big.estimate('a')).rejects.toThrow(SketchLayoutError);
    await expect(small.merge(['y'])).rejects.toThrow(SketchLayoutError);
    expect(await small.estimate('a')).toBe(1);
  });

  it.each(FOREIGN_VALUES)(
    'refuses a key holding a %s that is not a sketch, changing nothing',
    async (type) => {
      const cms = new CountMinSketch(redis.client, { key: `f-${type}`, prefix: redis.prefix });
      await plant(redis.client, cms.redisKey, type);
      const before = await dumps(redis.client, [cms.redisKey, cms.metaKey]);
      const error = await cms.add('a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SketchLayoutError);
      expect(error).toMatchObject({ code: 'SKETCH_LAYOUT_MISMATCH', key: cms.metaKey });
      await expect(cms.addMany(['a', 'b'])).rejects.toThrow(SketchLayoutError);
      await expect(cms.merge(['other'])).rejects.toThrow(SketchLayoutError);
      await expect(cms.estimate('a')).rejects.toThrow(SketchLayoutError);
      expect(await dumps(redis.client, [cms.redisKey, cms.metaKey])).toEqual(before);
    },
  );

  it('refuses a metadata key of another type, changing nothing', async () => {
    const cms = new CountMinSketch(redis.client, { key: 'meta-type', prefix: redis.prefix });
    await redis.client.set(cms.metaKey, 'not a sketch');
    await expect(cms.add('a')).rejects.toThrow(SketchLayoutError);
    await expect(cms.estimate('a')).rejects.toThrow(SketchLayoutError);
    expect(await redis.client.exists(cms.redisKey)).toBe(0);
    expect(await redis.client.get(cms.metaKey)).toBe('not a sketch');
  });

  it('refuses a sketch whose metadata is gone instead of adopting it (any width)', async () => {
    const opts = { key: 'orphan', prefix: redis.prefix, depth: 3 };
    const small = new CountMinSketch(redis.client, { ...opts, width: 100 });
    const big = new CountMinSketch(redis.client, { ...opts, width: 200 });
    await small.add('a', 5);
    await redis.client.del(small.metaKey);
    const before = await dumps(redis.client, [small.redisKey, small.metaKey]);
    for (const writer of [big, small]) {
      const error = await writer.add('a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SketchLayoutError);
      expect(error).toMatchObject({ key: small.metaKey, expected: expect.stringContaining(':d3') });
      await expect(writer.estimate('a')).rejects.toThrow(SketchLayoutError);
    }
    expect(await dumps(redis.client, [small.redisKey, small.metaKey])).toEqual(before);
  });

  it('two app instances adding concurrently give the same sketch as one', async () => {
    const opts = { prefix: redis.prefix, width: 2000, depth: 5, conservative: false };
    const other = redis.connect();
    const one = new CountMinSketch(redis.client, { ...opts, key: 'one' });
    const twoA = new CountMinSketch(redis.client, { ...opts, key: 'two' });
    const twoB = new CountMinSketch(other, { ...opts, key: 'two' });
    const events = Array.from(stream.subarray(0, 40_000), (r): [string, number] => [`p${r}`, 1]);
    const batches: [string, number][][] = [];
    for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500));
    await one.addMany(events);
    await Promise.all(batches.map((batch, i) => (i % 2 ? twoA : twoB).addMany(batch)));
    const [a, b] = await Promise.all([
      redis.client.getBuffer(one.redisKey),
      redis.client.getBuffer(twoA.redisKey),
    ]);
    expect(a?.equals(b as Buffer)).toBe(true);
  });

  it('conservative updates from concurrent instances never undercount', async () => {
    const other = redis.connect();
    const x = new CountMinSketch(redis.client, {
      key: 'cu',
      prefix: redis.prefix,
      width: 200,
      depth: 4,
    });
    const y = new CountMinSketch(other, { key: 'cu', prefix: redis.prefix, width: 200, depth: 4 });
    const random = prng(7);
    const events = Array.from(stream.subarray(0, 20_000), (r) => `p${r}`);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (random() < 0.5 ? x : y).addMany(events.slice(i * 500, i * 500 + 500)),
      ),
    );
    const counts = exactCounts(stream.subarray(0, 20_000));
    const items = [...counts.keys()];
    const est = await x.estimateMany(items);
    items.forEach((item, i) => {
      expect(est[i]).toBeGreaterThanOrEqual(counts.get(item) as number);
    });
    expect(await y.total()).toBe(20_000);
  });
});
