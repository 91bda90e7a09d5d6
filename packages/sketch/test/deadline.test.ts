import { timedFailure as failure } from '@boxoffice/local-redis/testing';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  type Calls,
  expectTimeouts,
  expectUnavailable,
  SLACK,
  TIMEOUT,
  useReconnectingClient,
  useSilentRedis,
} from '../../internal/test/package-tests.js';
import {
  BloomFilter,
  CountMinSketch,
  FlushError,
  SketchRedisError,
  Trending,
} from '../src/index.js';

// Every Redis call of a sketch object is bounded by commandTimeoutMs (the shared CallGuard of
// packages/internal). The bounds asserted are correctness bounds (nothing hangs), with slack for a
// loaded machine.

function objects(client: Redis, commandTimeoutMs?: number) {
  const t = commandTimeoutMs === undefined ? {} : { commandTimeoutMs };
  return {
    cms: new CountMinSketch(client, { key: 'c', width: 64, depth: 3, ...t }),
    bloom: new BloomFilter(client, { key: 'b', capacity: 1000, ...t }),
    trending: new Trending(client, { name: 't', width: 64, depth: 3, ...t }),
  };
}

function calls(o: ReturnType<typeof objects>): Calls {
  return [
    ['add', () => o.cms.add('x')],
    [
      'add',
      () =>
        o.cms.addMany([
          ['x', 1],
          ['y', 2],
        ]),
    ],
    ['estimate', () => o.cms.estimate('x')],
    ['merge', () => o.cms.merge(['other'])],
    ['add', () => o.bloom.add('x')],
    ['has', () => o.bloom.has('x')],
    ['record', () => o.trending.record('x')],
    ['record', () => o.trending.recordMany([['x'], ['y', 2]])],
    ['top', () => o.trending.top(5)],
    ['estimate', () => o.trending.estimate('x')],
  ];
}

describe('a Redis that never answers', () => {
  const silent = useSilentRedis();

  it('every call fails within commandTimeoutMs, kind timeout', async () => {
    await expectTimeouts(calls(objects(silent.current.client(), TIMEOUT)), SketchRedisError);
  });

  it("a buffered trending's flush and close() finish within the bound, counts kept", async () => {
    const { trending } = objects(silent.current.client(), TIMEOUT);
    const buffer = trending.buffered({ flushMs: 60_000 });
    buffer.record('x');
    buffer.record('y', 3);
    const { error, ms } = await failure(() => buffer.close());
    expect(error).toBeInstanceOf(FlushError);
    expect((error as Error).cause).toMatchObject({ kind: 'timeout', operation: 'record' });
    expect(ms).toBeLessThan(2 * TIMEOUT + SLACK);
    expect(buffer.pending).toBe(2);
  });
});

describe('a client that is reconnecting (ioredis defaults)', () => {
  const client = useReconnectingClient();

  it('every call fails at once, kind unavailable (default commandTimeoutMs 2000)', async () => {
    await expectUnavailable(calls(objects(client.current)), SketchRedisError);
  });

  it('commandTimeoutMs is validated like the other options', () => {
    for (const make of [
      (ms: unknown) =>
        new CountMinSketch(client.current, { key: 'c', commandTimeoutMs: ms as number }),
      (ms: unknown) =>
        new BloomFilter(client.current, { key: 'b', commandTimeoutMs: ms as number }),
      (ms: unknown) => new Trending(client.current, { name: 't', commandTimeoutMs: ms as number }),
    ]) {
      expect(() => make(0)).toThrow(RangeError);
      expect(() => make(600_001)).toThrow(RangeError);
      expect(() => make('5')).toThrow(TypeError);
      expect(() => make(2.5)).toThrow(/commandTimeoutMs/);
      expect(() => make(1)).not.toThrow();
    }
  });
});
