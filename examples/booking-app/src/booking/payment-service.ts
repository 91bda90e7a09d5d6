import type { IdempotencyStore } from '@boxoffice/idempotency';
import type { RedisClient } from '@boxoffice/internal';
import type { SeatHolds } from '@boxoffice/seat-lock';
import { Queue, Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../db/database.js';
import { duplicateClient } from '../duplicate-client.js';
import { HttpError, PaymentDeclinedError, PaymentGatewayTimeoutError } from '../errors.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { MockPaymentGateway } from '../payments/mock-payment-gateway.js';
import type { ConcertRooms } from '../queue/concert-rooms.js';
import type { EventLog } from '../repos/event-log.js';
import type { BookingEvents } from './booking-events.js';

/** The payment state machine of the notes. */
export type PaymentStatus = 'STARTED' | 'PG_REQUESTED' | 'SUCCEEDED' | 'FAILED' | 'RETRY_SCHEDULED';

/** A payment as the API shows it. */
export interface Payment {
  id: string;
  reservationId: string;
  status: PaymentStatus;
  amount: number;
  currency: 'USD';
  attempts: number;
  chargeId: string | null;
  failureReason: string | null;
  nextRetryAt: string | null;
}

interface PaymentRow {
  id: string;
  reservation_id: string;
  user_id: number;
  idempotency_key: string;
  status: PaymentStatus;
  amount_cents: number;
  attempts: number;
  gateway_charge_id: string | null;
  failure_reason: string | null;
  next_retry_at: Date | null;
}

const toPayment = (r: PaymentRow): Payment => ({
  id: r.id,
  reservationId: r.reservation_id,
  status: r.status,
  amount: r.amount_cents,
  currency: 'USD',
  attempts: r.attempts,
  chargeId: r.gateway_charge_id,
  failureReason: r.failure_reason,
  nextRetryAt: r.next_retry_at ? r.next_retry_at.toISOString() : null,
});

/** Options of {@link PaymentService}. */
export interface PaymentSettings {
  /** Delay before the first gateway retry; doubles each time. @defaultValue 1000 */
  retryDelayMs: number;
  /** Gateway attempts before the payment is FAILED (`retries-exhausted`). @defaultValue 5 */
  maxAttempts: number;
}

/**
 * `POST /payments`: STARTED → PG_REQUESTED → SUCCEEDED | FAILED | RETRY_SCHEDULED, recorded in the
 * `payments` table. The hold is confirmed *before* the charge (one winner against expiry, decided in
 * Redis): from then on the database owns the seats, so a slow or retried charge never races the
 * hold's expiry. Success: reservation CONFIRMED, seats ASSIGNED, the user completes the waiting
 * room, `payment.succeeded` is published. Decline: payment FAILED, reservation CANCELLED, seats
 * AVAILABLE. Gateway timeout: RETRY_SCHEDULED and a BullMQ job that retries with the same gateway
 * key (the mock PSP is idempotent per key, so a hidden earlier charge is returned, not repeated).
 */
export class PaymentService {
  #retryQueue: Queue | undefined;
  readonly #connections: RedisClient[] = [];
  #worker: Worker | undefined;

  constructor(
    private readonly deps: {
      client: RedisClient;
      prefix: string;
      db: Database;
      holds: SeatHolds;
      rooms: ConcertRooms;
      gateway: MockPaymentGateway;
      events: EventLog;
      bookingEvents: BookingEvents;
      store: IdempotencyStore;
      metrics: AppMetrics;
      logger: Logger;
      settings?: Partial<PaymentSettings>;
    },
  ) {}

  // Created at the first retry: an app that never times out opens no connection for it.
  get #queue(): Queue {
    this.#retryQueue ??= new Queue('payment-retries', {
      connection: this.#connect() as never,
      prefix: `${this.deps.prefix}:{payments}`,
    });
    return this.#retryQueue;
  }

  get #settings(): PaymentSettings {
    return { retryDelayMs: 1000, maxAttempts: 5, ...this.deps.settings };
  }

  #connect(options: RedisOptions = {}): RedisClient {
    const c = duplicateClient(this.deps.client, options);
    this.#connections.push(c);
    return c;
  }

  /** The reservation to pay: its owner, concert, amount, status, hold. */
  async reservation(id: string) {
    const { rows } = await this.deps.db.query<{
      id: string;
      user_id: number;
      concert_id: number;
      status: string;
      amount_cents: number;
      hold_id: string;
    }>(
      'SELECT id, user_id, concert_id, status, amount_cents, hold_id FROM reservations WHERE id = $1',
      [id],
    );
    return rows[0] ?? null;
  }

  /** A payment of `userId`, or null. */
  async get(id: string, userId: number): Promise<Payment | null> {
    const { rows } = await this.deps.db.query<PaymentRow>(
      'SELECT * FROM payments WHERE id = $1 AND user_id = $2',
      [id, userId],
    );
    return rows[0] ? toPayment(rows[0]) : null;
  }

  /**
   * Pay a HELD reservation of `userId` under the client's `idempotencyKey` (the middleware already
   * made sure one request per key runs). Returns the payment and the HTTP status: 201 charged,
   * 202 retry scheduled; a decline throws 402, a reservation that cannot be paid 409.
   */
  async pay(
    reservationId: string,
    userId: number,
    idempotencyKey: string,
  ): Promise<{ status: 201 | 202; payment: Payment }> {
    const { db, holds, metrics } = this.deps;
    const r = await this.reservation(reservationId);
    if (!r || r.user_id !== userId) {
      throw new HttpError(
        404,
        'reservation-not-found',
        'Unknown reservation',
        `no reservation ${reservationId}`,
      );
    }
    if (r.status !== 'HELD') {
      throw new HttpError(
        409,
        'reservation-not-payable',
        'The reservation cannot be paid',
        `reservation ${reservationId} is ${r.status}`,
        { reservationStatus: r.status },
      );
    }
    const { rows } = await db.query<PaymentRow>(
      `INSERT INTO payments (reservation_id, user_id, idempotency_key, amount_cents, status)
       VALUES ($1, $2, $3, $4, 'STARTED')
       ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING *`,
      [reservationId, userId, idempotencyKey, r.amount_cents],
    );
    const started = rows[0];
    if (!started) {
      // The key's Redis record is gone (retention passed) but the payment exists: answer with it.
      const { rows: existing } = await db.query<PaymentRow>(
        'SELECT * FROM payments WHERE user_id = $1 AND idempotency_key = $2',
        [userId, idempotencyKey],
      );
      const p = existing[0] as PaymentRow;
      return { status: p.status === 'SUCCEEDED' ? 201 : 202, payment: toPayment(p) };
    }
    // One winner between this payment and the hold's expiry (and any other payment of it).
    const decision = await holds.confirm(r.hold_id);
    if (!decision.ok) {
      await this.#fail(started.id, `hold-${decision.state}`, false);
      metrics.payments.inc({ outcome: 'hold_lost' });
      throw new HttpError(
        409,
        'reservation-not-payable',
        'The reservation cannot be paid',
        decision.state === 'confirmed'
          ? `reservation ${reservationId} is already being paid`
          : `the hold of reservation ${reservationId} has ${decision.state}`,
        { holdState: decision.state },
      );
    }
    return this.#attempt(started.id);
  }

  /** One gateway attempt for a payment in STARTED or RETRY_SCHEDULED (claimed by a guarded UPDATE). */
  async #attempt(paymentId: string): Promise<{ status: 201 | 202; payment: Payment }> {
    const { db, gateway, metrics, logger } = this.deps;
    const { rows } = await db.query<PaymentRow>(
      `UPDATE payments SET status = 'PG_REQUESTED', attempts = attempts + 1, updated_at = now()
       WHERE id = $1 AND status IN ('STARTED', 'RETRY_SCHEDULED') RETURNING *`,
      [paymentId],
    );
    const p = rows[0];
    if (!p) {
      const current = (
        await db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [paymentId])
      ).rows[0] as PaymentRow;
      return { status: current.status === 'SUCCEEDED' ? 201 : 202, payment: toPayment(current) };
    }
    try {
      const charge = await gateway.charge({
        idempotencyKey: `${p.user_id}:${p.idempotency_key}`,
        amount: p.amount_cents,
        reference: p.reservation_id,
      });
      const payment = await this.#succeed(p, charge.id);
      metrics.payments.inc({ outcome: charge.replayed ? 'succeeded_replayed' : 'succeeded' });
      return { status: 201, payment };
    } catch (error) {
      if (error instanceof PaymentDeclinedError) {
        await this.#fail(p.id, error.reason, true);
        metrics.payments.inc({ outcome: 'declined' });
        throw new HttpError(402, 'payment-declined', 'The payment was declined', error.message, {
          reason: error.reason,
          paymentId: p.id,
        });
      }
      if (error instanceof PaymentGatewayTimeoutError) {
        if (p.attempts >= this.#settings.maxAttempts) {
          await this.#fail(p.id, 'retries-exhausted', true);
          metrics.payments.inc({ outcome: 'retries_exhausted' });
          const failed = (
            await db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [p.id])
          ).rows[0] as PaymentRow;
          return { status: 202, payment: toPayment(failed) };
        }
        const delay = this.#settings.retryDelayMs * 2 ** (p.attempts - 1);
        const { rows: scheduled } = await db.query<PaymentRow>(
          `UPDATE payments SET status = 'RETRY_SCHEDULED', next_retry_at = now() + $2 * interval '1 millisecond',
                  updated_at = now() WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *`,
          [p.id, delay],
        );
        await this.#queue.add(
          'retry',
          { paymentId: p.id },
          {
            delay,
            jobId: `${p.id}-${p.attempts}`,
            attempts: 3,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: 1000,
            removeOnFail: 5000,
          },
        );
        metrics.payments.inc({ outcome: 'retry_scheduled' });
        logger.info({ paymentId: p.id, attempt: p.attempts, delay }, 'payment retry scheduled');
        return { status: 202, payment: toPayment(scheduled[0] as PaymentRow) };
      }
      // Unknown outcome (e.g. the database failed mid-way): leave PG_REQUESTED for an operator.
      throw error;
    }
  }

  async #succeed(p: PaymentRow, chargeId: string): Promise<Payment> {
    const { db, events } = this.deps;
    const result = await db.transaction(async (tx) => {
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments SET status = 'SUCCEEDED', gateway_charge_id = $2, failure_reason = NULL,
                next_retry_at = NULL, updated_at = now()
         WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *`,
        [p.id, chargeId],
      );
      const done = rows[0] as PaymentRow;
      const { rows: res } = await tx.query<{ concert_id: number }>(
        `UPDATE reservations SET status = 'CONFIRMED', updated_at = now()
         WHERE id = $1 AND status = 'HELD' RETURNING concert_id`,
        [p.reservation_id],
      );
      const { rows: seats } = await tx.query<{ id: number }>(
        `UPDATE seats SET status = 'ASSIGNED', updated_at = now()
         WHERE reservation_id = $1 AND status = 'HELD' RETURNING id`,
        [p.reservation_id],
      );
      await events.record(
        {
          type: 'payment.succeeded',
          outcome: 'success',
          userId: p.user_id,
          subject: `payment:${p.id}`,
          data: { reservationId: p.reservation_id, amount: p.amount_cents, attempts: p.attempts },
        },
        tx,
      );
      return {
        done,
        concertId: (res[0] as { concert_id: number }).concert_id,
        seatIds: seats.map((s) => s.id),
      };
    });
    // After the commit: free the waiting-room slot and announce the sale. Both are retried by
    // nobody if this process dies right here — see README "Limits".
    await this.deps.rooms
      .room(result.concertId)
      .complete(String(p.user_id))
      .catch((error) => this.deps.logger.warn({ err: error }, 'room.complete failed'));
    const published = this.deps.bookingEvents.publish({
      eventId: `payment.succeeded:${p.id}`,
      paymentId: p.id,
      reservationId: p.reservation_id,
      userId: p.user_id,
      concertId: result.concertId,
      seatIds: result.seatIds.sort((a, b) => a - b),
      amount: p.amount_cents,
      at: new Date().toISOString(),
    });
    // The charge and the database are final: a failed publish is logged, not turned into a 500.
    await published.catch((error) =>
      this.deps.logger.error({ err: error, paymentId: p.id }, 'payment.succeeded not published'),
    );
    return toPayment(result.done);
  }

  /** Payment FAILED; with `release`, the reservation CANCELLED and its seats AVAILABLE again. */
  async #fail(paymentId: string, reason: string, release: boolean): Promise<void> {
    const { db, events } = this.deps;
    await db.transaction(async (tx: Queryable) => {
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments SET status = 'FAILED', failure_reason = $2, next_retry_at = NULL, updated_at = now()
           WHERE id = $1 AND status <> 'SUCCEEDED' RETURNING *`,
        [paymentId, reason],
      );
      const p = rows[0];
      if (!p) return;
      if (release) {
        const { rows: r } = await tx.query<{ id: string }>(
          `UPDATE reservations SET status = 'CANCELLED', updated_at = now()
             WHERE id = $1 AND status = 'HELD' RETURNING id`,
          [p.reservation_id],
        );
        if (r[0]) {
          await tx.query(
            `UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL, updated_at = now()
               WHERE reservation_id = $1 AND status = 'HELD'`,
            [p.reservation_id],
          );
        }
      }
      await events.record(
        {
          type: 'payment.failed',
          outcome: 'failure',
          reason,
          userId: p.user_id,
          subject: `payment:${p.id}`,
          data: { reservationId: p.reservation_id },
        },
        tx,
      );
    });
  }

  /** Start this process's retry worker (BullMQ; a job is claimed by a guarded UPDATE, so a duplicate delivery does nothing). */
  startRetries(): void {
    if (this.#worker) return;
    this.#worker = new Worker(
      'payment-retries',
      async (job) => {
        try {
          await this.#attempt((job.data as { paymentId: string }).paymentId);
        } catch (error) {
          // A decline is an outcome (recorded as FAILED), not a job failure to retry.
          if (!(error instanceof HttpError && error.status === 402)) throw error;
        }
      },
      {
        connection: this.#connect({ maxRetriesPerRequest: null }) as never,
        prefix: `${this.deps.prefix}:{payments}`,
        concurrency: 4,
      },
    );
    this.#worker.on('error', (error) =>
      this.deps.logger.warn({ err: error }, 'payment retry worker error'),
    );
  }

  /** Stop the worker and the queue; close their connections. */
  async close(): Promise<void> {
    await this.#worker?.close();
    await this.#retryQueue?.close();
    for (const c of this.#connections.splice(0)) c.disconnect();
  }
}
