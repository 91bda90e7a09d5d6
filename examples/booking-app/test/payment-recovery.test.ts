import { useRedis } from '@boxoffice/local-redis/testing';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { MockPaymentGateway } from '../src/concerts/payments/mock-payment-gateway.js';
import type { RecoveryOutcome } from '../src/concerts/payments/payment-service.js';
import { PaymentDeclinedError } from '../src/errors.js';
import { call, count, flowCombos, useDatabase, waitFor } from './helpers.js';
import { type PaymentApp, usePaymentApps } from './payment-fixture.js';

// The database decides here (guarded UPDATEs, row locks); Cluster adds nothing to these paths.
const combos = flowCombos().filter((c) => c.redis.name === 'standalone');

describe.each(combos)('payment recovery on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const { instance, reserve, pay } = usePaymentApps(fixture, redis);
  const recovery = { afterMs: 30_000 };

  /**
   * What `POST /payments` had done when its process died during the gateway call: the payment in
   * PG_REQUESTED (attempt `attempts`), the hold confirmed, and — per `ledger` — the gateway having
   * captured the charge (the answer lost), declined it, or never seen it.
   */
  const diedDuringCharge = async (
    env: PaymentApp,
    name: string,
    labels: string[],
    ledger: 'captured' | 'declined' | 'none',
    attempts = 1,
  ) => {
    const { user, reservation, paymentToken } = await reserve(env, name, labels);
    const key = `${name}-key`;
    const { rows } = await fixture.db.query<{ id: string }>(
      `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status, attempts)
       VALUES ($1, $2, $3, $4, 'PG_REQUESTED', $5) RETURNING id`,
      [reservation.id, user.id, key, reservation.amount, attempts],
    );
    expect((await env.holds.confirm(reservation.holdId)).ok).toBe(true);
    if (ledger !== 'none') {
      const psp = new MockPaymentGateway(fixture.db, {
        latencyMs: 0,
        failureRate: ledger === 'declined' ? 1 : 0,
      });
      const charged = psp.charge({
        idempotencyKey: `${user.id}:${key}`,
        amount: reservation.amount,
        reference: reservation.id,
      });
      if (ledger === 'declined') await expect(charged).rejects.toThrow(PaymentDeclinedError);
      else await charged;
    }
    return { user, reservation, paymentToken, key, paymentId: (rows[0] as { id: string }).id };
  };

  /** Make the payment look `minutes` old to the recovery. */
  const age = (paymentId: string, minutes = 10) =>
    fixture.db.query(
      `UPDATE payments SET updated_at = now() - $2 * interval '1 minute' WHERE id = $1`,
      [paymentId, minutes],
    );

  const row = async (paymentId: string) =>
    (
      await fixture.db.query<{
        status: string;
        attempts: number;
        gateway_charge_id: string | null;
        failure_reason: string | null;
      }>('SELECT status, attempts, gateway_charge_id, failure_reason FROM payments WHERE id = $1', [
        paymentId,
      ])
    ).rows[0];

  const statuses = async (table: 'reservations' | 'seats', where: string, param: unknown) =>
    (
      await fixture.db.query<{ status: string }>(`SELECT status FROM ${table} WHERE ${where}`, [
        param,
      ])
    ).rows.map((r) => r.status);

  /** Two instances (their own database pools) recovering at the same moment. */
  const twoInstances = async () => [
    await instance({ workers: false, paymentRecovery: recovery }),
    await instance({ db: await fixture.another(), workers: false, paymentRecovery: recovery }),
  ];

  const envsRunOnce = (envs: PaymentApp[]) => envs.map((e) => e.locals.paymentRecovery.runOnce());

  const outcomesOf = async (envs: PaymentApp[], paymentId: string) => {
    const rounds = await Promise.all(envs.map((e) => e.locals.paymentRecovery.runOnce()));
    return rounds
      .map((r) => r.get(paymentId))
      .filter((o): o is RecoveryOutcome => o !== undefined && o !== 'skipped');
  };

  it('a charge the gateway captured before the crash: SUCCEEDED exactly once through the normal success path', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    a.locals.bookingEvents.startConsumers();
    const { user, reservation, paymentToken, key, paymentId } = await diedDuringCharge(
      a,
      'alice',
      ['D1', 'D2'],
      'captured',
    );
    // Too recent: it may still be in flight, so nobody touches it.
    expect((await a.locals.paymentRecovery.runOnce()).size).toBe(0);
    expect((await row(paymentId))?.status).toBe('PG_REQUESTED');

    await age(paymentId);
    expect(await outcomesOf([a, b], paymentId)).toEqual(['succeeded']);
    const [charge, ...more] = await a.gateway.capturedFor(reservation.id);
    expect(more).toEqual([]);
    expect(await row(paymentId)).toEqual({
      status: 'SUCCEEDED',
      attempts: 1,
      gateway_charge_id: charge?.id,
      failure_reason: null,
    });
    expect(await statuses('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
    expect(await statuses('seats', 'reservation_id = $1', reservation.id)).toEqual([
      'ASSIGNED',
      'ASSIGNED',
    ]);
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'payment.succeeded' AND subject = $1",
        [`payment:${paymentId}`],
      ),
    ).toBe(1);
    // The outbox's effects: the room completed, payment.succeeded consumed once by each consumer
    // (the last of which finishes its outbox row).
    expect((await call(a.base, 'GET', '/concerts/1/queue', { token: user.token })).body.state).toBe(
      'unknown',
    );
    await waitFor(
      () =>
        count(
          fixture.db,
          "SELECT count(*) FROM business_events WHERE subject = $1 AND type IN ('email.sent', 'sales.recorded')",
          [`event:payment.succeeded:${paymentId}`],
        ),
      (n) => n === 2,
    );
    expect(await count(fixture.db, 'SELECT count(*) FROM outbox WHERE done_at IS NULL')).toBe(0);
    // A later round finds nothing, and the client's retry with its key gets the payment, uncharged.
    expect((await b.locals.paymentRecovery.runOnce()).size).toBe(0);
    const retry = await pay(b.base, paymentToken, { reservationId: reservation.id }, key);
    expect(retry.status).toBe(201);
    expect(retry.body.payment).toMatchObject({ id: paymentId, status: 'SUCCEEDED' });
    expect(await a.gateway.capturedFor(reservation.id)).toHaveLength(1);
    const recovered = await a.metrics.registry.getSingleMetricAsString(
      'boxoffice_payment_recoveries_total',
    );
    const recoveredB = await b.metrics.registry.getSingleMetricAsString(
      'boxoffice_payment_recoveries_total',
    );
    expect(`${recovered}\n${recoveredB}`.match(/outcome="succeeded"} 1/g)).toHaveLength(1);
  });

  it('no charge in the ledger: one retry is scheduled (not two), and the retry charges once', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const { reservation, paymentId } = await diedDuringCharge(a, 'bob', ['D3'], 'none');
    await age(paymentId);
    expect(await outcomesOf([a, b], paymentId)).toEqual(['retry_scheduled']);
    expect((await row(paymentId))?.status).toBe('RETRY_SCHEDULED');
    expect(await a.gateway.capturedFor(reservation.id)).toEqual([]);

    a.locals.payments.startRetries();
    b.locals.payments.startRetries();
    await waitFor(
      async () => (await row(paymentId))?.status,
      (s) => s === 'SUCCEEDED',
    );
    expect((await row(paymentId))?.attempts).toBe(2);
    expect(await a.gateway.capturedFor(reservation.id)).toHaveLength(1);
    expect(await statuses('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
  });

  it('retries exhausted or a declined charge: FAILED once, reservation CANCELLED, seats AVAILABLE, nothing charged', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const exhausted = await diedDuringCharge(a, 'carol', ['D4'], 'none', 5);
    const declined = await diedDuringCharge(a, 'dave', ['D5'], 'declined');
    await age(exhausted.paymentId);
    await age(declined.paymentId);
    const rounds = await Promise.all([
      a.locals.paymentRecovery.runOnce(),
      b.locals.paymentRecovery.runOnce(),
    ]);
    const settled = (id: string) =>
      rounds.map((r) => r.get(id)).filter((o) => o !== undefined && o !== 'skipped');
    expect(settled(exhausted.paymentId)).toEqual(['failed']);
    expect(settled(declined.paymentId)).toEqual(['declined']);

    expect(await row(exhausted.paymentId)).toMatchObject({
      status: 'FAILED',
      attempts: 5,
      failure_reason: 'retries-exhausted',
    });
    expect(await row(declined.paymentId)).toMatchObject({
      status: 'FAILED',
      failure_reason: 'card_declined',
    });
    for (const { reservation, paymentId } of [exhausted, declined]) {
      expect(await statuses('reservations', 'id = $1', reservation.id)).toEqual(['CANCELLED']);
      expect(await statuses('seats', 'id = $1', reservation.seatIds[0])).toEqual(['AVAILABLE']);
      expect(await a.gateway.capturedFor(reservation.id)).toEqual([]);
      expect(
        await count(
          fixture.db,
          "SELECT count(*) FROM business_events WHERE type = 'payment.failed' AND subject = $1",
          [`payment:${paymentId}`],
        ),
      ).toBe(1);
    }
    expect(await count(fixture.db, 'SELECT count(*) FROM outbox')).toBe(0);
  });

  /**
   * A payment its process left behind before the gateway call: STARTED (the hold confirmed or
   * not, per `hold`), or RETRY_SCHEDULED after a timeout whose retry job was never queued (the
   * gateway having charged anyway or not, per `ledger`).
   */
  const leftBehind = async (
    env: PaymentApp,
    name: string,
    labels: string[],
    status: 'STARTED' | 'RETRY_SCHEDULED',
    hold: 'confirmed' | 'held' | 'lost',
    ledger: 'captured' | 'none' = 'none',
  ) => {
    const { user, reservation, paymentToken } = await reserve(env, name, labels);
    const key = `${name}-key`;
    const { rows } = await fixture.db.query<{ id: string }>(
      `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status, attempts,
                             next_retry_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() - interval '10 minutes') RETURNING id`,
      [
        reservation.id,
        user.id,
        key,
        reservation.amount,
        status,
        status === 'STARTED' ? 0 : 1,
        status === 'STARTED' ? null : new Date(Date.now() - 600_000),
      ],
    );
    if (hold === 'confirmed') expect((await env.holds.confirm(reservation.holdId)).ok).toBe(true);
    if (hold === 'lost') await redis.client.del(`${redis.prefix}:{holds}:h:${reservation.holdId}`);
    if (ledger === 'captured') {
      await new MockPaymentGateway(fixture.db, { latencyMs: 0 }).charge({
        idempotencyKey: `${user.id}:${key}`,
        amount: reservation.amount,
        reference: reservation.id,
      });
    }
    return { user, reservation, paymentToken, key, paymentId: (rows[0] as { id: string }).id };
  };

  const expiredEvents = (reservationId: string) =>
    count(
      fixture.db,
      "SELECT count(*) FROM business_events WHERE type = 'reservation.expired' AND subject = $1",
      [`reservation:${reservationId}`],
    );

  it('RETRY_SCHEDULED whose retry job was never queued: two instances run the retry once; a hidden charge is found, not repeated', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const hidden = await leftBehind(a, 'erin', ['D6'], 'RETRY_SCHEDULED', 'confirmed', 'captured');
    const lost = await leftBehind(a, 'frank', ['D7'], 'RETRY_SCHEDULED', 'confirmed', 'none');
    // Overdue, but not long enough: the queued job may still be on its way.
    await fixture.db.query(`UPDATE payments SET next_retry_at = now()`);
    expect((await a.locals.paymentRecovery.runOnce()).size).toBe(0);
    await fixture.db.query(`UPDATE payments SET next_retry_at = now() - interval '10 minutes'`);

    const rounds = await Promise.all(envsRunOnce([a, b]));
    for (const { paymentId, reservation } of [hidden, lost]) {
      const outcomes = rounds.map((r) => r.get(paymentId)).filter((o) => o && o !== 'skipped');
      expect(outcomes).toEqual(['succeeded']);
      const [charge, ...more] = await a.gateway.capturedFor(reservation.id);
      expect(more).toEqual([]);
      expect(await row(paymentId)).toEqual({
        status: 'SUCCEEDED',
        attempts: 2,
        gateway_charge_id: charge?.id,
        failure_reason: null,
      });
      expect(await statuses('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
      expect(await statuses('seats', 'id = $1', reservation.seatIds[0])).toEqual(['ASSIGNED']);
    }
    expect((await b.locals.paymentRecovery.runOnce()).size).toBe(0);
  });

  it('a retry job that fires after the recovery ran its attempt does nothing: the payment finishes through its current job, none is left behind', async () => {
    // Instance a: every charge times out, retries an hour apart; b runs the retry worker and its
    // charges go through.
    const a = await instance({
      workers: false,
      paymentRecovery: recovery,
      paymentRetries: { retryDelayMs: 3_600_000 },
      gateway: { timeoutRate: 1, chargedOnTimeoutRate: 0, timeoutMs: 20 },
    });
    const b = await instance({ db: await fixture.another(), workers: false });
    const { reservation, paymentToken } = await reserve(a, 'jack', ['E2']);
    const res = await pay(a.base, paymentToken, { reservationId: reservation.id }, 'late-job');
    expect(res.body.payment).toMatchObject({ status: 'RETRY_SCHEDULED', attempts: 1 });
    const paymentId = res.body.payment.id as string;
    // The retry job of attempt 1 is late (its worker starved or died): the recovery runs the
    // retry instead, which times out and schedules the job of attempt 2.
    await fixture.db.query(`UPDATE payments SET next_retry_at = now() - interval '10 minutes'`);
    expect((await a.locals.paymentRecovery.runOnce()).get(paymentId)).toBe('retry_scheduled');
    expect(await row(paymentId)).toMatchObject({ status: 'RETRY_SCHEDULED', attempts: 2 });

    const queue = new Queue('payment-retries', {
      connection: redis.connect() as never,
      prefix: `${redis.prefix}:{payments}`,
    });
    try {
      const late = await queue.getJob(`${paymentId}-1`);
      expect(await late?.getState()).toBe('delayed');
      await late?.promote();
      b.locals.payments.startRetries();
      await waitFor(
        async () => (await queue.getJob(`${paymentId}-1`))?.getState(),
        (s) => s === 'completed',
      );
      // Attempt 1's job found its retry already done: attempt 2's job is the one to run.
      expect(await row(paymentId)).toMatchObject({ status: 'RETRY_SCHEDULED', attempts: 2 });
      expect(await a.gateway.capturedFor(reservation.id)).toEqual([]);
      await (await queue.getJob(`${paymentId}-2`))?.promote();
      await waitFor(
        async () => (await row(paymentId))?.status,
        (s) => s === 'SUCCEEDED',
      );
      expect(await row(paymentId)).toMatchObject({ status: 'SUCCEEDED', attempts: 3 });
      expect(await a.gateway.capturedFor(reservation.id)).toHaveLength(1);
      const left = await waitFor(
        () => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized'),
        (c) => Object.values(c).every((n) => n === 0),
        5_000,
      ).catch((error: Error) => error.message);
      expect(left).toEqual({ waiting: 0, delayed: 0, active: 0, prioritized: 0 });
    } finally {
      await queue.close();
    }
  });

  it('a payment the recovery settles leaves no retry job waiting in Redis, whether it succeeds or is declined', async () => {
    // Instance a: every charge times out, retries an hour apart, so each payment waits as
    // RETRY_SCHEDULED with a delayed job. The recovery (b charges, c declines) settles them first.
    const a = await instance({
      workers: false,
      paymentRecovery: recovery,
      paymentRetries: { retryDelayMs: 3_600_000 },
      gateway: { timeoutRate: 1, chargedOnTimeoutRate: 0, timeoutMs: 20 },
    });
    const b = await instance({
      db: await fixture.another(),
      workers: false,
      paymentRecovery: recovery,
    });
    const c = await instance({
      db: await fixture.another(),
      workers: false,
      paymentRecovery: recovery,
      gateway: { failureRate: 1 },
    });
    const queue = new Queue('payment-retries', {
      connection: redis.connect() as never,
      prefix: `${redis.prefix}:{payments}`,
    });
    try {
      for (const [recoverer, name, label, outcome, status] of [
        [b, 'kate', 'E4', 'succeeded', 'SUCCEEDED'],
        [c, 'liam', 'E5', 'declined', 'FAILED'],
      ] as const) {
        const { reservation, paymentToken } = await reserve(a, name, [label]);
        const res = await pay(a.base, paymentToken, { reservationId: reservation.id }, `${name}-k`);
        expect(res.body.payment).toMatchObject({ status: 'RETRY_SCHEDULED', attempts: 1 });
        const paymentId = res.body.payment.id as string;
        expect(await (await queue.getJob(`${paymentId}-1`))?.getState()).toBe('delayed');
        await fixture.db.query(
          `UPDATE payments SET next_retry_at = now() - interval '10 minutes' WHERE id = $1`,
          [paymentId],
        );
        expect((await recoverer.locals.paymentRecovery.runOnce()).get(paymentId)).toBe(outcome);
        expect(await row(paymentId)).toMatchObject({ status, attempts: 2 });
        // Removed when the payment settled, not left delayed for an hour.
        expect(await queue.getJob(`${paymentId}-1`)).toBeUndefined();
      }
    } finally {
      await queue.close();
    }
  });

  it('STARTED with the hold confirmed (died before the gateway call): charged once through the normal path', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const { reservation, paymentToken, key, paymentId } = await leftBehind(
      a,
      'gina',
      ['D8', 'D9'],
      'STARTED',
      'confirmed',
    );
    expect(await outcomesOf([a, b], paymentId)).toEqual(['succeeded']);
    expect(await a.gateway.capturedFor(reservation.id)).toHaveLength(1);
    expect(await row(paymentId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(await statuses('reservations', 'id = $1', reservation.id)).toEqual(['CONFIRMED']);
    expect(await statuses('seats', 'reservation_id = $1', reservation.id)).toEqual([
      'ASSIGNED',
      'ASSIGNED',
    ]);
    const retry = await pay(b.base, paymentToken, { reservationId: reservation.id }, key);
    expect(retry.status).toBe(201);
    expect(retry.body.payment).toMatchObject({ id: paymentId, status: 'SUCCEEDED' });
    expect(await a.gateway.capturedFor(reservation.id)).toHaveLength(1);
  });

  it('STARTED with the hold never confirmed, or lost by Redis: FAILED once, the seats released, nothing charged', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const held = await leftBehind(a, 'hank', ['D10'], 'STARTED', 'held');
    const lost = await leftBehind(a, 'iris', ['E1'], 'STARTED', 'lost');
    const rounds = await Promise.all(envsRunOnce([a, b]));
    for (const { paymentId } of [held, lost]) {
      expect(rounds.map((r) => r.get(paymentId)).filter((o) => o && o !== 'skipped')).toEqual([
        'failed',
      ]);
    }
    // Never confirmed: the hold is cancelled in Redis (one winner against its expiry) first.
    expect(await row(held.paymentId)).toMatchObject({
      status: 'FAILED',
      failure_reason: 'interrupted',
    });
    expect((await a.holds.get(held.reservation.holdId))?.state).toBe('cancelled');
    expect(await statuses('reservations', 'id = $1', held.reservation.id)).toEqual(['CANCELLED']);
    // Lost: ended as an expiry would have ended it, with one reservation.expired.
    expect(await row(lost.paymentId)).toMatchObject({
      status: 'FAILED',
      failure_reason: 'hold-lost',
    });
    expect(await statuses('reservations', 'id = $1', lost.reservation.id)).toEqual(['EXPIRED']);
    expect(await expiredEvents(lost.reservation.id)).toBe(1);
    expect(await expiredEvents(held.reservation.id)).toBe(0);
    for (const { reservation } of [held, lost]) {
      expect(await statuses('seats', 'id = $1', reservation.seatIds[0])).toEqual(['AVAILABLE']);
      expect(await a.gateway.capturedFor(reservation.id)).toEqual([]);
    }
    expect((await b.locals.paymentRecovery.runOnce()).size).toBe(0);
  });
});
