import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Database } from '../../src/db/database.js';
import { waitFor } from '../helpers.js';

/**
 * Where the database and Redis disagree after a run: reservations whose seat-lock hold record (key
 * `<prefix>:{holds}:h:<holdId>`, `@boxoffice/seat-lock` layout) is in a state its DB status cannot
 * have, and jobs still waiting in the payment retry queue (BullMQ `<prefix>:{payments}:payment-retries`).
 * With `allowMissing`, a decided reservation whose record is gone is fine (a Redis that lost its
 * data); a HELD one never is. With `drainMs`, it first waits up to that long for the retry queue to
 * empty: a job whose worker was SIGKILLed stays `active` until its lock lapses and a live worker's
 * stalled check hands it out again (`payment-retries.ts`: lock 3 s, checked every 1 s), which can
 * come after the database has settled.
 */
export async function redisDisagreements(
  db: Database,
  redisUrl: string,
  prefix: string,
  options: { allowMissing?: boolean; drainMs?: number } = {},
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
    const left = async () =>
      (await redis.zcard(`${q}:delayed`)) +
      (await redis.llen(`${q}:wait`)) +
      (await redis.llen(`${q}:active`)) +
      (await redis.zcard(`${q}:prioritized`));
    // Past `drainMs` the count left is the answer (the caller prints what is still there).
    const retryJobsLeft = options.drainMs
      ? await waitFor(left, (n) => n === 0, options.drainMs).catch(left)
      : await left();
    return { holdMismatches, retryJobsLeft };
  } finally {
    redis.disconnect();
  }
}

/** BullMQ states a job can be listed in; the first four are the ones `retryJobsLeft` counts. */
const JOB_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'failed', 'completed'] as const;
const LEFT: readonly string[] = JOB_STATES.slice(0, 4);

/**
 * What is still pending after a run, one line each, so a failed settle explains itself: HELD
 * reservations (expires_at, their hold record in Redis and its expiry job), payments not final
 * (attempts, next retry, last update), and payment-retry jobs (state, data, due time, runs) that
 * are still waiting, delayed, active or prioritized, or whose payment is not final. Empty when
 * nothing is pending.
 */
export async function pendingReport(
  db: Database,
  redisUrl: string,
  prefix: string,
  limit = 10,
): Promise<string[]> {
  const lines: string[] = [];
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const retries = new Queue('payment-retries', {
    connection: redis as never,
    prefix: `${prefix}:{payments}`,
  });
  const expiries = new Queue('seat-holds', {
    connection: redis as never,
    prefix: `${prefix}:{holds}`,
  });
  try {
    const { rows: held } = await db.query<{ id: string; expires_at: Date; hold_id: string }>(
      `SELECT id, expires_at, hold_id FROM reservations WHERE status = 'HELD'
       ORDER BY expires_at LIMIT $1`,
      [limit],
    );
    for (const r of held) {
      const rec = await redis.hgetall(`${prefix}:{holds}:h:${r.hold_id}`);
      // The wake-up job of the hold's window (SeatHolds' default wakeupWindowMs, 1 s).
      const windowEnd = Math.ceil(Number(rec.deadline) / 1_000) * 1_000;
      const job = rec.deadline ? await expiries.getJob(`due-${windowEnd}`) : undefined;
      const hold = rec.state
        ? `hold ${rec.state} deadline ${iso(rec.deadline)} claimUntil ${iso(rec.claimUntil)} runs ${rec.runs}`
        : 'hold missing';
      const expiry = job
        ? `wake-up job ${job.id} ${await job.getState()} attempts ${job.attemptsMade}`
        : 'no wake-up job';
      lines.push(
        `reservation ${r.id} HELD expires_at ${r.expires_at.toISOString()}: ${hold}; ${expiry}`,
      );
    }
    const { rows: payments } = await db.query<{
      id: string;
      reservation_id: string;
      status: string;
      attempts: number;
      next_retry_at: Date | null;
      updated_at: Date;
    }>(
      `SELECT id, reservation_id, status, attempts, next_retry_at, updated_at FROM payments
       WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED') ORDER BY updated_at LIMIT $1`,
      [limit],
    );
    for (const p of payments) {
      lines.push(
        `payment ${p.id} ${p.status} attempts ${p.attempts} next retry ${p.next_retry_at?.toISOString() ?? '-'} updated ${p.updated_at.toISOString()} (reservation ${p.reservation_id})`,
      );
    }
    const jobs = await retries.getJobs([...JOB_STATES], 0, 999);
    const statuses = new Map(
      (
        await db.query<{ id: string; status: string; attempts: number }>(
          'SELECT id, status, attempts FROM payments WHERE id = ANY($1::uuid[])',
          [[...new Set(jobs.map((j) => (j.data as { paymentId: string }).paymentId))]],
        )
      ).rows.map((p) => [p.id, `${p.status} attempts ${p.attempts}`]),
    );
    for (const job of jobs) {
      const state = await job.getState();
      const paymentId = (job.data as { paymentId: string }).paymentId;
      if (!LEFT.includes(state) && !payments.some((p) => p.id === paymentId)) continue;
      lines.push(
        `retry job ${job.id} ${state} data ${JSON.stringify(job.data)} due ${new Date(job.timestamp + (job.delay ?? 0)).toISOString()} runs ${job.attemptsMade}${job.failedReason ? ` failed: ${job.failedReason}` : ''}; payment ${statuses.get(paymentId) ?? 'missing'}`,
      );
    }
    return lines;
  } finally {
    await retries.close().catch(() => {});
    await expiries.close().catch(() => {});
    redis.disconnect();
  }
}

const iso = (ms: string | undefined) =>
  ms && Number(ms) > 0 ? new Date(Number(ms)).toISOString() : '-';
