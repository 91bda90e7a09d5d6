import { request as httpRequest } from 'node:http';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { HEADERS, IdempotencyStore } from '../src/index.js';
import { gate, post, until } from './helpers.js';
import { httpAdapters } from './http-adapters.js';

const uuid = () => crypto.randomUUID();

// Leases while the handler runs, for both integrations: renewal, lapse, takeover, disconnects.
describe.each(httpAdapters)('$name', (adapter) => {
  describe.each(redisTargets())('leases of the HTTP guard on $name', (target) => {
    const redis = useRedis(target);
    const newStore = (options: { leaseMs?: number; retentionSec?: number } = {}) =>
      new IdempotencyStore(redis.client, { prefix: redis.prefix, ...options });

    it('a handler that never responds loses the key after its lease; its late response is not stored', async () => {
      const store = newStore({ leaseMs: 300 });
      const lateResponse = gate();
      let calls = 0;
      const errors: unknown[] = [];
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store, handlerTimeoutMs: 100, onError: (e: unknown) => errors.push(e) },
          handler: async (ctx) => {
            calls++;
            if (calls === 1) {
              await lateResponse.promise;
              ctx.json({ from: 'stale' });
            } else {
              ctx.json({ from: 'fresh' });
            }
          },
        },
      ]);
      const key = uuid();
      const stuck = post(`${url}/pay`, key);
      await until(() => calls === 1);
      let fresh: Response | undefined;
      await until(async () => {
        fresh = await post(`${url}/pay`, key);
        return fresh.status !== 409;
      });
      expect(await fresh?.json()).toEqual({ from: 'fresh' });
      expect((await store.get(key, { scope: '127.0.0.1' }))?.attempt).toBe(2);
      lateResponse.open();
      expect(await (await stuck).json()).toEqual({ from: 'stale' });
      await until(() => errors.length > 0);
      expect(String(errors[0])).toMatch(/not stored/);
      const replay = await post(`${url}/pay`, key);
      expect(await replay.json()).toEqual({ from: 'fresh' });
    });

    it('in wait mode, a waiter takes over a lapsed lease and runs the handler itself', async () => {
      const store = newStore({ leaseMs: 300 });
      const never = gate();
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: {
            store,
            inFlight: 'wait',
            waitMs: 20_000,
            handlerTimeoutMs: 100,
            onError: () => {},
          },
          handler: async (ctx) => {
            calls++;
            if (calls === 1) await never.promise;
            ctx.json({ call: calls });
          },
        },
      ]);
      const key = uuid();
      const stuck = post(`${url}/pay`, key).catch(() => null);
      await until(() => calls === 1);
      const waiter = await post(`${url}/pay`, key);
      expect(waiter.status).toBe(200);
      expect(await waiter.json()).toEqual({ call: 2 });
      expect(waiter.headers.get(HEADERS.replayed)).toBeNull();
      never.open();
      await stuck;
    });

    it('renews the lease of a handler running past leaseMs: a retry meanwhile gets 409, the handler runs once', async () => {
      const store = newStore({ leaseMs: 500 });
      const slow = gate();
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store },
          handler: async (ctx) => {
            calls++;
            await slow.promise;
            ctx.status(201).json({ call: calls });
          },
        },
      ]);
      const key = uuid();
      const first = post(`${url}/pay`, key);
      await until(() => calls === 1);
      // More than three leases: only renewal keeps the key with the first request.
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      const retry = await post(`${url}/pay`, key);
      expect(retry.status).toBe(409);
      expect(await store.get(key, { scope: '127.0.0.1' })).toMatchObject({
        state: 'in_flight',
        attempt: 1,
      });
      slow.open();
      expect((await first).status).toBe(201);
      const replay = await post(`${url}/pay`, key);
      expect(replay.headers.get(HEADERS.replayed)).toBe('true');
      expect(await replay.json()).toEqual({ call: 1 });
      expect(calls).toBe(1);
    });

    it('stores the result of a handler whose client disconnected', async () => {
      const store = newStore();
      const done = gate();
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store },
          handler: async (ctx) => {
            calls++;
            await new Promise((r) => setTimeout(r, 300));
            ctx.json({ charged: calls });
            done.open();
          },
        },
      ]);
      const key = uuid();
      const { port } = new URL(url);
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          path: '/pay',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
        });
        req.on('error', () => resolve());
        req.end(JSON.stringify({ amount: 100 }));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      await done.promise;
      await until(async () => (await store.get(key, { scope: '127.0.0.1' }))?.state === 'done');
      const retry = await post(`${url}/pay`, key);
      expect(retry.headers.get(HEADERS.replayed)).toBe('true');
      expect(await retry.json()).toEqual({ charged: 1 });
      expect(calls).toBe(1);
    });
  });
});
