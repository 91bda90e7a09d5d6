import {
  redisTargets,
  scanKeys,
  unreachableClient,
  useRedis,
} from '@boxoffice/local-redis/testing';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BloomFilter,
  CountMinSketch,
  FlushError,
  SketchError,
  SketchLayoutError,
  SketchRedisError,
  Trending,
} from '../src/index.js';

// The error scheme every package shares (ARCHITECTURE.md, "Errors").
const dead: Redis[] = [];
afterEach(() => {
  for (const c of dead.splice(0)) c.disconnect();
});

function expectRedisFailure(error: unknown, operation: string, kind = 'unavailable') {
  expect(error, operation).toBeInstanceOf(SketchRedisError);
  expect(error, operation).toBeInstanceOf(SketchError);
  expect(error, operation).toMatchObject({
    name: 'SketchRedisError',
    code: 'REDIS_FAILURE',
    kind,
    operation,
  });
}

describe('error scheme', () => {
  it('Redis unreachable: SketchRedisError, kind unavailable, stable code, named, a SketchError', async () => {
    const client = await unreachableClient();
    dead.push(client);
    const cms = new CountMinSketch(client, { key: 'c' });
    const bloom = new BloomFilter(client, { key: 'b' });
    const trending = new Trending(client, { name: 't' });
    const calls: [string, () => Promise<unknown>][] = [
      ['add', () => cms.add('a')],
      ['add', () => cms.addMany(Array.from({ length: 2001 }, (_, i) => `i${i}`))], // a pipeline
      ['estimate', () => cms.estimate('a')],
      ['merge', () => cms.merge(['other'])],
      ['add', () => bloom.add('a')],
      ['has', () => bloom.has('a')],
      ['record', () => trending.record('a')],
      ['record', () => trending.recordMany([['a'], ['b']])],
      ['top', () => trending.top(1)],
      ['estimate', () => trending.estimate('a')],
    ];
    for (const [operation, call] of calls) {
      const error = await call().catch((e: unknown) => e);
      expectRedisFailure(error, operation);
      expect((error as Error).cause, operation).toBeInstanceOf(Error);
    }
  });

  it('a failed buffered flush is a FlushError whose cause is the SketchRedisError', async () => {
    const client = await unreachableClient();
    dead.push(client);
    const buffered = new Trending(client, { name: 't' }).buffered({ flushMs: 600_000 });
    buffered.record('a');
    const error = await buffered.flush().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlushError);
    expect(error).toMatchObject({ name: 'FlushError', code: 'SKETCH_FLUSH_FAILED', pending: 1 });
    expectRedisFailure((error as FlushError).cause, 'record');
    await buffered.close().catch(() => {});
  });

  it('every class is named after itself and has its stable code', () => {
    const cases: [SketchError, string, string][] = [
      [new SketchError('X', 'm'), 'SketchError', 'X'],
      [new SketchLayoutError('k', 'a', 'b'), 'SketchLayoutError', 'SKETCH_LAYOUT_MISMATCH'],
      [new FlushError(1, new Error('x')), 'FlushError', 'SKETCH_FLUSH_FAILED'],
      [new SketchRedisError('add', 'timeout', 'm'), 'SketchRedisError', 'REDIS_FAILURE'],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(SketchError);
      expect([error.name, error.code]).toEqual([name, code]);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('a wrong client is a TypeError with the wording every package uses', () => {
    for (const make of [
      () => new CountMinSketch({} as never, { key: 'c' }),
      () => new BloomFilter(null as never, { key: 'b' }),
      () => new Trending(42 as never, { name: 't' }),
    ]) {
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/^client must be an ioredis Redis or Cluster, got (object|null|42)$/);
    }
  });
});

describe.each(redisTargets())('error scheme ($name)', (target) => {
  const redis = useRedis(target);

  it('an error reply is kind script, not an outage', async () => {
    const now = Date.now(); // one bucket for the whole test
    const trending = new Trending(redis.client, {
      name: 't',
      prefix: redis.prefix,
      clock: () => now,
    });
    await trending.record('a');
    // The bucket's candidate set as a string: the script's ZRANGE on it fails inside Redis (WRONGTYPE).
    const [candidates] = await scanKeys(redis.client, `${redis.prefix}:*:t:*`);
    expect(candidates).toBeDefined();
    await redis.client.set(candidates as string, 'x');
    const error = await trending.top(1).catch((e: unknown) => e);
    expectRedisFailure(error, 'top', 'script');
  });
});
