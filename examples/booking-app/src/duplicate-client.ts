import type { RedisClient } from '@boxoffice/internal';
import { Cluster, type RedisOptions } from 'ioredis';

/**
 * A new connection like `client` (standalone or Cluster) with `options` on top, e.g.
 * `{ maxRetriesPerRequest: null }` for a BullMQ worker. On a Cluster the options go to every node
 * connection (`redisOptions`).
 */
export function duplicateClient(client: RedisClient, options: RedisOptions = {}): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, {
      redisOptions: { ...client.options.redisOptions, ...options },
    });
  }
  return client.duplicate(options);
}
