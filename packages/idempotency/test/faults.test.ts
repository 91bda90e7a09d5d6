import { freePort, spawnRedis } from '@boxoffice/local-redis';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyStore, IdempotencyStoreUnavailableError, idempotency } from '../src/index.js';
import { post, serve } from './helpers.js';

// A Redis of its own that the test kills and restarts.
describe('when Redis is unreachable', () => {
  let server: Awaited<ReturnType<typeof spawnRedis>>;
  let client: Redis;

  beforeAll(async () => {
    server = await spawnRedis({ port: await freePort() });
    // ioredis defaults (offline queue on): a command made while the client reconnects fails at once
    // (the store's CallGuard refuses it); one in flight when Redis died is bounded by commandTimeoutMs.
    client = new Redis(server.url, { retryStrategy: () => 100 });
    client.on('error', () => {});
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  it('fails closed with 503 + Retry-After, fails open where configured, and recovers', async () => {
    // A long lease: if the claim that timed out (and ran after the restart) were not released, the
    // retry of k2 below would get 409 for a minute.
    const store = new IdempotencyStore(client, {
      prefix: 'down',
      commandTimeoutMs: 300,
      leaseMs: 60_000,
    });
    let guarded = 0;
    let open = 0;
    const { url } = await serve((app) => {
      app.post('/pay', express.json(), idempotency({ store }), (_req, res) => {
        guarded++;
        res.json({ ok: true });
      });
      app.post('/like', express.json(), idempotency({ store, failOpen: true }), (_req, res) => {
        open++;
        res.json({ ok: true });
      });
    });
    expect((await post(`${url}/pay`, 'k1')).status).toBe(200);

    await server.kill();
    const refused = await post(`${url}/pay`, 'k2');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ code: 'IDEMPOTENCY_STORE_UNAVAILABLE' });
    expect(guarded).toBe(1);
    expect((await post(`${url}/like`, 'k3')).status).toBe(200);
    expect(open).toBe(1);
    await expect(store.run('job', {}, () => 1)).rejects.toBeInstanceOf(
      IdempotencyStoreUnavailableError,
    );

    await server.restart();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await post(`${url}/pay`, 'k2')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(guarded).toBe(2);
  });

  it('a request that failed while Redis was down frees its key once Redis is back, not after its lease', async () => {
    // Redis keeps what it acknowledged (AOF, fsync always): the claim survives the restart.
    const durable = await spawnRedis({
      port: await freePort(),
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    // No offline queue (as the booking app's client): a command sent while Redis is down fails
    // and is never sent later, so the 503's release is lost, not delayed.
    const c = new Redis(durable.url, { retryStrategy: () => 100, enableOfflineQueue: false });
    c.on('error', () => {});
    try {
      const store = new IdempotencyStore(c, {
        prefix: 'free',
        commandTimeoutMs: 300,
        leaseMs: 60_000,
      });
      let calls = 0;
      const { url } = await serve((app) => {
        app.post(
          '/pay',
          express.json(),
          idempotency({ store, inFlight: 'reject' }),
          async (_req, res) => {
            calls++;
            if (calls === 1) {
              // Redis dies while the handler runs: the 503 cannot release the claim.
              await durable.kill();
              // Once the client knows, a command fails at once and is never resent.
              while (c.status === 'ready') await new Promise((r) => setTimeout(r, 5));
              res.status(503).json({ down: true });
              return;
            }
            res.json({ ok: true });
          },
        );
      });
      if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
      expect((await post(`${url}/pay`, 'k')).status).toBe(503);
      expect(calls).toBe(1);
      await durable.restart();
      // The retry is answered once Redis is back. Before the background release it was 409 for
      // the rest of the 60 s lease.
      const seen: number[] = [];
      const deadline = Date.now() + 10_000;
      while (seen.at(-1) !== 200 && Date.now() < deadline) {
        seen.push((await post(`${url}/pay`, 'k')).status);
        if (seen.at(-1) !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(
        seen.at(-1),
        `statuses of the retries: ${[...new Set(seen)].map((x) => `${x} ×${seen.filter((y) => y === x).length}`).join(', ')}`,
      ).toBe(200);
      expect(calls).toBe(2);
    } finally {
      c.disconnect();
      await durable.stop();
    }
  });
});
