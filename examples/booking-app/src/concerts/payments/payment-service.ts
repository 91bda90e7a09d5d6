import type { RedisClient } from '@boxoffice/internal';
import { type Decision, HoldNotFoundError, type SeatHolds } from '@boxoffice/seat-lock/holds';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import { PaymentDeclinedError, PaymentGatewayTimeoutError } from '../../errors.js';
import type { EventLog } from '../../events/event-log.js';
import type { OutboxRelay } from '../../events/outbox-relay.js';
import type { AppMetrics } from '../../observability/metrics.js';
import type { ReleasedStatus } from '../reservations/reservation-release.js';
import type { MockPaymentGateway } from './mock-payment-gateway.js';
import {
  type PayableReservation,
  type Payment,
  PaymentRepository,
  type PaymentRow,
  type PaymentStatus,
  toPayment,
} from './payment-repository.js';
import { PaymentRetries } from './payment-retries.js';

export type { PayableReservation, Payment, PaymentStatus } from './payment-repository.js';

/**
 * What a payment request came to; the route maps each to HTTP. `recorded`: the payment as it now
 * stands (SUCCEEDED → 201; RETRY_SCHEDULED, being charged elsewhere, or FAILED after the last retry
 * → 202). `declined`: the card was declined (402), the payment FAILED and the reservation
 * CANCELLED. `notPayable`: the reservation cannot be paid (409); nothing was charged.
 */
export type PayOutcome =
  | { kind: 'recorded'; payment: Payment }
  | { kind: 'declined'; paymentId: string; reason: string; detail: string }
  | { kind: 'notPayable'; detail: string; extensions: Record<string, unknown> };

/** How {@link PaymentService.recover} resolved a stuck payment. */
export type RecoveryOutcome = 'succeeded' | 'declined' | 'retry_scheduled' | 'failed' | 'skipped';

/** Options of {@link PaymentService}. */
export interface PaymentSettings {
  /** Delay before the first gateway retry; doubles each time. @defaultValue 1000 */
  retryDelayMs: number;
  /** Gateway attempts before the payment is FAILED (`retries-exhausted`). @defaultValue 5 */
  maxAttempts: number;
}

const notPayable = (detail: string, extensions: Record<string, unknown>): PayOutcome => ({
  kind: 'notPayable',
  detail,
  extensions,
});

/**
 * `POST /payments`: STARTED → PG_REQUESTED → SUCCEEDED | FAILED | RETRY_SCHEDULED, recorded in the
 * `payments` table ({@link PaymentRepository}). The hold is confirmed *before* the charge (one
 * winner against expiry, decided in Redis): from then on the database owns the seats, so a slow or
 * retried charge never races the hold's expiry. Success: reservation CONFIRMED, seats ASSIGNED and
 * two outbox messages (`room.complete`, `payment.succeeded`) in one transaction; the
 * {@link OutboxRelay} performs them right after the commit and, if this process dies first, later
 * from any instance. Decline: payment FAILED, reservation CANCELLED, seats AVAILABLE. Gateway
 * timeout: RETRY_SCHEDULED and a {@link PaymentRetries} job that retries with the same gateway key
 * (the mock PSP is idempotent per key, so a hidden earlier charge is returned, not repeated).
 * Outcomes are returned, never HTTP errors: the route maps them.
 */
export class PaymentService {
  readonly #rows: PaymentRepository;
  readonly #retries: PaymentRetries;

  constructor(
    private readonly deps: {
      client: RedisClient;
      prefix: string;
      db: Database;
      holds: SeatHolds;
      gateway: MockPaymentGateway;
      events: EventLog;
      outbox: OutboxRelay;
      metrics: AppMetrics;
      logger: Logger;
      settings?: Partial<PaymentSettings>;
    },
  ) {
    this.#rows = new PaymentRepository(deps.db, deps.events);
    this.#retries = new PaymentRetries(deps);
  }

