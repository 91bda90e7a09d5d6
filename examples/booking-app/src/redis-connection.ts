import type { RedisClient } from '@boxoffice/internal';
import { getRedis } from '@boxoffice/local-redis';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from './config.js';
import { describeConnection } from './connection-string.js';

/** The app's main Redis connection and how to let go of it. */
export interface RedisConnection {
  readonly client: RedisClient;
  /** For logs and `/`: the topology and where it came from. */
  readonly description: string;
  /** Disconnect, then stop any redis-server that local-redis started for us. */
  close(): Promise<void>;
}

// No offline queue once connected: while Redis is down, commands fail at once (→ 503) instead of
// piling up until the request times out. One retry covers a reconnect that is already under way.
const failFast: RedisOptions = { maxRetriesPerRequest: 1, enableOfflineQueue: false };

const parseHostPort = (item: string) => {
  const at = item.lastIndexOf(':');
  return { host: item.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(item.slice(at + 1)) };
};

/**
 * Connect the topology the configuration names: a Redis Cluster (`REDIS_CLUSTER_NODES`), a
 * Sentinel-managed master (`REDIS_SENTINELS`, which ioredis follows through a failover), or a
 * standalone Redis (`REDIS_URL`, else one `@boxoffice/local-redis` finds or starts).
 */
export async function connectRedis(
  config: AppConfig['redis'],
  logger: Logger,
): Promise<RedisConnection> {
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error');
  if (config.clusterNodes) {
    const client = new Cluster(config.clusterNodes.map(parseHostPort), {
      lazyConnect: true,
      enableOfflineQueue: false,
      redisOptions: failFast,
    });
    client.on('error', onError);
    await client.connect();
    return {
      client,
      description: `cluster ${config.clusterNodes.join(',')}`,
      close: async () => client.disconnect(),
    };
  }
  if (config.sentinels) {
    const client = new Redis({
      sentinels: config.sentinels.map(parseHostPort),
      name: config.sentinelName,
      // Hear +switch-master from the Sentinels instead of waiting for the old master to drop us,
      // and reconnect (to the new master) when a demoted one answers READONLY: that command was not
      // executed, so sending it again is safe.
      failoverDetector: true,
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      lazyConnect: true,
      ...failFast,
    });
    client.on('error', onError);
    await client.connect();
    return {
      client,
      description: `sentinel ${config.sentinelName} via ${config.sentinels.join(',')}`,
      close: async () => client.disconnect(),
    };
  }
  const found = await getRedis({ url: config.url });
  const client = new Redis(found.url, { lazyConnect: true, ...failFast });
  client.on('error', onError);
  try {
    await client.connect();
  } catch (error) {
    await found.stop();
    throw error;
  }
  return {
    client,
    description: `${describeConnection(found.url, 'REDIS_URL')} (${found.source})`,
    close: async () => {
      client.disconnect();
      await found.stop();
    },
  };
}
