import { Redis } from 'ioredis';
import type { Database } from '../../src/db/database.js';

/**
 * Where the database and Redis disagree after a run: reservations whose seat-lock hold record (key
 * `<prefix>:{holds}:h:<holdId>`, `@boxoffice/seat-lock` layout) is in a state its DB status cannot
 * have, and jobs still waiting in the payment retry queue (BullMQ `<prefix>:{payments}:payment-retries`).
 * With `allowMissing`, a decided reservation whose record is gone is fine (a Redis that lost its
 * data); a HELD one never is.
 */
export async function redisDisagreements(
  db: Database,
  redisUrl: string,
  prefix: string,
  options: { allowMissing?: boolean } = {},
): Promise<{ holdMismatches: string[]; retryJobsLeft: number }> {
  // A CONFIRMED reservation's hold was confirmed; an EXPIRED one's expired; a CANCELLED one was
  // confirmed before a declined charge (pay confirms first) or cancelled by a failed insert.
  const allowed: Record<string, string[]> = {
    CONFIRMED: ['confirmed'],
    EXPIRED: ['expired'],
    CANCELLED: ['confirmed', 'cancelled'],
  };
  const { rows } = await db.query<{ id: string; status: string; hold_id: string }>(
    'SELECT id, status, hold_id FROM reservations',
  );
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const holdMismatches: string[] = [];
    for (const r of rows) {
      const state = await redis.hget(`${prefix}:{holds}:h:${r.hold_id}`, 'state');
      if (state === null && options.allowMissing && r.status !== 'HELD') continue;
      if (!(allowed[r.status] ?? []).includes(state ?? 'missing')) {
        holdMismatches.push(`${r.id} ${r.status} / hold ${state ?? 'missing'}`);
      }
    }
    const q = `${prefix}:{payments}:payment-retries`;
    const retryJobsLeft =
      (await redis.zcard(`${q}:delayed`)) +
      (await redis.llen(`${q}:wait`)) +
      (await redis.llen(`${q}:active`)) +
      (await redis.zcard(`${q}:prioritized`));
    return { holdMismatches, retryJobsLeft };
  } finally {
    redis.disconnect();
  }
}
