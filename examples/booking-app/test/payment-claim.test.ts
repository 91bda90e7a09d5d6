import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PaymentRepository } from '../src/concerts/payments/payment-repository.js';
import type { Database } from '../src/db/database.js';
import { EventLog } from '../src/events/event-log.js';
import { OutboxRepository } from '../src/events/outbox.js';
import { dbBackends, useDatabase } from './helpers.js';

// `claim` is one call of `claim_payment` (migration 007) instead of a four-statement transaction:
// these races are what its lock-then-update must still decide, on a real PostgreSQL (a pool of
// sessions racing) and on PGlite (one session, calls in turn).
describe.each(dbBackends)('PaymentRepository.claim ($name)', (backend) => {
  const fx = useDatabase(backend, { seed: true });

  async function reservation(db: Database, status = 'HELD'): Promise<string> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO reservations (user_id, concert_id, status, hold_id, fence, amount_cents, expires_at)
       VALUES ((SELECT min(id) FROM users), (SELECT min(id) FROM concerts), $1, 'h', 1, 100,
               now() + interval '1 minute')
       RETURNING id`,
      [status],
    );
    return (rows[0] as { id: string }).id;
  }

  async function payment(db: Database, reservationId: string, key: string): Promise<string> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents)
       VALUES ($1, (SELECT min(id) FROM users), $2, 100) RETURNING id`,
      [reservationId, key],
    );
    return (rows[0] as { id: string }).id;
  }

  const statuses = async (db: Database, reservationId: string) =>
    (
      await db.query<{ status: string }>(
        'SELECT status FROM payments WHERE reservation_id = $1 ORDER BY status',
        [reservationId],
      )
    ).rows.map((r) => r.status);

  it('of 20 concurrent claims of one payment, exactly one gets it (attempt 1)', async () => {
    const db = await fx.another();
    const repo = new PaymentRepository(db, new EventLog(db));
    const id = await payment(db, await reservation(db), 'k');
    const results = await Promise.all(Array.from({ length: 20 }, () => repo.claim(id)));
    const won = results.filter((r) => r.row);
    expect(won).toHaveLength(1);
    expect(won[0]?.row).toMatchObject({ id, status: 'PG_REQUESTED', attempts: 1 });
    expect(results.every((r) => !r.blocked)).toBe(true);
  });

  it('of 10 payments of one reservation claimed at once, exactly one is charging', async () => {
    const db = await fx.another();
    const repo = new PaymentRepository(db, new EventLog(db));
    const r = await reservation(db);
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => payment(db, r, `k${i}`)));
    const results = await Promise.all(ids.map((id) => repo.claim(id)));
    expect(results.filter((x) => x.row)).toHaveLength(1);
    // The others stay claimable but their reservation is not payable while one charges.
    expect(results.filter((x) => x.blocked)).toHaveLength(9);
    expect(await statuses(db, r)).toEqual(['PG_REQUESTED', ...Array(9).fill('STARTED')]);
  });

  it('a reservation that is not HELD blocks; a retry claim is for its own attempt only', async () => {
    const repo = new PaymentRepository(fx.db, new EventLog(fx.db));
    const expired = await payment(fx.db, await reservation(fx.db, 'EXPIRED'), 'k1');
    expect(await repo.claim(expired)).toEqual({ row: undefined, blocked: true });

    const id = await payment(fx.db, await reservation(fx.db), 'k2');
    await fx.db.query(
      `UPDATE payments SET status = 'RETRY_SCHEDULED', attempts = 2 WHERE id = $1`,
      [id],
    );
    expect(await repo.claim(id, 1)).toEqual({ row: undefined, blocked: false });
    expect((await repo.claim(id, 2)).row).toMatchObject({ status: 'PG_REQUESTED', attempts: 3 });
    expect(await repo.claim(id, 2)).toEqual({ row: undefined, blocked: false });
  });

  it('succeed claims its outbox messages as it inserts them: no relay takes them until the lease lapses', async () => {
    const db = await fx.another();
    const repo = new PaymentRepository(db, new EventLog(db));
    const outbox = new OutboxRepository(db);
    const id = await payment(db, await reservation(db), 'k-outbox');
    const claimed = (await repo.claim(id)).row as NonNullable<
      Awaited<ReturnType<typeof repo.claim>>['row']
    >;
    const token = randomUUID();
    const result = await repo.succeed(claimed, 'ch_1', { token, leaseMs: 300 });
    expect(result?.row).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(result?.claimed.map((m) => [m.id, m.claimToken, m.attempts]).sort()).toEqual([
      [`payment.succeeded:${id}`, token, 1],
      [`room.complete:${id}`, token, 1],
    ]);
    // A polling relay finds nothing due while the writer's claim holds ("the writer died" here)…
    expect(await outbox.claim({ limit: 10, leaseMs: 1_000 })).toEqual([]);
    // …and takes both over once it lapsed.
    const deadline = Date.now() + 5_000;
    let taken: Awaited<ReturnType<typeof outbox.claim>> = [];
    while (taken.length === 0) {
      if (Date.now() > deadline) {
        const { rows } = await db.query(
          'SELECT id, available_at, now() AS now, claim_token FROM outbox WHERE done_at IS NULL',
        );
        throw new Error(`the 300 ms claim did not lapse within 5 s: ${JSON.stringify(rows)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
      taken = await outbox.claim({ limit: 10, leaseMs: 1_000 });
    }
    expect(taken.map((m) => m.id).sort()).toEqual([
      `payment.succeeded:${id}`,
      `room.complete:${id}`,
    ]);
    expect(taken.every((m) => m.attempts === 2 && m.claimToken !== token)).toBe(true);
  });

  it('succeed without a claim leaves its outbox messages due at once (the relay has no fast path)', async () => {
    const db = await fx.another();
    const repo = new PaymentRepository(db, new EventLog(db));
    const id = await payment(db, await reservation(db), 'k-due');
    const claimed = (await repo.claim(id)).row as NonNullable<
      Awaited<ReturnType<typeof repo.claim>>['row']
    >;
    expect((await repo.succeed(claimed, 'ch_2', null))?.claimed).toEqual([]);
    const due = await new OutboxRepository(db).claim({ limit: 10, leaseMs: 1_000 });
    expect(due.map((m) => m.id).sort()).toEqual([`payment.succeeded:${id}`, `room.complete:${id}`]);
  });
});
