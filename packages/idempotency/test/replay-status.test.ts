import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { HEADERS, IdempotencyStore } from '../src/index.js';
import { httpAdapters } from './http-adapters.js';

/** POST with a raw Node request, so the headers are exactly what the server sent. */
function rawPost(
  url: string,
  key: string,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.end('{"amount":100}');
  });
}

describe.each(httpAdapters)('$name', (adapter) => {
  describe.each(redisTargets())('replays of bodiless statuses on $name', (target) => {
    const redis = useRedis(target);

    // RFC 9110 §8.6: no Content-Length with 204; with 304 only the size a 200 would have had.
    it.each([204, 304])('replays %i without a Content-Length', async (status) => {
      let calls = 0;
      const store = new IdempotencyStore(redis.client, { prefix: redis.prefix });
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store },
          handler: (ctx) => {
            calls++;
            ctx.status(status).set('ETag', '"v1"').end();
          },
        },
      ]);
      const key = crypto.randomUUID();
      const first = await rawPost(url, key);
      expect(first.status).toBe(status);
      expect(first.headers['content-length']).toBeUndefined();
      const replay = await rawPost(url, key);
      expect(calls).toBe(1);
      expect(replay.status).toBe(status);
      expect(replay.headers[HEADERS.replayed]).toBe('true');
      expect(replay.headers.etag).toBe('"v1"');
      expect(replay.headers['content-length']).toBeUndefined();
    });
  });
});
