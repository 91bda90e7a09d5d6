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

  it('tells a Cluster from a standalone client', () => {
    expect(isCluster(redis.client)).toBe(target.name === 'cluster');
    expect(masters(redis.client)).toHaveLength(target.name === 'cluster' ? 3 : 1);
    if (target.name === 'cluster')
      expect((redis.client as Cluster).nodes('master')).toHaveLength(3);
  });
});
