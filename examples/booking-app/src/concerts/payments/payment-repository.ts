import type { Database, Queryable } from '../../db/database.js';
import { StatementBatch } from '../../db/statement-batch.js';
import type { EventLog } from '../../events/event-log.js';
import {
  type ClaimedMessage,
  type OutboxRepository,
  type OutboxRow,
  toClaimedMessage,
} from '../../events/outbox.js';
import { type ReleasedStatus, releaseReservation } from '../reservations/reservation-release.js';
import type { PaymentSucceeded } from './booking-events.js';

/** The payment state machine of the notes. */
export type PaymentStatus = 'STARTED' | 'PG_REQUESTED' | 'SUCCEEDED' | 'FAILED' | 'RETRY_SCHEDULED';

/** A payment as the API shows it. */
export interface Payment {
  id: string;
  reservationId: string;
  status: PaymentStatus;
  amount: number;
  currency: 'USD';
  attempts: number;
  chargeId: string | null;
  failureReason: string | null;
  nextRetryAt: string | null;
}

/** A row of the `payments` table. */
export interface PaymentRow {
  id: string;
  reservation_id: string;
  user_id: number;
  idempotency_key: string;
  status: PaymentStatus;
  amount_cents: number;
  attempts: number;
  gateway_charge_id: string | null;
  failure_reason: string | null;
  next_retry_at: Date | null;
}

/** The reservation a payment is for, as the payment flow needs it. */
export interface PayableReservation {
  id: string;
  user_id: number;
  concert_id: number;
  status: string;
  amount_cents: number;
  hold_id: string;
}

/** The API form of a payment row. */
export const toPayment = (r: PaymentRow): Payment => ({
  id: r.id,
  reservationId: r.reservation_id,
  status: r.status,
  amount: r.amount_cents,
  currency: 'USD',
  attempts: r.attempts,
  chargeId: r.gateway_charge_id,
  failureReason: r.failure_reason,
  nextRetryAt: r.next_retry_at ? r.next_retry_at.toISOString() : null,
});

/** Payments nobody is finishing, given `$1` = how long (ms); see {@link PaymentRepository.stuck}. */
const STUCK = `((status IN ('PG_REQUESTED', 'STARTED') AND updated_at < now() - $1 * interval '1 millisecond')
  OR (status = 'RETRY_SCHEDULED' AND next_retry_at < now() - $1 * interval '1 millisecond'))`;

/**
 * The `payments` rows and every SQL statement of the payment flow. Each state change is one
 * statement or one transaction guarded by the payment's current status, so of two callers racing
 * for one transition exactly one changes the row; the others get `undefined`/`null`/`false`.
 */
