import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { count } from '../helpers.js';

/** Consumer effects (`email.sent`, `sales.recorded`) of SUCCEEDED payments seen `op` once (`<>`: not exactly once). */
const consumerEffectsSql = (op: '<>' | '>' | '<') => `SELECT count(*) FROM payments p,
       (VALUES ('email.sent'), ('sales.recorded')) AS t(type)
       WHERE p.status = 'SUCCEEDED' AND (
         SELECT count(*) FROM business_events e
         WHERE e.type = t.type AND position(p.id::text IN e.subject) > 0) ${op} 1`;

/** Reservations, seats and payments not yet in a final state, and consumer effects not yet seen. */
export const pendingSql = `SELECT (SELECT count(*) FROM reservations WHERE status = 'HELD')
       + (SELECT count(*) FROM seats WHERE status = 'HELD')
       + (SELECT count(*) FROM payments WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED'))
       + (${consumerEffectsSql('<>')})`;

/**
 * Wait (bounded) until nothing is pending: every hold ended, every payment settled, every
 * success seen by both consumers. Returns how
 * many rows are still pending at the end — the invariants then say which ones.
 */
export async function settle(db: Database, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await count(db, pendingSql);
    if (pending === 0 || Date.now() > deadline) return pending;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The booking invariants, each as the number of rows that break it (all must be 0). */
export interface Invariants {
  seatsInTwoLiveReservations: number;
  assignedWithoutConfirmedReservation: number;
  confirmedSeatNotAssigned: number;
  heldReservations: number;
  heldSeats: number;
  unsettledPayments: number;
  succeededNotChargedOnce: number;
  reservationsChargedTwice: number;
  capturedWithoutConfirmed: number;
  confirmedWithoutOneSuccess: number;
  /** Per succeeded payment and consumer (`email.sent`, `sales.recorded`): effects never seen. */
  consumerEffectsMissing: number;
  /** Per succeeded payment and consumer: effects seen more than once. */
  consumerEffectsDuplicated: number;
}

/** Read every invariant from the database and the mock gateway's ledger (plain SQL). */
export async function readInvariants(db: Database): Promise<Invariants> {
  return {
    seatsInTwoLiveReservations: await count(
      db,
      `SELECT count(*) FROM (SELECT rs.seat_id FROM reservation_seats rs
         JOIN reservations r ON r.id = rs.reservation_id AND r.status IN ('HELD', 'CONFIRMED')
         GROUP BY rs.seat_id HAVING count(*) > 1) x`,
    ),
    assignedWithoutConfirmedReservation: await count(
      db,
      `SELECT count(*) FROM seats s WHERE s.status = 'ASSIGNED' AND NOT EXISTS (
         SELECT 1 FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id
         WHERE r.id = s.reservation_id AND rs.seat_id = s.id AND r.status = 'CONFIRMED')`,
    ),
    confirmedSeatNotAssigned: await count(
      db,
      `SELECT count(*) FROM reservation_seats rs
         JOIN reservations r ON r.id = rs.reservation_id AND r.status = 'CONFIRMED'
         JOIN seats s ON s.id = rs.seat_id
       WHERE s.status <> 'ASSIGNED' OR s.reservation_id IS DISTINCT FROM r.id`,
    ),
    heldReservations: await count(db, `SELECT count(*) FROM reservations WHERE status = 'HELD'`),
    heldSeats: await count(db, `SELECT count(*) FROM seats WHERE status = 'HELD'`),
    unsettledPayments: await count(
      db,
      `SELECT count(*) FROM payments WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED')`,
    ),
    succeededNotChargedOnce: await count(
      db,
      `SELECT count(*) FROM payments p WHERE p.status = 'SUCCEEDED' AND 1 <> (
         SELECT count(*) FROM mock_pg_charges c
         WHERE c.status = 'CAPTURED' AND c.idempotency_key = p.user_id || ':' || p.idempotency_key)`,
    ),
    reservationsChargedTwice: await count(
      db,
      `SELECT count(*) FROM (SELECT reference FROM mock_pg_charges WHERE status = 'CAPTURED'
         GROUP BY reference HAVING count(*) > 1) x`,
    ),
    capturedWithoutConfirmed: await count(
      db,
      `SELECT count(*) FROM mock_pg_charges c WHERE c.status = 'CAPTURED' AND NOT EXISTS (
         SELECT 1 FROM reservations r WHERE r.id::text = c.reference AND r.status = 'CONFIRMED')`,
    ),
    confirmedWithoutOneSuccess: await count(
      db,
      `SELECT count(*) FROM reservations r WHERE r.status = 'CONFIRMED' AND 1 <> (
         SELECT count(*) FROM payments p WHERE p.reservation_id = r.id AND p.status = 'SUCCEEDED')`,
    ),
    consumerEffectsMissing: await count(db, consumerEffectsSql('<')),
    consumerEffectsDuplicated: await count(db, consumerEffectsSql('>')),
  };
}

/** Up to `limit` payments not in a final state, as `id STATUS (attempts n)`, for the printed block. */
export async function unsettledPayments(db: Database, limit = 5): Promise<string[]> {
  const { rows } = await db.query<{ id: string; status: string; attempts: number }>(
    `SELECT id, status, attempts FROM payments
     WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED') ORDER BY created_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => `${r.id} ${r.status} (attempts ${r.attempts})`);
}

/**
 * Captured charges whose reservation is not CONFIRMED (money taken, no seat), as
 * `reservation STATUS: payments STATUS/failure_reason/attempts, ...`, for the printed block.
 */
export async function capturedWithoutSeat(db: Database, limit = 3): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `SELECT r.id || ' ' || r.status || ': ' || coalesce((SELECT string_agg(p.status || '/' ||
              coalesce(p.failure_reason, '-') || '/' || p.attempts, ', ')
              FROM payments p WHERE p.reservation_id = r.id), 'no payment') AS line
     FROM mock_pg_charges c JOIN reservations r ON r.id::text = c.reference
     WHERE c.status = 'CAPTURED' AND r.status <> 'CONFIRMED' LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.line);
}

/** Totals for the printed block. */
export async function readTotals(db: Database) {
  const { rows } = await db.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM reservations)::int AS reservations,
            (SELECT count(*) FROM reservations WHERE status = 'CONFIRMED')::int AS confirmed,
            (SELECT count(*) FROM reservations WHERE status = 'EXPIRED')::int AS expired,
            (SELECT count(*) FROM reservations WHERE status = 'CANCELLED')::int AS cancelled,
            (SELECT count(*) FROM seats WHERE status = 'ASSIGNED')::int AS assigned,
            (SELECT count(*) FROM payments WHERE status = 'SUCCEEDED')::int AS succeeded,
            (SELECT count(*) FROM payments WHERE status = 'FAILED')::int AS failed,
            (SELECT count(*) FROM mock_pg_charges WHERE status = 'CAPTURED')::int AS captured`,
  );
  return rows[0] as Record<string, number>;
}

/** Assert every invariant is 0 (one `toEqual`, so a failure shows all of them at once). */
export function expectInvariants(invariants: Invariants): void {
  const zero = Object.fromEntries(Object.keys(invariants).map((k) => [k, 0]));
  expect(invariants).toEqual(zero);
}

/**
 * Samples the size of a room's active set (ZCARD) every `everyMs` on a connection of its own;
 * samples taken while Redis is down are skipped. `max` is the largest size seen.
 */
export class ActiveSampler {
  max = 0;
  samples = 0;
  readonly #client: Redis;
  readonly #timer: NodeJS.Timeout;
  #busy = false;

  constructor(url: string, key: string, everyMs = 25) {
    this.#client = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false });
    this.#client.on('error', () => {});
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#client
        .zcard(key)
        .then((n) => {
          this.samples++;
          this.max = Math.max(this.max, n);
        })
        .catch(() => {})
        .finally(() => {
          this.#busy = false;
        });
    }, everyMs);
  }

  /** Stop sampling and close the connection. */
  stop(): void {
    clearInterval(this.#timer);
    this.#client.disconnect();
  }
}
