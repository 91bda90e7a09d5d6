import { useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { CONSUMERS } from '../src/concerts/payments/booking-events.js';
import { eventJobs } from './event-jobs.js';
import { call, count, flowCombos, useDatabase, waitFor } from './helpers.js';
import { usePaymentApps } from './payment-fixture.js';

const combos = flowCombos();

describe.each(combos)('payments on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const { instance, login, reserve, pay } = usePaymentApps(fixture, redis);

  const jobState = eventJobs(redis).state;

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
      soldOut: false,
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
    // One dedupe record per event for both consumers (a dedupe costs 4 Redis commands), none each.
    const eventId = `payment.succeeded:${res.body.payment.id}`;
    const store = env.locals.idempotencyStore;
    await waitFor(
      () => store.get(eventId, { scope: 'payment.succeeded' }),
      (record) => record?.state === 'done',
    );
    for (const scope of CONSUMERS) expect(await store.get(eventId, { scope })).toBeNull();
    // ...through the outbox: both messages written with the payment; payment.succeeded is done
    // in the transaction of the last consumer's effect.
    expect(
      (
        await fixture.db.query<{ id: string; done: boolean }>(
          'SELECT id, done_at IS NOT NULL AS done FROM outbox ORDER BY id',
        )
      ).rows,
    ).toEqual([
      { id: `payment.succeeded:${res.body.payment.id}`, done: true },
      { id: `room.complete:${res.body.payment.id}`, done: true },
    ]);
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
      1,
    );
    // The redelivered jobs (new ids, as the relay's re-publish) run to completion, and change nothing.
    await waitFor(
      () => jobState(`payment.succeeded-${res.body.payment.id}-r1`),
      (state) => state === 'completed',
    );
    expect(await consumed()).toBe(2);

    // Another key for a paid reservation, and the same key with another body.
    const second = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'key-2');
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('reservation-not-payable');
    const { reservation: other } = await reserve(env, 'bob', ['A5']);
    const reused = await pay(env.base, paymentToken, { reservationId: other.id }, 'key-1');
    expect(reused.status).toBe(403);
  });

  it('a key whose Redis record is gone answers with its payment; a reservation no longer HELD starts none', async () => {
    const env = await instance();
    const { reservation: first, paymentToken } = await reserve(env, 'kim', ['D1']);
    const paid = await pay(env.base, paymentToken, { reservationId: first.id }, 'kept-key');
    expect(paid.status).toBe(201);
    const payments = env.locals.payments;
    const rowOf = async (id: string) =>
      (await payments.reservation(id)) as NonNullable<
        Awaited<ReturnType<typeof payments.reservation>>
      >;
    // The service called as if the idempotency record had expired (the middleware would replay).
    const again = await payments.pay(await rowOf(first.id), 'kept-key');
    expect(again).toMatchObject({ kind: 'recorded', payment: { id: paid.body.payment.id } });
    // The same key on another HELD reservation of hers: the key's payment, nothing new started.
    const { reservation: second } = await reserve(env, 'kim', ['D2']);
    const before = await count(fixture.db, 'SELECT count(*) FROM payments');
    const reused = await payments.pay(await rowOf(second.id), 'kept-key');
    expect(reused).toMatchObject({ kind: 'recorded', payment: { id: paid.body.payment.id } });
    // Once that reservation is no longer HELD: not payable, by any key, and nothing is written.
    await fixture.db.query(`UPDATE reservations SET status = 'CANCELLED' WHERE id = $1`, [
      second.id,
    ]);
    expect(await payments.pay(await rowOf(second.id), 'kept-key')).toMatchObject({
      kind: 'notPayable',
    });
    expect(await payments.pay(await rowOf(second.id), 'fresh-key')).toMatchObject({
      kind: 'notPayable',
    });
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(before);
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
    // The token is checked before the reservation is looked up: an unknown reservation and
    // another user's answer the same 403, and no answer names another user.
    const unknown = await pay(env.base, paymentToken, { reservationId: crypto.randomUUID() }, 'k');
    const { user: bob, reservation: bobs } = await reserve(env, 'bob', ['B2']);
    const others = await pay(env.base, paymentToken, { reservationId: bobs.id }, 'k');
    for (const res of [unknown, others]) {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'token-forbidden' });
      expect(res.body.detail).toBe('the payment token was issued for another reservation');
    }
    const garbage = await pay(env.base, 'not-a-jwt', { reservationId: bobs.id }, 'k');
    expect(garbage.body.code).toBe('token-invalid');
    expect(JSON.stringify([unknown.body, others.body, garbage.body])).not.toContain(`"${bob.id}"`);
    const bad = await pay(env.base, paymentToken, { reservationId: 'nope' }, 'k');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.reservationId');
    const noKey = await pay(env.base, paymentToken, body);
    expect(noKey.status).toBe(400);
    // The middleware's problems have the app's shape (onProblem): lower-case code, instance, request id.
    expect(noKey.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(noKey.body).toMatchObject({
      type: 'urn:boxoffice:problem:idempotency-key-invalid',
      code: 'idempotency-key-invalid',
      status: 400,
      reason: 'missing',
      instance: '/payments',
      requestId: noKey.headers.get('x-request-id'),
    });
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(0);

    const ok = await pay(env.base, paymentToken, body, 'k');
    expect(ok.status).toBe(201);
    const reused = await pay(env.base, paymentToken, { ...body, note: 'x' }, 'k');
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({
      type: 'urn:boxoffice:problem:idempotency-key-reused',
      code: 'idempotency-key-reused',
      status: 422,
      requestId: reused.headers.get('x-request-id'),
    });
    expect(reused.body).not.toHaveProperty('scope');
    const conflicts = await env.metrics.registry.getSingleMetricAsString(
      'boxoffice_idempotency_conflicts_total',
    );
    expect(conflicts).toContain('route="/payments",code="idempotency-key-reused"} 1');
    expect(conflicts).toContain('route="/payments",code="idempotency-key-invalid"} 1');
  });

  it('a decline: 402, payment FAILED, reservation CANCELLED, seats AVAILABLE; the retry replays it', async () => {
    const env = await instance({ gateway: { failureRate: 1 } });
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

  it('a hold Redis lost: 409 reservation-not-payable, payment FAILED, reservation EXPIRED, seats AVAILABLE; the retry replays it, nothing charged', async () => {
    const env = await instance();
    const { reservation, paymentToken } = await reserve(env, 'alice', ['B6', 'B7']);
    // What a redis-server restarted without persistence does to the hold: its record is gone.
    await redis.client.del(`${redis.prefix}:{holds}:h:${reservation.holdId}`);
    const res = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'lost-1');
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'reservation-not-payable', holdState: 'lost' });
    expect(
      (
        await fixture.db.query<{ status: string; failure_reason: string }>(
          'SELECT status, failure_reason FROM payments WHERE reservation_id = $1',
          [reservation.id],
        )
      ).rows,
    ).toEqual([{ status: 'FAILED', failure_reason: 'hold-lost' }]);
    expect(await statusOf('reservations', 'id = $1', reservation.id)).toEqual(['EXPIRED']);
    expect(await statusOf('seats', 'id = ANY($1::int[])', reservation.seatIds)).toEqual([
      'AVAILABLE',
      'AVAILABLE',
    ]);
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'reservation.expired' AND subject = $1",
        [`reservation:${reservation.id}`],
      ),
    ).toBe(1);
    const replay = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'lost-1');
    expect(replay.status).toBe(409);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.code).toBe('reservation-not-payable');
    expect(await count(fixture.db, 'SELECT count(*) FROM payments')).toBe(1);
    expect(await env.gateway.capturedFor(reservation.id)).toEqual([]);
  });

  it('a gateway timeout that charged: 202 RETRY_SCHEDULED, the BullMQ retry with the same key succeeds, one charge', async () => {
    const env = await instance({
      gateway: { timeoutRate: 1, chargedOnTimeoutRate: 1, timeoutMs: 50 },
    });
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

  it('a last attempt that charged but timed out: the ledger decides, 201 SUCCEEDED, not FAILED with a capture', async () => {
    const env = await instance({
      gateway: { timeoutRate: 1, chargedOnTimeoutRate: 1, timeoutMs: 50 },
      paymentRetries: { maxAttempts: 1 },
    });
    const { reservation, paymentToken } = await reserve(env, 'erin', ['B5']);
    const res = await pay(env.base, paymentToken, { reservationId: reservation.id }, 'last-1');
    expect(res.status).toBe(201);
    expect(res.body.payment).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(await statusOf('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
    expect(await env.gateway.capturedFor(reservation.id)).toHaveLength(1);
  });

  it('concurrent requests with one key: one payment, one charge, the same answer', async () => {
    const env = await instance({ gateway: { latencyMs: 150 } });
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
      count(fixture.db, 'SELECT available FROM product_stock WHERE product_id = 4');
    const before = await stock();
    const send = () =>
      call(env.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 4, quantity: 2 }] },
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
      body: { items: [{ productId: 4, quantity: 1 }] },
    });
    expect(plain.status).toBe(201);
    expect(await stock()).toBe(before - 3);
  });
});
