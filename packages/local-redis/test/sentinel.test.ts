import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SentinelGroup, startSentinelGroup } from '../src/index.js';
import { isAlive, refusesConnections } from './process-helpers.js';

describe('startSentinelGroup', () => {
  let group: SentinelGroup;
  beforeAll(async () => {
    group = await startSentinelGroup({ sentinels: 3 });
  });
  afterAll(async () => {
    await group?.stop();
  });

  it('serves reads and writes through an ioredis Sentinel client, and fails over', async () => {
    const client = new Redis({ sentinels: [...group.sentinels], name: group.masterName });
    try {
      await client.set('k', 'before');
      const before = await group.master();
      expect([group.servers[0]?.port, group.servers[1]?.port]).toContain(before.port);

      // Wait for the write to reach the replica before switching, so it survives the failover.
      await client.wait(1, 5_000);
      const { from, to, elapsedMs } = await group.failover();
      expect(from).toEqual(before);
      expect(to.port).not.toBe(from.port);
      expect(elapsedMs).toBeGreaterThan(0);
      expect(await group.master()).toEqual(to);

      const after = new Redis({ sentinels: [...group.sentinels], name: group.masterName });
      try {
        expect(await after.get('k')).toBe('before');
        expect(await after.set('k', 'after')).toBe('OK');
        const role = (await after.role()) as unknown[];
        expect(role[0]).toBe('master');
      } finally {
        after.disconnect();
      }
    } finally {
      client.disconnect();
    }
  });

  it('leaves no process behind after stop()', async () => {
    const processes = [...group.servers, ...group.sentinelProcesses];
    const pids = processes.map((p) => p.pid);
    expect(pids.every(isAlive)).toBe(true);
    await group.stop();
    expect(pids.some(isAlive)).toBe(false);
    for (const p of processes) expect(await refusesConnections(p.port)).toBe(true);
  });

  it('rejects bad options before starting anything', async () => {
    await expect(startSentinelGroup({ sentinels: 0 })).rejects.toThrow(RangeError);
    await expect(startSentinelGroup({ sentinels: 3, quorum: 4 })).rejects.toThrow(/quorum/);
  });
});
