import type { Database } from '../src/db/database.js';
import { OutboxRepository } from '../src/events/outbox.js';

// The booking invariants, read with plain SQL from the database and the mock gateway's ledger. No
// test helpers imported: the load benchmark (bench/load) reads the same invariants outside vitest.
const count = async (db: Database, sql: string) =>
  Number((await db.query<{ n: number }>(`SELECT (${sql})::int AS n`)).rows[0]?.n);

/**
 * The consumer effects (`email.sent`, `sales.recorded`) of each SUCCEEDED payment, counted: their
 * subject is `event:<event id>` and the event id `payment.succeeded:<payment id>`. One hash join,
 * so it stays fast at the seed's scale (10,000 payments beside 100,000 other events).
 */
const consumerEffects = `SELECT p.id, t.type, coalesce(e.n, 0) AS n FROM payments p
       CROSS JOIN (VALUES ('email.sent'), ('sales.recorded')) AS t(type)
       LEFT JOIN (SELECT type, subject, count(*) AS n FROM business_events
                   WHERE type IN ('email.sent', 'sales.recorded') GROUP BY type, subject) e
         ON e.type = t.type AND e.subject = 'event:payment.succeeded:' || p.id
       WHERE p.status = 'SUCCEEDED'`;

/** Consumer effects of SUCCEEDED payments seen `op` once (`<>`: not exactly once). */
const consumerEffectsSql = (op: '<>' | '>' | '<') =>
  `SELECT count(*) FROM (${consumerEffects}) c WHERE c.n ${op} 1`;

/** Reservations, seats and payments not yet in a final state, and consumer effects not yet seen. */
export const pendingSql = `SELECT (SELECT count(*) FROM reservations WHERE status = 'HELD')
       + (SELECT count(*) FROM seats WHERE status = 'HELD')
       + (SELECT count(*) FROM payments WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED'))
       + (${consumerEffectsSql('<>')})`;

/**
 * Wait (bounded) until nothing is pending: every hold ended, every payment settled, every
 * success seen by both consumers. Returns how many rows are still pending at the end, and then
 * prints them ({@link describePending}) — the invariants say which rule they break.
 */
export async function settle(db: Database, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await count(db, pendingSql);
    if (pending === 0) return 0;
    if (Date.now() > deadline) {
      const rows = await describePending(db);
      console.log(
        [
          `settle: ${pending} still pending after ${timeoutMs} ms:`,
          ...rows.map((l) => `  ${l}`),
        ].join('\n'),
      );
      return pending;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * What is still pending, one line per row (up to `limit` of each kind): HELD reservations with
 * their expiry and payments, payments not final with attempts and next retry, SUCCEEDED payments
 * whose consumer effects are missing, and outbox messages not done — what a test prints when
 * {@link settle} gives up, so the failure explains itself.
 */
export async function describePending(db: Database, limit = 5): Promise<string[]> {
  const lines = async (label: string, sql: string) =>
    (await db.query<{ line: string }>(`${sql} LIMIT ${limit}`)).rows.map(
      (r) => `${label} ${r.line}`,
    );
  return [
    ...(await lines(
      'reservation HELD',
      `SELECT r.id || ' expires ' || to_char(r.expires_at, 'HH24:MI:SS.MS') || ' (in '
              || round(extract(epoch FROM (r.expires_at - now())) * 1000) || ' ms), payments '
              || coalesce((SELECT string_agg(p.status || '/' || p.attempts, ',')
                           FROM payments p WHERE p.reservation_id = r.id), 'none') AS line
       FROM reservations r WHERE r.status = 'HELD' ORDER BY r.expires_at`,
    )),
    ...(await lines(
      'seat HELD',
      `SELECT s.id || ' of reservation ' || coalesce(s.reservation_id::text, '-') AS line
       FROM seats s WHERE s.status = 'HELD' AND NOT EXISTS (
         SELECT 1 FROM reservations r WHERE r.id = s.reservation_id AND r.status = 'HELD')
       ORDER BY s.id`,
    )),
    ...(await lines(
      'payment',
      `SELECT p.id || ' ' || p.status || ' attempts ' || p.attempts || ' updated '
              || round(extract(epoch FROM (now() - p.updated_at)) * 1000) || ' ms ago' AS line
       FROM payments p WHERE p.status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED')
       ORDER BY p.created_at`,
    )),
    ...(await lines(
      'consumer effects of',
      `SELECT c.id || ': ' || string_agg(c.type || ' ' || c.n, ', ' ORDER BY c.type) AS line
       FROM (${consumerEffects}) c GROUP BY c.id HAVING bool_or(c.n <> 1) ORDER BY c.id`,
    )),
    ...(await new OutboxRepository(db).describePending(limit)).map((l) => `outbox ${l}`),
  ];
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