  get #settings(): PaymentSettings {
    return { retryDelayMs: 1000, maxAttempts: 5, ...this.deps.settings };
  }

  /** The reservation to pay: its owner, concert, amount, status, hold. */
  reservation(id: string): Promise<PayableReservation | null> {
    return this.#rows.reservation(id);
  }

  /** A payment of `userId`, or null. */
  get(id: string, userId: number): Promise<Payment | null> {
    return this.#rows.get(id, userId);
  }

  /**
   * Pay reservation `r` (read by the caller, who checked that its owner asks) under the client's
   * `idempotencyKey` (the middleware already made sure one request per key runs).
   */
  async pay(r: PayableReservation, idempotencyKey: string): Promise<PayOutcome> {
    const { holds, metrics } = this.deps;
    // A retry of a request whose process died (the key's lease lapsed), or whose key's Redis record
    // is gone (retention passed): answer with the payment the key made, whatever became of it since
    // (the recovery may have settled it) — unless it was for another reservation and this one can
    // no longer be paid.
    const found = await this.#rows.startOrFind(r, idempotencyKey);
    const held = r.status === 'HELD';
    if (found && !found.created && (held || found.row.reservation_id === r.id)) {
      return { kind: 'recorded', payment: toPayment(found.row) };
    }
    if (!held) {
      return notPayable(`reservation ${r.id} is ${r.status}`, { reservationStatus: r.status });
    }
    if (!found) {
      // Another request inserted this key after this statement's snapshot: read it now.
      const existing = (await this.#rows.byKey(r.user_id, idempotencyKey)) as PaymentRow;
      return { kind: 'recorded', payment: toPayment(existing) };
    }
    const started = found.row;
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
      return notPayable(`the hold of reservation ${r.id} was lost`, { holdState: 'lost' });
    }
    metrics.holdsConfirmed.inc({ outcome: decision.ok ? 'confirmed' : decision.state });
    if (!decision.ok) {
      await this.#fail(started.id, `hold-${decision.state}`, false, ['STARTED']);
      metrics.payments.inc({ outcome: 'hold_lost' });
      return notPayable(
        decision.state === 'confirmed'
          ? `reservation ${r.id} is already being paid`
          : `the hold of reservation ${r.id} has ${decision.state}`,
        { holdState: decision.state },
      );
    }
    return (await this.#attempt(started.id)).outcome;
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
   * One gateway attempt for a payment in STARTED or RETRY_SCHEDULED (see
   * {@link PaymentRepository.claim}; `after`: only the retry after that attempt). `claimed` is false
   * when the payment was no longer claimable (another caller had it).
   */
  async #attempt(
    paymentId: string,
    after?: number,
  ): Promise<{ outcome: PayOutcome; claimed: boolean }> {
    const { gateway, metrics } = this.deps;
    const { row: p, blocked } = await this.#rows.claim(paymentId, after);
    if (blocked) {
      await this.#fail(paymentId, 'reservation-not-payable', false, ['STARTED', 'RETRY_SCHEDULED']);
      metrics.payments.inc({ outcome: 'not_payable' });
      const detail = 'the reservation is no longer held, or another payment of it is under way';
      return { outcome: notPayable(detail, { paymentId }), claimed: false };
    }
    if (!p) {
      return {
        outcome: { kind: 'recorded', payment: await this.#rows.current(paymentId) },
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
      return { outcome: { kind: 'recorded', payment }, claimed: true };
    } catch (error) {
      if (error instanceof PaymentDeclinedError) {
        if (await this.#fail(p.id, error.reason, 'CANCELLED', ['PG_REQUESTED'])) {
          metrics.payments.inc({ outcome: 'declined' });
        }
        const outcome: PayOutcome = {
          kind: 'declined',
          paymentId: p.id,
          reason: error.reason,
          detail: error.message,
        };
        return { outcome, claimed: true };
      }
      if (error instanceof PaymentGatewayTimeoutError) {
        const { payment } = await this.#retryOrFail(p);
        return { outcome: { kind: 'recorded', payment }, claimed: true };
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

  /**
   * No charge came of an attempt of `p` (in PG_REQUESTED): RETRY_SCHEDULED and a retry job with the
   * same key, or FAILED `retries-exhausted` after `maxAttempts`. Guarded by
   * `status = 'PG_REQUESTED'`: of two callers, one changes the payment and the other nothing.
   */
  async #retryOrFail(p: PaymentRow): Promise<{ payment: Payment; outcome: RecoveryOutcome }> {
    const { metrics, logger, gateway } = this.deps;
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
      return { payment: await this.#rows.current(p.id), outcome: changed ? 'failed' : 'skipped' };
    }
    const delay = this.#settings.retryDelayMs * 2 ** (p.attempts - 1);
    const row = await this.#rows.scheduleRetry(p.id, delay);
    if (!row) return { payment: await this.#rows.current(p.id), outcome: 'skipped' };
    await this.#retries.schedule(p.id, p.attempts, delay);
    metrics.payments.inc({ outcome: 'retry_scheduled' });
    logger.info({ paymentId: p.id, attempt: p.attempts, delay }, 'payment retry scheduled');
    return { payment: toPayment(row), outcome: 'retry_scheduled' };
  }

  /**
   * Payments nobody is finishing, oldest first (see {@link PaymentRepository.stuck}); each is
   * resolved with {@link recover}.
   */
  stuck(olderThanMs: number, limit: number): Promise<string[]> {
    return this.#rows.stuck(olderThanMs, limit);
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
    const { gateway, logger } = this.deps;
    const p = await this.#rows.stuckOne(paymentId, olderThanMs);
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
    const { outcome, claimed } = await this.#attempt(paymentId, after);
    if (outcome.kind === 'declined') return 'declined';
    if (outcome.kind === 'notPayable') return 'failed';
    if (!claimed) return 'skipped';
    if (outcome.payment.status === 'SUCCEEDED') return 'succeeded';
    return outcome.payment.status === 'FAILED' ? 'failed' : 'retry_scheduled';
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
    const r = await this.#rows.reservation(p.reservation_id);
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
   * PG_REQUESTED → SUCCEEDED ({@link PaymentRepository.succeed}); then the relay's fast path
   * performs the outbox messages, and retry jobs of earlier attempts are dropped. `changed` is
   * false (and nothing is written) when the payment had already left PG_REQUESTED.
   */
  async #succeed(p: PaymentRow, chargeId: string): Promise<{ payment: Payment; changed: boolean }> {
    const result = await this.#rows.succeed(p, chargeId, this.deps.outbox.writerClaim());
    if (!result) return { payment: await this.#rows.current(p.id), changed: false };
    // Free the waiting-room slot and announce the sale now; if this fails or the process dies
    // first, the rows are committed and a relay (this instance or another) performs them.
    await this.deps.outbox.afterCommit(result.claimed);
    await this.#retries.forget(p.id, p.attempts - 1);
    return { payment: toPayment(result.row), changed: true };
  }

  /**
   * Payment FAILED if it is in one of the `from` states ({@link PaymentRepository.fail}), and its
   * retry jobs dropped. Returns false (nothing written) when the payment was elsewhere.
   */
  async #fail(
    paymentId: string,
    reason: string,
    release: ReleasedStatus | false,
    from: PaymentStatus[],
  ): Promise<boolean> {
    const failed = await this.#rows.fail(paymentId, reason, release, from);
    if (!failed) return false;
    // From RETRY_SCHEDULED, the job of the retry after the last attempt may still wait too.
    const scheduled = from.includes('RETRY_SCHEDULED') ? 0 : 1;
    await this.#retries.forget(failed.id, failed.attempts - scheduled);
    return true;
  }

  /** Start this process's retry worker ({@link PaymentRetries}). */
  startRetries(): void {
    // Declined and not-payable are outcomes (the payment is FAILED), not job failures to retry.
    this.#retries.start(async (paymentId, attempt) => {
      await this.#attempt(paymentId, attempt);
    });
  }

  /** Stop the retry worker and queue; close their connections. */
  async close(): Promise<void> {
    await this.#retries.close();
  }
}
