import { useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  BookingEvents,
  CONSUMERS,
  type PaymentSucceeded,
} from '../src/concerts/payments/booking-events.js';
import { OutboxRepository } from '../src/events/outbox.js';
import { OutboxRelay } from '../src/events/outbox-relay.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { eventJobs } from './event-jobs.js';
import { count, flowCombos, useDatabase, waitFor } from './helpers.js';
import { usePaymentApps } from './payment-fixture.js';

/** A `payment.succeeded` event whose ids all derive from `id`. */
const event = (id: string): PaymentSucceeded => ({
  eventId: `payment.succeeded:${id}`,
  paymentId: id,
  reservationId: `r-${id}`,
  userId: 1,
  concertId: 1,
  seatIds: [1],
  amount: 100,
  at: new Date().toISOString(),
});

// How `payment.succeeded` leaves the paying process: several events per BullMQ job, and a payment's
// answer that does not wait for the publish (the outbox's other guarantees: outbox.test.ts).
describe.each(flowCombos())(
  'publishing payment.succeeded on $name',
  ({ db: backend, redis: target }) => {
    const fixture = useDatabase(backend, { seed: true });
    const redis = useRedis(target);
    const { instance } = usePaymentApps(fixture, redis);
    const events = eventJobs(redis);
    const outboxRepo = () => new OutboxRepository(fixture.db);
    const pending = async () =>
      (
        await fixture.db.query<{ id: string }>(
          'SELECT id FROM outbox WHERE done_at IS NULL ORDER BY id',
        )
      ).rows.map((r) => r.id);

    it('the events published within the window leave as one job; an event alone is its own job', async () => {
      const env = await instance({ workers: false });
      const together = ['w-1', 'w-2', 'w-3'].map(event);
      await Promise.all(together.map((e) => env.locals.bookingEvents.publish(e)));
      const [batch, ...others] = await events.list();
      expect(others).toEqual([]);
      expect(batch?.id).toMatch(/^batch-/);
      expect(batch?.events).toEqual(together.map((e) => e.eventId));
      await env.locals.bookingEvents.publish(event('w-4'));
      expect((await events.list()).find((j) => j.id === 'payment.succeeded-w-4')?.events).toEqual([
        'payment.succeeded:w-4',
      ]);
      for (const publishWindowMs of [-1, 1.5, 60_001]) {
        expect(
          () =>
            new BookingEvents(redis.connect(), {
              prefix: redis.prefix,
              db: fixture.db,
              store: env.locals.idempotencyStore,
              logger: createLogger('silent'),
              publishWindowMs,
            }),
        ).toThrow(RangeError);
      }
    });

    it("the fast path waits for a message's plain effect, not for a fan-out's publish; stop() waits for that", async () => {
      const eventId = 'payment.succeeded:fast';
      const roomId = 'room.complete:fast';
      await fixture.db.transaction((tx) =>
        outboxRepo().add(tx, [
          { id: eventId, topic: 'payment.succeeded', payload: { ...event('fast') } },
          { id: roomId, topic: 'room.complete', payload: { concertId: 1, userId: 1 } },
        ]),
      );
      let release = () => {};
      const publishing = new Promise<void>((resolve) => {
        release = resolve;
      });
      const completed: unknown[] = [];
      const r = new OutboxRelay({
        db: fixture.db,
        logger: createLogger('silent'),
        metrics: new AppMetrics({ defaultMetrics: false }),
        handlers: {
          'payment.succeeded': { consumers: CONSUMERS, publish: () => publishing },
          'room.complete': async (payload) => {
            completed.push(payload);
          },
        },
      });
      // Claimed as a paying writer claims them: with the relay's own lease.
      const claimed = await outboxRepo().claim({
        limit: 2,
        leaseMs: r.settings.leaseMs,
        ids: [eventId, roomId],
      });
      expect(claimed).toHaveLength(2);
      // Without the change afterCommit waits for the held publish and never answers.
      let answered = false;
      void r.afterCommit(claimed).then(() => {
        answered = true;
      });
      await waitFor(async () => answered, Boolean).catch(() => {
        throw new Error('afterCommit is still waiting for the held fan-out publish');
      });
      expect(completed).toEqual([{ concertId: 1, userId: 1 }]);
      expect(await pending()).toContain(eventId);
      expect(await pending()).not.toContain(roomId);
      // stop() waits for the fan-out on its way (without that, it resolves within the turn: the
      // relay's loop never started); released, the publish is recorded: handed to its consumers
      // (published once), not done yet.
      let stopped = false;
      const stopping = r.stop().then(() => {
        stopped = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(stopped).toBe(false);
      release();
      await stopping;
      expect(await count(fixture.db, 'SELECT published FROM outbox WHERE id = $1', [eventId])).toBe(
        1,
      );
      expect(await pending()).toContain(eventId);
    });
  },
);
