import { useRedis } from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppLocals, createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import {
  MockPaymentGateway,
  type MockPaymentGatewayOptions,
} from '../src/payments/mock-payment-gateway.js';
import { ConcertRooms } from '../src/queue/concert-rooms.js';
import { call, count, flowCombos, listen, SECRET, useDatabase, waitFor } from './helpers.js';

const combos = flowCombos();

describe.each(combos)('payments on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  const instance = async (gatewayOptions: MockPaymentGatewayOptions = {}) => {
    const client = redis.connect();
    const logger = createLogger('silent');
    const rooms = new ConcertRooms(client, {
      secret: SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 100, admitPerTick: 100 },
      tick: false,
      logger,
    });
    const holds = new SeatHolds(client, { prefix: redis.prefix });
    const gateway = new MockPaymentGateway(fixture.db, { latencyMs: 5, ...gatewayOptions });
    const metrics = new AppMetrics({ defaultMetrics: false });
    const app = createApp({
      db: fixture.db,
      redis: client,
      auth,
      rooms,
      holds,
      paymentGateway: gateway,
      paymentRetries: { retryDelayMs: 200 },
      metrics,
      logger,
      redisPrefix: redis.prefix,
    });
    const locals = app.locals as AppLocals;
    locals.startWorkers();
    const http = await listen(app);
    opened.push({ close: () => holds.close() }, { close: () => rooms.close() }, locals, http);
    return { base: http.base, rooms, gateway, locals, metrics };
  };

  const login = async (base: string, name: string) => {
    const res = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    return { token: res.body.token as string, id: res.body.user.id as number };
  };

  /** Admit `name`, hold `labels` of concert 1; returns the tokens and the reservation. */
  const reserve = async (
    env: Awaited<ReturnType<typeof instance>>,
    name: string,
    labels: string[],
  ) => {
    const user = await login(env.base, name);
    await call(env.base, 'POST', '/concerts/1/queue', { token: user.token });
    await env.rooms.room(1).tick();
    const entry = (await call(env.base, 'GET', '/concerts/1/queue', { token: user.token })).body
      .token as string;
    const map = await call(env.base, 'GET', '/concerts/1');
    const seatIds = labels.map(
      (l) => (map.body.seats as { id: number; label: string }[]).find((s) => s.label === l)?.id,
    );
    const res = await call(env.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds },
    });
    expect(res.status).toBe(201);
    return {
      user,
      entry,
      reservation: res.body.reservation,
      paymentToken: res.body.paymentToken as string,
    };
  };

  const pay = (base: string, token: string | undefined, body: unknown, key?: string) =>
    call(base, 'POST', '/payments', {
      token,
      body,
      headers: key ? { 'idempotency-key': `"${key}"` } : {},
    });

  const statusOf = async (table: 'reservations' | 'seats', where: string, param: unknown) =>
    (
      await fixture.db.query<{ status: string }>(`SELECT status FROM ${table} WHERE ${where}`, [
        param,
      ])
    ).rows.map((r) => r.status);

  it('201: charged once, reservation CONFIRMED, seats ASSIGNED, room completed, events consumed once', async () => {
    const env = await instance();
    const { user, entry, reservation, paymentToken } = await reserve(env, 'alice', ['A1', 'A2']);
    const res = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'key-1');
    expect(res.status).toBe(201);
    expect(res.body.payment).toMatchObject({
      status: 'SUCCEEDED',
      amount: reservation.amount,
      reservationId: reservation.id,
      attempts: 1,
    });
    expect(res.headers.get('location')).toBe(`/payments/${res.body.payment.id}`);
    const replay = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'key-1');
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(res.body);
    expect(
      await env.metrics.registry.getSingleMetricAsString('boxoffice_idempotent_replays_total'),
    ).toMatch(/route="\/payments"} 1/);

    expect(await statusOf('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
    expect(await statusOf('seats', 'reservation_id = $1', reservation.id)).toEqual([
      'ASSIGNED',
      'ASSIGNED',
    ]);
    expect(await env.gateway.capturedFor(reservation.id)).toHaveLength(1);
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(1);
    // The user completed the waiting room: slot freed, queue_entry token revoked.
    expect((await call(env.base, 'GET', '/concerts/1/queue', { token: user.token })).body).toEqual({
      state: 'unknown',
    });
    const again = await call(env.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [reservation.seatIds[0]] },
    });
    expect(again.body.code).toBe('token-revoked');
    const mine = await call(env.base, 'GET', `/payments/${res.body.payment.id}`, {
      token: user.token,
    });
    expect(mine.body.payment.status).toBe('SUCCEEDED');

    // Both consumers processed payment.succeeded once; a duplicate delivery changes nothing.
    const subject = `event:payment.succeeded:${res.body.payment.id}`;
    const consumed = () =>
      count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE subject = $1 AND type IN ('email.sent', 'sales.recorded')",
        [subject],
      );
    await waitFor(consumed, (n) => n === 2);
    await env.locals.bookingEvents.publish(
      {
        eventId: `payment.succeeded:${res.body.payment.id}`,
        paymentId: res.body.payment.id,
        reservationId: reservation.id,
        userId: user.id,
        concertId: 1,
        seatIds: reservation.seatIds,
        amount: reservation.amount,
        at: new Date().toISOString(),
      },
      'redelivery',
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await consumed()).toBe(2);

    // Another key for a paid reservation, and the same key with another body.
    const second = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'key-2');
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('reservation-not-payable');
    const { reservation: other } = await reserve(env, 'bob', ['A5']);
    const reused = await pay(env.base, paymentToken, { reservationId: other.id }, 'key-1');
    expect(reused.status).toBe(403);
  });

  it('401/403/404/400 before anything is charged; 422 for a reused key', async () => {
    const env = await instance();
    const { user, entry, reservation, paymentToken } = await reserve(env, 'alice', ['B1']);
    const body = { reservationId: reservation.id };
    expect((await pay(env.base, undefined, body, 'k')).body.code).toBe('token-missing');
    expect((await pay(env.base, user.token, body, 'k')).status).toBe(401);
    const wrongScope = await pay(env.base, entry, body, 'k');
    expect(wrongScope.status).toBe(403);
    expect(wrongScope.body.code).toBe('token-forbidden');
    expect(
      (await pay(env.base, paymentToken, { reservationId: crypto.randomUUID() }, 'k')).status,
    ).toBe(404);
    const bad = await pay(env.base, paymentToken, { reservationId: 'nope' }, 'k');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.reservationId');
    const noKey = await pay(env.base, paymentToken, body);
    expect(noKey.status).toBe(400);
    expect(noKey.body.code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(0);

    const ok = await pay(env.base, paymentToken, body, 'k');
    expect(ok.status).toBe(201);
    const reused = await pay(env.base, paymentToken, { ...body, note: 'x' }, 'k');
    expect(reused.status).toBe(422);
  });

  it('a decline: 402, payment FAILED, reservation CANCELLED, seats AVAILABLE; the retry replays it', async () => {
    const env = await instance({ failureRate: 1 });
    const { reservation, paymentToken } = await reserve(env, 'alice', ['B2']);
    const res = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'd1');
    expect(res.status).toBe(402);
    expect(res.body.code).toBe('payment-declined');
    expect(await statusOf('reservations', 'id = $1', reservation.id)).toEqual(['CANCELLED']);
    expect(await statusOf('seats', 'id = $1', reservation.seatIds[0])).toEqual(['AVAILABLE']);
    expect(await statusOf('payments' as 'seats', 'reservation_id = $1', reservation.id)).toEqual([
      'FAILED',
    ]);
    const replay = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'd1');
    expect(replay.status).toBe(402);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('a gateway timeout that charged: 202 RETRY_SCHEDULED, the BullMQ retry with the same key succeeds, one charge', async () => {
    const env = await instance({ timeoutRate: 1, chargedOnTimeoutRate: 1, timeoutMs: 50 });
    const { reservation, paymentToken } = await reserve(env, 'alice', ['B3', 'B4']);
    const res = await pay(env.base, paymentToken, { reservationId: reservation.id }, 't1');
    expect(res.status).toBe(202);
    expect(res.body.payment).toMatchObject({ status: 'RETRY_SCHEDULED', attempts: 1 });
    expect(res.body.payment.nextRetryAt).not.toBeNull();
    await waitFor(
      () => statusOf('payments' as 'seats', 'id = $1', res.body.payment.id),
      (s) => s[0] === 'SUCCEEDED',
    );
    expect(await statusOf('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
    expect(await env.gateway.capturedFor(reservation.id)).toHaveLength(1);
    const attempts = await count(fixture.db, 'SELECT attempts FROM payments WHERE id = $1', [
      res.body.payment.id,
    ]);
    expect(attempts).toBe(2);
  });

  it('concurrent requests with one key: one payment, one charge, the same answer', async () => {
    const env = await instance({ latencyMs: 150 });
    const { reservation, paymentToken } = await reserve(env, 'alice', ['B5']);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        pay(env.base, paymentToken, { reservationId: reservation.id }, 'same'),
      ),
    );
    for (const a of answers) expect(a.status).toBe(201);
    expect(new Set(answers.map((a) => a.body.payment.id)).size).toBe(1);
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(1);
    expect(await env.gateway.capturedFor(reservation.id)).toHaveLength(1);
  });

  it('POST /orders with an Idempotency-Key places one order however often it is sent', async () => {
    const env = await instance();
    const { token } = await login(env.base, 'shopper');
    const stock = () =>
      count(fixture.db, 'SELECT available FROM product_stock WHERE product_id = 3');
    const before = await stock();
    const send = () =>
      call(env.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 3, quantity: 2 }] },
        headers: { 'idempotency-key': '"order-1"' },
      });
    const answers = await Promise.all([send(), send(), send()]);
    for (const a of answers) expect(a.status).toBe(201);
    expect(new Set(answers.map((a) => a.body.order.id)).size).toBe(1);
    expect(await stock()).toBe(before - 2);
    expect((await send()).headers.get('idempotent-replayed')).toBe('true');
    // Without a key it still works (the key is optional on orders).
    const plain = await call(env.base, 'POST', '/orders', {
      token,
      body: { items: [{ productId: 3, quantity: 1 }] },
    });
    expect(plain.status).toBe(201);
    expect(await stock()).toBe(before - 3);
  });
});
