import { createHash } from 'node:crypto';
import type { IdempotencyStore } from '@boxoffice/idempotency';
import { duplicateClient, type RedisClient, TickBatch } from '@boxoffice/internal';
import { QueuePool } from '@boxoffice/internal/queue-pool';
import { Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import { StatementBatch } from '../../db/statement-batch.js';
import type { BusinessEvent } from '../../events/event-log.js';
import { OutboxRepository } from '../../events/outbox.js';

/** The `payment.succeeded` domain event. */
export interface PaymentSucceeded {
  /** Unique per event; consumers dedupe on it. */
  eventId: string;
  paymentId: string;
  reservationId: string;
  userId: number;
  concertId: number;
  seatIds: number[];
  amount: number;
  at: string;
}

/** The consumers of `payment.succeeded`: each records its own delivery; they share a dedupe. */
export const CONSUMERS = ['confirmation-email', 'sales-stats'] as const;

/** The BullMQ queue of `payment.succeeded`: each job carries its events to every consumer. */
export const EVENTS_QUEUE = 'payment-succeeded';

/** The name of a job carrying several events (`{ events }`); a one-event job is the event itself. */
export const BATCH_JOB = 'payment.succeeded.batch';

/**
 * The dedupe scope of an event's consumers: one record per event for both (they run in the same
 * worker), not one each — a dedupe is 4 Redis commands; the delivery rows keep each once.
 */
const DEDUPE_SCOPE = 'payment.succeeded';

/** The most events one job carries. */
const MAX_EVENTS_PER_JOB = 100;

/** How long the first event of a job waits for others by default (see `publishWindowMs`). */
export const DEFAULT_PUBLISH_WINDOW_MS = 100;

/** A publish waiting for the add of its job. */
interface QueuedEvent {
  event: PaymentSucceeded;
  jobId: string;
  resolve(): void;
  reject(error: unknown): void;
}

/** A consumer's delivery of an event, recorded with its effect ({@link OutboxRepository.deliverAll}). */
interface Delivery {
  id: string;
  consumer: string;
  effect: BusinessEvent;
}

/**
 * `payment.succeeded` on BullMQ: `publish` queues the event for a job ({@link EVENTS_QUEUE}; the
 * events of one publish window share it); `startConsumers` runs a worker whose handler hands each
 * event of a job to each consumer, each at most once per event id,
 * since BullMQ delivers at least once: `store.dedupe(eventId, …)` (one record per event for both
 * consumers) keeps concurrent deliveries apart in Redis, and each effect commits together with its
 * consumer's delivery record in PostgreSQL ({@link OutboxRepository.deliverAll}: the deliveries of one
 * event-loop turn in one statement), which is what holds when Redis forgets (the event id is the
 * outbox message id; the last delivery finishes the outbox row). A consumer that fails fails the
 * job, and BullMQ's retry finds the others' delivery rows. Every job is an add, a hand-out and a
 * completion in Redis whatever it carries, hence one job for both consumers rather than a queue
 * each, and the events of a publish window in one job. The confirmation e-mail
 * is a log line plus an `email.sent` business event; sales statistics are a `sales.recorded`
 * business event (what `/stats` reads). The queue lives under `<prefix>:{events}` (one hash tag, so
 * BullMQ works on Cluster). Connections: a {@link QueuePool} for publishing and a
 * `client.duplicate()` for the worker; `close()` ends them.
 */
export class BookingEvents {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #queues: QueuePool;
  readonly #workers: Worker[] = [];
  readonly #connections: RedisClient[] = [];
  readonly #deps: { db: Database; store: IdempotencyStore; logger: Logger };
  /** The events of one publish window, sent as one job; and the adds on their way. */
  readonly #outgoing: TickBatch<QueuedEvent>;
  readonly #adding = new Set<Promise<void>>();

  /**
   * @param options.publishWindowMs - how long the first event of a job waits for others
   *   ({@link DEFAULT_PUBLISH_WINDOW_MS}; 0: the events published in one event-loop turn).
   */
  constructor(
    client: RedisClient,
    options: {
      prefix: string;
      db: Database;
      store: IdempotencyStore;
      logger: Logger;
      publishWindowMs?: number;
    },
  ) {
    this.#client = client;
    this.#prefix = `${options.prefix}:{events}`;
    this.#deps = options;
    const windowMs = options.publishWindowMs ?? DEFAULT_PUBLISH_WINDOW_MS;
    if (!Number.isInteger(windowMs) || windowMs < 0 || windowMs > 60_000) {
      throw new RangeError(
        `publishWindowMs must be an integer from 0 to 60000, got ${options.publishWindowMs}`,
      );
    }
    this.#outgoing = new TickBatch(
      (events) => {
        const adding = this.#add(events);
        this.#adding.add(adding);
        void adding.finally(() => this.#adding.delete(adding));
      },
      { defer: windowMs === 0 ? 'turn' : { afterMs: windowMs }, max: MAX_EVENTS_PER_JOB },
    );
    this.#queues = new QueuePool(
      client,
      {
        prefix: this.#prefix,
        defaultJobOptions: {
          attempts: 5,
          backoff: { type: 'exponential', delay: 500 },
          removeOnComplete: 1000,
          removeOnFail: 5000,
        },
      },
      (error) => options.logger.warn({ err: error }, 'event queue error'),
    );
  }

  // BullMQ does not close connections it was given: keep the workers' to close them ourselves.
  #connect(options: RedisOptions = {}): RedisClient {
    const connection = duplicateClient(this.#client, options);
    this.#connections.push(connection);
    return connection;
  }

  /**
   * Publish the event to every consumer; resolves once the job carrying it is added. The events
   * published within `publishWindowMs` of the first leave as one job (up to 100): a job costs
   * 40–65 Redis commands whatever it carries (bench/README). An event alone in its job gets a jobId
   * from the event id (BullMQ refuses `:`), so publishing it twice is one job; the `republish`-th
   * re-publish (by the outbox relay, because a delivery is missing) gets a new one, since BullMQ
   * ignores an id it still keeps as failed. A job of several events gets an id from theirs; an event
   * that went out in two jobs is consumed once all the same (its dedupe, its delivery rows).
   */
  publish(event: PaymentSucceeded, republish = 0): Promise<void> {
    const base = event.eventId.replaceAll(':', '-');
    const jobId = republish === 0 ? base : `${base}-r${republish}`;
    return new Promise<void>((resolve, reject) => {
      this.#outgoing.add({ event, jobId, resolve, reject });
    });
  }

  /** Add `events` as one job (an event alone: a job of its own, with its event-derived id). */
  async #add(events: QueuedEvent[]): Promise<void> {
    try {
      if (events.length === 1) {
        const [only] = events as [QueuedEvent];
        await this.#queues.add(EVENTS_QUEUE, 'payment.succeeded', only.event, {
          jobId: only.jobId,
        });
      } else {
        const ids = events.map((q) => q.jobId).join(',');
        const jobId = `batch-${createHash('sha256').update(ids).digest('base64url').slice(0, 22)}`;
        const data = { events: events.map((q) => q.event) };
        await this.#queues.add(EVENTS_QUEUE, BATCH_JOB, data, { jobId });
      }
      for (const q of events) q.resolve();
    } catch (error) {
      for (const q of events) q.reject(error);
    }
  }

  /** Start this process's consumer workers. */
  startConsumers(): void {
    const { store, logger, db } = this.#deps;
    const outbox = new OutboxRepository(db);
    // Each consumer's effect is a business event, written in the statement that records the
    // delivery (one round trip); the demo's e-mail is a log line once that is committed.
    const effects: Record<(typeof CONSUMERS)[number], (e: PaymentSucceeded) => BusinessEvent> = {
      'confirmation-email': (e) => ({
        type: 'email.sent',
        outcome: 'success',
        userId: e.userId,
        subject: `event:${e.eventId}`,
        data: { template: 'booking-confirmed', reservationId: e.reservationId },
      }),
      'sales-stats': (e) => ({
        type: 'sales.recorded',
        outcome: 'info',
        userId: e.userId,
        subject: `event:${e.eventId}`,
        data: { concertId: e.concertId, seats: e.seatIds.length, amount: e.amount },
      }),
    };
    // The deliveries of one turn (a job's events × consumers) are recorded in one statement.
    const deliveries = new StatementBatch(
      (items: Delivery[]) => outbox.deliverAll(CONSUMERS, items),
      (d: Delivery) => outbox.deliver(d.id, d.consumer, CONSUMERS, d.effect),
    );
    const deliver = (id: string, consumer: string, effect: BusinessEvent) =>
      deliveries.run({ id, consumer, effect });
    const consume = async (consumer: (typeof CONSUMERS)[number], e: PaymentSucceeded) => {
      const first = await deliver(e.eventId, consumer, effects[consumer](e));
      if (first && consumer === 'confirmation-email') {
        logger.info(
          {
            to: `user-${e.userId}@example.invalid`,
            reservationId: e.reservationId,
            seats: e.seatIds,
          },
          'confirmation e-mail sent (logged, not delivered: demo)',
        );
      }
    };
    // Every consumer gets its turn even when another fails; then the event's dedupe records
    // nothing and the job fails for a retry, where a consumer already done finds its delivery row.
    const consumeAll = (e: PaymentSucceeded) =>
      allOrFirstError(CONSUMERS.map((consumer) => consume(consumer, e)));
    const worker = new Worker(
      EVENTS_QUEUE,
      async (job) => {
        const events: PaymentSucceeded[] =
          job.name === BATCH_JOB ? (job.data as { events: PaymentSucceeded[] }).events : [job.data];
        await allOrFirstError(
          events.map((event) =>
            store.dedupe(event.eventId, () => consumeAll(event), { scope: DEDUPE_SCOPE }),
          ),
        );
      },
      {
        connection: this.#connect({ maxRetriesPerRequest: null }) as never,
        prefix: this.#prefix,
        concurrency: 8,
        // As the payment retry worker: a job whose worker died is handed out again within ~5 s.
        lockDuration: 3_000,
        stalledInterval: 1_000,
      },
    );
    worker.on('error', (error) => logger.warn({ err: error }, 'event worker error'));
    this.#workers.push(worker);
  }

  /** Stop the workers and close the connections this instance opened. */
  async close(): Promise<void> {
    this.#outgoing.flush();
    await Promise.all(this.#adding);
    await Promise.all(this.#workers.splice(0).map((w) => w.close()));
    await this.#queues.close();
    for (const c of this.#connections.splice(0)) c.disconnect();
  }
}

/** Wait for every one of `work` (none is cut short by another's failure); then throw the first error. */
async function allOrFirstError(work: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
}
