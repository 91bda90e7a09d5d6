import { afterEach, describe, expect, it } from 'vitest';
import { dbBackends, useDatabase } from '../helpers.js';
import { readInvariants, settle } from '../invariants.js';
import { killServers } from '../server-process.js';
import { logSummary, type Stack, startStack } from './cluster.js';
import { expectInvariants, readTotals } from './invariants.js';
import { describeLoad, runLoad } from './load.js';
import { redisDisagreements } from './redis-state.js';

const postgres = dbBackends.find((b) => b.name === 'postgres') as (typeof dbBackends)[number];
const USERS = 100;
const SEATS = 20;
const GATEWAY = {
  PG_LATENCY_MS: '150',
  PG_TIMEOUT_MS: '400',
  PG_TIMEOUT_RATE: '0.3',
  PG_CHARGED_ON_TIMEOUT_RATE: '0.5',
  PG_FAILURE_RATE: '0.3',
};

// A slow, unreliable PSP: 30 % declines, 30 % timeouts of which half charged the card anyway
// (hidden successes). The retry worker (BullMQ, same gateway key) must turn each timeout into one
// outcome, never a second charge, and the DB, Redis and the PSP's ledger must tell one story.
describe('chaos: slow and failing payment gateway (2 instances)', () => {
  const fixture = useDatabase(postgres);
  let stack: Stack | undefined;

  afterEach(async () => {
    await stack?.stop();
    killServers();
  });

  it('charges each success exactly once, drains the retry queue, and DB, Redis and ledger agree', async () => {
    const db = fixture.db;
    stack = await startStack({ db, schema: fixture.schema, seats: SEATS, env: GATEWAY });
    const { concertId } = stack;
    const instances = [await stack.spawn(), await stack.spawn()];
    const figures = await runLoad({
      users: USERS,
      inFlight: 30,
      concertId,
      instances,
      payShare: 0.9,
      replayShare: 0.3,
    });
    // Retries back off 1 s, 2 s, 4 s, 8 s: 5 attempts end within ~16 s of the last timeout.
    const pending = await settle(db, 30_000);
    const invariants = await readInvariants(db);
    const totals = await readTotals(db);
    const redis = await redisDisagreements(db, stack.redis.url, stack.prefix);
    const attempts = await db.query<{ attempts: number; n: number }>(
      'SELECT attempts, count(*)::int AS n FROM payments GROUP BY attempts ORDER BY attempts',
    );
    const hidden = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments WHERE status = 'SUCCEEDED' AND attempts > 1`,
    );
    console.log(
      [
        'chaos — slow and failing payment gateway:',
        `  injected: ${Object.entries(GATEWAY)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}; 2 instances, ${SEATS} seats`,
        ...describeLoad(figures, stack.instances).map((l) => `  ${l}`),
        `  payments by gateway attempts: ${attempts.rows.map((r) => `${r.attempts}×${r.n}`).join(', ')}; succeeded after a retry: ${(hidden.rows[0] as { n: number }).n}`,
        `  DB: ${JSON.stringify(totals)}; still pending after settle: ${pending}`,
        `  Redis: payment-retry jobs left ${redis.retryJobsLeft}; hold states that contradict the DB: ${redis.holdMismatches.length} ${redis.holdMismatches.slice(0, 3).join('; ')}`,
        `  invariants (0 = holds): ${JSON.stringify(invariants)}`,
        `  server warnings/errors: ${logSummary(stack.instances).join('; ') || 'none'}`,
      ].join('\n'),
    );

    expect.soft(figures.hangs).toEqual([]);
    expect.soft(figures.badErrors).toEqual([]);
    expect.soft(figures.paid202 + figures.paid402).toBeGreaterThan(0); // the faults did happen
    expect.soft(totals.confirmed).toBeGreaterThan(0);
    expect.soft(redis.retryJobsLeft).toBe(0);
    expect.soft(redis.holdMismatches).toEqual([]);
    expectInvariants(invariants);
  }, 90_000);
});
