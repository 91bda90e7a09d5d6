import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Backlog } from './backlog.js';

/**
 * The app's Prometheus metrics, in a registry of its own (two apps in one process — tests — do not
 * collide).
 */
export class AppMetrics {
  readonly registry = new Registry();
  #backlogProbe: (() => Promise<Backlog>) | undefined;
  #backlogSample: Promise<void> | undefined;
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'boxoffice_demo_logins_total',
    help: 'Demo logins (user tokens issued)',
    registers: [this.registry],
  });
  readonly orders = new Counter({
    name: 'boxoffice_orders_total',
    help: 'Order attempts by outcome (placed, insufficient_stock, unknown_product, over_limit)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly unitsSold = new Counter({
    name: 'boxoffice_units_sold_total',
    help: 'Product units sold through POST /orders',
    registers: [this.registry],
  });
  readonly queueJoins = new Counter({
    name: 'boxoffice_queue_joins_total',
    help: 'POST /concerts/:id/queue calls that joined or refreshed a place',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly queueAdmitted = new Counter({
    name: 'boxoffice_queue_admitted_total',
    help: 'Users admitted to a booking area by ticks this instance ran',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly queueEvicted = new Counter({
    name: 'boxoffice_queue_evicted_total',
    help: 'Users evicted by ticks this instance ran (timeout = silent waiter, expired = active too long)',
    labelNames: ['concert', 'reason'] as const,
    registers: [this.registry],
  });
  readonly queueWaiting = new Gauge({
    name: 'boxoffice_queue_waiting',
    help: 'Users waiting, as of the last tick this instance ran',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly queueActive = new Gauge({
    name: 'boxoffice_queue_active',
    help: 'Users in the booking area, as of the last tick this instance ran',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly queueLastTick = new Gauge({
    name: 'boxoffice_queue_last_tick_timestamp_seconds',
    help: 'Redis time of the last tick this instance ran (one instance ticks at a time: the freshest instance speaks for the room)',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly queuePaused = new Gauge({
    name: 'boxoffice_queue_paused',
    help: '1 if admissions were paused (no seat AVAILABLE, or an operator), as of the last tick this instance ran',
    labelNames: ['concert'] as const,
    registers: [this.registry],
  });
  readonly reservations = new Counter({
    name: 'boxoffice_reservations_total',
    help: 'Reservation attempts by outcome (held, seat-locked, seat-unavailable, seat-not-found)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly holdsExpired = new Counter({
    name: 'boxoffice_holds_expired_total',
    help: 'Holds whose reservation this instance rolled back at expiry',
    registers: [this.registry],
  });
  readonly payments = new Counter({
    name: 'boxoffice_payments_total',
    help: 'Payment gateway outcomes (succeeded, succeeded_replayed, declined, retry_scheduled, retries_exhausted, hold_lost)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly idempotentReplays = new Counter({
    name: 'boxoffice_idempotent_replays_total',
    help: 'Responses replayed from the idempotency store (Idempotent-Replayed: true) by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly idempotencyConflicts = new Counter({
    name: 'boxoffice_idempotency_conflicts_total',
    help: 'Idempotency-Key problems answered by the middleware, by route and code (idempotency-in-flight = 409, idempotency-key-reused = 422, idempotency-key-invalid = 400, idempotency-store-unavailable = 503)',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly holdPlaceSeconds = new Histogram({
    name: 'boxoffice_hold_place_seconds',
    help: 'Time to place a multi-seat hold (locks acquired in Redis) by outcome (held, seat-locked)',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly holdsConfirmed = new Counter({
    name: 'boxoffice_holds_confirmed_total',
    help: 'Hold confirmations at payment by outcome (confirmed, or the state that lost: expired, cancelled, confirmed-by-another)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly outbox = new Counter({
    name: 'boxoffice_outbox_messages_total',
    help: 'Outbox messages performed by this instance, by topic and outcome (done; published = handed to consumers, done once all record delivery; republished = deliveries were missing, e.g. Redis lost the jobs; failed = retried later; lapsed = finished after the claim lapsed)',
    labelNames: ['topic', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly paymentRecoveries = new Counter({
    name: 'boxoffice_payment_recoveries_total',
    help: 'Payments found stuck in PG_REQUESTED and resolved by this instance, by outcome (succeeded, declined, retry_scheduled, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly outboxPending = new Gauge({
    name: 'boxoffice_outbox_pending',
    help: 'Outbox messages not done yet, read from the database at scrape time (the same on every instance)',
    registers: [this.registry],
    collect: () => this.#sampleBacklog(),
  });
  readonly outboxOldestPending = new Gauge({
    name: 'boxoffice_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest outbox message not done yet (0 when none), read from the database at scrape time',
    registers: [this.registry],
    collect: () => this.#sampleBacklog(),
  });
  readonly holdExpiryLag = new Gauge({
    name: 'boxoffice_hold_expiry_lag_seconds',
    help: 'How far past its deadline (expires_at + grace) the most overdue HELD reservation without a live payment is (0 when none), read from the database at scrape time',
    registers: [this.registry],
    collect: () => this.#sampleBacklog(),
  });
  readonly dependencyUp = new Gauge({
    name: 'boxoffice_dependency_up',
    help: '1 if the last readiness probe of the dependency succeeded, else 0',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
    }
  }

  /**
   * Where the backlog gauges come from: `probe` runs once per scrape (the three gauges share one
   * call). A probe that fails leaves them NaN for that scrape (unknown, not 0). Without a probe
   * they stay 0.
   */
  observeBacklog(probe: () => Promise<Backlog>): void {
    this.#backlogProbe = probe;
  }

  #sampleBacklog(): Promise<void> {
    const probe = this.#backlogProbe;
    if (!probe) return Promise.resolve();
    this.#backlogSample ??= probe()
      .then(
        (b) => [b.outboxPending, b.outboxOldestPendingSeconds, b.holdExpiryLagSeconds],
        () => [Number.NaN, Number.NaN, Number.NaN],
      )
      .then(([pending, oldest, lag]) => {
        this.outboxPending.set(pending as number);
        this.outboxOldestPending.set(oldest as number);
        this.holdExpiryLag.set(lag as number);
      })
      .finally(() => {
        this.#backlogSample = undefined;
      });
    return this.#backlogSample;
  }
}
