import { freePort, spawnRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type TickResult, WaitingRoom } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

// A private server with an fsync'ed AOF, so a SIGKILL + restart keeps the room's state.
describe('WaitingRoom across a Redis restart', () => {
  it('resumes from Redis state and never exceeds capacity', async () => {
    const server = await spawnRedis({
      port: await freePort(),
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    const client = new Redis(server.url, { maxRetriesPerRequest: null });
    client.on('error', () => {});
    const errors: unknown[] = [];
    const ticks: TickResult[] = [];
    const room = new WaitingRoom(client, {
      roomId: 'restart',
      tokens: hsTokens(),
      maxActive: 2,
      admitPerTick: 1,
      tickMs: 50,
      onTick: (r) => ticks.push(r),
      onError: (e) => errors.push(e),
    });
    try {
      for (const u of ['a', 'b', 'c', 'd']) await room.join(u);
      room.start();
      await until(async () => (await room.stats()).active === 2);
      const before = await room.status('c');
      expect(before).toMatchObject({ state: 'waiting', position: 1 });
      await server.kill();
      await new Promise((r) => setTimeout(r, 300));
      await server.restart();
      // A call made while the client reconnects fails at once (kind 'unavailable'), not queued.
      if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
      const ticksAtRestart = (await room.stats()).ticks;
      expect(ticksAtRestart).toBeGreaterThan(0); // counters survived
      expect(await room.status('a')).toMatchObject({ state: 'active' });
      expect(await room.status('c')).toMatchObject({ state: 'waiting', position: 1 });
      await until(async () => (await room.stats()).ticks > ticksAtRestart + 3);
      await room.complete('a');
      await until(async () => (await room.status('c')).state === 'active');
      expect(await room.status('d')).toMatchObject({ state: 'waiting', position: 1 });
      for (const t of ticks) expect(t.active).toBeLessThanOrEqual(2);
    } finally {
      await room.stop();
      client.disconnect();
      await server.stop();
    }
  });
});
