import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseNodes, startCluster } from '../src/index.js';
import { redisTargets, useRedis } from '../src/testing.js';
import { isAlive, refusesConnections } from './process-helpers.js';

const cluster = redisTargets().find((t) => t.name === 'cluster');
if (!cluster) throw new Error('no cluster target');

/** The slot ranges each master serves, from CLUSTER SLOTS. */
async function mastersBySlot(client: Cluster) {
  const slots = await client.cluster('SLOTS');
  return slots.map(([from, to, master]) => {
    if (!master) throw new Error(`slots ${from}-${to} have no master`);
    return { from, to, host: master[0], port: master[1] };
  });
}

describe('the shared test cluster', () => {
  const redis = useRedis(cluster);

  it('reports cluster_state:ok with 3 masters covering all 16384 slots', async () => {
    const client = redis.client as Cluster;
    const info = (await client.cluster('INFO')) as string;
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_slots_assigned:16384');
    expect(info).toContain('cluster_size:3');
  });

  it('stores a key written through ioredis Cluster on each master', async () => {
    const client = redis.client as Cluster;
    const ranges = await mastersBySlot(client);
    const masters = new Map(ranges.map((r) => [`${r.host}:${r.port}`, r]));
    expect(masters.size).toBe(3);

    for (const [address, range] of masters) {
      // Find a key of ours whose slot this master serves, write it through the Cluster client, then
      // read it from that master directly (a direct GET on the wrong node would get MOVED).
      let key = '';
      for (let i = 0; ; i++) {
        const candidate = `${redis.prefix}:k${i}`;
        const slot = (await client.cluster('KEYSLOT', candidate)) as number;
        if (slot >= range.from && slot <= range.to) {
          key = candidate;
          break;
        }
      }
      await client.set(key, address);
      const direct = new Redis({ host: range.host, port: range.port });
      try {
        expect(await direct.get(key)).toBe(address);
      } finally {
        direct.disconnect();
      }
    }
  });
});

describe('startCluster', () => {
  it('spawns 3 masters and leaves no process or port behind after stop()', async () => {
    const spawned = await startCluster({ masters: 3, nodes: undefined });
    expect(spawned.source).toBe('spawned');
    expect(spawned.nodes).toHaveLength(3);
    const pids = spawned.processes.map((p) => p.pid);
    expect(pids.every(isAlive)).toBe(true);

    const client = new Cluster([...spawned.nodes]);
    expect(await client.set('{x}k', '1')).toBe('OK');
    await client.quit();

    await spawned.stop();
    expect(pids.some(isAlive)).toBe(false);
    for (const { port } of spawned.nodes) expect(await refusesConnections(port)).toBe(true);
  });

  it('uses REDIS_CLUSTER_NODES-style node lists instead of spawning', async () => {
    const preset = await startCluster({ nodes: '127.0.0.1:7000, [::1]:7001' });
    expect(preset.source).toBe('env');
    expect(preset.processes).toEqual([]);
    expect(preset.nodes).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
    ]);
  });

  it('rejects bad input before spawning anything', async () => {
    await expect(startCluster({ masters: 2 })).rejects.toThrow(RangeError);
    await expect(startCluster({ masters: 3.5 })).rejects.toThrow(/integer >= 3/);
    expect(() => parseNodes('localhost')).toThrow(TypeError);
    expect(() => parseNodes('h:70000')).toThrow(/host:port/);
    expect(() => parseNodes(' , ')).toThrow(/empty/);
  });
});
