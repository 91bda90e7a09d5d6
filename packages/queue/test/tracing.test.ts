import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { captureSpans } from '../../internal/test/package-tests.js';
import { QueueClosedError, WaitingRoom, type WaitingRoomOptions } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();

describe.each(redisTargets())('tracing on $name', (target) => {
  const redis = useRedis(target);
  const room = (options: Partial<WaitingRoomOptions> = {}) =>
    new WaitingRoom(redis.client, {
      roomId: 'traced-1',
      prefix: redis.prefix,
      tokens,
      maxActive: 10,
      admitPerTick: 1,
      ...options,
    });
  // The optional API is imported when the package loads: each test waits for it, as an app's startup does.
  const { exporter, spans } = captureSpans();

  it('records join and tick with the room id and outcome, and a failed join as an error', async () => {
    const r = room();
    await r.join('u1');
    await r.join('u2');
    await r.tick();
    await r.join('u1');
    await r.close();
    await expect(r.join('u3')).rejects.toBeInstanceOf(QueueClosedError);

    const joins = spans('boxoffice.queue.join');
    expect(joins.map((s) => s.attributes)).toEqual([
      {
        'boxoffice.room_id': 'traced-1',
        'boxoffice.outcome': 'waiting',
        'boxoffice.queue.position': 1,
        'boxoffice.queue.pre_queue': false,
      },
      {
        'boxoffice.room_id': 'traced-1',
        'boxoffice.outcome': 'waiting',
        'boxoffice.queue.position': 2,
        'boxoffice.queue.pre_queue': false,
      },
      { 'boxoffice.room_id': 'traced-1', 'boxoffice.outcome': 'active' },
      { 'boxoffice.room_id': 'traced-1', 'boxoffice.error.code': 'QUEUE_CLOSED' },
    ]);
    expect(joins.map((s) => s.status.code)).toEqual([
      SpanStatusCode.UNSET,
      SpanStatusCode.UNSET,
      SpanStatusCode.UNSET,
      SpanStatusCode.ERROR,
    ]);
    expect(spans('boxoffice.queue.tick').map((s) => s.attributes)).toEqual([
      {
        'boxoffice.room_id': 'traced-1',
        'boxoffice.queue.ticker': false,
        'boxoffice.outcome': 'ticked',
        'boxoffice.queue.tick': 1,
        'boxoffice.queue.admitted': 1,
        'boxoffice.queue.evicted': 0,
        'boxoffice.queue.expired': 0,
        'boxoffice.queue.waiting': 1,
      },
    ]);
  });

  it("records the ticker's rounds", async () => {
    const r = room({ tickMs: 50 });
    try {
      r.start();
      await until(() => spans('boxoffice.queue.tick').length >= 2);
    } finally {
      await r.stop();
      await r.close();
    }
    const first = spans('boxoffice.queue.tick')[0] as ReadableSpan;
    expect(first.attributes).toMatchObject({
      'boxoffice.room_id': 'traced-1',
      'boxoffice.queue.ticker': true,
      'boxoffice.outcome': 'ticked',
    });
  });

  it('records nothing without a tracer provider', async () => {
    trace.disable();
    const r = room();
    await r.join('u1');
    await r.tick();
    await r.close();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
