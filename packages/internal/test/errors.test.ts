import { createServer, type Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { redisTargets, unreachableClient, useRedis } from '../../local-redis/src/testing.js';
import {
  callFailureKind,
  ioredisClient,
  isRedisOutage,
  redisFailureKind,
  wrongClientError,
} from '../src/index.js';

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('redisFailureKind', () => {
  const redis = useRedis(standalone);

  it('unavailable: a client of a closed port without an offline queue', async () => {
    const dead = await unreachableClient();
    closers.push(() => dead.disconnect());
    const error = await dead.get('k').catch((e: unknown) => e);
    expect(redisFailureKind(error)).toBe('unavailable');
    expect(isRedisOutage(redisFailureKind(error))).toBe(true);
  });

  it('unavailable: a Cluster client whose nodes are not there, without an offline queue', async () => {
    const dead = await unreachableClient();
    const cluster = new Cluster([{ host: '127.0.0.1', port: dead.options.port as number }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: () => null,
    });
    dead.disconnect();
    cluster.on('error', () => {});
    closers.push(() => cluster.disconnect());
    const error = await cluster.get('k').catch((e: unknown) => e);
    expect(redisFailureKind(error)).toBe('unavailable');
  });

  it('unavailable: a client that was closed', async () => {
    const client = redis.connect();
    await client.ping();
    client.disconnect();
    const error = await client.get('k').catch((e: unknown) => e);
    expect(redisFailureKind(error)).toBe('unavailable');
  });

  it('unavailable: retries per request exhausted while reconnecting', async () => {
    const dead = await unreachableClient();
    const queued = new Redis({
      ...dead.options,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 10,
    });
    dead.disconnect();
    queued.on('error', () => {});
    closers.push(() => queued.disconnect());
    const error = await queued.get('k').catch((e: unknown) => e);
    expect((error as Error).name).toBe('MaxRetriesPerRequestError');
    expect(redisFailureKind(error)).toBe('unavailable');
  });

  it('timeout: a server that accepts and never answers, with commandTimeout', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    const port = (server.address() as { port: number }).port;
    const silent = new Redis({
      port,
      host: '127.0.0.1',
      commandTimeout: 50,
      retryStrategy: () => null,
    });
    silent.on('error', () => {});
    closers.push(() => silent.disconnect());
    const error = await silent.get('k').catch((e: unknown) => e);
    expect(redisFailureKind(error)).toBe('timeout');
  });

  it('script: an error reply is not an outage', async () => {
    const error = await redis.client.call('NO_SUCH_COMMAND').catch((e: unknown) => e);
    expect(redisFailureKind(error)).toBe('script');
    expect(isRedisOutage(redisFailureKind(error))).toBe(false);
    await redis.client.set(`${redis.prefix}:n`, 'x');
    const wrongType = await redis.client.incr(`${redis.prefix}:n`).catch((e: unknown) => e);
    expect(redisFailureKind(wrongType)).toBe('script');
  });

  it('unavailable: error replies that mean the server cannot serve now', () => {
    for (const word of ['LOADING', 'CLUSTERDOWN', 'MASTERDOWN', 'TRYAGAIN', 'READONLY']) {
      const reply = Object.assign(new Error(`${word} try later`), { name: 'ReplyError' });
      expect(redisFailureKind(reply), word).toBe('unavailable');
    }
  });

  it('undefined for errors that are not Redis failures; a kind already carried is kept', () => {
    expect(redisFailureKind(new TypeError('x is not a function'))).toBeUndefined();
    expect(redisFailureKind(new DOMException('aborted', 'AbortError'))).toBeUndefined();
    expect(redisFailureKind(new Error('Connection is closed by the database'))).toBeUndefined();
    expect(redisFailureKind('Connection is closed.')).toBeUndefined();
    expect(redisFailureKind(Object.assign(new Error('x'), { kind: 'quorum' }))).toBe('quorum');
    expect(redisFailureKind(Object.assign(new Error('x'), { kind: 'nonsense' }))).toBeUndefined();
    expect(callFailureKind(new Error('anything a call rejects with'))).toBe('unavailable');
  });
});

describe('ioredisClient', () => {
  const redis = useRedis(standalone);

  it('accepts a client and refuses anything else with one wording', () => {
    expect(ioredisClient('client', redis.client)).toBe(redis.client);
    for (const bad of [null, undefined, 42, 'redis://x', {}, { defineCommand() {} }]) {
      expect(() => ioredisClient('client', bad)).toThrow(TypeError);
      expect(() => ioredisClient('client', bad)).toThrow(
        /^client must be an ioredis Redis or Cluster, got /,
      );
    }
    expect(wrongClientError('redis[1]', 42).message).toBe(
      'redis[1] must be an ioredis Redis or Cluster, got 42',
    );
  });
});
