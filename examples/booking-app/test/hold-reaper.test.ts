import { useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import type { ReapOutcome } from '../src/concerts/reservations/hold-reaper.js';
import { count, flowCombos, useDatabase } from './helpers.js';
import { type PaymentApp, usePaymentApps } from './payment-fixture.js';

// The database decides here (row locks, guarded UPDATEs); Cluster adds nothing to these paths.
const combos = flowCombos().filter((c) => c.redis.name === 'standalone');

describe.each(combos)('hold reaper on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const { instance, reserve } = usePaymentApps(fixture, redis);

  /** Two instances (their own database pools), no background workers: the test runs the rounds. */
  const twoInstances = async () => [
    await instance({ workers: false }),
    await instance({ db: await fixture.another(), workers: false }),
  ];

  /** What a redis-server restarted without persistence does to a hold: its record is gone. */
  const loseHold = (holdId: string) => redis.client.del(`${redis.prefix}:{holds}:h:${holdId}`);

  /** Make the reservation's UI timer `minutes` past (the reaper also waits for grace + margin). */
  const age = (reservationId: string, minutes = 10) =>
    fixture.db.query(
      `UPDATE reservations SET expires_at = now() - $2 * interval '1 minute' WHERE id = $1`,
      [reservationId, minutes],
    );

  const statuses = async (sql: string, param: unknown) =>
    (await fixture.db.query<{ status: string }>(sql, [param])).rows.map((r) => r.status);

  const reapedBy = async (envs: PaymentApp[], reservationId: string) =>
    (await Promise.all(envs.map((e) => e.locals.holdReaper.runOnce())))
      .map((r) => r.get(reservationId))
      .filter((o): o is ReapOutcome => o !== undefined && o !== 'skipped');

  it('a hold Redis lost: expired once by two racing reapers, seats AVAILABLE, one reservation.expired', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const { reservation } = await reserve(a, 'alice', ['C1', 'C2']);
    await loseHold(reservation.holdId);
    // Not overdue yet: nobody touches it (its payer still has the grace, and the margin).
    expect((await a.locals.holdReaper.runOnce()).size).toBe(0);
    await age(reservation.id);

    expect(await reapedBy([a, b], reservation.id)).toEqual(['expired-lost']);
    expect(await statuses('SELECT status FROM reservations WHERE id = $1', reservation.id)).toEqual(
      ['EXPIRED'],
    );
    expect(
      await statuses('SELECT status FROM seats WHERE id = ANY($1::int[])', reservation.seatIds),
    ).toEqual(['AVAILABLE', 'AVAILABLE']);
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'reservation.expired' AND subject = $1",
        [`reservation:${reservation.id}`],
      ),
    ).toBe(1);
    // A later round finds nothing.
    expect((await b.locals.holdReaper.runOnce()).size).toBe(0);
  });

  it('leaves a reservation whose payment is in flight to the payment recovery', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const { user, reservation } = await reserve(a, 'carol', ['C3']);
    expect((await a.holds.confirm(reservation.holdId)).ok).toBe(true);
    await loseHold(reservation.holdId);
    await age(reservation.id);
    for (const status of ['PG_REQUESTED', 'RETRY_SCHEDULED', 'STARTED']) {
      await fixture.db.query(
        `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status)
         VALUES ($1, $2, $3, $4, $5)`,
        [reservation.id, user.id, `k-${status}`, reservation.amount, status],
      );
      expect(await reapedBy([a, b], reservation.id)).toEqual([]);
      await fixture.db.query(`UPDATE payments SET status = 'FAILED' WHERE reservation_id = $1`, [
        reservation.id,
      ]);
    }
    expect(await statuses('SELECT status FROM reservations WHERE id = $1', reservation.id)).toEqual(
      ['HELD'],
    );
  });

  it('a hold confirmed by a payer that then died (no live payment): CANCELLED once, seats AVAILABLE', async () => {
    const [a, b] = (await twoInstances()) as [PaymentApp, PaymentApp];
    const { reservation } = await reserve(a, 'dave', ['C4']);
    expect((await a.holds.confirm(reservation.holdId)).ok).toBe(true);
    await age(reservation.id);
    expect(await reapedBy([a, b], reservation.id)).toEqual(['cancelled']);
    expect(await statuses('SELECT status FROM reservations WHERE id = $1', reservation.id)).toEqual(
      ['CANCELLED'],
    );
    expect(
      await statuses('SELECT status FROM seats WHERE id = $1', reservation.seatIds[0]),
    ).toEqual(['AVAILABLE']);
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'reservation.expired'",
      ),
    ).toBe(0);
  });

  it('a hold Redis still has and that is not due there is left to its own expiry', async () => {
    const [a] = (await twoInstances()) as [PaymentApp, PaymentApp];
    a.locals.reservations.startExpiry();
    const { reservation } = await reserve(a, 'erin', ['C5']);
    await age(reservation.id);
    expect(await reapedBy([a], reservation.id)).toEqual([]);
    expect((await a.holds.get(reservation.holdId))?.state).toBe('held');
    expect(await statuses('SELECT status FROM reservations WHERE id = $1', reservation.id)).toEqual(
      ['HELD'],
    );
  });
});
