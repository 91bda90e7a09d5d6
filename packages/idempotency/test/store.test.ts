import { randomBytes, randomUUID } from 'node:crypto';
import { clusterSlot } from '@boxoffice/internal';
import { deleteByPrefix, redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  IdempotencyInFlightError,
  IdempotencyKeyReuseError,
  IdempotencyStore,
  type Lease,
} from '../src/index.js';
import { gate, until } from './helpers.js';

function claimed(result: Awaited<ReturnType<IdempotencyStore['claim']>>): Lease {
  if (result.outcome !== 'claimed') throw new Error(`expected claimed, got ${result.outcome}`);
  return result.lease;
}

describe('IdempotencyStore validation', () => {
  const fakeClient = { defineCommand() {}, duplicate() {} } as never;

  it('rejects bad options before touching Redis', () => {
    expect(() => new IdempotencyStore(null as never)).toThrow(TypeError);
    expect(() => new IdempotencyStore(fakeClient, { leaseMs: 0 })).toThrow(
      'leaseMs must be an integer in [30, 86400000], got 0',
    );
    expect(() => new IdempotencyStore(fakeClient, { retentionSec: 1.5 })).toThrow(TypeError);
    expect(() => new IdempotencyStore(fakeClient, { prefix: 'a{b}' })).toThrow(TypeError);
    expect(() => new IdempotencyStore(fakeClient, { leasMs: 5 } as never)).toThrow(
      /unknown option 'leasMs'/,
    );
  });

  it('rejects bad keys, scopes and options of each method', async () => {
    const store = new IdempotencyStore(fakeClient);
    await expect(store.claim('')).rejects.toThrow(RangeError);
    await expect(store.claim('a\u0000b')).rejects.toThrow(TypeError);
    await expect(store.claim('x'.repeat(1025))).rejects.toThrow(RangeError);
    await expect(store.claim('k', { scope: 5 as never })).rejects.toThrow(TypeError);
    await expect(store.claim('k', { waitMs: -1 })).rejects.toThrow(RangeError);
    await expect(store.get(42 as never)).rejects.toThrow(TypeError);
    await expect(store.run('k', { inFlight: 'maybe' as never }, () => 1)).rejects.toThrow(
      TypeError,
    );
    await expect(store.run('k', {}, 'nope' as never)).rejects.toThrow(TypeError);
    await expect(store.dedupe('e', () => 1, { scop: 'x' } as never)).rejects.toThrow(
      /unknown option/,
    );
  });
});

