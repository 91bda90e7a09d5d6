import type { Database } from '../src/db/database.js';

// The booking invariants, read with plain SQL from the database and the mock gateway's ledger. No
// test helpers imported: the load benchmark (bench/load) reads the same invariants outside vitest.
const count = async (db: Database, sql: string) =>
  Number((await db.query<{ n: number }>(`SELECT (${sql})::int AS n`)).rows[0]?.n);

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

/**
 * Invariants that only hold once the system has settled (every hold ended, every payment final,
 * every consumer caught up); the others hold at every moment.
 */
const SETTLED_ONLY: ReadonlySet<keyof Invariants> = new Set([
  'heldReservations',
  'heldSeats',
  'unsettledPayments',
  'capturedWithoutConfirmed',
  'consumerEffectsMissing',
]);

/**
 * The broken invariants as `name count` lines (empty when all hold). Without `settled`, only those
 * that must hold at every moment are checked (a run may still have holds and payments in flight).
 */
export function invariantViolations(i: Invariants, { settled = false } = {}): string[] {
  return (Object.entries(i) as [keyof Invariants, number][])
    .filter(([name, n]) => n !== 0 && (settled || !SETTLED_ONLY.has(name)))
    .map(([name, n]) => `${name} ${n}`);
}
