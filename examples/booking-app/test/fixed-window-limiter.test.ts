import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter } from '../src/rate-limit/fixed-window-limiter.js';

describe.each(redisTargets())('FixedWindowLimiter on $name', (target) => {
  const redis = useRedis(target);

  it('allows exactly `limit` of 50 concurrent hits, per caller, with one expiring key each', async () => {
    const limiter = new FixedWindowLimiter(redis.client, {
      name: 'login',
      limit: 20,
      windowMs: 60_000,
      prefix: redis.prefix,
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => limiter.hit('10.0.0.1')));
    expect(results.filter((r) => r.allowed)).toHaveLength(20);
    expect(
      results
        .map((r) => r.remaining)
        .sort((a, b) => a - b)
        .slice(-1)[0],
    ).toBe(19);
    expect((await limiter.hit('10.0.0.2')).allowed).toBe(true);
    const keys = (await scanKeys(redis.client, `${redis.prefix}:*`)).sort();
    expect(keys).toEqual([
      `${redis.prefix}:ratelimit:{login:10.0.0.1}`,
      `${redis.prefix}:ratelimit:{login:10.0.0.2}`,
    ]);
    for (const key of keys) {
      const ttl = await redis.client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('starts a new window when the old one expires', async () => {
    const limiter = new FixedWindowLimiter(redis.client, {
      name: 'short',
      limit: 1,
      windowMs: 200,
      prefix: redis.prefix,
    });
    expect((await limiter.hit('a')).allowed).toBe(true);
    expect((await limiter.hit('a')).allowed).toBe(false);
    // Poll instead of assuming a timing: the window is over once the key is gone.
    while ((await redis.client.exists(`${redis.prefix}:ratelimit:{short:a}`)) === 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await limiter.hit('a')).allowed).toBe(true);
  });

  it('validates its options and callers before calling Redis', async () => {
    const make = (o: object) =>
      new FixedWindowLimiter(redis.client, { name: 'x', limit: 1, prefix: redis.prefix, ...o });
    expect(() => make({ limit: 0 })).toThrow(RangeError);
    expect(() => make({ windowMs: 1.5 })).toThrow(TypeError);
    expect(() => make({ name: 'a{b}' })).toThrow(/braces/);
    expect(() => make({ prefix: 'a b' })).toThrow(TypeError);
    expect(() => make({ limt: 3 })).toThrow(/unknown option 'limt'/);
    await expect(make({}).hit('')).rejects.toThrow(/must not be empty/);
    // Braces in a caller id cannot move the key to another slot.
    await make({}).hit('{evil}');
    expect(await scanKeys(redis.client, `${redis.prefix}:*`)).toEqual([
      `${redis.prefix}:ratelimit:{x:_evil_}`,
    ]);
  });
});
