import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisProcessError, RedisUnavailableError } from './errors.js';
import { freePort } from './free-port.js';
import { commandOnce, waitFor } from './probe.js';
import { hasBinary, type RedisProcess, spawnRedis } from './redis-process.js';

const run = promisify(execFile);

/** One seed node of a Redis Cluster, as ioredis `new Cluster(nodes)` takes it. */
export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A Redis Cluster to connect to. */
export interface RedisCluster {
  /** Every master, usable as ioredis Cluster seed nodes. */
  readonly nodes: readonly ClusterNodeAddress[];
  readonly source: 'env' | 'spawned';
  /** The spawned master processes (empty for `source: 'env'`), e.g. to kill one in a fault test. */
  readonly processes: readonly RedisProcess[];
  /** Stops the processes `startCluster()` spawned; a no-op for `source: 'env'`. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link startCluster}. */
export interface StartClusterOptions {
  /** Number of masters (redis-cli needs at least 3). @defaultValue 3 */
  masters?: number;
  /** `host:port,host:port` of a running cluster to use instead. @defaultValue process.env.REDIS_CLUSTER_NODES */
  nodes?: string | undefined;
  /** @defaultValue 'redis-server' */
  redisServerBin?: string;
  /** @defaultValue 'redis-cli' */
  redisCliBin?: string;
  /** How long to wait for `cluster_state:ok` on every node. @defaultValue 20_000 */
  readyTimeoutMs?: number;
}

/** Parse `host:port,host:port` (also `[::1]:port`); throws a TypeError naming the bad entry. */
export function parseNodes(list: string): ClusterNodeAddress[] {
  const nodes = list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match?.[1] || !(port > 0 && port < 65_536)) {
        throw new TypeError(`cluster node must be host:port, got ${JSON.stringify(entry)}`);
      }
      return { host: match[1], port };
    });
  if (nodes.length === 0) throw new TypeError('cluster node list is empty');
  return nodes;
}

async function clusterInfo(node: ClusterNodeAddress): Promise<string> {
  return (await commandOnce<string>(node, 'CLUSTER', 'INFO')) ?? '';
}

/** True when every node reports `cluster_state:ok` and knows all the others. */
export async function clusterReady(nodes: readonly ClusterNodeAddress[]): Promise<boolean> {
  const infos = await Promise.all(nodes.map(clusterInfo));
  return infos.every(
    (info) =>
      info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${nodes.length}`),
  );
}

/**
 * A real Redis Cluster: the nodes in `REDIS_CLUSTER_NODES` if set; else `masters` `redis-server`
 * processes with `cluster-enabled yes` on free ports, joined by `redis-cli --cluster create` and
 * awaited until every node reports `cluster_state:ok`.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RangeError(`masters must be an integer >= 3 (redis-cli's minimum), got ${masters}`);
  }
  const preset = 'nodes' in options ? options.nodes : process.env.REDIS_CLUSTER_NODES;
  if (preset) {
    const nodes = parseNodes(preset);
    return { nodes, source: 'env', processes: [], stop: async () => {} };
  }

  const serverBin = options.redisServerBin ?? 'redis-server';
  const cliBin = options.redisCliBin ?? 'redis-cli';
  const missing = [serverBin, cliBin].filter((bin) => !hasBinary(bin));
  if (missing.length > 0) {
    throw new RedisUnavailableError([
      `Redis Cluster: ${missing.join(' and ')} not found on PATH (or set REDIS_CLUSTER_NODES)`,
    ]);
  }

  const processes: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) ports.push(await freePort('127.0.0.1', 10_000));
    const started = await Promise.all(
      ports.map((port) =>
        spawnRedis({
          bin: serverBin,
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      ),
    );
    processes.push(...started);
    const nodes = started.map(({ host, port }) => ({ host, port }));
    const args = [
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ];
    try {
      await run(cliBin, args, { timeout: 30_000 });
    } catch (error) {
      const e = error as Error & { stdout?: string; stderr?: string };
      throw new RedisProcessError(
        'redis-cli --cluster create failed',
        `${cliBin} ${args.join(' ')}`,
        `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`,
      );
    }
    if (!(await waitFor(() => clusterReady(nodes), options.readyTimeoutMs ?? 20_000, 100))) {
      throw new RedisProcessError(
        'cluster did not reach cluster_state:ok in time',
        'CLUSTER INFO',
        (await Promise.all(nodes.map(clusterInfo))).join('\n---\n'),
      );
    }
    return { nodes, source: 'spawned', processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
