import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { HEADERS, IdempotencyStore, idempotency } from '../src/index.js';
import { post, serve } from './helpers.js';

// What only Express handlers can do to `res` (the shared suite, middleware.test.ts, covers the rest).
describe.each(redisTargets())('Express response capture on $name', (target) => {
  const redis = useRedis(target);

  it('captures res.end with an encoding and res.sendStatus', async () => {
    let calls = 0;
    const { url } = await serve((app) => {
      const mw = idempotency({
        store: new IdempotencyStore(redis.client, { prefix: redis.prefix }),
      });
      app.post('/hex', express.json(), mw, (_req, res) => {
        calls++;
        res.setHeader('content-type', 'application/octet-stream');
        res.end('00ff10', 'hex');
      });
      app.post('/status', express.json(), mw, (_req, res) => {
        calls++;
        res.sendStatus(202);
      });
    });
    for (const path of ['/hex', '/status']) {
      const key = crypto.randomUUID();
      const a = await post(`${url}${path}`, key);
      const aBody = Buffer.from(await a.arrayBuffer());
      const b = await post(`${url}${path}`, key);
      const bBody = Buffer.from(await b.arrayBuffer());
      expect(b.headers.get(HEADERS.replayed), path).toBe('true');
      expect(b.status).toBe(a.status);
      expect(bBody.equals(aBody), path).toBe(true);
    }
    expect(calls).toBe(2);
  });
});
