import type { ClusterNodeAddress } from './cluster.js';
import { RedisProcessError, RedisUnavailableError } from './errors.js';
import { freePort } from './free-port.js';
import { commandOnce, waitFor } from './probe.js';
import { hasBinary, type RedisProcess, spawnRedis } from './redis-process.js';

/** A master, one replica and a set of Sentinels watching them. */
export interface SentinelGroup {
  /** The name Sentinels know the master by (ioredis `name` option). */
  readonly masterName: string;
  /** Sentinel addresses (ioredis `sentinels` option). */
  readonly sentinels: readonly ClusterNodeAddress[];
  /** The two data servers; which one is master changes with failovers (see `master()`). */
  readonly servers: readonly RedisProcess[];
  readonly sentinelProcesses: readonly RedisProcess[];
  /** The master as the Sentinels currently report it. */
  master(): Promise<ClusterNodeAddress>;
  /**
   * `SENTINEL FAILOVER` and wait until every Sentinel reports the promoted replica and it answers
   * `ROLE` as master. Returns the old and new master and how long the switch took.
   */
  failover(
    timeoutMs?: number,
  ): Promise<{ from: ClusterNodeAddress; to: ClusterNodeAddress; elapsedMs: number }>;
  /** Stop every process of the group. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link startSentinelGroup}. */
export interface SentinelGroupOptions {
  /** @defaultValue 'bo-master' */
  masterName?: string;
  /** Number of Sentinels. @defaultValue 3 */
  sentinels?: number;
  /** Sentinels that must agree the master is down. @defaultValue majority of `sentinels` */
  quorum?: number;
  /** Sentinel `down-after-milliseconds`. @defaultValue 1000 */
  downAfterMs?: number;
  /** Sentinel `failover-timeout`. @defaultValue 3000 */
  failoverTimeoutMs?: number;
  /** How long to wait for replication and Sentinel discovery. @defaultValue 30_000 */
  readyTimeoutMs?: number;
}

const address = (p: RedisProcess): ClusterNodeAddress => ({ host: p.host, port: p.port });

/**
 * Start a Sentinel-managed pair: a master, a replica of it, and `sentinels` Sentinels
 * (`redis-server <conf> --sentinel`, the same binary Debian's redis-sentinel package links to), all
 * on free ports without persistence. Resolves once the replica is in sync and every Sentinel has
 * discovered the replica and the other Sentinels, so a failover can succeed right away.
 */
export async function startSentinelGroup(
  options: SentinelGroupOptions = {},
): Promise<SentinelGroup> {
  const masterName = options.masterName ?? 'bo-master';
  const count = options.sentinels ?? 3;
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`sentinels must be an integer >= 1, got ${count}`);
  const quorum = options.quorum ?? Math.floor(count / 2) + 1;
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > count) {
    throw new RangeError(`quorum must be an integer in [1, ${count}], got ${quorum}`);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  if (!hasBinary('redis-server'))
    throw new RedisUnavailableError(['Sentinel group: redis-server not found on PATH']);

  const all: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(all.map((p) => p.stop()));
  };
  try {
    const master = await spawnRedis({ port: await freePort() });
    all.push(master);
    const replica = await spawnRedis({
      port: await freePort(),
      args: ['--replicaof', master.host, String(master.port)],
    });
    all.push(replica);
    const synced = await waitFor(
      async () => {
        const info = await commandOnce<string>(address(replica), 'INFO', 'replication');
        return info?.includes('master_link_status:up') ?? false;
      },
      readyTimeoutMs,
      100,
    );
    if (!synced)
      throw new RedisProcessError('replica did not sync with its master', 'INFO replication', '');

    const config = [
      `sentinel monitor ${masterName} ${master.host} ${master.port} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n');
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < count; i++) {
      const sentinel = await spawnRedis({ port: await freePort(), mode: 'sentinel', config });
      all.push(sentinel);
      sentinels.push(sentinel);
    }
    const discovered = await waitFor(
      async () => {
        const views = await Promise.all(
          sentinels.map(async (s) => {
            const replicas = await commandOnce<unknown[]>(
              address(s),
              'SENTINEL',
              'REPLICAS',
              masterName,
            );
            const peers = await commandOnce<unknown[]>(
              address(s),
              'SENTINEL',
              'SENTINELS',
              masterName,
            );
            return replicas?.length === 1 && peers?.length === count - 1;
          }),
        );
        return views.every(Boolean);
      },
      readyTimeoutMs,
      200,
    );
    if (!discovered)
      throw new RedisProcessError(
        'Sentinels did not discover the replica and each other',
        'SENTINEL REPLICAS/SENTINELS',
        '',
      );

    const reportedMaster = async (
      sentinel: RedisProcess,
    ): Promise<ClusterNodeAddress | undefined> => {
      const reply = await commandOnce<[string, string]>(
        address(sentinel),
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        masterName,
      );
      return reply ? { host: reply[0], port: Number(reply[1]) } : undefined;
    };

    const group: SentinelGroup = {
      masterName,
      sentinels: sentinels.map(address),
      servers: [master, replica],
      sentinelProcesses: sentinels,
      async master() {
        for (const sentinel of sentinels) {
          const found = await reportedMaster(sentinel);
          if (found) return found;
        }
        throw new RedisProcessError('no Sentinel answered GET-MASTER-ADDR-BY-NAME', masterName, '');
      },
      async failover(timeoutMs = 30_000) {
        const from = await group.master();
        const started = Date.now();
        const first = sentinels[0] as RedisProcess;
        const ok = await commandOnce<string>(address(first), 'SENTINEL', 'FAILOVER', masterName);
        if (ok !== 'OK')
          throw new RedisProcessError(
            'SENTINEL FAILOVER was refused',
            `SENTINEL FAILOVER ${masterName}`,
            String(ok),
          );
        let to: ClusterNodeAddress | undefined;
        const switched = await waitFor(
          async () => {
            const views = await Promise.all(sentinels.map(reportedMaster));
            const candidate = views[0];
            if (!candidate || candidate.port === from.port) return false;
            if (!views.every((v) => v?.port === candidate.port)) return false;
            const role = await commandOnce<unknown[]>(candidate, 'ROLE');
            if (role?.[0] !== 'master') return false;
            to = candidate;
            return true;
          },
          timeoutMs,
          50,
        );
        if (!switched || !to)
          throw new RedisProcessError('failover did not complete in time', 'SENTINEL FAILOVER', '');
        return { from, to, elapsedMs: Date.now() - started };
      },
      stop,
    };
    return group;
  } catch (error) {
    await stop();
    throw error;
  }
}
