import { describe, expect, it } from 'vitest';
import { readBacklog } from '../src/observability/backlog.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { dbBackends, useDatabase } from './helpers.js';

const GRACE_MS = 10_000;

/** The value of a metric without labels, as `/metrics` prints it. */
async function gauge(metrics: AppMetrics, name: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe.each(dbBackends)('backlog metrics ($name)', (backend) => {
  const fx = useDatabase(backend, { seed: true });

  /** A HELD reservation of seed user 1 whose `expires_at` was `agoSec` seconds ago. */
  async function heldReservation(agoSec: number): Promise<string> {
    const { rows } = await fx.db.query<{ id: string }>(
      `INSERT INTO reservations (user_id, concert_id, status, hold_id, fence, amount_cents, expires_at)
       VALUES ((SELECT min(id) FROM users), (SELECT min(id) FROM concerts), 'HELD', 'h', 1, 100,
               now() - $1 * interval '1 second')
       RETURNING id`,
      [agoSec],
    );
    return (rows[0] as { id: string }).id;
  }

  it('is zero with no backlog, and reads the oldest pending outbox message and the most overdue hold', async () => {
    await fx.db.query(`INSERT INTO users (name) VALUES ('backlog-user') ON CONFLICT DO NOTHING`);
    expect(await readBacklog(fx.db, GRACE_MS)).toEqual({
      outboxPending: 0,
      outboxOldestPendingSeconds: 0,
      holdExpiryLagSeconds: 0,
    });

    await fx.db.query(
      `INSERT INTO outbox (id, topic, payload, created_at) VALUES
         ('a', 'room.complete', '{}', now() - interval '90 seconds'),
         ('b', 'room.complete', '{}', now() - interval '5 seconds'),
         ('c', 'room.complete', '{}', now() - interval '900 seconds')`,
    );
    await fx.db.query(`UPDATE outbox SET done_at = now() WHERE id = 'c'`);
    // 40 s past expires_at = 30 s past the deadline (grace 10 s); 5 s past expires_at is in grace.
    await heldReservation(40);
    await heldReservation(5);
    // More overdue, but a payment is still live: the payment decides it, not the expiry.
    const paying = await heldReservation(300);
    await fx.db.query(
      `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status)
       VALUES ($1, (SELECT min(id) FROM users), 'k', 100, 'RETRY_SCHEDULED')`,
      [paying],
    );

    const backlog = await readBacklog(fx.db, GRACE_MS);
    expect(backlog.outboxPending).toBe(2);
    expect(backlog.outboxOldestPendingSeconds).toBeGreaterThanOrEqual(90);
    expect(backlog.outboxOldestPendingSeconds).toBeLessThan(120);
    expect(backlog.holdExpiryLagSeconds).toBeGreaterThanOrEqual(30);
    expect(backlog.holdExpiryLagSeconds).toBeLessThan(60);

    const metrics = new AppMetrics({ defaultMetrics: false });
    let probes = 0;
    metrics.observeBacklog(async () => {
      probes++;
      return readBacklog(fx.db, GRACE_MS);
    });
    const text = await metrics.registry.metrics();
    expect(probes).toBe(1); // one query per scrape for the three gauges
    expect(text).toMatch(/^boxoffice_outbox_pending 2$/m);
    expect(await gauge(metrics, 'boxoffice_outbox_oldest_pending_age_seconds')).toBeGreaterThan(89);
    expect(await gauge(metrics, 'boxoffice_hold_expiry_lag_seconds')).toBeGreaterThan(29);
  });

  it('reads NaN (unknown, printed Nan), not 0, when the probe fails, and does not fail the scrape', async () => {
    const metrics = new AppMetrics({ defaultMetrics: false });
    metrics.observeBacklog(async () => {
      throw new Error('database down');
    });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^boxoffice_outbox_pending nan$/im);
    expect(text).toMatch(/^boxoffice_outbox_oldest_pending_age_seconds nan$/im);
    expect(text).toMatch(/^boxoffice_hold_expiry_lag_seconds nan$/im);
  });
});
