import type { Cluster, Redis, RedisOptions } from 'ioredis';

/** A client the user created: a standalone/Sentinel `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** True for an ioredis `Cluster`. */
export function isCluster(client: RedisClient): client is Cluster {
  return 'nodes' in client && typeof client.nodes === 'function' && 'slots' in client;
}

/** The standalone server, or every master of a Cluster (e.g. to SCAN or read INFO on each). */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/**
 * The ioredis `keyPrefix` `client` adds to every key ('' when none), a Cluster's own or its nodes'.
 * BullMQ refuses such a client (it has its own `prefix` option).
 */
export function clientKeyPrefix(client: RedisClient): string {
  const options = client.options as { keyPrefix?: string; redisOptions?: { keyPrefix?: string } };
  return options.keyPrefix || options.redisOptions?.keyPrefix || '';
}

/**
 * A new connection like `client` (standalone, Sentinel or Cluster) with `nodeOptions` on top of its
 * per-server options, e.g. `{ maxRetriesPerRequest: null }` for a BullMQ worker. On a Cluster they
 * go to every node connection (`redisOptions`), merged with the client's own.
 */
export function duplicateClient(client: RedisClient, nodeOptions: RedisOptions = {}): RedisClient {
  if (isCluster(client)) {
    return client.duplicate([], {
      redisOptions: { ...client.options.redisOptions, ...nodeOptions },
    });
  }
  return client.duplicate(nodeOptions);
}

/**
 * A connection for SUBSCRIBE that connects now and queues commands until it is ready, whatever the
 * user's client says about `lazyConnect` and its offline queue: a duplicate of a lazy client with
 * `enableOfflineQueue: false` would refuse the SUBSCRIBE instead.
 */
export function subscriberConnection(client: RedisClient): RedisClient {
  const own = { lazyConnect: false, enableOfflineQueue: true } as const;
  return isCluster(client) ? client.duplicate([], own) : client.duplicate(own);
}