export class PaymentRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventLog,
  ) {}

  /** The reservation to pay: its owner, concert, amount, status, hold. */
  reservation(id: string): Promise<PayableReservation | null> {
    return this.#reservations.run(id);
  }

  /** The reservations read in one event-loop turn (the payments that arrived together), at once. */
  readonly #reservations = new StatementBatch(
    async (ids: string[]) => {
      const { rows } = await this.db.query<PayableReservation>(
        `SELECT id, user_id, concert_id, status, amount_cents, hold_id FROM reservations
          WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async (id: string) => {
      const { rows } = await this.db.query<PayableReservation>(
        'SELECT id, user_id, concert_id, status, amount_cents, hold_id FROM reservations WHERE id = $1',
        [id],
      );
      return rows[0] ?? null;
    },
  );

  /** A payment of `userId`, or null. */
  async get(id: string, userId: number): Promise<Payment | null> {
    const { rows } = await this.db.query<PaymentRow>(
      'SELECT * FROM payments WHERE id = $1 AND user_id = $2',
      [id, userId],
    );
    return rows[0] ? toPayment(rows[0]) : null;
  }

  /** The payment `userId` made under `idempotencyKey` (for `reservationId`, if given), or undefined. */
  async byKey(
    userId: number,
    idempotencyKey: string,
    reservationId?: string,
  ): Promise<PaymentRow | undefined> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT * FROM payments WHERE user_id = $1 AND idempotency_key = $2
         AND ($3::uuid IS NULL OR reservation_id = $3)`,
      [userId, idempotencyKey, reservationId ?? null],
    );
    return rows[0];
  }

  /**
   * In one statement: the payment the reservation's owner made under `idempotencyKey` (for any
   * reservation; `created: false`), else — only while `r` is HELD — a new STARTED one (`created:
   * true`). Undefined when there is neither: `r` is not HELD, or another request inserted the key
   * after this statement's snapshot was taken (the caller reads it with {@link byKey}).
   */
  async startOrFind(
    r: PayableReservation,
    idempotencyKey: string,
  ): Promise<{ row: PaymentRow; created: boolean } | undefined> {
    const { rows } = await this.db.query<PaymentRow & { created: boolean }>(
      `WITH found AS (SELECT * FROM payments WHERE user_id = $2 AND idempotency_key = $3),
       ins AS (
         INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status)
         SELECT $1, $2, $3, $4, 'STARTED' WHERE $5::boolean AND NOT EXISTS (SELECT 1 FROM found)
         ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING *)
       SELECT *, true AS created FROM ins UNION ALL SELECT *, false AS created FROM found`,
      [r.id, r.user_id, idempotencyKey, r.amount_cents, r.status === 'HELD'],
    );
    const first = rows[0];
    if (!first) return undefined;
    const { created, ...row } = first;
    return { row: row as PaymentRow, created };
  }

  /** The payment as it is now (it must exist). */
  async current(paymentId: string): Promise<Payment> {
    const { rows } = await this.db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [
      paymentId,
    ]);
    return toPayment(rows[0] as PaymentRow);
  }

  /**
   * Claim a payment in STARTED or RETRY_SCHEDULED for a gateway attempt: → PG_REQUESTED, in one
   * transaction holding the reservation's row lock, and only while the reservation is HELD and no
   * other payment of it is charging (PG_REQUESTED, RETRY_SCHEDULED) or SUCCEEDED. Of two claimers
   * of one payment, or of two payments of one reservation, one gets the row. `blocked`: the payment
   * is still claimable but its reservation is not payable. With `after`, only the retry that
   * follows attempt `after` is claimed: a retry job is for one attempt, so a late or redelivered
   * job whose retry the recovery already ran does nothing (it would run the next one early).
   */
  async claim(
    paymentId: string,
    after?: number,
  ): Promise<{ row: PaymentRow | undefined; blocked: boolean }> {
    // One call: the lock and the guarded UPDATE are separate statements inside the function
    // (migration 007), so the UPDATE sees what the lock's previous holder committed.
    const { rows } = await this.db.query<PaymentRow>('SELECT * FROM claim_payment($1, $2)', [
      paymentId,
      after ?? null,
    ]);
    const row = rows[0];
    if (row?.status === 'PG_REQUESTED') return { row, blocked: false };
    return { row: undefined, blocked: row !== undefined };
  }

  /** PG_REQUESTED → RETRY_SCHEDULED, due in `delayMs`; undefined if the payment was elsewhere. */
  async scheduleRetry(paymentId: string, delayMs: number): Promise<PaymentRow | undefined> {
    const { rows } = await this.db.query<PaymentRow>(
      `UPDATE payments SET status = 'RETRY_SCHEDULED', next_retry_at = now() + $2 * interval '1 millisecond',
              updated_at = now() WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *`,
      [paymentId, delayMs],
    );
    return rows[0];
  }

  /**
   * Payments nobody is finishing, oldest first: in PG_REQUESTED or STARTED untouched for
   * `olderThanMs` (the process died during the gateway call, or before it), or RETRY_SCHEDULED
   * whose retry is `olderThanMs` overdue (its job was never queued, or was lost).
   */
  async stuck(olderThanMs: number, limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id FROM payments WHERE ${STUCK} ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Payment `paymentId` if it is still stuck for `olderThanMs` (see {@link stuck}). */
  async stuckOne(paymentId: string, olderThanMs: number): Promise<PaymentRow | undefined> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT * FROM payments WHERE ${STUCK} AND id = $2`,
      [olderThanMs, paymentId],
    );
    return rows[0];
  }

  /**
   * PG_REQUESTED → SUCCEEDED with the reservation CONFIRMED, its seats ASSIGNED, a business event
   * and the outbox messages `room.complete` and `payment.succeeded`, claimed by `claim` as they are
   * inserted (the relay's `writerClaim()`; null: left due for the polling relay).
   * Returns the row and the messages claimed, or null (nothing written) when the payment had
   * already left PG_REQUESTED.
   *
   * One statement (data-modifying CTEs) instead of a nine-statement transaction: it is atomic all
   * the same, and under load each round trip held a pooled connection for an event-loop turn. It
   * writes the rows {@link EventLog.record} and {@link OutboxRepository.add} would; the event
   * payload has the {@link PaymentSucceeded} shape the consumers read.
   */
  async succeed(
    p: PaymentRow,
    chargeId: string,
    claim: { token: string; leaseMs: number } | null,
  ): Promise<{ row: PaymentRow; claimed: ClaimedMessage[] } | null> {
    const { rows } = await this.db.query<PaymentRow & { claimed: OutboxRow[] }>(
      `WITH p AS (
         UPDATE payments SET status = 'SUCCEEDED', gateway_charge_id = $2, failure_reason = NULL,
                next_retry_at = NULL, updated_at = now()
          WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *),
       r AS (
         UPDATE reservations SET status = 'CONFIRMED', updated_at = now()
          WHERE id = (SELECT reservation_id FROM p) AND status = 'HELD'),
       c AS (SELECT concert_id FROM reservations WHERE id = (SELECT reservation_id FROM p)),
       s AS (
         UPDATE seats SET status = 'ASSIGNED', updated_at = now()
          WHERE reservation_id = (SELECT reservation_id FROM p) AND status = 'HELD' RETURNING id),
       e AS (
         INSERT INTO business_events (type, outcome, user_id, subject, data)
         SELECT 'payment.succeeded', 'success', p.user_id, 'payment:' || p.id,
                jsonb_build_object('reservationId', p.reservation_id, 'amount', p.amount_cents,
                                   'attempts', p.attempts)
           FROM p),
       o AS (
         INSERT INTO outbox (id, topic, payload, available_at, attempts, claim_token)
         SELECT m.id, m.topic, m.payload,
                now() + coalesce($4::int, 0) * interval '1 millisecond',
                CASE WHEN $3::uuid IS NULL THEN 0 ELSE 1 END, $3::uuid
           FROM (
         SELECT 'room.complete:' || p.id AS id, 'room.complete' AS topic,
                jsonb_build_object('concertId', c.concert_id, 'userId', p.user_id) AS payload
           FROM p, c
         UNION ALL
         SELECT 'payment.succeeded:' || p.id, 'payment.succeeded',
                jsonb_build_object(
                  'eventId', 'payment.succeeded:' || p.id, 'paymentId', p.id,
                  'reservationId', p.reservation_id, 'userId', p.user_id,
                  'concertId', c.concert_id,
                  'seatIds', (SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) FROM s),
                  'amount', p.amount_cents,
                  'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
           FROM p, c) m
         ON CONFLICT (id) DO NOTHING
         RETURNING id, topic, payload, attempts, published, claim_token)
       SELECT p.*, (SELECT coalesce(jsonb_agg(o), '[]'::jsonb) FROM o) AS claimed FROM p`,
      [p.id, chargeId, claim?.token ?? null, claim?.leaseMs ?? null],
    );
    const found = rows[0];
    if (!found) return null;
    const { claimed, ...row } = found;
    // A message that was already there (ON CONFLICT) is not ours: the polling relay has it.
    return { row, claimed: claim ? claimed.map(toClaimedMessage) : [] };
  }

  /**
   * Payment FAILED if it is in one of the `from` states; with `release`, the reservation goes to
   * that status and its seats AVAILABLE again (see {@link releaseReservation}: not while another
   * payment of it is live). Returns the failed row, or undefined (nothing written) when the
   * payment was elsewhere.
   */
  async fail(
    paymentId: string,
    reason: string,
    release: ReleasedStatus | false,
    from: PaymentStatus[],
  ): Promise<PaymentRow | undefined> {
    return this.db.transaction(async (tx: Queryable) => {
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments SET status = 'FAILED', failure_reason = $2, next_retry_at = NULL, updated_at = now()
           WHERE id = $1 AND status = ANY($3::text[]) RETURNING *`,
        [paymentId, reason, from],
      );
      const p = rows[0];
      if (!p) return undefined;
      if (release) {
        await releaseReservation(
          tx,
          this.events,
          { reservationId: p.reservation_id },
          { to: release, unlessPaying: { exceptPayment: p.id }, data: { reason } },
        );
      }
      await this.events.record(
        {
          type: 'payment.failed',
          outcome: 'failure',
          reason,
          userId: p.user_id,
          subject: `payment:${p.id}`,
          data: { reservationId: p.reservation_id },
        },
        tx,
      );
      return p;
    });
  }
}
