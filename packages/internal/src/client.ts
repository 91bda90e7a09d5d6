import type { Cluster, Redis } from 'ioredis';

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
