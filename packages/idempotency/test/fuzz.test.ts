import * as fuzz from '@boxoffice/internal/fuzz';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import express from 'express';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, IdempotencyStore, idempotency } from '../src/index.js';
import { serve } from './helpers.js';

// Fuzzing the public API against a real Redis: malformed keys, scopes, fingerprints, options and
// results are refused with a TypeError/RangeError before any Redis call (never a Redis ERR, never a
// record written), malformed Idempotency-Key headers get a 400 problem and never reach the handler,
// and a key reused with another payload is a 422 that leaves the stored record as it was.

const RUNS = 150;

const nastyString = fuzz.nastyString({ maxLong: 8000 });
const hostile = fuzz.hostile(nastyString);

const { maybe } = fuzz;

const goodKey = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);

const isMisuse = (e: unknown) => e instanceof TypeError || e instanceof RangeError;

async function settle<T>(fn: () => T | Promise<T>) {
  try {
    return { ok: true as const, value: await fn() };
  } catch (error) {
    return { ok: false as const, error };
  }
}

// Generous: every run is a few Redis round trips, on a machine other suites keep busy.
describe.each(redisTargets())('idempotency fuzz on $name', { timeout: 120_000 }, (target) => {
  const redis = useRedis(target);
  const keys = async () => (await scanKeys(redis.client, `${redis.prefix}*`)).sort();
  const newStore = () => new IdempotencyStore(redis.client, { prefix: redis.prefix });

  it('claim / get / run / dedupe: a typed refusal that writes nothing, or a working record', async () => {
    const store = newStore();
    let tried = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(goodKey, nastyString, hostile),
        fc.oneof(
          fc.record(
            {
              scope: maybe(fc.oneof(goodKey, hostile)),
              fingerprint: maybe(fc.oneof(goodKey, hostile)),
              waitMs: maybe(hostile),
              inFlight: maybe(fc.oneof(fc.constantFrom('reject', 'wait'), hostile)),
            },
            { requiredKeys: [] },
          ),
          hostile,
        ),
        fc.constantFrom('claim', 'get', 'run', 'dedupe'),
        async (key, options, method) => {
          tried++;
          const before = await keys();
          const k = key as string;
          const o = options as never;
          const result = await settle(async () => {
            switch (method) {
              case 'claim': {
                const { inFlight: _ignored, ...rest } = (options ?? {}) as Record<string, unknown>;
                const claim = await store.claim(
                  k,
                  (typeof options === 'object' ? rest : o) as never,
                );
                if (claim.outcome === 'claimed') await claim.lease.release();
                return claim;
              }
              case 'get':
                return store.get(k, o);
              case 'run':
                return store.run(k, o, () => ({ ran: true }));
              default:
                return store.dedupe(k, () => 1, o);
            }
          });
          if (!result.ok) {
            refused++;
            if (!isMisuse(result.error)) throw result.error;
            expect(await keys()).toEqual(before);
          }
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`idempotency fuzz (${target.name}): ${tried} store calls, ${refused} refused`);
  });

  it('lease.complete refuses a malformed result and leaves the claim as it was', async () => {
    const store = newStore();
    let tried = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record(
            {
              status: maybe(fc.oneof(fc.integer({ min: 100, max: 599 }), hostile)),
              headers: maybe(
                fc.oneof(
                  fc.dictionary(fc.constantFrom('etag', 'location'), fc.string({ maxLength: 8 })),
                  hostile,
                ),
              ),
              body: maybe(fc.oneof(fc.uint8Array({ maxLength: 16 }).map(Buffer.from), hostile)),
            },
            { requiredKeys: [] },
          ),
          hostile,
        ),
        async (result) => {
          tried++;
          const key = `k${tried}`;
          const claim = await store.claim(key);
          if (claim.outcome !== 'claimed') throw new Error('a fresh key must be claimable');
          const rawKey = store.redisKey(key);
          const before = await redis.client.getBuffer(rawKey);
          const ttlBefore = await redis.client.pttl(rawKey);
          const completed = await settle(() => claim.lease.complete(result as never));
          if (!completed.ok) {
            refused++;
            if (!isMisuse(completed.error)) throw completed.error;
            // The record is byte for byte the claim, and its TTL (the lease clock) only ran down.
            expect(await redis.client.getBuffer(rawKey)).toEqual(before);
            expect(await redis.client.pttl(rawKey)).toBeLessThanOrEqual(ttlBefore);
            expect((await store.get(key))?.state).toBe('in_flight');
            await claim.lease.release();
            return;
          }
          // Accepted: the replay is exactly what was stored, with an HTTP-like status.
          const replay = await store.claim(key);
          if (replay.outcome !== 'done') throw new Error(`expected done, got ${replay.outcome}`);
          const given = (result ?? {}) as { status?: number; body?: Buffer };
          expect(replay.result.status === (given.status ?? 0)).toBe(true);
          expect(Number.isInteger(replay.result.status)).toBe(true);
          expect(replay.result.body.equals(given.body ?? Buffer.alloc(0))).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(
      `idempotency fuzz (${target.name}): ${tried} results to lease.complete, ${refused} refused`,
    );
  });

  it('middleware: malformed keys are a 400 problem before the handler; reuse with another payload is a 422 that changes nothing', async () => {
    const store = newStore();
    let runs = 0;
    const { url } = await serve((app) => {
      app.post(
        '/pay',
        express.json({ limit: '1mb' }),
        // Each property run is its own caller, so a key drawn twice does not meet an earlier run's.
        idempotency({ store, scope: (req) => `run-${req.get('x-run')}` }),
        (req, res) => {
          runs++;
          res.status(201).json({ run: runs, echo: req.body });
        },
      );
    });
    const send = (key: string | undefined, body: unknown) =>
      fetch(`${url}/pay`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-run': String(tried),
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });
    let tried = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          goodKey.map((k) => `"${k}"`),
          goodKey,
          nastyString,
          fc.constant(undefined),
        ),
        // express.json takes objects and arrays only (strict): wrap any JSON value.
        fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v })),
        fc.jsonValue({ maxDepth: 3 }).map((v) => ({ v })),
        async (header, first, second) => {
          // An HTTP client cannot send CR, LF, NUL, other control characters or characters above
          // U+00FF in a header value (fetch refuses them itself): those never reach a server.
          fc.pre(header === undefined || /^[\t\x20-\x7e\x80-\xff]*$/.test(header));
          tried++;
          const before = await keys();
          const runsBefore = runs;
          const res = await send(header, first);
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201) {
            expect(runs).toBe(runsBefore + 1);
          } else {
            expect(res.status).toBe(400);
            expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
            expect(JSON.parse(text)).toMatchObject({ status: 400, type: expect.any(String) });
            expect(runs).toBe(runsBefore);
            expect(await keys()).toEqual(before);
            return;
          }
          if (header === undefined) return;
          // The key is stored now: the same payload replays, another payload is a 422.
          const stored = await keys();
          const replay = await send(header, first);
          expect(replay.status).toBe(201);
          expect(replay.headers.get('idempotent-replayed')).toBe('true');
          expect(await replay.text()).toBe(text);
          const same = canonicalJson(first) === canonicalJson(second);
          const reused = await send(header, second);
          const reusedBody = await reused.text();
          if (!same) {
            expect(reused.status, reusedBody).toBe(422);
            expect(reused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
            expect(JSON.parse(reusedBody)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
          }
          expect(runs).toBe(runsBefore + 1);
          expect(await keys()).toEqual(stored);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(
      `idempotency fuzz (${target.name}): ${tried} requests (+ replays/reuses), first answers ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  });
});
