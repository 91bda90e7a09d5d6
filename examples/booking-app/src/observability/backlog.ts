import { LIVE_PAYMENT_STATUSES } from '../concerts/reservations/reservation-release.js';
import type { Queryable } from '../db/database.js';

/** The database's backlog, as `/metrics` reports it (the same figures on every instance). */
export interface Backlog {
  /** Outbox messages not done yet. */
  outboxPending: number;
  /** Age of the oldest outbox message not done yet, in seconds; 0 when there is none. */
  outboxOldestPendingSeconds: number;
  /**
   * How far past its deadline (`expires_at` + the holds' grace) the most overdue HELD reservation
   * with no payment in a live state is, in seconds; 0 when none is overdue. Reservations with a
   * live payment are left out: the payment (or its recovery) decides them, not the hold expiry.
   */
  holdExpiryLagSeconds: number;
}

/**
 * Read the {@link Backlog} in one statement. Both halves use partial indexes (`outbox_pending`,
 * `reservations_held_expiry`), so the cost follows the backlog, not the tables' history.
 */
export async function readBacklog(db: Queryable, holdGraceMs: number): Promise<Backlog> {
  const { rows } = await db.query<{ pending: number; oldest: number; lag: number }>(
    `SELECT
       (SELECT count(*)::int FROM outbox WHERE done_at IS NULL) AS pending,
       (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
          FROM outbox WHERE done_at IS NULL) AS oldest,
       (SELECT coalesce(extract(epoch FROM now() - min(r.expires_at)) - $1 / 1000.0, 0)::float8
          FROM reservations r
          WHERE r.status = 'HELD' AND r.expires_at < now() - $1 * interval '1 millisecond'
            AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.reservation_id = r.id
                            AND p.status = ANY($2::text[]))) AS lag`,
    [holdGraceMs, LIVE_PAYMENT_STATUSES],
  );
  const row = rows[0] ?? { pending: 0, oldest: 0, lag: 0 };
  return {
    outboxPending: Number(row.pending),
    outboxOldestPendingSeconds: Math.max(0, Number(row.oldest)),
    holdExpiryLagSeconds: Math.max(0, Number(row.lag)),
  };
}
