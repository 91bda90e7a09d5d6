import { createHash } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisTargets, useRedis } from '../../local-redis/src/testing.js';
import { isCluster, luaScript, masters, redisNowMsLua } from '../src/index.js';

// KEYS[1] counter; ARGV[1] increment → the new value
const incrBy = luaScript(
  'test',
  'incr',
  "return redis.call('INCRBY', KEYS[1], ARGV[1])",
  '1.2.3-beta.1',
);

// Two includes, the second using the first (as seat-lock's handoff.lua uses fence.lua).
const doubleLua = `-- Provides t_double(x) → 2x.
local function t_double(x) return 2 * x end`;
const quadLua = `-- Provides t_quad(x) → 4x (needs doubleLua before it).
local function t_quad(x) return t_double(t_double(x)) end`;
const quadOf = luaScript(
  'test',
  'quad',
  'return {t_quad(tonumber(ARGV[1])), t_double(1), bo_now_ms()}',
  '1',
  { keys: 0, includes: [redisNowMsLua, doubleLua, quadLua] },
);

describe('luaScript includes', () => {
  it('puts the includes before the script, in order, one per line', () => {
    expect(quadOf.lua.startsWith(`${redisNowMsLua}\n${doubleLua}\n${quadLua}\n`)).toBe(true);
    expect(quadOf.lua.endsWith('bo_now_ms()}')).toBe(true);
  });

  it('refuses an include listed twice, a function defined twice, an include without a header', () => {
    const script = 'return t_double(1)';
    expect(() =>
      luaScript('test', 'twice', script, '1', { includes: [doubleLua, doubleLua] }),
    ).toThrow(/include 2 \(-- Provides t_double\(x\) → 2x\.\) is listed twice/);
    // A copy of a shared function left in a script would silently replace the shared one.
    const copy = `local function t_double(x) return x + x end\n${script}`;
    expect(() => luaScript('test', 'copy', copy, '1', { includes: [doubleLua] })).toThrow(
      /the script defines t_double a second time/,
    );
    expect(() =>
      luaScript('test', 'bare', script, '1', { includes: ['local function t_double(x) end'] }),
    ).toThrow(/must open with a header comment/);
  });

  it('refuses a second script of the same name with another text (e.g. another include)', () => {
    const text = 'return t_double(2)';
    const a = luaScript('test', 'same', text, '1', { includes: [doubleLua] });
    expect(luaScript('test', 'same', text, '1', { includes: [doubleLua] }).lua).toBe(a.lua);
    const changed = `-- Provides t_double(x) → 2x, differently.\nlocal function t_double(x) return x * 2 end`;
    expect(() => luaScript('test', 'same', text, '1', { includes: [changed] })).toThrow(
      /two different scripts are named bo_test_same_1/,
    );
    // Under another name it is another script with another body (so another SHA).
    const b = luaScript('test', 'same2', text, '1', { includes: [changed] });
    expect(b.lua).not.toBe(a.lua);
  });
});

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

  it('runs the included functions; Redis caches the script with its includes', async () => {
    const [quad, two, now] = (await quadOf.run(redis.client, [], [5])) as number[];
    expect([quad, two]).toEqual([20, 2]);
    const [seconds, micros] = await redis.client.time();
    const time = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    expect(now).toBeLessThanOrEqual(time);
    expect(now).toBeGreaterThan(time - 5_000);
    const sha = createHash('sha1').update(quadOf.lua).digest('hex');
    const exists = await Promise.all(masters(redis.client).map((m) => m.script('EXISTS', sha)));
    expect(exists.flat()).toContain(1);
  });

  it('tells a Cluster from a standalone client', () => {
    expect(isCluster(redis.client)).toBe(target.name === 'cluster');
    expect(masters(redis.client)).toHaveLength(target.name === 'cluster' ? 3 : 1);
    if (target.name === 'cluster')
      expect((redis.client as Cluster).nodes('master')).toHaveLength(3);
  });
});