describe.each(redisTargets())('IdempotencyStore on $name', (target) => {
  const redis = useRedis(target);
  const store = (options: { leaseMs?: number; retentionSec?: number } = {}) =>
    new IdempotencyStore(redis.client, { prefix: redis.prefix, ...options });

  it('keeps one record per (scope, key) in one hashed, tagged key', async () => {
    const s = store();
    const lease = claimed(await s.claim('order-1', { scope: 'user-a', fingerprint: 'f' }));
    expect(lease.redisKey).toMatch(new RegExp(`^${redis.prefix}:idem:v2:\\{[\\w-]{43}\\}$`));
    expect(s.redisKey('order-1', 'user-a')).toBe(lease.redisKey);
    expect(s.redisKey('order-1', 'user-b')).not.toBe(lease.redisKey);
    // Braces in user input cannot change the hash tag.
    const odd = s.redisKey('{x}', '}{');
    expect(clusterSlot(odd)).toBe(clusterSlot(odd.replace(/^[^{]*/, 'anything')));
    expect(await scanKeys(redis.client, `${redis.prefix}*`)).toEqual([lease.redisKey]);
  });

  it('claims, reports busy, then replays the stored result', async () => {
    const s = store();
    const first = await s.claim('k', { fingerprint: 'f1' });
    const lease = claimed(first);
    expect(lease.attempt).toBe(1);
    expect(lease.takenOver).toBe(false);

    const busy = await s.claim('k', { fingerprint: 'f1' });
    expect(busy.outcome).toBe('busy');
    if (busy.outcome === 'busy') expect(busy.retryAfterMs).toBeGreaterThan(0);
    expect((await s.get('k'))?.state).toBe('in_flight');

    const body = Buffer.from([0, 255, 1, 254, 10]);
    const expiresAt = await lease.complete({
      status: 201,
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    expect(expiresAt).toBeGreaterThan(Date.now() + 80_000_000);

    const again = await s.claim('k', { fingerprint: 'f1' });
    expect(again.outcome).toBe('done');
    if (again.outcome === 'done') {
      expect(again.result.status).toBe(201);
      expect(again.result.headers).toEqual({ 'content-type': 'application/octet-stream' });
      expect(again.result.body.equals(body)).toBe(true);
      expect(again.result.expiresAt).toBe(expiresAt);
    }
    const record = await s.get('k');
    expect(record).toMatchObject({ state: 'done', fingerprint: 'f1', status: 201, attempt: 1 });
    expect(record?.expiresAt).toBe(expiresAt);
  });

  it('stores and replays large binary bodies byte for byte', async () => {
    const s = store();
    const body = randomBytes(700_000);
    await claimed(await s.claim('big')).complete({ status: 200, body });
    const done = await s.claim('big');
    expect(done.outcome === 'done' && done.result.body.equals(body)).toBe(true);
  });

  it('refuses a different fingerprint while in flight and once done', async () => {
    const s = store();
    const lease = claimed(await s.claim('k', { fingerprint: 'a' }));
    expect((await s.claim('k', { fingerprint: 'b' })).outcome).toBe('mismatch');
    await lease.complete({ status: 200 });
    expect((await s.claim('k', { fingerprint: 'b' })).outcome).toBe('mismatch');
    expect((await s.claim('k', { fingerprint: 'a' })).outcome).toBe('done');
  });

  it('takes over a lapsed lease atomically; the lapsed owner can neither store nor release', async () => {
    const s = store({ leaseMs: 200 });
    const old = claimed(await s.claim('k'));
    let next: Awaited<ReturnType<IdempotencyStore['claim']>> | undefined;
    await until(async () => {
      next = await s.claim('k');
      return next.outcome === 'claimed';
    });
    const fresh = claimed(next as never);
    expect(fresh.attempt).toBe(2);
    expect(fresh.takenOver).toBe(true);
    expect(await old.renew()).toBe(false);
    expect(await old.complete({ status: 200, body: Buffer.from('stale') })).toBeNull();
    expect(await old.release()).toBe(false);
    expect(await fresh.complete({ status: 200, body: Buffer.from('fresh') })).not.toBeNull();
    const done = await s.claim('k');
    expect(done.outcome === 'done' && done.result.body.toString()).toBe('fresh');
  });

  it('lets only one of many concurrent claimers take over a lapsed lease', async () => {
    const s = store({ leaseMs: 100 });
    claimed(await s.claim('k'));
    await until(async () => ((await s.get('k'))?.leaseUntil ?? 0) < Date.now() - 50);
    const results = await Promise.all(Array.from({ length: 20 }, () => s.claim('k')));
    expect(results.filter((r) => r.outcome === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'busy')).toHaveLength(19);
  });

  it('keeps a renewed lease alive past leaseMs', async () => {
    const s = store({ leaseMs: 150 });
    const lease = claimed(await s.claim('k'));
    const stop = lease.keepAlive();
    try {
      const firstDeadline = lease.leaseUntil;
      await until(() => lease.leaseUntil > firstDeadline + 300);
      expect((await s.claim('k')).outcome).toBe('busy');
    } finally {
      stop();
    }
  });

  it('releases a claim so that a retry runs', async () => {
    const s = store();
    const lease = claimed(await s.claim('k'));
    expect(await lease.release()).toBe(true);
    expect(await s.get('k')).toBeNull();
    expect(claimed(await s.claim('k')).attempt).toBe(1);
  });

  it('waits for the first result when asked to', async () => {
    const s = store();
    const lease = claimed(await s.claim('k'));
    const waiting = s.claim('k', { waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 100));
    await lease.complete({ status: 200, body: Buffer.from('result') });
    const result = await waiting;
    expect(result.outcome === 'done' && result.result.body.toString()).toBe('result');
  });

  it('forgets results after retentionSec', async () => {
    const s = store({ retentionSec: 1 });
    const lease = claimed(await s.claim('k'));
    await lease.complete({ status: 200 });
    expect((await s.get('k'))?.state).toBe('done');
    await until(async () => (await s.get('k')) === null);
    expect(claimed(await s.claim('k')).attempt).toBe(1);
  });

  it('run: replays the value, rethrows and releases on failure', async () => {
    const s = store();
    let calls = 0;
    await expect(
      s.run('job', {}, () => {
        calls++;
        throw new Error('PG timeout');
      }),
    ).rejects.toThrow('PG timeout');
    expect(await s.get('job')).toBeNull();
    const first = await s.run('job', {}, async ({ attempt }) => {
      calls++;
      return { charged: 100, attempt };
    });
    expect(first).toEqual({ replayed: false, value: { charged: 100, attempt: 1 }, stored: true });
    const second = await s.run('job', {}, () => {
      calls++;
      return 'never';
    });
    expect(second).toEqual({ replayed: true, value: { charged: 100, attempt: 1 }, stored: true });
    expect(calls).toBe(2);
    await expect(s.run('job', { fingerprint: 'other' }, () => 1)).rejects.toBeInstanceOf(
      IdempotencyKeyReuseError,
    );
    const none = await s.run('void', {}, () => undefined);
    expect(await s.run('void', {}, () => 'x')).toEqual({ ...none, replayed: true });
  });

  it('run: reports stored: false when the claim was lost while fn ran', async () => {
    const s = store();
    const result = await s.run('k', {}, async () => {
      // Another party removes the claim (as a takeover after a lapsed lease would replace it).
      await redis.client.del(s.redisKey('k'));
      return 'done';
    });
    expect(result).toEqual({ replayed: false, value: 'done', stored: false });
    expect(await s.get('k')).toBeNull();
  });

  it('run: concurrent callers run the function once and all get its value', async () => {
    const s = store();
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        s.run('k', { waitMs: 20_000 }, async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 100));
          return randomUUID();
        }),
      ),
    );
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.value)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('run: inFlight reject throws IdempotencyInFlightError with a retry hint', async () => {
    const s = store();
    const hold = gate();
    const first = s.run('k', {}, () => hold.promise);
    await until(async () => (await s.get('k')) !== null);
    const error = await s.run('k', { inFlight: 'reject' }, () => 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyInFlightError);
    expect((error as IdempotencyInFlightError).retryAfterMs).toBeGreaterThan(0);
    expect((error as IdempotencyInFlightError).code).toBe('IDEMPOTENCY_IN_FLIGHT');
    hold.open();
    await first;
  });

  it('dedupe: 20 concurrent deliveries of one event run the consumer once', async () => {
    const s = store();
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        s.dedupe(
          'evt-1',
          async () => {
            runs++;
            await new Promise((r) => setTimeout(r, 50));
            return 'order-created';
          },
          { scope: 'order-service', waitMs: 20_000 },
        ),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(results.every((r) => r.value === 'order-created')).toBe(true);
    // Another consumer (scope) processes the same event on its own.
    const other = await s.dedupe('evt-1', () => 'notified', { scope: 'notification-service' });
    expect(other).toEqual({ duplicate: false, value: 'notified' });
  });

  it('dedupe: a failed consumer leaves the event for redelivery', async () => {
    const s = store();
    await expect(
      s.dedupe('evt', () => {
        throw new Error('db down');
      }),
    ).rejects.toThrow('db down');
    expect(await s.dedupe('evt', () => 'ok')).toEqual({ duplicate: false, value: 'ok' });
    expect(await s.dedupe('evt', () => 'again')).toEqual({ duplicate: true, value: 'ok' });
  });
});

