import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisTargets, useRedis } from '../../local-redis/src/testing.js';
import { isCluster, luaScript, masters } from '../src/index.js';

// KEYS[1] counter; ARGV[1] increment → the new value
const incrBy = luaScript(
  'test',
  'incr',
  "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  '1.2.3-beta.1',
);

describe.each(redisTargets())('luaScript on $name', (target) => {
  const redis = useRedis(target);

  it('names the command with package, script and a sanitized version', () => {
    expect(incrBy.command).toBe('bo_test_incr_1_2_3_beta_1');
  });

  it('runs, and survives SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const key = `${redis.prefix}:n`;
    expect(await incrBy.run(redis.client, [key], [2])).toBe(2);
    await Promise.all(masters(redis.client).map((m) => m.script('FLUSH')));
    expect(await incrBy.run(redis.client, [key], [3])).toBe(5);
  });

  it('queues on a pipeline once registered', async () => {
    const key = `${redis.prefix}:{p}:n`;
    incrBy.register(redis.client);
    const pipeline = redis.client.pipeline();
    incrBy.queue(pipeline, [key], [1]);
    incrBy.queue(pipeline, [key], [10]);
    const results = await pipeline.exec();
    expect(results?.map(([, value]) => value)).toEqual([1, 11]);
  });

  it('refuses to queue on a pipeline of a client it was never registered on', () => {
    const fresh = redis.connect();
    const other = luaScript('test', 'other', 'return 1', '0');
    expect(() => other.queue(fresh.pipeline(), ['k'], [])).toThrow(/not registered/);
  });

  it('with a fixed key count, routes auto-pipelined calls by their first key', async () => {
    // Keys in many slots, all sent in the same tick through an auto-pipelining client.
    const setIfBigger = luaScript(
      'test',
      'max',
      "local v = tonumber(redis.call('GET', KEYS[1]) or '0') if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1]) end return redis.call('GET', KEYS[1])",
      '1',
      { keys: 1 },
    );
    const client = redis.connect({ enableAutoPipelining: true });
    setIfBigger.register(client);
    const keys = Array.from({ length: 40 }, (_, i) => `${redis.prefix}:{m${i}}`);
    const results = await Promise.all(
      keys.map((key, i) => setIfBigger.run(client, [key], [i + 1])),
    );
    expect(results).toEqual(keys.map((_, i) => String(i + 1)));
    expect(() => setIfBigger.run(client, [keys[0] as string, 'x'], [1])).toThrow(
      /takes 1 keys, got 2/,
    );
  });

  it('tells a Cluster from a standalone client', () => {
    expect(isCluster(redis.client)).toBe(target.name === 'cluster');
    expect(masters(redis.client)).toHaveLength(target.name === 'cluster' ? 3 : 1);
    if (target.name === 'cluster')
      expect((redis.client as Cluster).nodes('master')).toHaveLength(3);
  });
});
