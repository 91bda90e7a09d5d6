import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AccessTokenError,
  QueueClosedError,
  QueueError,
  QueueRedisError,
  TokenExpiredError,
  TokenForbiddenError,
  TokenInvalidError,
  TokenRevokedError,
  WaitingRoom,
} from '../src/index.js';
import { hsTokens } from './helpers.js';

// The error scheme every package shares (ARCHITECTURE.md, "Errors").
const tokens = hsTokens();
const dead: Redis[] = [];
afterEach(() => {
  for (const c of dead.splice(0)) c.disconnect();
});

describe('error scheme', () => {
  it('Redis unreachable: QueueRedisError, kind unavailable, stable code, named, a QueueError', async () => {
    const client = await unreachableClient();
    dead.push(client);
    const room = new WaitingRoom(client, { roomId: 'r', tokens, maxActive: 1 });
    const calls: [string, () => Promise<unknown>][] = [
      ['visit', () => room.join('alice')],
      ['leave', () => room.leave('alice')],
      ['complete', () => room.complete('alice')],
      ['tick', () => room.tick()],
      ['stats', () => room.stats()],
      ['configure', () => room.configure({ maxActive: 2 })],
      ['pause', () => room.pause()],
      ['isTokenActive', () => room.isTokenActive({ sub: 'alice', aud: 'r', jti: 'j' })],
    ];
    for (const [operation, call] of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error, operation).toBeInstanceOf(QueueRedisError);
      expect(error, operation).toBeInstanceOf(QueueError);
      expect(error, operation).toMatchObject({
        name: 'QueueRedisError',
        code: 'REDIS_FAILURE',
        kind: 'unavailable',
        operation,
      });
      expect((error as Error).cause, operation).toBeInstanceOf(Error);
    }
  });

  it('every class is named after itself and has its stable code', () => {
    const cases: [QueueError, string, string][] = [
      [new QueueError('X', 'm'), 'QueueError', 'X'],
      [new QueueRedisError('tick', 'timeout', 'm'), 'QueueRedisError', 'REDIS_FAILURE'],
      [new QueueClosedError('r', 'closed'), 'QueueClosedError', 'QUEUE_CLOSED'],
      [new QueueClosedError('r', 'not-open'), 'QueueClosedError', 'QUEUE_NOT_OPEN'],
      [new AccessTokenError('TOKEN_INVALID', 'm'), 'AccessTokenError', 'TOKEN_INVALID'],
      [new TokenInvalidError('TOKEN_MISSING', 'm'), 'TokenInvalidError', 'TOKEN_MISSING'],
      [new TokenExpiredError(undefined), 'TokenExpiredError', 'TOKEN_EXPIRED'],
      [new TokenRevokedError('j'), 'TokenRevokedError', 'TOKEN_REVOKED'],
      [new TokenForbiddenError('aud', 'a', 'b'), 'TokenForbiddenError', 'TOKEN_FORBIDDEN'],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(QueueError);
      expect([error.name, error.code]).toEqual([name, code]);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('a wrong client is a TypeError with the wording every package uses', () => {
    const make = () => new WaitingRoom({} as never, { roomId: 'r', tokens, maxActive: 1 });
    expect(make).toThrow(TypeError);
    expect(make).toThrow('client must be an ioredis Redis or Cluster, got object');
  });
});

describe.each(redisTargets())('error scheme ($name)', (target) => {
  const redis = useRedis(target);

  it('an error reply is kind script, not an outage', async () => {
    const room = new WaitingRoom(redis.client, {
      roomId: 'r',
      prefix: redis.prefix,
      tokens,
      maxActive: 1,
    });
    // The active-users hash as another type: HGET on it fails inside Redis (WRONGTYPE).
    await redis.client.set(`${redis.prefix}:q:{r}:t`, 'x');
    const error = await room
      .isTokenActive({ sub: 'alice', aud: 'r', jti: 'j' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueRedisError);
    expect(error).toMatchObject({
      code: 'REDIS_FAILURE',
      kind: 'script',
      operation: 'isTokenActive',
    });
  });
});
