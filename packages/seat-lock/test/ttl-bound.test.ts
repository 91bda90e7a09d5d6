import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { MAX_TTL_MS, SeatLock } from '../src/index.js';

describe.each(redisTargets())('one TTL bound for acquire and extend on $name', (target) => {
  const redis = useRedis(target);

  it('acquire, tryAcquire and lease.extend all accept 2^31 − 1 ms and refuse more', async () => {
    expect(MAX_TTL_MS).toBe(2 ** 31 - 1);
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    const lockKey = `${redis.prefix}:lock:{A1}`;
    try {
      for (const ttlMs of [MAX_TTL_MS + 1, 2 ** 53 - 1, 2.7e15]) {
        await expect(locks.tryAcquire(['A1'], { ttlMs })).rejects.toThrow(RangeError);
        await expect(locks.acquire(['A1'], { ttlMs, waitMs: 0 })).rejects.toThrow(RangeError);
      }
      expect(await redis.client.exists(lockKey)).toBe(0);
      const lease = await locks.tryAcquire(['A1'], { ttlMs: 60_000 });
      if (lease === null) throw new Error('the seat must be free');
      for (const ttlMs of [MAX_TTL_MS + 1, 2 ** 53 - 1, 2.7e15]) {
        const error = await lease.extend(ttlMs).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RangeError);
        expect(String(error)).toContain(String(MAX_TTL_MS));
      }
      expect(await redis.client.pttl(lockKey)).toBeLessThanOrEqual(60_000);
      await lease.extend(MAX_TTL_MS);
      expect(await redis.client.pttl(lockKey)).toBeGreaterThan(MAX_TTL_MS - 60_000);
      expect(await lease.release()).toBe(true);
      const longest = await locks.acquire(['A1'], { ttlMs: MAX_TTL_MS });
      expect(await redis.client.pttl(lockKey)).toBeGreaterThan(MAX_TTL_MS - 60_000);
      expect(await longest.release()).toBe(true);
    } finally {
      await locks.close();
    }
  });
});
