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
    // ioredis defaults: commands are queued while reconnecting; the store's timeoutMs bounds them.
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
    const store = new IdempotencyStore(client, { prefix: 'down', timeoutMs: 300, leaseMs: 60_000 });
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
});
