import type { IdempotencyStore } from '@boxoffice/idempotency';
import { duplicateClient, type RedisClient } from '@boxoffice/internal';
import { type Decision, HoldNotFoundError, type SeatHolds } from '@boxoffice/seat-lock';
import { Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../db/database.js';
import { HttpError, PaymentDeclinedError, PaymentGatewayTimeoutError } from '../errors.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { MockPaymentGateway } from '../payments/mock-payment-gateway.js';
import type { ConcertRooms } from '../queue/concert-rooms.js';
import type { EventLog } from '../repos/event-log.js';
import { OutboxRepository } from '../repos/outbox.js';
import type { PaymentSucceeded } from './booking-events.js';
import type { OutboxRelay } from './outbox-relay.js';
import { QueuePool } from './queue-pool.js';
import { type ReleasedStatus, releaseReservation } from './reservation-release.js';

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

/** How {@link PaymentService.recover} resolved a stuck payment. */
export type RecoveryOutcome = 'succeeded' | 'declined' | 'retry_scheduled' | 'failed' | 'skipped';

/** Payments nobody is finishing, given `$1` = how long (ms); see {@link PaymentService.stuck}. */
const STUCK = `((status IN ('PG_REQUESTED', 'STARTED') AND updated_at < now() - $1 * interval '1 millisecond')
  OR (status = 'RETRY_SCHEDULED' AND next_retry_at < now() - $1 * interval '1 millisecond'))`;

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
 * hold's expiry. Success: reservation CONFIRMED, seats ASSIGNED and two outbox messages
 * (`room.complete`, `payment.succeeded`) in one transaction; the {@link OutboxRelay} performs them
 * right after the commit and, if this process dies first, later from any instance. Decline: payment FAILED, reservation CANCELLED, seats
 * AVAILABLE. Gateway timeout: RETRY_SCHEDULED and a BullMQ job that retries with the same gateway
 * key (the mock PSP is idempotent per key, so a hidden earlier charge is returned, not repeated).
 */
export class PaymentService {
  // Opened at the first retry (an app that never times out opens no connection for it), and again
  // after a failed add.
  readonly #retryQueue: QueuePool;
  readonly #connections: RedisClient[] = [];
  #worker: Worker | undefined;
  readonly #outboxRows: OutboxRepository;

  constructor(
    private readonly deps: {
      client: RedisClient;
      prefix: string;
      db: Database;
      holds: SeatHolds;
      rooms: ConcertRooms;
      gateway: MockPaymentGateway;
      events: EventLog;
      outbox: OutboxRelay;
      store: IdempotencyStore;
      metrics: AppMetrics;
      logger: Logger;
      settings?: Partial<PaymentSettings>;
    },
  ) {
    this.#outboxRows = new OutboxRepository(deps.db);
    this.#retryQueue = new QueuePool(deps.client, { prefix: `${deps.prefix}:{payments}` });
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
    // A retry of a request whose process died (the key's lease lapsed): answer with the payment it
    // made, whatever became of it since (the recovery may have settled it).
    const { rows: before } = await db.query<PaymentRow>(
      'SELECT * FROM payments WHERE user_id = $1 AND idempotency_key = $2 AND reservation_id = $3',
      [userId, idempotencyKey, reservationId],
    );
    if (before[0]) {
      return {
        status: before[0].status === 'SUCCEEDED' ? 201 : 202,
        payment: toPayment(before[0]),
      };
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
    // One winner between this payment and the hold's expiry (and any other payment of it). A
    // Redis outage here leaves the payment STARTED (503 to the client); the recovery resolves it.
    let decision: Decision;
    try {
      decision = await holds.confirm(r.hold_id);
    } catch (error) {
      if (!(error instanceof HoldNotFoundError)) throw error;
      // Redis lost the hold (a restart without persistence): nobody can confirm it any more, so
      // the reservation cannot be paid; it ends as its expiry would have ended it.
      metrics.holdsConfirmed.inc({ outcome: 'lost' });
      await this.#holdLost(started.id);
      throw new HttpError(
        409,
        'reservation-not-payable',
        'The reservation cannot be paid',
        `the hold of reservation ${reservationId} was lost`,
        { holdState: 'lost' },
      );
    }
    metrics.holdsConfirmed.inc({ outcome: decision.ok ? 'confirmed' : decision.state });
    if (!decision.ok) {
      await this.#fail(started.id, `hold-${decision.state}`, false, ['STARTED']);
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
    const { status, payment } = await this.#attempt(started.id);
    return { status, payment };
  }

  /**
   * The hold of STARTED `paymentId` is gone from Redis: payment FAILED `hold-lost`, and the
   * reservation EXPIRED (seats AVAILABLE, `reservation.expired`) unless another payment of it is
   * still live. Returns true if this call failed the payment.
   */
  async #holdLost(paymentId: string): Promise<boolean> {
    const changed = await this.#fail(paymentId, 'hold-lost', 'EXPIRED', ['STARTED']);
    if (changed) this.deps.metrics.payments.inc({ outcome: 'hold_lost' });
    return changed;
  }

  /**
   * Claim a payment in STARTED or RETRY_SCHEDULED for a gateway attempt: → PG_REQUESTED, in one
   * transaction holding the reservation's row lock, and only while the reservation is HELD and no
   * other payment of it is charging (PG_REQUESTED, RETRY_SCHEDULED) or SUCCEEDED. Of two claimers
   * of one payment, or of two payments of one reservation, one gets the row. `blocked`: the payment
   * is still claimable but its reservation is not payable. With `after`, only the retry that
   * follows attempt `after` is claimed: a retry job is for one attempt, so a late or redelivered
   * job whose retry the recovery already ran does nothing (it would run the next one early, and
   * the payment could settle while that one's job still waits in Redis).
   */
  async #claim(
    paymentId: string,
    after?: number,
  ): Promise<{ row: PaymentRow | undefined; blocked: boolean }> {
    return this.deps.db.transaction(async (tx) => {
      await tx.query(
        `SELECT r.id FROM reservations r JOIN payments p ON p.reservation_id = r.id
         WHERE p.id = $1 FOR UPDATE OF r`,
        [paymentId],
      );
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments p SET status = 'PG_REQUESTED', attempts = p.attempts + 1, updated_at = now()
         WHERE p.id = $1 AND p.status IN ('STARTED', 'RETRY_SCHEDULED')
           AND ($2::int IS NULL OR p.attempts = $2)
           AND EXISTS (SELECT 1 FROM reservations r WHERE r.id = p.reservation_id AND r.status = 'HELD')
           AND NOT EXISTS (SELECT 1 FROM payments o WHERE o.reservation_id = p.reservation_id
                           AND o.id <> p.id AND o.status IN ('PG_REQUESTED', 'RETRY_SCHEDULED', 'SUCCEEDED'))
         RETURNING *`,
        [paymentId, after ?? null],
      );
      if (rows[0]) return { row: rows[0], blocked: false };
      const { rows: still } = await tx.query(
        `SELECT 1 FROM payments WHERE id = $1 AND status IN ('STARTED', 'RETRY_SCHEDULED')
           AND ($2::int IS NULL OR attempts = $2)`,
        [paymentId, after ?? null],
      );
      return { row: undefined, blocked: still.length > 0 };
    });
  }

  /**
   * One gateway attempt for a payment in STARTED or RETRY_SCHEDULED (see {@link #claim}; `after`:
   * only the retry after that attempt). `claimed` is false when the payment was no longer
   * claimable (another caller had it).
   * @throws HttpError 402 declined; 409 the reservation is no longer payable (payment FAILED).
   */
  async #attempt(
    paymentId: string,
    after?: number,
  ): Promise<{ status: 201 | 202; payment: Payment; claimed: boolean }> {
    const { gateway, metrics } = this.deps;
    const { row: p, blocked } = await this.#claim(paymentId, after);
    if (blocked) {
      await this.#fail(paymentId, 'reservation-not-payable', false, ['STARTED', 'RETRY_SCHEDULED']);
      metrics.payments.inc({ outcome: 'not_payable' });
      throw new HttpError(
        409,
        'reservation-not-payable',
        'The reservation cannot be paid',
        'the reservation is no longer held, or another payment of it is under way',
        { paymentId },
      );
    }
    if (!p) {
      const current = await this.#current(paymentId);
      return {
        status: current.status === 'SUCCEEDED' ? 201 : 202,
        payment: current,
        claimed: false,
      };
    }
    try {
      const charge = await gateway.charge({
        idempotencyKey: PaymentService.gatewayKey(p),
        amount: p.amount_cents,
        reference: p.reservation_id,
      });
      const { payment, changed } = await this.#succeed(p, charge.id);
      if (changed) {
        metrics.payments.inc({ outcome: charge.replayed ? 'succeeded_replayed' : 'succeeded' });
      }
      return { status: payment.status === 'SUCCEEDED' ? 201 : 202, payment, claimed: true };
    } catch (error) {
      if (error instanceof PaymentDeclinedError) {
        if (await this.#fail(p.id, error.reason, 'CANCELLED', ['PG_REQUESTED'])) {
          metrics.payments.inc({ outcome: 'declined' });
        }
        throw new HttpError(402, 'payment-declined', 'The payment was declined', error.message, {
          reason: error.reason,
          paymentId: p.id,
        });
      }
      if (error instanceof PaymentGatewayTimeoutError) {
        const { payment } = await this.#retryOrFail(p);
        return { status: payment.status === 'SUCCEEDED' ? 201 : 202, payment, claimed: true };
      }
      // Unknown outcome (e.g. the database failed mid-way): left PG_REQUESTED, which the recovery
      // (PaymentRecovery → recover()) resolves from the gateway's ledger once it is old enough.
      throw error;
    }
  }

  /** The key the gateway sees for a payment: the client's key, scoped by user. */
  static gatewayKey(p: { user_id: number; idempotency_key: string }): string {
    return `${p.user_id}:${p.idempotency_key}`;
  }

  async #current(paymentId: string): Promise<Payment> {
    const { rows } = await this.deps.db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [
      paymentId,
    ]);
    return toPayment(rows[0] as PaymentRow);
  }

  /**
   * No charge came of an attempt of `p` (in PG_REQUESTED): RETRY_SCHEDULED and a BullMQ job that
   * retries with the same key, or FAILED `retries-exhausted` after `maxAttempts`. Guarded by
   * `status = 'PG_REQUESTED'`: of two callers, one changes the payment and the other nothing.
   */
  async #retryOrFail(p: PaymentRow): Promise<{ payment: Payment; outcome: RecoveryOutcome }> {
    const { db, metrics, logger, gateway } = this.deps;
    if (p.attempts >= this.#settings.maxAttempts) {
      // The last attempt's answer was lost (a timeout), not necessarily its charge: before giving
      // up, the gateway's ledger decides, as in recover(). (Found by the worker-crash chaos test: a
      // final attempt that charged and timed out left a capture with a CANCELLED reservation.)
      const entry = await gateway.find(PaymentService.gatewayKey(p));
      if (entry?.status === 'CAPTURED') {
        const { payment, changed } = await this.#succeed(p, entry.id);
        if (changed) metrics.payments.inc({ outcome: 'succeeded_replayed' });
        return { payment, outcome: changed ? 'succeeded' : 'skipped' };
      }
      const changed = await this.#fail(p.id, 'retries-exhausted', 'CANCELLED', ['PG_REQUESTED']);
      if (changed) metrics.payments.inc({ outcome: 'retries_exhausted' });
      return { payment: await this.#current(p.id), outcome: changed ? 'failed' : 'skipped' };
    }
    const delay = this.#settings.retryDelayMs * 2 ** (p.attempts - 1);
    const { rows: scheduled } = await db.query<PaymentRow>(
      `UPDATE payments SET status = 'RETRY_SCHEDULED', next_retry_at = now() + $2 * interval '1 millisecond',
              updated_at = now() WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *`,
      [p.id, delay],
    );
    const row = scheduled[0];
    if (!row) return { payment: await this.#current(p.id), outcome: 'skipped' };
    await this.#retryQueue.add(
      'payment-retries',
      'retry',
      { paymentId: p.id, attempt: p.attempts },
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
    return { payment: toPayment(row), outcome: 'retry_scheduled' };
  }

  /**
   * Payments nobody is finishing, oldest first: in PG_REQUESTED or STARTED untouched for
   * `olderThanMs` (the process died during the gateway call, or before it), or RETRY_SCHEDULED
   * whose retry is `olderThanMs` overdue (its job was never queued, or was lost).
   */
  async stuck(olderThanMs: number, limit: number): Promise<string[]> {
    const { rows } = await this.deps.db.query<{ id: string }>(
      `SELECT id FROM payments WHERE ${STUCK} ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Resolve a stuck payment (see {@link stuck}). PG_REQUESTED: from the gateway's ledger, looked
   * up by the same idempotency key — never by charging: a capture takes the normal success path
   * (SUCCEEDED, reservation CONFIRMED, outbox), a decline the normal decline path, no entry (the
   * charge never happened) a retry or FAILED as after a timeout. RETRY_SCHEDULED: the retry runs
   * now (same gateway key, so a hidden earlier charge is found, not repeated). STARTED: see
   * {@link #resumeStarted}. The payment must still be stuck for `olderThanMs` when read (another
   * recoverer may have moved it on meanwhile). Every path is guarded by the payment's status, so
   * concurrent recoverers apply it once; the others get `skipped`.
   */
  async recover(paymentId: string, olderThanMs: number): Promise<RecoveryOutcome> {
    const { db, gateway, logger } = this.deps;
    const { rows } = await db.query<PaymentRow>(
      `SELECT * FROM payments WHERE ${STUCK} AND id = $2`,
      [olderThanMs, paymentId],
    );
    const p = rows[0];
    if (!p) return 'skipped';
    let outcome: RecoveryOutcome;
    let ledger: string | undefined;
    if (p.status === 'PG_REQUESTED') {
      const entry = await gateway.find(PaymentService.gatewayKey(p));
      ledger = entry?.status ?? 'none';
      if (entry?.status === 'CAPTURED') {
        outcome = (await this.#succeed(p, entry.id)).changed ? 'succeeded' : 'skipped';
      } else if (entry?.status === 'DECLINED') {
        const reason = entry.declineReason ?? 'card_declined';
        outcome = (await this.#fail(p.id, reason, 'CANCELLED', ['PG_REQUESTED']))
          ? 'declined'
          : 'skipped';
      } else {
        outcome = (await this.#retryOrFail(p)).outcome;
      }
    } else if (p.status === 'RETRY_SCHEDULED') {
      outcome = await this.#resume(p.id, p.attempts);
    } else {
      outcome = await this.#resumeStarted(p);
    }
    if (outcome !== 'skipped') {
      this.deps.metrics.paymentRecoveries.inc({ outcome });
      logger.info({ paymentId, from: p.status, outcome, ledger }, 'payment recovered');
    }
    return outcome;
  }

  /**
   * Run the next gateway attempt of a STARTED or RETRY_SCHEDULED payment now (`after`: only if
   * attempt `after` was its last), as an outcome.
   */
  async #resume(paymentId: string, after?: number): Promise<RecoveryOutcome> {
    try {
      const { payment, claimed } = await this.#attempt(paymentId, after);
      if (!claimed) return 'skipped';
      if (payment.status === 'SUCCEEDED') return 'succeeded';
      return payment.status === 'FAILED' ? 'failed' : 'retry_scheduled';
    } catch (error) {
      if (error instanceof HttpError && error.status === 402) return 'declined';
      if (error instanceof HttpError && error.status === 409) return 'failed';
      throw error;
    }
  }

  /**
   * A payment left in STARTED: its process died before the gateway call (no charge was made: every
   * charge follows the claim to PG_REQUESTED), before or after confirming the hold, or the confirm
   * failed with Redis down. The hold decides: `confirmed` — the database owns the seats, so the
   * payment goes on through the normal path ({@link #attempt}: one claimer, same gateway key);
   * `held` — cancelled now (one winner against expiry), then payment FAILED `interrupted` and the
   * reservation CANCELLED; gone from Redis — FAILED `hold-lost`, reservation EXPIRED; expiring or
   * expired — FAILED `hold-expired`, the expiry releases the seats.
   */
  async #resumeStarted(p: PaymentRow): Promise<RecoveryOutcome> {
    const { holds } = this.deps;
    const r = await this.reservation(p.reservation_id);
    if (!r) return 'skipped';
    const hold = await holds.get(r.hold_id);
    if (!hold) return (await this.#holdLost(p.id)) ? 'failed' : 'skipped';
    let state = hold.state;
    if (state === 'held') state = (await holds.cancel(r.hold_id)).state;
    if (state === 'confirmed') return this.#resume(p.id);
    const [reason, release]: [string, ReleasedStatus | false] =
      state === 'cancelled' ? ['interrupted', 'CANCELLED'] : ['hold-expired', false];
    return (await this.#fail(p.id, reason, release, ['STARTED'])) ? 'failed' : 'skipped';
  }

  /**
   * PG_REQUESTED → SUCCEEDED with the reservation CONFIRMED, its seats ASSIGNED, a business event
   * and the outbox messages `room.complete` and `payment.succeeded`, in one transaction; then the
   * relay's fast path performs the messages. `changed` is false (and nothing is written) when the
   * payment had already left PG_REQUESTED.
   */
  async #succeed(p: PaymentRow, chargeId: string): Promise<{ payment: Payment; changed: boolean }> {
    const { db, events } = this.deps;
    const result = await db.transaction(async (tx) => {
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments SET status = 'SUCCEEDED', gateway_charge_id = $2, failure_reason = NULL,
                next_retry_at = NULL, updated_at = now()
         WHERE id = $1 AND status = 'PG_REQUESTED' RETURNING *`,
        [p.id, chargeId],
      );
      const done = rows[0];
      if (!done) return null;
      await tx.query(
        `UPDATE reservations SET status = 'CONFIRMED', updated_at = now()
         WHERE id = $1 AND status = 'HELD'`,
        [p.reservation_id],
      );
      const { rows: res } = await tx.query<{ concert_id: number }>(
        'SELECT concert_id FROM reservations WHERE id = $1',
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
      const concertId = (res[0] as { concert_id: number }).concert_id;
      const event: PaymentSucceeded = {
        eventId: `payment.succeeded:${p.id}`,
        paymentId: p.id,
        reservationId: p.reservation_id,
        userId: p.user_id,
        concertId,
        seatIds: seats.map((s) => s.id).sort((a, b) => a - b),
        amount: p.amount_cents,
        at: new Date().toISOString(),
      };
      const messages = [
        {
          id: `room.complete:${p.id}`,
          topic: 'room.complete' as const,
          payload: { concertId, userId: p.user_id },
        },
        { id: event.eventId, topic: 'payment.succeeded' as const, payload: { ...event } },
      ];
      await this.#outboxRows.add(tx, messages);
      return { done, ids: messages.map((m) => m.id) };
    });
    if (!result) return { payment: await this.#current(p.id), changed: false };
    // Free the waiting-room slot and announce the sale now; if this fails or the process dies
    // first, the rows are committed and a relay (this instance or another) performs them.
    await this.deps.outbox.afterCommit(result.ids);
    return { payment: toPayment(result.done), changed: true };
  }

  /**
   * Payment FAILED if it is in one of the `from` states; with `release`, the reservation goes to
   * that status and its seats AVAILABLE again (see {@link releaseReservation}: not while another
   * payment of it is live). Returns false (nothing written) when the payment was elsewhere.
   */
  async #fail(
    paymentId: string,
    reason: string,
    release: ReleasedStatus | false,
    from: PaymentStatus[],
  ): Promise<boolean> {
    const { db, events } = this.deps;
    return db.transaction(async (tx: Queryable) => {
      const { rows } = await tx.query<PaymentRow>(
        `UPDATE payments SET status = 'FAILED', failure_reason = $2, next_retry_at = NULL, updated_at = now()
           WHERE id = $1 AND status = ANY($3::text[]) RETURNING *`,
        [paymentId, reason, from],
      );
      const p = rows[0];
      if (!p) return false;
      if (release) {
        await releaseReservation(
          tx,
          events,
          { reservationId: p.reservation_id },
          { to: release, unlessPaying: { exceptPayment: p.id }, data: { reason } },
        );
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
      return true;
    });
  }

  /** Start this process's retry worker (BullMQ; a job is claimed by a guarded UPDATE, so a duplicate delivery does nothing). */
  startRetries(): void {
    if (this.#worker) return;
    this.#worker = new Worker(
      'payment-retries',
      async (job) => {
        // A job is the retry after one attempt (`attempt`; absent in jobs queued by older versions).
        const { paymentId, attempt } = job.data as { paymentId: string; attempt?: number };
        try {
          await this.#attempt(paymentId, attempt);
        } catch (error) {
          // A decline is an outcome (recorded as FAILED), not a job failure to retry.
          // So is a reservation no longer payable (409: the payment is FAILED).
          if (!(error instanceof HttpError && (error.status === 402 || error.status === 409))) {
            throw error;
          }
        }
      },
      {
        connection: this.#connect({ maxRetriesPerRequest: null }) as never,
        prefix: `${this.deps.prefix}:{payments}`,
        concurrency: 4,
        // A job whose worker died is handed out again within ~5 s (BullMQ's defaults: up to a
        // minute), so the queue drains soon after a crash. The lock is renewed every 1.5 s; a job
        // taken for stalled while merely slow runs twice, and its second claim (a guarded UPDATE)
        // does nothing.
        lockDuration: 3_000,
        stalledInterval: 1_000,
      },
    );
    this.#worker.on('error', (error) =>
      this.deps.logger.warn({ err: error }, 'payment retry worker error'),
    );
  }

  /** Stop the worker and the queue; close their connections. */
  async close(): Promise<void> {
    await this.#worker?.close();
    await this.#retryQueue.close();
    for (const c of this.#connections.splice(0)) c.disconnect();
  }
}
