import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call, dbBackends, useDatabase, waitFor } from '../helpers.js';
import { readInvariants, settle } from '../invariants.js';
import { killServers } from '../server-process.js';
import { type Instance, type Stack, startStack } from './cluster.js';
import { expectInvariants, readTotals } from './invariants.js';
import { admit } from './probe.js';

const postgres = dbBackends.find((b) => b.name === 'postgres') as (typeof dbBackends)[number];
const preload = join(import.meta.dirname, 'skew-clock.mjs');
const HOLD_TTL_MS = 3_000;
const HOLD_GRACE_MS = 4_000;
/** Within the bound: |skew| < HOLD_GRACE_MS minus a request's time. */
const SKEW_MS = 1_500;
/** Beyond it: more than the grace plus the 1 s rounding of the token's `exp`. */
const FAR_AHEAD_MS = HOLD_GRACE_MS + 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Who decides what, in time: hold placement, confirm and expiry are decided by Redis TIME inside
// the seat-lock Lua scripts; the waiting room's ticks and slot expiry by Redis TIME too. Only JWT
// checks (user tokens, queue_entry and payment tokens: `exp`) read the verifying process's clock,
// so a process whose clock is ahead by S refuses a token S ms early, and one behind accepts it S ms
// late — where the stateful checks in Redis (room.verify, holds.confirm) still refuse.
describe('chaos: clock skew between instances', () => {
  const fixture = useDatabase(postgres);
  let stack: Stack | undefined;

  afterEach(async () => {
    await stack?.stop();
    killServers();
  });

  it(`within ±${SKEW_MS} ms tokens and holds work across instances; expiry follows Redis time`, async () => {
    const db = fixture.db;
    stack = await startStack({
      db,
      schema: fixture.schema,
      seats: 10,
      env: { HOLD_TTL_MS: String(HOLD_TTL_MS), HOLD_GRACE_MS: String(HOLD_GRACE_MS) },
    });
    const { concertId } = stack;
    const skewed = (ms: number) => stack?.spawn({ SKEW_MS: String(ms) }, ['--import', preload]);
    const behind = (await skewed(-SKEW_MS)) as Instance;
    const ahead = (await skewed(SKEW_MS)) as Instance;
    const farAhead = (await skewed(FAR_AHEAD_MS)) as Instance;
    const seats = (
      (await call(behind.url, 'GET', `/concerts/${concertId}`)).body.seats as {
        id: number;
      }[]
    ).map((s) => s.id);
    const reserve = (via: Instance, entry: string, seatId: number) =>
      call(via.url, 'POST', `/concerts/${concertId}/reservations`, {
        token: entry,
        body: { seatIds: [seatId] },
      });
    const pay = (via: Instance, paymentToken: string, reservationId: string, key: string) =>
      call(via.url, 'POST', '/payments', {
        token: paymentToken,
        body: { reservationId },
        headers: { 'idempotency-key': `"${key}"` },
      });
    const untilRealTime = async (epochMs: number) => {
      while (Date.now() < epochMs) await sleep(Math.min(50, epochMs - Date.now()));
    };

    // 1. Tokens cross instances 2 × SKEW apart in both directions: login on one, use on the other.
    const fromBehind = await admit(behind.url, concertId, 'ann');
    const fromAhead = await admit(ahead.url, concertId, 'bob');
    const meAcross = [
      (await call(ahead.url, 'GET', '/me', { token: fromBehind.token })).status,
      (await call(behind.url, 'GET', '/me', { token: fromAhead.token })).status,
      (await call(farAhead.url, 'GET', '/me', { token: fromBehind.token })).status,
    ];
    const annHeld = await reserve(ahead, fromBehind.entry, seats[0] as number);
    const annPaid = await pay(
      behind,
      annHeld.body.paymentToken,
      annHeld.body.reservation?.id,
      'ann-1',
    );

    // 2. Bob's hold, placed through the instance ahead and never paid, expires by Redis time:
    //    not before expiresAt + grace, although one expiry worker's clock is ahead.
    const bobHeld = await reserve(ahead, fromAhead.entry, seats[1] as number);

    // 3. Cid pays when the UI timer ends, through the instance ahead by SKEW (< grace): accepted.
    const cid = await admit(behind.url, concertId, 'cid');
    const cidHeld = await reserve(behind, cid.entry, seats[2] as number);
    // 4. Dee pays at the same moment through the instance ahead by more than the grace: its clock
    //    says the payment token is past `exp` (401) although Redis would still confirm the hold,
    //    which a retry through an instance with a sane clock shows.
    const dee = await admit(behind.url, concertId, 'dee');
    const deeHeld = await reserve(behind, dee.entry, seats[3] as number);
    await untilRealTime(Date.parse(cidHeld.body.reservation.expiresAt));
    const cidPaid = await pay(ahead, cidHeld.body.paymentToken, cidHeld.body.reservation.id, 'c');
    await untilRealTime(Date.parse(deeHeld.body.reservation.expiresAt));
    const deeFar = await pay(farAhead, deeHeld.body.paymentToken, deeHeld.body.reservation.id, 'd');
    const deeRetry = await pay(behind, deeHeld.body.paymentToken, deeHeld.body.reservation.id, 'd');

    const bobExpired = await waitFor(
      async () =>
        (
          await db.query<{ status: string; early_ms: number }>(
            `SELECT status, extract(epoch FROM (expires_at + $2 * interval '1 millisecond') - updated_at) * 1000 AS early_ms
             FROM reservations WHERE id = $1`,
            [bobHeld.body.reservation.id, HOLD_GRACE_MS],
          )
        ).rows[0],
      (r) => r?.status === 'EXPIRED',
    );
    const pending = await settle(db, 10_000);
    const invariants = await readInvariants(db);
    const totals = await readTotals(db);
    console.log(
      [
        'chaos — clock skew:',
        `  injected: instance clocks at ${-SKEW_MS}, +${SKEW_MS} and +${FAR_AHEAD_MS} ms (preload shifting Date); HOLD_TTL_MS=${HOLD_TTL_MS}, HOLD_GRACE_MS=${HOLD_GRACE_MS}`,
        `  user tokens across instances (behind→ahead, ahead→behind, behind→far ahead): ${meAcross.join(', ')}`,
        `  hold placed on +${SKEW_MS} with a queue token from ${-SKEW_MS}: ${annHeld.status}; paid on ${-SKEW_MS}: ${annPaid.status}`,
        `  unpaid hold placed on +${SKEW_MS}: ${bobExpired?.status}, rolled back ${Math.round(-(bobExpired?.early_ms ?? 0))} ms after expiresAt + grace (Redis time)`,
        `  paid when the UI timer ended: through +${SKEW_MS} → ${cidPaid.status}; through +${FAR_AHEAD_MS} → ${deeFar.status} ${deeFar.body?.code ?? ''}, then through ${-SKEW_MS} → ${deeRetry.status}`,
        `  bound: a process ahead by S refuses payment tokens S ms before the hold's deadline; holds, expiry and the room use Redis time, so only S < HOLD_GRACE_MS keeps "UI 5:00, server 5:10"`,
        `  DB: ${JSON.stringify(totals)}; still pending after settle: ${pending}`,
        `  invariants (0 = holds): ${JSON.stringify(invariants)}`,
      ].join('\n'),
    );

    expect.soft(meAcross).toEqual([200, 200, 200]);
    expect.soft([annHeld.status, annPaid.status]).toEqual([201, 201]);
    expect.soft(bobExpired?.status).toBe('EXPIRED');
    // Rolled back at or after the Redis deadline, never before it.
    expect.soft(Number(bobExpired?.early_ms)).toBeLessThanOrEqual(0);
    expect.soft(cidPaid.status).toBe(201);
    expect.soft([deeFar.status, deeFar.body?.code]).toEqual([401, 'token-expired']);
    expect.soft(deeRetry.status).toBe(201);
    expect.soft(totals.confirmed).toBe(3);
    expectInvariants(invariants);
  }, 60_000);
});
