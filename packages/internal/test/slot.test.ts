import fc from 'fast-check';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisTargets, useRedis } from '../../local-redis/src/testing.js';
import { clusterSlot, hashTagOf } from '../src/index.js';

const cluster = redisTargets().find((t) => t.name === 'cluster');
if (!cluster) throw new Error('no cluster target');

describe('clusterSlot', () => {
  const redis = useRedis(cluster);

  it('agrees with CLUSTER KEYSLOT on random keys, tags and unicode', async () => {
    const keys = fc.sample(
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        fc
          .tuple(
            fc.string({ maxLength: 8 }),
            fc.string({ maxLength: 8 }),
            fc.string({ maxLength: 8 }),
          )
          .map(([a, b, c]) => `${a}{${b}}${c}`),
      ),
      300,
    );
    const client = redis.client as Cluster;
    for (const key of [
      ...keys,
      'foo',
      '{user1000}.following',
      'foo{}{bar}',
      'foo{{bar}}zap',
      '{}',
    ]) {
      expect(clusterSlot(key), key).toBe(await client.cluster('KEYSLOT', key));
    }
  });

  it('hashes only the first non-empty tag', () => {
    expect(hashTagOf('a{b}c{d}')).toBe('b');
    expect(hashTagOf('a{}{b}')).toBe('a{}{b}');
    expect(hashTagOf('a{b')).toBe('a{b');
  });
});
