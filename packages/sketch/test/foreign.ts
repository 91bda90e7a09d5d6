import type { RedisClient } from '@boxoffice/local-redis/testing';

/** Values of every common Redis type, as another application might have left them at a key. */
export const FOREIGN_VALUES = ['string', 'list', 'hash', 'set', 'zset'] as const;

/** Store a value of `type` at `key`. */
export async function plant(
  client: RedisClient,
  key: string,
  type: (typeof FOREIGN_VALUES)[number],
): Promise<void> {
  if (type === 'string') await client.set(key, 'not a sketch');
  else if (type === 'list') await client.rpush(key, 'a', 'b');
  else if (type === 'hash') await client.hset(key, 'f', 'v');
  else if (type === 'set') await client.sadd(key, 'a');
  else await client.zadd(key, 1, 'a');
}

/** The keys' serialised values (null when absent), to check that nothing changed. */
export async function dumps(client: RedisClient, keys: string[]): Promise<(Buffer | null)[]> {
  return Promise.all(keys.map((key) => client.dumpBuffer(key)));
}
