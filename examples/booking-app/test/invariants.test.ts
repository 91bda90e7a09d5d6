import { describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { dbBackends, useDatabase } from './helpers.js';
import { describePending, readInvariants } from './invariants.js';

// The invariants the chaos tests and bench:load assert must themselves catch what they name: here,
// the consumer effects of a payment seen twice or never.
describe.each(dbBackends)('booking invariants ($name)', (backend) => {
  const fx = useDatabase(backend, { seed: true });

  async function succeededPayment(db: Database, key: string): Promise<string> {
    const { rows } = await db.query<{ id: string }>(
      `WITH r AS (
         INSERT INTO reservations (user_id, concert_id, status, hold_id, fence, amount_cents, expires_at)
         VALUES ((SELECT min(id) FROM users), (SELECT min(id) FROM concerts), 'EXPIRED', $1, 1, 100,
                 now())
         RETURNING id, user_id)
       INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status)
       SELECT id, user_id, $1, 100, 'SUCCEEDED' FROM r RETURNING id`,
      [key],
    );
    return (rows[0] as { id: string }).id;
  }

  const effect = (db: Database, type: string, paymentId: string) =>
    db.query(`INSERT INTO business_events (type, outcome, subject) VALUES ($1, 'success', $2)`, [
      type,
      `event:payment.succeeded:${paymentId}`,
    ]);

  it('counts a consumer effect seen twice and one never seen, per payment and consumer', async () => {
    const once = await succeededPayment(fx.db, 'once');
    const twice = await succeededPayment(fx.db, 'twice');
    const never = await succeededPayment(fx.db, 'never');
    for (const id of [once, twice]) {
      await effect(fx.db, 'email.sent', id);
      await effect(fx.db, 'sales.recorded', id);
    }
    await effect(fx.db, 'sales.recorded', twice);
    // Another payment's id inside a longer subject is not this payment's effect.
    await fx.db.query(
      `INSERT INTO business_events (type, outcome, subject) VALUES ('email.sent', 'success', $1)`,
      [`event:payment.succeeded:${never}-r1`],
    );

    const found = await readInvariants(fx.db);
    expect(found.consumerEffectsDuplicated).toBe(1);
    expect(found.consumerEffectsMissing).toBe(2);
    const lines = (await describePending(fx.db)).filter((l) => l.startsWith('consumer effects'));
    expect(lines.sort()).toEqual(
      [
        `consumer effects of ${never}: email.sent 0, sales.recorded 0`,
        `consumer effects of ${twice}: email.sent 1, sales.recorded 2`,
      ].sort(),
    );
  });
});
