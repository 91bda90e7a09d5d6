import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { BloomFilter, SketchLayoutError } from '../src/index.js';
import { dumps, FOREIGN_VALUES, plant } from './foreign.js';

describe.each(redisTargets())('BloomFilter on $name', (target) => {
  const redis = useRedis(target);

  it('sizes by the textbook formulas', () => {
    const bf = new BloomFilter(redis.client, {
      key: 'k',
      prefix: redis.prefix,
      capacity: 1_000_000,
      errorRate: 0.001,
    });
    expect(bf.bits).toBe(Math.ceil((-1_000_000 * Math.log(0.001)) / Math.LN2 ** 2));
    expect(bf.hashes).toBe(10);
  });

  it('at capacity: no false negatives, false-positive rate within 1.5× of errorRate', async () => {
    const capacity = 50_000;
    const errorRate = 0.002; // 100,000 strangers → ~200 expected false positives, 1.5× = 300 (≈ 7σ)
    const bf = new BloomFilter(redis.client, {
      key: 'fp',
      prefix: redis.prefix,
      capacity,
      errorRate,
    });
    const members = Array.from({ length: capacity }, (_, i) => `user-${i}`);
    const added = await bf.addMany(members);
    // A handful of "already present" answers at insertion are false positives too.
    expect(added.filter((x) => !x).length).toBeLessThan(capacity * errorRate * 1.5);
    expect((await bf.hasMany(members)).every(Boolean)).toBe(true);
    const strangers = Array.from({ length: 100_000 }, (_, i) => `stranger-${i}`);
    const positives = (await bf.hasMany(strangers)).filter(Boolean).length;
    expect(positives / strangers.length).toBeLessThanOrEqual(errorRate * 1.5);
  }, 60_000);

  it('a small filter keeps its false-positive rate: capacity 256 at 0.0001, within 1.5×', async () => {
    // Plain double hashing (h1 + i·h2) measured 3.1× here: with m = 4,908 bits and k = 13, the
    // positions of different items coincide far more often than independent hashes would.
    const capacity = 256;
    const errorRate = 0.0001; // 200,000 strangers → ~20 expected false positives, 1.5× = 30
    const bf = new BloomFilter(redis.client, {
      key: 'small',
      prefix: redis.prefix,
      capacity,
      errorRate,
    });
    const members = Array.from({ length: capacity }, (_, i) => `user-${i}`);
    await bf.addMany(members);
    expect((await bf.hasMany(members)).every(Boolean)).toBe(true);
    const strangers = Array.from({ length: 200_000 }, (_, i) => `stranger-${i}`);
    const positives = (await bf.hasMany(strangers)).filter(Boolean).length;
    console.log(
      `capacity ${capacity} at ${errorRate}: ${positives} false positives in ${strangers.length} (${(positives / strangers.length / errorRate).toFixed(2)}× the rate)`,
    );
    expect(positives / strangers.length).toBeLessThanOrEqual(errorRate * 1.5);
  }, 60_000);

  it('add resolves to true only the first time; has reflects adds', async () => {
    const bf = new BloomFilter(redis.client, { key: 'one', prefix: redis.prefix, capacity: 1000 });
    expect(await bf.has('a')).toBe(false);
    expect(await bf.add('a')).toBe(true);
    expect(await bf.add('a')).toBe(false);
    expect(await bf.has('a')).toBe(true);
    expect(await bf.addMany(['b', 'b', 7])).toEqual([true, false, true]);
    expect(await bf.has('7')).toBe(true);
    expect(await bf.addMany([])).toEqual([]);
  });

  it('concurrent adds of the same item from two clients: exactly one sees it as new', async () => {
    const other = redis.connect();
    const a = new BloomFilter(redis.client, { key: 'race', prefix: redis.prefix, capacity: 1000 });
    const b = new BloomFilter(other, { key: 'race', prefix: redis.prefix, capacity: 1000 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).add('same-item')),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses a filter written with the previous hash version (plain double hashing)', async () => {
    const bf = new BloomFilter(redis.client, { key: 'v1', prefix: redis.prefix, capacity: 1000 });
    const old = `bf1:m3x2km1:m${bf.bits}:k${bf.hashes}`;
    await redis.client.hset(bf.metaKey, 'layout', old, 'bits', bf.bits, 'hashes', bf.hashes);
    await redis.client.setbit(bf.redisKey, 7, 1);
    const error = await bf.add('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SketchLayoutError);
    expect(error).toMatchObject({ code: 'SKETCH_LAYOUT_MISMATCH', key: bf.metaKey, actual: old });
    await expect(bf.has('a')).rejects.toThrow(SketchLayoutError);
    expect(await redis.client.bitcount(bf.redisKey)).toBe(1);
  });

  it.each(FOREIGN_VALUES)(
    'refuses a key holding a %s that is not a filter, changing nothing',
    async (type) => {
      const bf = new BloomFilter(redis.client, { key: `f-${type}`, prefix: redis.prefix });
      await plant(redis.client, bf.redisKey, type);
      const before = await dumps(redis.client, [bf.redisKey, bf.metaKey]);
      const error = await bf.add('a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SketchLayoutError);
      expect(error).toMatchObject({ code: 'SKETCH_LAYOUT_MISMATCH', key: bf.metaKey });
      await expect(bf.addMany(['a', 'b'])).rejects.toThrow(SketchLayoutError);
      await expect(bf.has('a')).rejects.toThrow(SketchLayoutError);
      expect(await dumps(redis.client, [bf.redisKey, bf.metaKey])).toEqual(before);
    },
  );

  it('refuses a metadata key of another type, changing nothing', async () => {
    const bf = new BloomFilter(redis.client, { key: 'meta-type', prefix: redis.prefix });
    await redis.client.rpush(bf.metaKey, 'x');
    await expect(bf.add('a')).rejects.toThrow(SketchLayoutError);
    await expect(bf.has('a')).rejects.toThrow(SketchLayoutError);
    expect(await redis.client.exists(bf.redisKey)).toBe(0);
    expect(await redis.client.lrange(bf.metaKey, 0, -1)).toEqual(['x']);
  });

  it('refuses a filter whose metadata is gone instead of adopting it (any size)', async () => {
    const opts = { key: 'orphan', prefix: redis.prefix };
    const small = new BloomFilter(redis.client, { ...opts, capacity: 1000 });
    const big = new BloomFilter(redis.client, { ...opts, capacity: 2000 });
    await small.add('a');
    await redis.client.del(small.metaKey);
    const before = await dumps(redis.client, [small.redisKey, small.metaKey]);
    for (const writer of [big, small]) {
      const error = await writer.add('b').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SketchLayoutError);
      expect(error).toMatchObject({ key: small.metaKey });
      await expect(writer.has('a')).rejects.toThrow(SketchLayoutError);
    }
    expect(await dumps(redis.client, [small.redisKey, small.metaKey])).toEqual(before);
  });

  it('refuses a filter written with another size', async () => {
    await new BloomFilter(redis.client, { key: 'x', prefix: redis.prefix, capacity: 1000 }).add(
      'a',
    );
    const other = new BloomFilter(redis.client, { key: 'x', prefix: redis.prefix, capacity: 2000 });
    await expect(other.add('a')).rejects.toThrow(SketchLayoutError);
    await expect(other.has('a')).rejects.toThrow(SketchLayoutError);
  });
});
