import {
  timed as elapsed,
  timedFailure as failure,
  reconnectingClient,
  type SilentRedis,
  silentRedis,
} from '@boxoffice/local-redis/testing';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SeatHolds } from '../src/holds.js';
import { SeatLock, SeatLockRedisError } from '../src/index.js';

// Every Redis call is bounded by commandTimeoutMs (the shared CallGuard of packages/internal), and
// SeatHolds.close() / SeatLock.close() finish whatever Redis does. The bounds asserted are
// correctness bounds (nothing hangs), with slack for a loaded machine.
const TIMEOUT = 300;
const SLACK = 1500;

describe('a Redis that never answers', () => {
  let silent: SilentRedis;
  beforeEach(async () => {
    silent = await silentRedis();
  });
  afterEach(() => silent.close());

  it('lock and hold calls fail within commandTimeoutMs, kind timeout', async () => {
    const client = silent.client();
    const locks = new SeatLock(client, { commandTimeoutMs: TIMEOUT, wakeUp: false });
    const holds = new SeatHolds(client, { commandTimeoutMs: TIMEOUT });
    const list: [string, () => Promise<unknown>][] = [
      ['acquire', () => locks.tryAcquire(['A1'])],
      ['acquire', () => holds.place(['A2'])],
      ['get', () => holds.get('h1')],
      ['cancel', () => holds.cancel('h1')],
    ];
    const results = await Promise.all(list.map(([, call]) => failure(call)));
    for (const [i, { error, ms }] of results.entries()) {
      const operation = list[i]?.[0];
      expect(error, operation).toBeInstanceOf(SeatLockRedisError);
      expect(error, operation).toMatchObject({ kind: 'timeout', operation });
      expect(ms, operation).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(ms, operation).toBeLessThan(TIMEOUT + SLACK);
    }
    await holds.close();
    await locks.close();
  });

  it('SeatHolds.close() with a worker, and SeatLock.close() with a subscriber, finish', async () => {
    const client = silent.client();
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
  let client: Redis;
  beforeEach(async () => {
    client = await reconnectingClient();
  });
  afterEach(() => client.disconnect());

  it('calls fail at once, kind unavailable; close() finishes in bounded time', async () => {
    const locks = new SeatLock(client);
    const holds = new SeatHolds(client, { commandTimeoutMs: TIMEOUT });
    holds.onExpire(() => {});
    for (const [operation, call] of [
      ['acquire', () => locks.tryAcquire(['A1'])],
      ['get', () => holds.get('h1')],
    ] as const) {
      const { error, ms } = await failure(call);
      expect(error, operation).toMatchObject({ kind: 'unavailable', operation });
      expect(ms, operation).toBeLessThan(SLACK);
    }
    // The worker's close and BullMQ's disconnect of its own connections wait for Redis: a bound each.
    expect(await elapsed(() => holds.close())).toBeLessThan(3 * TIMEOUT + SLACK);
    expect(await elapsed(() => locks.close())).toBeLessThan(SLACK);
  });
});
