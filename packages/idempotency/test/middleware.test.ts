import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { idempotency as fastifyIdempotency } from '../src/fastify.js';
import { HEADERS, IdempotencyStore, idempotency } from '../src/index.js';
import { gate, post, until } from './helpers.js';
import { httpAdapters } from './http-adapters.js';

const uuid = () => crypto.randomUUID();

describe('idempotency() options', () => {
  const store = new IdempotencyStore({ defineCommand() {}, duplicate() {} } as never);

  it('rejects bad options when the middleware is created', () => {
    expect(() => idempotency({} as never)).toThrow(/store must be an IdempotencyStore/);
    expect(() => idempotency({ store: {} as never })).toThrow(/store must be an IdempotencyStore/);
    expect(() => idempotency({ store, inFlight: 'queue' as never })).toThrow(TypeError);
    expect(() => idempotency({ store, waitMs: -5 })).toThrow(RangeError);
    expect(() => idempotency({ store, cache: 500 as never })).toThrow(TypeError);
    expect(() => idempotency({ store, replayHeaders: 'etag' as never })).toThrow(TypeError);
    expect(() => idempotency({ store, requird: false } as never)).toThrow(/unknown option/);
  });
});

describe("the Fastify plugin's options", () => {
  const store = new IdempotencyStore({ defineCommand() {}, duplicate() {} } as never);

  it("are checked as the middleware's, and fail registration", async () => {
    const { default: Fastify } = await import('fastify');
    for (const [options, message] of [
      [{}, /store must be an IdempotencyStore/],
      [{ store, inFlight: 'queue' }, /inFlight/],
      [{ store, waitMs: -5 }, /waitMs/],
      [{ store, header: 'two words' }, /header must be an HTTP header name/],
      [{ store, header: 'X-Key', key: () => 'k' }, /not both/],
      [{ store, requird: false }, /unknown option/],
    ] as const) {
      const app = Fastify();
      app.register(fastifyIdempotency, options as never);
      await expect(app.ready()).rejects.toThrow(message);
      await app.close();
    }
  });
});