// ioredis auto-pipelining on a standalone server. (On a Cluster, ioredis picks an auto-pipeline's
// slot from a command's first argument, which for these scripts is the key count, so Cluster clients
// must not enable it: see the README.)
describe('IdempotencyStore with enableAutoPipelining', () => {
  const prefix = `t${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    const cleaner = new Redis(inject('boxofficeRedis').standaloneUrl);
    await deleteByPrefix(cleaner, prefix);
    cleaner.disconnect();
  });

  it('works with an auto-pipelining client, even when a script is first used mid-batch', async () => {
    const client = new Redis(inject('boxofficeRedis').standaloneUrl, {
      enableAutoPipelining: true,
    });
    try {
      const s = new IdempotencyStore(client, { prefix: prefix });
      const lease = claimed(await s.claim('k'));
      // Another command opens this tick's auto-pipeline before renew and release are first used.
      const [, renewed] = await Promise.all([client.get(`${prefix}:other`), lease.renew()]);
      expect(renewed).toBe(true);
      const [, released] = await Promise.all([client.get(`${prefix}:other`), lease.release()]);
      expect(released).toBe(true);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => s.run(`job-${i % 5}`, {}, () => i % 5)),
      );
      expect(results.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => i % 5));
    } finally {
      client.disconnect();
    }
  });
});
