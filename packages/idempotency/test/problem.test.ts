import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  type IdempotencyOptions,
  type IdempotencyProblem,
  IdempotencyStore,
  IdempotencyStoreUnavailableError,
  idempotency,
  PROBLEM_TYPES,
} from '../src/index.js';
import { post } from './helpers.js';
import { httpAdapters } from './http-adapters.js';

describe('idempotency() onProblem option', () => {
  const store = new IdempotencyStore({ defineCommand() {}, duplicate() {} } as never);

  it('must be a function when given', () => {
    expect(() => idempotency({ store, onProblem: 'shape' as never })).toThrow(
      /onProblem must be a function/,
    );
    expect(() => idempotency({ store, onProblem: null as never })).toThrow(TypeError);
    expect(() => idempotency({ store, onProblem: {} as never })).toThrow(TypeError);
    expect(typeof idempotency({ store, onProblem: undefined })).toBe('function');
    expect(typeof idempotency({ store, onProblem: () => undefined })).toBe('function');
  });
});

type Body = Record<string, unknown>;

type Req = { id?: string; body: { fp?: unknown } };

describe.each(httpAdapters)('$name', (adapter) => {
  describe.each(redisTargets())('onProblem on $name', (target) => {
    const redis = useRedis(target);

    /** Every key under the test's prefix with its value and remaining TTL. */
    async function snapshot(): Promise<Map<string, { value: Buffer | null; pttl: number }>> {
      const keys = (await scanKeys(redis.client, `${redis.prefix}:*`)).sort();
      const out = new Map<string, { value: Buffer | null; pttl: number }>();
      for (const key of keys) {
        out.set(key, {
          value: await redis.client.getBuffer(key),
          pttl: await redis.client.pttl(key),
        });
      }
      return out;
    }

    async function expectUnchanged(before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
      const after = await snapshot();
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [key, { value, pttl }] of after) {
        const was = before.get(key);
        expect(value).toEqual(was?.value);
        // Not extended: the TTL only ran down.
        expect(pttl).toBeLessThanOrEqual(was?.pttl ?? -3);
      }
    }

    /** A store whose client is closed: every call fails, so the middleware answers 503. */
    async function deadStore(): Promise<IdempotencyStore> {
      const client = redis.connect();
      await client.ping();
      client.disconnect();
      return new IdempotencyStore(client, { prefix: redis.prefix, commandTimeoutMs: 300 });
    }

    /** An app whose handler counts its runs; requests get ids `req-<n>`, like the reference app's. */
    async function app(store: IdempotencyStore, options: Partial<IdempotencyOptions> = {}) {
      const state = { calls: 0 };
      const served = await adapter.serve([
        {
          path: '/pay',
          guard: {
            store,
            scope: () => 'tester',
            fingerprint: (req: Req) => String(req.body.fp),
            ...options,
          },
          handler: (ctx) => {
            state.calls++;
            ctx.status(201).json({ paid: true });
          },
        },
      ]);
      return { url: `${served.url}/pay`, state };
    }

    // What the reference app wants: lower-case codes and a request id, like its other errors.
    const seen: IdempotencyProblem[] = [];
    const shape: IdempotencyOptions['onProblem'] = (problem, req, res) => {
      seen.push(problem);
      const requestId = (req as unknown as Req).id;
      adapter.setHeader(res, 'x-request-id', String(requestId));
      // Headers the middleware owns are not the hook's to change.
      adapter.setHeader(res, 'retry-after', '999');
      return {
        type: `https://boxoffice.example/problems/${problem.code.toLowerCase().replaceAll('_', '-')}`,
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
        code: problem.code.toLowerCase(),
        requestId,
      };
    };

    async function expectShaped(res: Response, status: number, code: string): Promise<Body> {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('x-request-id')).toMatch(/^req-\d+$/);
      const body = (await res.json()) as Body;
      expect(body).toMatchObject({ status, code, requestId: res.headers.get('x-request-id') });
      expect(body.type).toBe(`https://boxoffice.example/problems/${code.replaceAll('_', '-')}`);
      return body;
    }

    it('shapes the 400, 409 and 422 bodies; status and headers stay; nothing runs or changes', async () => {
      seen.length = 0;
      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix, leaseMs: 60_000 });
      const { url, state } = await app(store, { onProblem: shape });

      // 400: missing and malformed keys.
      await expectShaped(await post(url, undefined, { fp: 1 }), 400, 'idempotency_key_invalid');
      await expectShaped(await post(url, 'a\tb', { fp: 1 }), 400, 'idempotency_key_invalid');
      expect(seen.map((p) => p.reason)).toEqual(['missing', 'malformed']);
      expect(seen[0]).toMatchObject({
        status: 400,
        code: 'IDEMPOTENCY_KEY_INVALID',
        type: PROBLEM_TYPES.IDEMPOTENCY_KEY_INVALID,
      });
      expect(await snapshot()).toEqual(new Map());

      // 422: a stored key reused with another payload.
      expect((await post(url, 'done-key', { fp: 1 })).status).toBe(201);
      expect(state.calls).toBe(1);
      let before = await snapshot();
      expect(before.size).toBe(1);
      const reused = await post(url, 'done-key', { fp: 2 });
      await expectShaped(reused, 422, 'idempotency_key_reused');
      expect(reused.headers.get('idempotency-key-expires')).toBeTruthy();
      const p422 = seen.at(-1);
      expect(p422).toMatchObject({ status: 422, key: 'done-key', scope: 'tester' });
      expect(Date.parse(String(reused.headers.get('idempotency-key-expires')))).toBe(
        Math.floor((p422?.expiresAt ?? 0) / 1000) * 1000,
      );
      await expectUnchanged(before);

      // 409: a key claimed by someone else (no renewals, so the record is still while we look).
      const claim = await store.claim('busy-key', { scope: 'tester', fingerprint: '1' });
      expect(claim.outcome).toBe('claimed');
      before = await snapshot();
      const busy = await post(url, 'busy-key', { fp: 1 });
      await expectShaped(busy, 409, 'idempotency_in_flight');
      const p409 = seen.at(-1);
      expect(p409).toMatchObject({ status: 409, key: 'busy-key', scope: 'tester' });
      expect(p409?.retryAfterSec).toBeGreaterThanOrEqual(1);
      expect(busy.headers.get('retry-after')).toBe(String(p409?.retryAfterSec));
      expect(busy.headers.get('idempotency-key-expires')).toBeTruthy();
      await expectUnchanged(before);

      expect(state.calls).toBe(1);
      expect(seen.every((p) => Object.isFrozen(p))).toBe(true);
      if (claim.outcome === 'claimed') await claim.lease.release();
    });

    it('shapes the 503 when Redis is unreachable; the handler does not run and no key is written', async () => {
      seen.length = 0;
      const { url, state } = await app(await deadStore(), { onProblem: shape });
      const res = await post(url, 'down-key', { fp: 1 });
      await expectShaped(res, 503, 'idempotency_store_unavailable');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(seen[0]).toMatchObject({ status: 503, key: 'down-key', retryAfterSec: 1 });
      expect(seen[0]?.cause).toBeInstanceOf(IdempotencyStoreUnavailableError);
      expect(state.calls).toBe(0);
      expect(await snapshot()).toEqual(new Map());
    });

    it('falls back to the default problem when the hook throws or returns junk (never 500, never the handler)', async () => {
      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix, leaseMs: 60_000 });
      const circular: Body = {};
      circular.self = circular;
      const bad: Array<[string, () => unknown]> = [
        [
          'throws',
          () => {
            throw new Error('hook bug');
          },
        ],
        ['array', () => [1, 2]],
        ['promise', () => Promise.resolve({ code: 'late' })],
        ['circular', () => circular],
        ['string', () => 'nope'],
      ];
      for (const [label, hook] of bad) {
        const errors: unknown[] = [];
        const live = await app(store, {
          onProblem: hook as IdempotencyOptions['onProblem'],
          onError: (error) => errors.push(error),
        });
        const down = await app(await deadStore(), {
          onProblem: hook as IdempotencyOptions['onProblem'],
          onError: (error) => errors.push(error),
        });
        const doneKey = `done-${label}`;
        expect((await post(live.url, doneKey, { fp: 1 })).status).toBe(201);
        const claim = await store.claim(`busy-${label}`, { scope: 'tester', fingerprint: '1' });
        expect(claim.outcome).toBe('claimed');
        const before = await snapshot();

        const cases: Array<[Promise<Response>, 400 | 409 | 422 | 503, keyof typeof PROBLEM_TYPES]> =
          [
            [post(live.url, undefined, { fp: 1 }), 400, 'IDEMPOTENCY_KEY_INVALID'],
            [post(live.url, `busy-${label}`, { fp: 1 }), 409, 'IDEMPOTENCY_IN_FLIGHT'],
            [post(live.url, doneKey, { fp: 2 }), 422, 'IDEMPOTENCY_KEY_REUSED'],
            [post(down.url, `down-${label}`, { fp: 1 }), 503, 'IDEMPOTENCY_STORE_UNAVAILABLE'],
          ];
        for (const [pending, status, code] of cases) {
          const res = await pending;
          expect(res.status, `${label} ${code}`).toBe(status);
          expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          const body = (await res.json()) as Body;
          expect(body).toEqual({
            type: PROBLEM_TYPES[code],
            title: expect.any(String),
            status,
            detail: expect.any(String),
            code,
          });
          if (status === 409 || status === 503)
            expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        }
        await expectUnchanged(before);
        expect(live.state.calls, label).toBe(1);
        expect(down.state.calls, label).toBe(0);
        expect(errors, label).toHaveLength(4);
        for (const error of errors) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/onProblem failed for IDEMPOTENCY_/);
          expect((error as Error).cause).toBeDefined();
        }
        if (claim.outcome === 'claimed') await claim.lease.release();
      }
    });

    it('keeps the default body when the hook returns nothing, and its own headers go out', async () => {
      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix });
      const codes: string[] = [];
      const { url, state } = await app(store, {
        onProblem: (problem, _req, res) => {
          codes.push(problem.code);
          adapter.setHeader(res, 'x-problem-seen', problem.code);
        },
      });
      const res = await post(url, undefined, { fp: 1 });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-problem-seen')).toBe('IDEMPOTENCY_KEY_INVALID');
      expect(await res.json()).toMatchObject({
        code: 'IDEMPOTENCY_KEY_INVALID',
        type: PROBLEM_TYPES.IDEMPOTENCY_KEY_INVALID,
        status: 400,
      });
      // A successful request never reaches the hook.
      expect((await post(url, 'fine', { fp: 1 })).status).toBe(201);
      expect(codes).toEqual(['IDEMPOTENCY_KEY_INVALID']);
      expect(state.calls).toBe(1);
    });

    it('shapes the 400 of a body the default fingerprint cannot digest; a throwing scope goes to next(err)', async () => {
      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix });
      const problems: IdempotencyProblem[] = [];
      let calls = 0;
      const handler = () => {
        calls++;
      };
      const { url } = await adapter.serve(
        [
          {
            path: '/deep',
            guard: {
              store,
              scope: () => 'tester',
              onProblem: (problem: IdempotencyProblem) => {
                problems.push(problem);
                return { code: problem.code.toLowerCase(), status: problem.status };
              },
            },
            handler,
          },
          {
            path: '/scope',
            guard: {
              store,
              scope: () => {
                throw new Error('no user');
              },
              onProblem: (problem: IdempotencyProblem) => {
                problems.push(problem);
              },
            },
            handler,
          },
        ],
        { teapot: true },
      );
      // Nested deeper than canonicalJson's recursion can go (JSON.parse itself copes).
      const depth = 200_000;
      const deep = await fetch(`${url}/deep`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': '"deep"' },
        body: `${'['.repeat(depth)}${']'.repeat(depth)}`,
      });
      expect(deep.status).toBe(400);
      expect(deep.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await deep.json()).toEqual({ code: 'idempotency_fingerprint_failed', status: 400 });
      expect(problems[0]).toMatchObject({
        code: 'IDEMPOTENCY_FINGERPRINT_FAILED',
        type: PROBLEM_TYPES.IDEMPOTENCY_FINGERPRINT_FAILED,
        key: 'deep',
        scope: 'tester',
      });
      expect(problems[0]?.cause).toBeInstanceOf(RangeError);

      const scoped = await post(`${url}/scope`, 'k', { fp: 1 });
      expect(scoped.status).toBe(418);
      expect(await scoped.json()).toEqual({ appError: 'no user' });
      expect(problems).toHaveLength(1);
      expect(calls).toBe(0);
      expect(await snapshot()).toEqual(new Map());
    });
  });
});