describe.each(httpAdapters)('$name', (adapter) => {
  describe.each(redisTargets())('idempotency on $name', (target) => {
    const redis = useRedis(target);
    const newStore = (options: { leaseMs?: number; retentionSec?: number } = {}) =>
      new IdempotencyStore(redis.client, { prefix: redis.prefix, ...options });

    it('answers 400 (problem+json) for missing and malformed keys, before the handler', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            ctx.json({ ok: true });
          },
        },
      ]);
      const bad = [
        undefined,
        '',
        '"unterminated',
        '"a\\nb"',
        'two words',
        `"${'x'.repeat(256)}"`,
        '"a", "b"',
        '""',
        '"k";',
        '"k";@x',
        '"k";a=',
      ];
      for (const header of bad) {
        const res = await fetch(`${url}/pay`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(header === undefined ? {} : { 'idempotency-key': header }),
          },
          body: '{}',
        });
        expect(res.status, String(header)).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(res.headers.get('cache-control')).toBe('no-store');
        const problem = (await res.json()) as { code: string; status: number };
        expect(problem).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', status: 400 });
      }
      expect(calls).toBe(0);
      // An unquoted token is accepted for compatibility.
      const ok = await fetch(`${url}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': uuid() },
        body: '{}',
      });
      expect(ok.status).toBe(200);
      expect(calls).toBe(1);
    });

    it('leaves the key unused when the body parser refuses the request (bad JSON, too large)', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          bodyLimit: 1024,
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            ctx.json({ ok: true });
          },
        },
      ]);
      const key = uuid();
      const headers = { 'content-type': 'application/json', 'idempotency-key': `"${key}"` };
      const broken = await fetch(`${url}/pay`, { method: 'POST', headers, body: '{"amount":' });
      expect(broken.status).toBe(400);
      const huge = await fetch(`${url}/pay`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ pad: 'x'.repeat(5000) }),
      });
      expect(huge.status).toBe(413);
      expect(calls).toBe(0);
      const ok = await post(`${url}/pay`, key);
      expect(ok.status).toBe(200);
      expect(ok.headers.get(HEADERS.replayed)).toBeNull();
      expect(calls).toBe(1);
    });

    it('passes requests without a key through when not required, and GETs always', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/x',
          all: true,
          guard: { store: newStore(), required: false },
          handler: (ctx) => {
            calls++;
            ctx.json({ calls });
          },
        },
      ]);
      await post(`${url}/x`, undefined);
      await post(`${url}/x`, undefined);
      await fetch(`${url}/x`, { headers: { 'idempotency-key': '"k"' } });
      await fetch(`${url}/x`, { headers: { 'idempotency-key': '"k"' } });
      expect(calls).toBe(4);
    });

    it('replays status, allowlisted headers and the exact bytes, without the handler', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore(), replayHeaders: ['X-Payment-Id'] },
          handler: (ctx) => {
            calls++;
            ctx
              .status(201)
              .set('Location', `/payments/${calls}`)
              .set('X-Payment-Id', `p-${calls}`)
              .set('X-Not-Replayed', 'x')
              .json({ id: calls, amount: ctx.body.amount, note: 'ünïcödé' });
          },
        },
      ]);
      const key = uuid();
      const first = await post(`${url}/pay`, key);
      const firstBody = Buffer.from(await first.arrayBuffer());
      expect(first.status).toBe(201);
      expect(first.headers.get(HEADERS.replayed)).toBeNull();
      const expires = Date.parse(first.headers.get(HEADERS.expires) ?? '');
      expect(expires).toBeGreaterThan(Date.now() + 86_000_000);

      const second = await post(`${url}/pay`, key);
      const secondBody = Buffer.from(await second.arrayBuffer());
      expect(calls).toBe(1);
      expect(second.status).toBe(201);
      expect(secondBody.equals(firstBody)).toBe(true);
      expect(second.headers.get(HEADERS.replayed)).toBe('true');
      expect(second.headers.get('location')).toBe('/payments/1');
      expect(second.headers.get('x-payment-id')).toBe('p-1');
      expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(second.headers.get('content-length')).toBe(String(firstBody.length));
      expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(second.headers.get('x-not-replayed')).toBeNull();
      // Within a second of the first response's (which was computed at claim time).
      expect(
        Math.abs(Date.parse(second.headers.get(HEADERS.expires) ?? '') - expires),
      ).toBeLessThan(60_000);
    });

    it('answers 422 when a key is reused with a different body; key order does not matter', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            ctx.json({ ok: true });
          },
        },
      ]);
      const key = uuid();
      expect((await post(`${url}/pay`, key, { a: 1, b: { c: 2, d: 3 } })).status).toBe(200);
      const reordered = await post(`${url}/pay`, key, { b: { d: 3, c: 2 }, a: 1 });
      expect(reordered.headers.get(HEADERS.replayed)).toBe('true');
      const other = await post(`${url}/pay`, key, { a: 2, b: { c: 2, d: 3 } });
      expect(other.status).toBe(422);
      expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(other.headers.get(HEADERS.expires)).toBeTruthy();
      expect(calls).toBe(1);
    });

    it('scopes keys per caller: user B with A`s key runs its own request', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          user: true,
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            ctx.json({ user: ctx.header('x-user'), call: calls });
          },
        },
      ]);
      const key = uuid();
      const a = await (await post(`${url}/pay`, key, {}, { 'x-user': 'alice' })).json();
      const b = await (await post(`${url}/pay`, key, {}, { 'x-user': 'bob' })).json();
      const a2 = await (await post(`${url}/pay`, key, {}, { 'x-user': 'alice' })).json();
      expect(a).toEqual({ user: 'alice', call: 1 });
      expect(b).toEqual({ user: 'bob', call: 2 });
      expect(a2).toEqual(a);
    });

    it('50 concurrent requests with one key: handler runs once, the rest get 409 + Retry-After', async () => {
      let calls = 0;
      const hold = gate();
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore() },
          handler: async (ctx) => {
            calls++;
            await hold.promise;
            ctx.json({ charged: true });
          },
        },
      ]);
      const key = uuid();
      let answered = 0;
      const pending = Array.from({ length: 50 }, () =>
        post(`${url}/pay`, key).then((res) => {
          answered++;
          return res;
        }),
      );
      // Every request but the first is answered while the first is still held.
      await until(() => answered === 49);
      expect(calls).toBe(1);
      hold.open();
      const results = await Promise.all(pending);
      const rejected = results.filter((r) => r.status === 409);
      expect(rejected).toHaveLength(49);
      for (const res of rejected) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(res.headers.get('content-type')).toMatch(/problem\+json/);
        expect(res.headers.get(HEADERS.expires)).toBeTruthy();
        expect(await res.json()).toMatchObject({ code: 'IDEMPOTENCY_IN_FLIGHT' });
      }
      const winner = results.find((r) => r.status !== 409);
      expect(winner?.status).toBe(200);
      expect(await winner?.json()).toEqual({ charged: true });
      expect(calls).toBe(1);
    });

    it('50 concurrent requests with one key in wait mode: all get the same bytes', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore(), inFlight: 'wait', waitMs: 25_000 },
          handler: async (ctx) => {
            calls++;
            await new Promise((r) => setTimeout(r, 200));
            ctx.status(201).json({ paymentId: uuid() });
          },
        },
      ]);
      const key = uuid();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => post(`${url}/pay`, key)),
      );
      const bodies = await Promise.all(
        responses.map(async (r) => Buffer.from(await r.arrayBuffer())),
      );
      expect(calls).toBe(1);
      expect(responses.every((r) => r.status === 201)).toBe(true);
      expect(new Set(bodies.map((b) => b.toString('hex'))).size).toBe(1);
      expect(responses.filter((r) => r.headers.get(HEADERS.replayed) === 'true')).toHaveLength(49);
    });

    it('does not cache 5xx or thrown errors: a retry runs the handler again; a 4xx error is replayed', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/flaky',
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            if (calls === 1) ctx.status(502).json({ error: 'PG timeout' });
            else ctx.json({ ok: calls });
          },
        },
        {
          path: '/throws',
          guard: { store: newStore() },
          handler: async () => {
            calls++;
            throw new Error('boom');
          },
        },
        {
          path: '/fails',
          guard: { store: newStore() },
          handler: (ctx) => {
            calls++;
            ctx.fail(Object.assign(new Error('bad'), { status: 400, statusCode: 400 }));
          },
        },
      ]);
      const key = uuid();
      const failed = await post(`${url}/flaky`, key);
      expect(failed.status).toBe(502);
      expect(failed.headers.get(HEADERS.expires)).toBeNull();
      expect(await (await post(`${url}/flaky`, key)).json()).toEqual({ ok: 2 });
      expect((await post(`${url}/flaky`, key)).headers.get(HEADERS.replayed)).toBe('true');
      expect(calls).toBe(2);

      const k2 = uuid();
      expect((await post(`${url}/throws`, k2)).status).toBe(500);
      expect((await post(`${url}/throws`, k2)).status).toBe(500);
      expect(calls).toBe(4);

      // An error the framework answers with a 4xx is a final answer and is replayed.
      const k3 = uuid();
      const first = await post(`${url}/fails`, k3);
      expect(first.status).toBe(400);
      const again = await post(`${url}/fails`, k3);
      expect(again.status).toBe(400);
      expect(again.headers.get(HEADERS.replayed)).toBe('true');
      expect(Buffer.from(await again.arrayBuffer())).toEqual(
        Buffer.from(await first.arrayBuffer()),
      );
      expect(calls).toBe(5);
    });

    it('captures a body written in pieces (a stream), bytes split inside a character', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/stream',
          guard: { store: newStore() },
          handler: async (ctx) => {
            calls++;
            const pieces: (string | Buffer)[] = Array.from({ length: 5 }, (_, i) => `chunk-${i};`);
            await ctx.stream([...pieces, Buffer.from([0xe2, 0x82]), Buffer.from([0xac])], 5);
          },
        },
      ]);
      const key = uuid();
      const a = await post(`${url}/stream`, key);
      const aBody = Buffer.from(await a.arrayBuffer());
      expect(aBody.toString()).toBe('chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;€');
      const b = await post(`${url}/stream`, key);
      const bBody = Buffer.from(await b.arrayBuffer());
      expect(b.headers.get(HEADERS.replayed)).toBe('true');
      expect(b.status).toBe(a.status);
      expect(b.headers.get('content-type')).toBe(a.headers.get('content-type'));
      expect(bBody.equals(aBody)).toBe(true);
      expect(calls).toBe(1);
    });

    it('does not store bodies over maxBodyBytes, says so, and never runs the handler twice', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/big',
          guard: { store: newStore(), maxBodyBytes: 1024 },
          handler: (ctx) => {
            calls++;
            ctx.status(201).json({ data: 'x'.repeat(5000) });
          },
        },
      ]);
      const key = uuid();
      const first = await post(`${url}/big`, key);
      expect(first.status).toBe(201);
      expect(first.headers.get(HEADERS.bodyStored)).toBe('false');
      expect((await first.text()).length).toBeGreaterThan(5000);
      const second = await post(`${url}/big`, key);
      expect(second.status).toBe(201);
      expect(second.headers.get(HEADERS.replayed)).toBe('true');
      expect(second.headers.get(HEADERS.bodyStored)).toBe('false');
      expect(await second.text()).toBe('');
      expect(calls).toBe(1);
    });

    it('two guards on one route each store the response', async () => {
      const store = newStore();
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: [{ store }, { store, scope: () => 'inner' }],
          handler: (ctx) => {
            calls++;
            ctx.status(201).json({ call: calls });
          },
        },
      ]);
      const key = uuid();
      const first = await post(`${url}/pay`, key);
      expect(first.status).toBe(201);
      expect(await first.json()).toEqual({ call: 1 });
      for (const scope of ['127.0.0.1', 'inner']) {
        expect(await store.get(key, { scope })).toMatchObject({ state: 'done', status: 201 });
      }
      const replay = await post(`${url}/pay`, key);
      expect(replay.status).toBe(201);
      expect(replay.headers.get(HEADERS.replayed)).toBe('true');
      expect(await replay.json()).toEqual({ call: 1 });
      expect(calls).toBe(1);
    });
  });
});
