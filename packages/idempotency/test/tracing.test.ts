import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { captureSpans } from '../../internal/test/package-tests.js';
import { IdempotencyStore, idempotency } from '../src/index.js';
import { post, serve } from './helpers.js';

// The optional API is imported when the package loads: each test waits for it, as an app's startup does.
const { exporter, spans } = captureSpans();

async function app(store: IdempotencyStore): Promise<string> {
  const { url } = await serve((a) => {
    a.post('/pay', express.json(), idempotency({ store }), (_req, res) => {
      res.status(201).json({ ok: true });
    });
  });
  return `${url}/pay`;
}

describe.each(redisTargets())('tracing on $name', (target) => {
  const redis = useRedis(target);
  const store = () => new IdempotencyStore(redis.client, { prefix: redis.prefix });

  it('records the claim of each request and the replay of a stored response', async () => {
    const url = await app(store());
    expect((await post(url, 'k1')).status).toBe(201);
    expect((await post(url, 'k1')).status).toBe(201);
    expect((await post(url, 'k1', { amount: 5 })).status).toBe(422);

    expect(spans('boxoffice.idempotency.claim').map((s) => s.attributes)).toEqual(
      ['claimed', 'done', 'mismatch'].map((outcome) => ({
        'boxoffice.idempotency.key': 'k1',
        'boxoffice.idempotency.scoped': true, // the default scope: the client address
        'boxoffice.outcome': outcome,
      })),
    );
    const replays = spans('boxoffice.idempotency.replay');
    expect(replays.map((s) => s.attributes)).toEqual([
      {
        'boxoffice.idempotency.key': 'k1',
        'boxoffice.http.status_code': 201,
        'boxoffice.outcome': 'replayed',
      },
    ]);
    expect(replays[0]?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records nothing without a tracer provider', async () => {
    trace.disable();
    const url = await app(store());
    expect((await post(url, 'k2')).status).toBe(201);
    expect((await post(url, 'k2')).status).toBe(201);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('tracing when the store is unreachable', () => {
  it('records the failed claim with error status', async () => {
    const client = await unreachableClient();
    try {
      const url = await app(new IdempotencyStore(client, { commandTimeoutMs: 300 }));
      expect((await post(url, 'k3')).status).toBe(503);
    } finally {
      client.disconnect();
    }
    const [claim] = spans('boxoffice.idempotency.claim');
    expect(claim?.status.code).toBe(SpanStatusCode.ERROR);
    expect(claim?.attributes).toMatchObject({
      'boxoffice.idempotency.key': 'k3',
      'boxoffice.error.code': 'IDEMPOTENCY_STORE_UNAVAILABLE',
    });
    expect(claim?.events.map((e) => e.name)).toEqual(['exception']);
  });
});
