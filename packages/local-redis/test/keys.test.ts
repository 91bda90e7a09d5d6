import { describe, expect, it } from 'vitest';
import { deleteByPrefix, scanKeys } from '../src/index.js';
import { randomPrefix, redisTargets, useRedis } from '../src/testing.js';

describe.each(redisTargets())('key helpers on $name', (target) => {
  const redis = useRedis(target);

  it('gives each test its own prefix', () => {
    expect(redis.prefix).toMatch(/^t[0-9a-f]{12}$/);
    expect(randomPrefix()).not.toBe(redis.prefix);
  });

  it('deletes only the keys under its prefix, across slots', async () => {
    const other = randomPrefix();
    const mine = Array.from({ length: 50 }, (_, i) => `${redis.prefix}:{s${i}}:k`);
    const theirs = [`${other}:a`, `${other}:b`];
    for (const key of [...mine, ...theirs]) await redis.client.set(key, '1');

    expect((await scanKeys(redis.client, `${redis.prefix}*`)).sort()).toEqual(mine.sort());
    expect(await deleteByPrefix(redis.client, redis.prefix)).toBe(50);
    expect(await scanKeys(redis.client, `${redis.prefix}*`)).toEqual([]);
    expect(await redis.client.exists(...theirs.slice(0, 1))).toBe(1);
    await deleteByPrefix(redis.client, other);
  });

  it('refuses a prefix that would match other keys', async () => {
    await expect(deleteByPrefix(redis.client, '*')).rejects.toThrow(TypeError);
    await expect(deleteByPrefix(redis.client, 'a[b]')).rejects.toThrow(/prefix must be/);
  });
});
