import { Redis } from 'ioredis';
import { expect } from 'vitest';
import type { Database } from '../../src/db/database.js';
import type { Invariants } from '../invariants.js';

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
