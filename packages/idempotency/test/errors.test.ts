import { createServer, type Server, type Socket } from 'node:net';
import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  IdempotencyError,
  IdempotencyInFlightError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyReuseError,
  IdempotencyStore,
  IdempotencyStoreUnavailableError,
} from '../src/index.js';

// The error scheme every package shares (ARCHITECTURE.md, "Errors").
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A TCP server that accepts connections and never answers: every call times out. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

describe('error scheme', () => {
  it('Redis unreachable: IdempotencyStoreUnavailableError, kind unavailable, stable code, named, an IdempotencyError', async () => {
    const client = await unreachableClient();
    closers.push(() => client.disconnect());
    const store = new IdempotencyStore(client);
    for (const [operation, call] of [
      ['claim', () => store.claim('k')],
      ['get', () => store.get('k')],
    ] as const) {
      const error = await call().catch((e: unknown) => e);
      expect(error, operation).toBeInstanceOf(IdempotencyStoreUnavailableError);
      expect(error, operation).toBeInstanceOf(IdempotencyError);
      expect(error, operation).toMatchObject({
        name: 'IdempotencyStoreUnavailableError',
        code: 'IDEMPOTENCY_STORE_UNAVAILABLE',
        kind: 'unavailable',
        operation,
        status: 503,
      });
      expect((error as Error).cause, operation).toBeInstanceOf(Error);
    }
  });

  it('no answer within timeoutMs: kind timeout', async () => {
    const client = new Redis({ port: await silentServer(), host: '127.0.0.1' });
    client.on('error', () => {});
    closers.push(() => client.disconnect());
    const store = new IdempotencyStore(client, { timeoutMs: 100 });
    const error = await store.claim('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyStoreUnavailableError);
    expect(error).toMatchObject({ kind: 'timeout', operation: 'claim' });
  });

  it('every class is named after itself and has its stable code', () => {
    const cases: [IdempotencyError, string, string][] = [
      [new IdempotencyError('X', 'm'), 'IdempotencyError', 'X'],
      [new IdempotencyKeyReuseError('k', ''), 'IdempotencyKeyReuseError', 'IDEMPOTENCY_KEY_REUSED'],
      [
        new IdempotencyInFlightError('k', '', 1),
        'IdempotencyInFlightError',
        'IDEMPOTENCY_IN_FLIGHT',
      ],
      [
        new IdempotencyKeyInvalidError('missing', 'm'),
        'IdempotencyKeyInvalidError',
        'IDEMPOTENCY_KEY_INVALID',
      ],
      [
        new IdempotencyStoreUnavailableError('get'),
        'IdempotencyStoreUnavailableError',
        'IDEMPOTENCY_STORE_UNAVAILABLE',
      ],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(IdempotencyError);
      expect([error.name, error.code]).toEqual([name, code]);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('a wrong client is a TypeError with the wording every package uses', () => {
    const make = () => new IdempotencyStore({} as never);
    expect(make).toThrow(TypeError);
    expect(make).toThrow('client must be an ioredis Redis or Cluster, got object');
  });
});

describe.each(redisTargets())('error scheme ($name)', (target) => {
  const redis = useRedis(target);

  it('an error reply is kind script, not an outage', async () => {
    const store = new IdempotencyStore(redis.client, { prefix: redis.prefix });
    // The record key as a list: the claim script's GET on it fails inside Redis (WRONGTYPE).
    await redis.client.rpush(store.redisKey('k'), 'x');
    const error = await store.claim('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyStoreUnavailableError);
    expect(error).toMatchObject({ kind: 'script', operation: 'claim' });
  });
});
