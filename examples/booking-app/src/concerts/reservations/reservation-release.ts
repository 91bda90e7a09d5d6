import type { Queryable } from '../../db/database.js';
import type { EventLog } from '../../events/event-log.js';

/** How a HELD reservation ends without a sale. */
export type ReleasedStatus = 'EXPIRED' | 'CANCELLED';

/** Payment states in which a charge may still happen: a reservation with one is not released. */
export const LIVE_PAYMENT_STATUSES = ['STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED'] as const;

/** What {@link releaseReservation} changed. */
export interface Released {
  id: string;
  userId: number;
  /** Seats set back to AVAILABLE. */
  seats: number;
}

/** Options of {@link releaseReservation}. */
export interface ReleaseOptions {
  to: ReleasedStatus;
  /**
   * Leave the reservation HELD while a payment of it other than `exceptPayment` is in a
   * {@link LIVE_PAYMENT_STATUSES | live state}: that payment (or the recovery) decides it.
   */
  unlessPaying?: { exceptPayment?: string };
  /** Extra data of the `reservation.expired` event (EXPIRED only). */
  data?: Record<string, unknown>;
}

/**
 * In `tx`: a HELD reservation (by hold id or id) → `to`, its seats HELD → AVAILABLE, and for
 * EXPIRED one `reservation.expired` event. The reservation row is locked first (`FOR UPDATE`), the
 * same lock a payment takes before it starts charging, so "no payment is charging" is checked
 * against committed state and a release and a charge never both go through. Guarded by status: a
 * second call changes nothing and returns null.
 */
export async function releaseReservation(
  tx: Queryable,
  events: EventLog,
  target: { holdId: string } | { reservationId: string },
  options: ReleaseOptions,
): Promise<Released | null> {
  const [column, value] =
    'holdId' in target ? ['hold_id', target.holdId] : ['id', target.reservationId];
  const { rows } = await tx.query<{ id: string; user_id: number; hold_id: string }>(
    `SELECT id, user_id, hold_id FROM reservations WHERE ${column} = $1 AND status = 'HELD' FOR UPDATE`,
    [value],
  );
  const row = rows[0];
  if (!row) return null;
  if (options.unlessPaying) {
    const { rows: live } = await tx.query(
      `SELECT 1 FROM payments WHERE reservation_id = $1 AND status = ANY($2::text[])
         AND id IS DISTINCT FROM $3::uuid LIMIT 1`,
      [row.id, LIVE_PAYMENT_STATUSES, options.unlessPaying.exceptPayment ?? null],
    );
    if (live[0]) return null;
  }
  await tx.query(
    `UPDATE reservations SET status = $2, updated_at = now() WHERE id = $1 AND status = 'HELD'`,
    [row.id, options.to],
  );
  const seats = await tx.query(
    `UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL, updated_at = now()
     WHERE reservation_id = $1 AND status = 'HELD'`,
    [row.id],
  );
  if (options.to === 'EXPIRED') {
    await events.record(
      {
        type: 'reservation.expired',
        outcome: 'info',
        userId: row.user_id,
        subject: `reservation:${row.id}`,
        data: { holdId: row.hold_id, seats: seats.rowCount, ...options.data },
      },
      tx,
    );
  }
  return { id: row.id, userId: row.user_id, seats: seats.rowCount };
}
