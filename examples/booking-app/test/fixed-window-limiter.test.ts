import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { TokenRevocations } from '../src/auth/token-revocations.js';
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

describe.each(redisTargets().filter((t) => t.name === 'standalone'))(
  'per-request checks on $name',
  (target) => {
    const redis = useRedis(target);

    it('the rate-limit hits and revocation checks of one event-loop turn leave in one socket write', async () => {
      const client = (redis.client as Redis).duplicate();
      try {
        const limiter = new FixedWindowLimiter(client, {
          name: 'turn',
          limit: 100,
          prefix: redis.prefix,
        });
        const revocations = new TokenRevocations(client, { prefix: redis.prefix });
        await revocations.revoke('t-3', Math.ceil(Date.now() / 1000) + 60);
        await limiter.hit('warm-up'); // the first pipeline may load the script first
        let writes = 0;
        const write = client.stream.write.bind(client.stream) as (...a: unknown[]) => boolean;
        client.stream.write = ((...a: unknown[]) => {
          writes++;
          return write(...a);
        }) as typeof client.stream.write;

        const hits = await Promise.all(
          Array.from({ length: 30 }, (_, i) => limiter.hit(`u${i % 3}`)),
        );
        expect(writes).toBe(1);
        expect(
          hits
            .map((h) => h.remaining)
            .sort((a, b) => a - b)
            .slice(0, 3),
        ).toEqual([90, 90, 90]);

        writes = 0;
        const revoked = await Promise.all(
          Array.from({ length: 6 }, (_, i) => revocations.isRevoked(`t-${i}`)),
        );
        expect(writes).toBe(1);
        expect(revoked).toEqual([false, false, false, true, false, false]);

        // Two limiters and the revocation checks of one turn share the client's pipeline.
        const other = new FixedWindowLimiter(client, {
          name: 'other',
          limit: 5,
          prefix: redis.prefix,
        });
        writes = 0;
        const [a, b, c] = await Promise.all([
          limiter.hit('u0'),
          other.hit('u0'),
          revocations.isRevoked('t-3'),
        ]);
        expect(writes).toBe(1);
        expect([a.remaining, b.remaining, c]).toEqual([89, 4, true]);
      } finally {
        client.disconnect();
      }
    });
  },
);
