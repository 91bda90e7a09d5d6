import { masters } from '@boxoffice/internal';
import { useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import type { PaymentSucceeded } from '../src/concerts/payments/booking-events.js';
import type { Database } from '../src/db/database.js';
import { OutboxRepository } from '../src/events/outbox.js';
import { type OutboxHandler, OutboxRelay } from '../src/events/outbox-relay.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { eventJobs } from './event-jobs.js';
import { call, count, flowCombos, useDatabase, waitFor } from './helpers.js';
import { type PaymentApp, usePaymentApps } from './payment-fixture.js';

describe.each(flowCombos())('outbox on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const { instance, reserve, pay } = usePaymentApps(fixture, redis);

  const events = eventJobs(redis);
  const jobIds = events.ids;
  const jobState = events.state;

  const outboxRepo = () => new OutboxRepository(fixture.db);

  const pending = async () =>
    (
      await fixture.db.query<{ id: string }>(
        'SELECT id FROM outbox WHERE done_at IS NULL ORDER BY id',
      )
    ).rows.map((r) => r.id);

  const metricLines = async (env: PaymentApp) =>
    (await env.metrics.registry.getSingleMetricAsString('boxoffice_outbox_messages_total'))
      .split('\n')
      .filter((l) => l.startsWith('boxoffice_outbox_messages_total{'));

  /** `n` synthetic `payment.succeeded` messages written in one transaction. */
  const writeMessages = async (n: number, prefix: string) => {
    const messages = Array.from({ length: n }, (_, i) => {
      const event: PaymentSucceeded = {
        eventId: `payment.succeeded:${prefix}-${i}`,
        paymentId: `${prefix}-${i}`,
        reservationId: `${prefix}-r${i}`,
        userId: 1,
        concertId: 1,
        seatIds: [i + 1],
        amount: 100,
        at: new Date().toISOString(),
      };
      return { id: event.eventId, topic: 'payment.succeeded' as const, payload: { ...event } };
    });
    await fixture.db.transaction((tx) => new OutboxRepository(fixture.db).add(tx, messages));
    return messages.map((m) => m.id);
  };

  /** A relay of its own (as another process would run) whose publish counts its calls per id. */
  const relay = (
    db: Database,
    publish: OutboxHandler,
    calls: Map<string, number>,
    settings: ConstructorParameters<typeof OutboxRelay>[0]['settings'] = {},
  ) =>
    new OutboxRelay({
      db,
      logger: createLogger('silent'),
      metrics: new AppMetrics({ defaultMetrics: false }),
      settings,
      handlers: {
        'payment.succeeded': async (payload) => {
          const id = String(payload.eventId);
          calls.set(id, (calls.get(id) ?? 0) + 1);
          return publish(payload);
        },
        'room.complete': async () => {
          throw new Error('not in this test');
        },
      },
    });

  it('a crash between the commit and the effects: another instance completes the room and publishes once', async () => {
    // The paying instance "dies" after its commit: no fast path, no relay of its own.
    const crashed = await instance({ workers: false, outbox: { immediate: false } });
    const { user, reservation, paymentToken } = await reserve(crashed, 'alice', ['C1', 'C2']);
    const res = await pay(crashed.base, paymentToken, { reservationId: reservation.id }, 'crash');
    expect(res.status).toBe(201);
    const paymentId = res.body.payment.id as string;
    const ids = [`payment.succeeded:${paymentId}`, `room.complete:${paymentId}`];
    expect(await pending()).toEqual(ids);
    expect(
      (await call(crashed.base, 'GET', '/concerts/1/queue', { token: user.token })).body.state,
    ).toBe('active');
    expect(await jobIds()).toEqual([]);

    // Two survivors, each with its relay (and consumers), on their own connections.
    const survivors = [
      await instance({ db: await fixture.another(), outbox: { pollMs: 50 } }),
      await instance({ db: await fixture.another(), outbox: { pollMs: 50 } }),
    ];
    await waitFor(pending, (p) => p.length === 0);
    expect(
      (await call(crashed.base, 'GET', '/concerts/1/queue', { token: user.token })).body,
    ).toEqual({ state: 'unknown', soldOut: false });
    const consumed = () =>
      count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE subject = $1 AND type IN ('email.sent', 'sales.recorded')",
        [`event:payment.succeeded:${paymentId}`],
      );
    await waitFor(consumed, (n) => n === 2);
    expect(await jobIds()).toEqual([`payment.succeeded-${paymentId}`]);
    // Each message performed by exactly one relay, once.
    const lines = [
      ...(await metricLines(survivors[0] as PaymentApp)),
      ...(await metricLines(survivors[1] as PaymentApp)),
    ].filter((l) => !l.endsWith(' 0'));
    // payment.succeeded is handed to the consumers, and done by the last of them.
    expect(lines.sort()).toEqual([
      'boxoffice_outbox_messages_total{topic="payment.succeeded",outcome="published"} 1',
      'boxoffice_outbox_messages_total{topic="room.complete",outcome="done"} 1',
    ]);
    const { rows } = await fixture.db.query<{ attempts: number }>(
      'SELECT attempts FROM outbox ORDER BY id',
    );
    expect(rows.map((r) => r.attempts)).toEqual([1, 1]);
  });

  it('Redis loses the consumer jobs and the dedupe records: the relay re-publishes, each effect happens once', async () => {
    const outbox = { pollMs: 50, redeliverAfterMs: 300 };
    // The paying instance publishes right after its commit but runs no consumers.
    const payer = await instance({ workers: false, outbox });
    const { reservation, paymentToken } = await reserve(payer, 'alice', ['D1']);
    const res = await pay(payer.base, paymentToken, { reservationId: reservation.id }, 'lost');
    expect(res.status).toBe(201);
    const paymentId = res.body.payment.id as string;
    const jobId = `payment.succeeded-${paymentId}`;
    // The answer does not wait for the publish (it waits up to the publish window for company).
    await waitFor(jobIds, (ids) => ids.length > 0);
    expect(await jobIds()).toEqual([jobId]);
    expect(await pending()).toEqual([`payment.succeeded:${paymentId}`]);

    // Redis forgets the jobs (as a restart without persistence would) before any consumer ran.
    await events.withQueue((queue) => queue.obliterate({ force: true }));
    expect(await jobIds()).toEqual([]);

    // An instance with consumers: its relay finds the deliveries missing and re-publishes. Its own
    // check-in is long, so that the one re-publish counted below is the only one however slowly
    // the consumers start (a 300 ms one would re-publish again whenever they take longer).
    const consumer = await instance({
      db: await fixture.another(),
      outbox: { ...outbox, redeliverAfterMs: 60_000 },
    });
    const consumed = () =>
      count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE subject = $1 AND type IN ('email.sent', 'sales.recorded')",
        [`event:payment.succeeded:${paymentId}`],
      );
    await waitFor(consumed, (n) => n === 2).catch(async (error) => {
      throw new Error(
        `${error.message}; outbox: ${(await outboxRepo().describePending()).join('; ')}`,
      );
    });
    await waitFor(pending, (p) => p.length === 0);
    expect(await jobIds()).toEqual([`${jobId}-r1`]);
    expect(
      (await consumer.metrics.registry.getSingleMetricAsString('boxoffice_outbox_messages_total'))
        .split('\n')
        .filter((l) => l.includes('payment.succeeded') && !l.endsWith(' 0')),
    ).toEqual([
      'boxoffice_outbox_messages_total{topic="payment.succeeded",outcome="republished"} 1',
    ]);

    // Redis forgets the consumers' dedupe records too; a late redelivery still changes nothing,
    // because each effect committed with its delivery record in PostgreSQL.
    const connection = redis.connect();
    for (const node of masters(connection)) {
      for (const key of await node.keys(`${redis.prefix}:idem:*`)) await node.del(key);
    }
    await consumer.locals.bookingEvents.publish(
      (
        await fixture.db.query<{ payload: PaymentSucceeded }>(
          'SELECT payload FROM outbox WHERE id = $1',
          [`payment.succeeded:${paymentId}`],
        )
      ).rows[0]?.payload as PaymentSucceeded,
      2,
    );
    await waitFor(
      async () => (await jobIds()).length,
      (n) => n === 2,
    );
    await waitFor(
      () => jobState(`${jobId}-r2`),
      (state) => state === 'completed',
    );
    expect(await consumed()).toBe(2);
    expect(
      await count(fixture.db, 'SELECT count(*) FROM outbox_deliveries WHERE message_id = $1', [
        `payment.succeeded:${paymentId}`,
      ]),
    ).toBe(2);
    connection.disconnect();
  });

  it('two relays draining at once: each message claimed and published exactly once', async () => {
    const env = await instance({ workers: false });
    const ids = await writeMessages(40, 'race');
    const calls = new Map<string, number>();
    const publish: OutboxHandler = (payload) =>
      env.locals.bookingEvents.publish(payload as unknown as PaymentSucceeded);
    const a = relay(fixture.db, publish, calls, { batchSize: 5 });
    const b = relay(await fixture.another(), publish, calls, { batchSize: 5 });
    const done = await Promise.all([a.drain(), b.drain(), a.drain(), b.drain()]);
    expect(done.reduce((x, y) => x + y, 0)).toBe(40);
    expect([...calls.keys()].sort()).toEqual([...ids].sort());
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(await pending()).toEqual([]);
    // The publishes of one claim (5 messages) share a publish window, so its messages leave in
    // one job: at most 8 jobs for 8 claims, and every message is in exactly one.
    const jobs = await events.list();
    expect(jobs.length).toBeLessThanOrEqual(8);
    expect(jobs.flatMap((j) => j.events).sort()).toEqual([...ids].sort());
    // A consumer worker takes the jobs apart: each event reaches each consumer once.
    env.locals.bookingEvents.startConsumers();
    const effects = () =>
      count(fixture.db, 'SELECT count(*) FROM business_events WHERE subject = ANY($1::text[])', [
        ids.map((id) => `event:${id}`),
      ]);
    await waitFor(effects, (n) => n >= 80);
    expect(
      await count(
        fixture.db,
        'SELECT count(DISTINCT (message_id, consumer)) FROM outbox_deliveries WHERE message_id = ANY($1::text[])',
        [ids],
      ),
    ).toBe(80);
    expect(await effects()).toBe(80);
  });

  it('records many deliveries in one statement: each once, effects only for the new ones, messages done when all consumers are', async () => {
    const ids = await writeMessages(3, 'deliver');
    const repo = outboxRepo();
    const consumers = ['email', 'stats'] as const;
    const effect = (id: string, consumer: string) => ({
      type: `test.${consumer}`,
      outcome: 'info' as const,
      subject: `event:${id}`,
      data: { consumer },
    });
    const [a, b, c] = ids as [string, string, string];
    expect(await repo.deliver(a, 'email', consumers, effect(a, 'email'))).toBe(true);
    // Out of order, with a's e-mail already recorded and c's stats listed twice.
    const items = [
      { id: c, consumer: 'stats' },
      { id: a, consumer: 'email' },
      { id: b, consumer: 'stats' },
      { id: a, consumer: 'stats' },
      { id: c, consumer: 'stats' },
      { id: b, consumer: 'email' },
    ].map(({ id, consumer }) => ({ id, consumer, effect: effect(id, consumer) }));
    const recorded = await repo.deliverAll(consumers, items);
    expect(recorded).toEqual([true, false, true, true, false, true]);
    const effects = await fixture.db.query<{ subject: string; type: string }>(
      `SELECT subject, type FROM business_events WHERE subject = ANY($1::text[])
       ORDER BY subject, type`,
      [ids.map((id) => `event:${id}`)],
    );
    expect(effects.rows.map((r) => `${r.subject} ${r.type}`)).toEqual([
      `event:${a} test.email`,
      `event:${a} test.stats`,
      `event:${b} test.email`,
      `event:${b} test.stats`,
      `event:${c} test.stats`,
    ]);
    expect((await pending()).filter((id) => ids.includes(id))).toEqual([c]);
  });

  // The relay publishes a fan-out message, and its consumers may record every delivery (which
  // marks it done) before the relay's finish runs: the claim was still the relay's, so it counts
  // as published, not as lapsed (outbox.test's crash case printed "lapsed" in CI when they won).
  it("a fan-out message its consumers finished before the relay's finish is still the relay's", async () => {
    const [a] = (await writeMessages(1, 'consumers-first')) as [string];
    const repo = outboxRepo();
    const [claimed] = await repo.claim({ limit: 1, leaseMs: 5_000, ids: [a] });
    const consumers = ['email', 'stats'] as const;
    for (const consumer of consumers) {
      const effect = { type: `test.${consumer}`, outcome: 'info' as const, subject: `event:${a}` };
      expect(await repo.deliver(a, consumer, consumers, { ...effect, data: {} })).toBe(true);
    }
    expect(await pending()).not.toContain(a); // done by the last consumer
    const mine = await repo.finish([
      { message: claimed as NonNullable<typeof claimed>, checkInMs: 10_000 },
    ]);
    expect(mine).toEqual(new Set([a]));
    // A claim that lapsed (another relay re-claimed the message) is still not this relay's.
    const [b] = (await writeMessages(1, 'lapsed')) as [string];
    const [first] = await repo.claim({ limit: 1, leaseMs: 1, ids: [b] });
    await waitFor(
      () => repo.claim({ limit: 1, leaseMs: 5_000, ids: [b] }),
      (again) => again.length === 1,
    );
    expect(
      await repo.finish([{ message: first as NonNullable<typeof first>, checkInMs: 10_000 }]),
    ).toEqual(new Set());
  });

  it.runIf(backend.name === 'postgres')(
    'a finish and a consumer delivery over the same messages take their rows in one order: no deadlock',
    async () => {
      const [a, b] = (await writeMessages(2, 'lock-order')).sort() as [string, string];
      const claimed = await outboxRepo().claim({ limit: 2, leaseMs: 5_000, ids: [a, b] });
      const byId = new Map(claimed.map((m) => [m.id, m]));
      // A delivery (deliverAll takes rows in id order) holds a and will want b next.
      let aLocked!: () => void;
      const lockedA = new Promise<void>((resolve) => {
        aLocked = resolve;
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const delivery = fixture.db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE', [a]);
        aLocked();
        await gate;
        await tx.query('SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE', [b]);
      });
      await lockedA;
      // A relay finishes the two, listed b first, on a connection of its own.
      const finishing = new OutboxRepository(await fixture.another()).finish(
        [b, a].map((id) => ({
          message: byId.get(id) as (typeof claimed)[number],
          checkInMs: 10_000,
        })),
      );
      // Once the finish waits for a lock, the delivery goes on to b: taken in one order, b is free.
      const waiting = () =>
        fixture.db.query<{ query: string }>(
          `SELECT query FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND query LIKE '%UPDATE outbox o%'`,
        );
      await waitFor(waiting, (r) => r.rows.length > 0);
      release();
      const outcomes = await Promise.allSettled([delivery, finishing]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual([
        'ok',
        'ok',
      ]);
      expect(await finishing).toEqual(new Set([a, b]));
    },
  );

  it('messages performed in one event-loop turn (payments that committed together) are finished in one statement', async () => {
    const ids = await writeMessages(4, 'turn');
    const claimed = await outboxRepo().claim({ limit: 4, leaseMs: 5_000, ids });
    expect(claimed).toHaveLength(4);
    const finishes: string[] = [];
    const counted = new Proxy(fixture.db, {
      get(target, key) {
        if (key === 'query') {
          return (sql: string, params?: unknown[]) => {
            if (/\bUPDATE outbox o\b/.test(sql)) finishes.push(sql);
            return target.query(sql, params);
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const calls = new Map<string, number>();
    const r = relay(counted, async () => undefined, calls);
    await Promise.all(claimed.map((m) => r.afterCommit([m])));
    expect(finishes).toHaveLength(1);
    expect([...calls.keys()].sort()).toEqual([...ids].sort());
    expect((await pending()).filter((id) => ids.includes(id))).toEqual([]);
  });

  it('a failed publish is retried with a backoff, and a claim whose relay died is taken over', async () => {
    const env = await instance({ workers: false });
    const [first] = await writeMessages(1, 'flaky');
    const calls = new Map<string, number>();
    let failures = 1;
    const flaky = relay(
      fixture.db,
      async (payload) => {
        if (failures-- > 0) throw new Error('Redis unavailable (simulated)');
        await env.locals.bookingEvents.publish(payload as unknown as PaymentSucceeded);
      },
      calls,
      { retryDelayMs: 100 },
    );
    expect(await flaky.drain()).toBe(0);
    const { rows } = await fixture.db.query<{ attempts: number; last_error: string }>(
      'SELECT attempts, last_error FROM outbox WHERE id = $1',
      [first],
    );
    expect(rows[0]).toEqual({ attempts: 1, last_error: 'Redis unavailable (simulated)' });
    await waitFor(
      () => flaky.drain(),
      (n) => n === 1,
    );
    expect(calls.get(first as string)).toBe(2);
    expect(await pending()).toEqual([]);
    expect(await jobIds()).toEqual([`payment.succeeded-flaky-0`]);

    // A relay claims a message and dies: nobody else touches it until its lease lapses.
    const [orphan] = await writeMessages(1, 'orphan');
    const repo = new OutboxRepository(fixture.db);
    const [dead] = await repo.claim({ limit: 10, leaseMs: 300 });
    expect(dead?.id).toBe(orphan);
    const survivor = relay(fixture.db, async () => {}, calls);
    expect(await survivor.drain()).toBe(0);
    await waitFor(
      () => survivor.drain(),
      (n) => n === 1,
    );
    // The dead relay, back from the grave, cannot mark it done: its claim is gone.
    expect(await repo.done(dead as NonNullable<typeof dead>)).toBe(false);
    expect(await pending()).toEqual([]);
  });

  it('a publish that fails because Redis is unreachable is due again after retryDelayMs, not a growing backoff', async () => {
    const [id] = await writeMessages(1, 'outage');
    // As if it had already failed four times: the next backoff would be 16 × retryDelayMs.
    await fixture.db.query('UPDATE outbox SET attempts = 4 WHERE id = $1', [id]);
    const calls = new Map<string, number>();
    const down = relay(
      fixture.db,
      async () => {
        throw new Error('Connection is closed.');
      },
      calls,
      { retryDelayMs: 1000 },
    );
    expect(await down.drain()).toBe(0);
    const dueInMs = await count(
      fixture.db,
      `SELECT round(extract(epoch FROM (available_at - now())) * 1000) FROM outbox WHERE id = $1`,
      [id],
    );
    expect(dueInMs).toBeGreaterThan(0);
    expect(dueInMs).toBeLessThanOrEqual(1000);
  });

  it('a handler that never answers counts as failed within half the lease, and the message is due again soon', async () => {
    const [id] = await writeMessages(1, 'stuck');
    const calls = new Map<string, number>();
    const stuck = relay(fixture.db, () => new Promise(() => {}), calls, {
      leaseMs: 400,
      retryDelayMs: 100,
    });
    expect(await stuck.drain()).toBe(0);
    const { rows } = await fixture.db.query<{ last_error: string; claimed: boolean }>(
      'SELECT last_error, claim_token IS NOT NULL AS claimed FROM outbox WHERE id = $1',
      [id],
    );
    expect(rows[0]?.claimed).toBe(false);
    expect(rows[0]?.last_error).toMatch(/did not answer within 200 ms/);
  });

  it('prunes done messages past the retention, oldest first, and never a pending one', async () => {
    const ids = await writeMessages(5, 'prune');
    const calls = new Map<string, number>();
    const r = relay(fixture.db, async () => {}, calls, { retentionMs: 3_600_000, pruneBatch: 2 });
    expect(await r.drain()).toBe(5);
    // Three were done two hours ago, two just now; one more message is still pending.
    await fixture.db.query(
      `UPDATE outbox SET done_at = now() - interval '2 hours' WHERE id = ANY($1::text[])`,
      [ids.slice(0, 3)],
    );
    const [waiting] = await writeMessages(1, 'prune-pending');
    await fixture.db.query(
      `UPDATE outbox SET created_at = now() - interval '3 hours' WHERE id = $1`,
      [waiting],
    );
    // Batches of 2 until none is left: 3 deleted in two statements.
    expect(await r.prune()).toBe(3);
    const { rows } = await fixture.db.query<{ id: string }>(
      `SELECT id FROM outbox WHERE id LIKE 'payment.succeeded:prune%' ORDER BY id`,
    );
    expect(rows.map((x) => x.id)).toEqual([...ids.slice(3), waiting].sort());
    expect(await r.prune()).toBe(0);
    // A polling round prunes too, at most once a minute.
    await fixture.db.query(
      `UPDATE outbox SET done_at = now() - interval '2 hours' WHERE id = ANY($1::text[])`,
      [ids.slice(3)],
    );
    await r.round();
    expect(calls.get(waiting as string)).toBe(1);
    expect(await pending()).toEqual([]);
    const left = await fixture.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE id LIKE 'payment.succeeded:prune%'`,
    );
    // The round performed the pending message first: done now, but recent, so kept.
    expect(left.rows[0]?.n).toBe(1);
  });
});
