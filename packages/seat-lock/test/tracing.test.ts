import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { captureSpans, until } from '../../internal/test/package-tests.js';
import { type Hold, SeatHolds } from '../src/holds.js';
import { type Lease, LockTimeoutError, SeatLock } from '../src/index.js';

describe.each(redisTargets())('tracing on $name', (target) => {
  const redis = useRedis(target);
  // The optional API is imported when the package loads: each test waits for it, as an app's startup does.
  const { exporter, spans } = captureSpans();

  it('records acquire (won, taken, timed out) and the handoff to a waiter', async () => {
    const slow = { waitMs: 25_000, baseDelayMs: 20_000, maxDelayMs: 20_000 };
    const locks = new SeatLock(redis.client, { prefix: redis.prefix, retry: slow });
    try {
      const held = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
      expect(await locks.tryAcquire(['A1'])).toBeNull();
      await expect(locks.acquire(['A1'], { waitMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
      const waiter = locks.acquire(['A1'], { ttlMs: 60_000 });
      await until(async () => (await redis.client.llen(`${redis.prefix}:wait:{A1}`)) === 1);
      await held.release();
      const got = await waiter;
      await got.release();

      const acquires = spans('boxoffice.seat_lock.acquire');
      expect(acquires.map((s) => s.attributes['boxoffice.outcome'])).toEqual([
        'acquired',
        'taken',
        undefined,
        'acquired',
      ]);
      expect(acquires[0]?.attributes).toMatchObject({
        'boxoffice.resources': ['A1'],
        'boxoffice.seat_lock.call': 'tryAcquire',
        'boxoffice.ttl_ms': 60_000,
        'boxoffice.fences': [String(held.fence)],
      });
      const timedOut = acquires[2] as ReadableSpan;
      expect(timedOut.attributes).toMatchObject({
        'boxoffice.seat_lock.call': 'acquire',
        'boxoffice.wait_ms': 50,
        'boxoffice.error.code': 'LOCK_TIMEOUT',
      });
      expect(timedOut.status.code).toBe(SpanStatusCode.ERROR);
      expect(timedOut.events.map((e) => e.name)).toEqual(['exception']);
      expect(acquires[3]?.status.code).toBe(SpanStatusCode.UNSET);

      const handoffs = spans('boxoffice.seat_lock.handoff');
      expect(handoffs).toHaveLength(1);
      expect(handoffs[0]?.attributes).toEqual({
        'boxoffice.resource': 'A1',
        'boxoffice.fence': String(got.fence),
      });
    } finally {
      await locks.close();
    }
  }, 60_000);

  it('records hold place, confirm and expire', async () => {
    const holds = new SeatHolds(redis.client, { prefix: redis.prefix, sweepIntervalMs: 60_000 });
    const expired: Hold[] = [];
    holds.onExpire((h) => {
      expired.push(h);
    });
    try {
      const kept = await holds.place(['{c}:A1', '{c}:A2'], { ttlMs: 60_000 });
      expect(await holds.place(['{c}:A2'])).toBeNull();
      await holds.confirm(kept?.holdId as string);
      await holds.confirm(kept?.holdId as string);
      const lapsing = await holds.place(['B1'], { ttlMs: 100, graceMs: 0 });
      await until(() => expired.length === 1);
      await until(() => spans('boxoffice.holds.expire').length === 1);

      const places = spans('boxoffice.holds.place');
      expect(places.map((s) => s.attributes)).toEqual([
        {
          'boxoffice.resources': ['{c}:A1', '{c}:A2'],
          'boxoffice.outcome': 'placed',
          'boxoffice.hold_id': kept?.holdId,
        },
        { 'boxoffice.resources': ['{c}:A2'], 'boxoffice.outcome': 'taken' },
        {
          'boxoffice.resources': ['B1'],
          'boxoffice.outcome': 'placed',
          'boxoffice.hold_id': lapsing?.holdId,
        },
      ]);
      expect(spans('boxoffice.holds.confirm').map((s) => s.attributes)).toEqual([
        {
          'boxoffice.hold_id': kept?.holdId,
          'boxoffice.outcome': 'confirmed',
          'boxoffice.hold_state': 'confirmed',
        },
        {
          'boxoffice.hold_id': kept?.holdId,
          'boxoffice.outcome': 'lost',
          'boxoffice.hold_state': 'confirmed',
        },
      ]);
      expect(spans('boxoffice.holds.expire')[0]?.attributes).toEqual({
        'boxoffice.hold_id': lapsing?.holdId,
        'boxoffice.resources': ['B1'],
        'boxoffice.outcome': 'expired',
      });
    } finally {
      await holds.close();
    }
  }, 60_000);

  it('records nothing without a tracer provider', async () => {
    trace.disable();
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    try {
      const lease = (await locks.tryAcquire(['N1'])) as Lease;
      await lease.release();
      await (await locks.acquire(['N1'])).release();
    } finally {
      await locks.close();
    }
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
