import { timed as elapsed, timedFailure as failure } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  expectTimeouts,
  expectUnavailable,
  SLACK,
  TIMEOUT,
  useReconnectingClient,
  useSilentRedis,
} from '../../internal/test/package-tests.js';
import { SeatHolds } from '../src/holds.js';
import { SeatLock, SeatLockRedisError } from '../src/index.js';

// Every Redis call is bounded by commandTimeoutMs (the shared CallGuard of packages/internal), and
// SeatHolds.close() / SeatLock.close() finish whatever Redis does. The bounds asserted are
// correctness bounds (nothing hangs), with slack for a loaded machine.

describe('a Redis that never answers', () => {
  const silent = useSilentRedis();

  it('lock and hold calls fail within commandTimeoutMs, kind timeout', async () => {
    const client = silent.current.client();
    const locks = new SeatLock(client, { commandTimeoutMs: TIMEOUT, wakeUp: false });
    const holds = new SeatHolds(client, { commandTimeoutMs: TIMEOUT });
    await expectTimeouts(
      [
        ['acquire', () => locks.tryAcquire(['A1'])],
        ['acquire', () => holds.place(['A2'])],
        ['get', () => holds.get('h1')],
        ['cancel', () => holds.cancel('h1')],
      ],
      SeatLockRedisError,
    );
    await holds.close();
    await locks.close();
  });

  it('SeatHolds.close() with a worker, and SeatLock.close() with a subscriber, finish', async () => {
    const client = silent.current.client();
    const holds = new SeatHolds(client, { commandTimeoutMs: TIMEOUT });
    holds.onExpire(() => {});
    const locks = new SeatLock(client, { commandTimeoutMs: TIMEOUT });
    // A wait that subscribes for wake-ups; it fails by the bound too.
    const waiting = failure(() => locks.acquire(['B1'], { waitMs: 100 }));
    expect(await elapsed(() => holds.close())).toBeLessThan(2 * TIMEOUT + SLACK);
    expect((await waiting).error).toBeInstanceOf(SeatLockRedisError);
    expect(await elapsed(() => locks.close())).toBeLessThan(TIMEOUT + SLACK);
  });
});

describe('a client that is reconnecting (ioredis defaults)', () => {
  const client = useReconnectingClient();

  it('calls fail at once, kind unavailable; close() finishes in bounded time', async () => {
    const locks = new SeatLock(client.current);
    const holds = new SeatHolds(client.current, { commandTimeoutMs: TIMEOUT });
    holds.onExpire(() => {});
    await expectUnavailable([
      ['acquire', () => locks.tryAcquire(['A1'])],
      ['get', () => holds.get('h1')],
    ]);
    // The worker's close and BullMQ's disconnect of its own connections wait for Redis: a bound each.
    expect(await elapsed(() => holds.close())).toBeLessThan(3 * TIMEOUT + SLACK);
    expect(await elapsed(() => locks.close())).toBeLessThan(SLACK);
  });
});
