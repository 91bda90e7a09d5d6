import { freePort, type RedisProcess, spawnRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lease, LockTimeoutError, SeatLock, SeatLockRedisError } from '../src/index.js';

// Three independent masters, spawned for this file (the shared Cluster is not Redlock's model).
describe('SeatLock in Redlock mode (3 masters)', () => {
  const servers: RedisProcess[] = [];
  const clients: Redis[] = [];
  const connect = (s: RedisProcess) => {
    const c = new Redis(s.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) servers.push(await spawnRedis({ port: await freePort() }));
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('excludes across instances, survives one dead master and refuses with two', async () => {
    const a = new SeatLock(servers.map(connect), { prefix: 'rl' });
    const b = new SeatLock(servers.map(connect), { prefix: 'rl' });
    expect(a.redlock).toBe(true);
    const lease = (await a.tryAcquire(['A1'], { ttlMs: 10_000 })) as Lease;
    expect(lease).not.toBeNull();
    expect(typeof lease.fence).toBe('bigint');
    expect(await b.tryAcquire(['A1'])).toBeNull();
    expect(await b.owner('A1')).toBe(lease.token);
    const timeout = await b.acquire(['A1'], { waitMs: 150 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(LockTimeoutError);
    await lease.extend(10_000);
    expect(await lease.release()).toBe(true);

    await servers[0]?.kill();
    const withTwo = (await b.tryAcquire(['A1', 'A2'], { ttlMs: 10_000 })) as Lease;
    expect(withTwo).not.toBeNull();
    expect(await a.tryAcquire(['A2'])).toBeNull();
    expect(await withTwo.release()).toBe(true);

    await servers[1]?.kill();
    const started = Date.now();
    const error = await a.tryAcquire(['A1']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeatLockRedisError);
    expect((error as SeatLockRedisError).kind).toBe('quorum');
    const waited = await a.acquire(['A1'], { waitMs: 5_000 }).catch((e: unknown) => e);
    expect(waited).toBeInstanceOf(SeatLockRedisError);
    // Fails fast, not after the 5 s wait (generous bound: the machine is shared).
    expect(Date.now() - started).toBeLessThan(4_500);
    // Nothing was left locked on the surviving master by the refused attempts.
    expect(await (clients[2] as Redis).keys('rl:lock:*')).toEqual([]);

    await servers[0]?.restart();
    await servers[1]?.restart();
    await new Promise((r) => setTimeout(r, 300));
    const again = await a.tryAcquire(['A1']);
    expect(again).not.toBeNull();
    await again?.release();
  }, 30_000);

  it('keeps mutual exclusion among concurrent Redlock acquirers', async () => {
    const locks = [0, 1, 2].map(
      () =>
        new SeatLock(servers.map(connect), {
          prefix: 'rl2',
          retry: { waitMs: 30_000, baseDelayMs: 2, maxDelayMs: 30 },
        }),
    );
    let inside = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const lease = await (locks[i % 3] as SeatLock).acquire(['hot'], { ttlMs: 10_000 });
        inside++;
        max = Math.max(max, inside);
        await new Promise((r) => setTimeout(r, 1));
        inside--;
        await lease.release();
      }),
    );
    expect(max).toBe(1);
  }, 60_000);
});

describe('SeatLock when Redis is down', () => {
  it('fails fast with SeatLockRedisError, not a hang or a timeout error', async () => {
    const server = await spawnRedis({ port: await freePort() });
    const client = new Redis(server.url, { retryStrategy: () => 100 });
    client.on('error', () => {});
    try {
      const locks = new SeatLock(client, { prefix: 'down', commandTimeoutMs: 1_000 });
      expect(await locks.tryAcquire(['A1'])).not.toBeNull();
      await server.kill();
      await new Promise((r) => setTimeout(r, 100));
      const error = await locks.acquire(['A2'], { waitMs: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SeatLockRedisError);
      expect((error as SeatLockRedisError).code).toBe('REDIS_FAILURE');
      await expect(locks.owner('A1')).rejects.toBeInstanceOf(SeatLockRedisError);
      await locks.close();
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it('times out a client that never connected', async () => {
    const port = await freePort();
    const client = new Redis({
      port,
      host: '127.0.0.1',
      retryStrategy: () => 50,
      enableOfflineQueue: true,
    });
    client.on('error', () => {});
    try {
      const locks = new SeatLock(client, { commandTimeoutMs: 300 });
      const error = await locks.tryAcquire(['A1']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SeatLockRedisError);
    } finally {
      client.disconnect();
    }
  });
});
