import type { AddressInfo } from 'node:net';
import { freePort } from '@boxoffice/local-redis';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';

async function listen(app: ReturnType<typeof createApp>) {
  const server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => server.close() };
}

describe.each(redisTargets())('placeholder app on $name Redis', (target) => {
  const redis = useRedis(target);
  let http: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    http = await listen(createApp({ redis: redis.client, redisDescription: target.name }));
  });
  afterAll(() => http.close());

  it('says which Redis it uses', async () => {
    const res = await fetch(`${http.base}/`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { redis: string };
    expect(body.redis).toBe(target.name);
  });

  it('reports Redis health', async () => {
    const res = await fetch(`${http.base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', redis: 'PONG' });
  });
});

describe('when Redis is down', () => {
  it('answers 503 problem+json with Retry-After', async () => {
    const dead = new Redis({
      port: await freePort(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    dead.on('error', () => {});
    const http = await listen(createApp({ redis: dead, redisDescription: 'dead' }));
    try {
      const res = await fetch(`${http.base}/health`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as { type: string };
      expect(body).toMatchObject({ status: 503, code: 'redis-unavailable' });
      expect(body.type).toBe('urn:boxoffice:problem:redis-unavailable');
    } finally {
      http.close();
      dead.disconnect();
    }
  });
});
