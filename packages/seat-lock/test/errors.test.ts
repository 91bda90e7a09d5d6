import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { HoldNotFoundError, SeatHolds } from '../src/holds.js';
import {
  LockLostError,
  LockTimeoutError,
  SeatLock,
  SeatLockError,
  SeatLockRedisError,
} from '../src/index.js';

// The error scheme every package shares (ARCHITECTURE.md, "Errors").
const dead: (Redis | Cluster)[] = [];
afterEach(() => {
  for (const c of dead.splice(0)) c.disconnect();
});

describe('error scheme', () => {
  it('Redis unreachable: SeatLockRedisError, kind unavailable, stable code, named, a SeatLockError', async () => {
    const client = await unreachableClient();
    dead.push(client);
    const error = await new SeatLock(client).tryAcquire(['A1']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeatLockRedisError);
    expect(error).toBeInstanceOf(SeatLockError);
    expect(error).toMatchObject({
      name: 'SeatLockRedisError',
      code: 'REDIS_FAILURE',
      kind: 'unavailable',
      operation: 'acquire',
    });
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('every class is named after itself and has its stable code', () => {
    const cases: [SeatLockError, string, string][] = [
      [new SeatLockError('X', 'm'), 'SeatLockError', 'X'],
      [new LockTimeoutError(['a'], 'a', null, 1), 'LockTimeoutError', 'LOCK_TIMEOUT'],
      [new LockLostError(['a'], 't'), 'LockLostError', 'LOCK_LOST'],
      [new SeatLockRedisError('op', 'timeout', 'm'), 'SeatLockRedisError', 'REDIS_FAILURE'],
      [new HoldNotFoundError('h'), 'HoldNotFoundError', 'HOLD_NOT_FOUND'],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(SeatLockError);
      expect([error.name, error.code]).toEqual([name, code]);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('a wrong client is a TypeError with the wording every package uses', () => {
    for (const make of [() => new SeatLock({} as never), () => new SeatHolds(null as never)]) {
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/^redis must be an ioredis Redis or Cluster, got (object|null)$/);
    }
    expect(() => new SeatLock([{} as never])).toThrow(
      'redis[0] must be an ioredis Redis or Cluster, got object',
    );
  });

  it('SeatHolds on a client with an ioredis keyPrefix is a TypeError at construction, naming the prefix option', () => {
    // BullMQ refuses such a client only later, untyped, at the first place() or onExpire().
    const clients = [
      new Redis({ lazyConnect: true, keyPrefix: 'app:' }),
      new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true, keyPrefix: 'app:' }),
    ];
    dead.push(...clients);
    for (const client of clients) {
      const make = () => new SeatHolds(client);
      expect(make).toThrow(TypeError);
      expect(make).toThrow(/keyPrefix "app:".*`prefix` option/);
    }
  });
});

describe.each(redisTargets())('error scheme ($name)', (target) => {
  const redis = useRedis(target);

  it('an error reply is kind script, not an outage', async () => {
    // Not a string: SET on it fails inside Redis (WRONGTYPE).
    await redis.client.rpush(`${redis.prefix}:lock:{B1}`, 'x');
    const error = await new SeatLock(redis.client, { prefix: redis.prefix })
      .tryAcquire(['B1'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeatLockRedisError);
    expect(error).toMatchObject({ code: 'REDIS_FAILURE', kind: 'script' });
  });
});
