import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort, spawnRedis } from '../../local-redis/src/index.js';
import { QueuePool } from '../src/queue-pool.js';

// The app's main client: fail fast while Redis is down (no offline queue), as the runtime makes it.
const appClient = (url: string) =>
  new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });

describe('QueuePool', () => {
  it('adds jobs again once Redis is back, although its queue was first opened while Redis was down', async () => {
    const redis = await spawnRedis({ port: await freePort() });
    const client = appClient(redis.url);
    client.on('error', () => {});
    await client.connect();
    const pool = new QueuePool(client, { prefix: 'pool:{q}' });
    try {
      await redis.kill();
      // Both a bare BullMQ Queue and the pool open their connection during the outage.
      const bare = new Queue('jobs', {
        connection: client.duplicate() as never,
        prefix: 'bare:{q}',
      });
      bare.on('error', () => {});
      await expect(bare.add('a', {})).rejects.toThrow();
      await expect(pool.add('jobs', 'a', { n: 1 }, { jobId: 'j1' })).rejects.toThrow();

      await redis.restart();
      const check = new Redis(redis.url);
      await expect.poll(() => check.ping().catch(() => ''), { timeout: 10_000 }).toBe('PONG');
      // The bare queue stays broken (what the pool exists for) ...
      await expect(bare.add('a', {})).rejects.toThrow(/Connection is closed/);
      // ... the pool opens a new connection and the retried add lands, once.
      await expect
        .poll(
          () =>
            pool.add('jobs', 'a', { n: 1 }, { jobId: 'j1' }).then(
              () => 'added',
              () => '',
            ),
          {
            timeout: 10_000,
          },
        )
        .toBe('added');
      await pool.add('jobs', 'a', { n: 1 }, { jobId: 'j1' }); // same jobId: still one job
      expect(
        await new Queue('jobs', { connection: check as never, prefix: 'pool:{q}' }).count(),
      ).toBe(1);
      await bare.close().catch(() => {});
      check.disconnect();
    } finally {
      await pool.close();
      client.disconnect();
      await redis.stop();
    }
  }, 60_000);

  it('refuses to add after close()', async () => {
    const pool = new QueuePool(new Redis({ lazyConnect: true }), { prefix: 'x' });
    await pool.close();
    await expect(pool.add('jobs', 'a', {})).rejects.toThrow(/closed/);
  });
});
