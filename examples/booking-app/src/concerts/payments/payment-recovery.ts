import type { Logger } from 'pino';
import { PeriodicRound } from '../../periodic-round.js';
import type { PaymentService, RecoveryOutcome } from './payment-service.js';

/** Options of {@link PaymentRecovery}. */
export interface PaymentRecoverySettings {
  /**
   * A payment counts as stuck when it has been in PG_REQUESTED or STARTED this long, or in
   * RETRY_SCHEDULED this long past its retry time. Must exceed the longest
   * gateway call (the gateway's timeout plus its latency), or a live attempt would be "recovered"
   * under its feet (harmless — the guarded UPDATEs and the gateway key keep it to one charge and
   * one outcome — but noisy). @defaultValue 60000, or twice the gateway's longest call if more
   */
  afterMs: number;
  /** How often a running recovery looks for stuck payments. @defaultValue 15000 */
  intervalMs: number;
  /** Payments resolved per round. @defaultValue 20 */
  batchSize: number;
}

const DEFAULTS: Readonly<PaymentRecoverySettings> = Object.freeze({
  afterMs: 60_000,
  intervalMs: 15_000,
  batchSize: 20,
});

/**
 * Finds payments nobody is finishing and resolves each with {@link PaymentService.recover}: left
 * in PG_REQUESTED (the process died while the gateway call was out, or the database failed right
 * after it) — the gateway's ledger, read by the payment's idempotency key, says whether the card
 * was charged; in STARTED (the process died before the gateway call, or the hold's confirm met a
 * Redis outage) — the hold's state says whether to charge or to release; in RETRY_SCHEDULED long
 * past its retry time (the retry job was never queued, or lost with Redis) — the retry runs now,
 * with the same gateway key. Every instance runs one; the guarded UPDATEs inside `recover` make
 * each resolution happen once.
 */
export class PaymentRecovery {
  readonly settings: Readonly<PaymentRecoverySettings>;
  readonly #loop: PeriodicRound;

  constructor(
    private readonly deps: {
      payments: PaymentService;
      logger: Logger;
      /** The longest a gateway call can take (timeout + latency), checked against `afterMs`. */
      gatewayCallMs: number;
      settings?: Partial<PaymentRecoverySettings>;
    },
  ) {
    // The default stays clear of a slow gateway: at least twice its longest call.
    const afterMs = Math.max(DEFAULTS.afterMs, 2 * deps.gatewayCallMs);
    this.settings = Object.freeze({ ...DEFAULTS, afterMs, ...deps.settings });
    this.#loop = new PeriodicRound(
      () => this.runOnce(),
      this.settings.intervalMs,
      deps.logger,
      'payment recovery',
    );
    for (const name of ['afterMs', 'intervalMs', 'batchSize'] as const) {
      const v = this.settings[name];
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`payment recovery ${name} must be a positive integer, got ${v}`);
      }
    }
    if (this.settings.afterMs <= deps.gatewayCallMs) {
      throw new RangeError(
        `payment recovery afterMs must exceed the gateway's timeout + latency (${deps.gatewayCallMs} ms), got ${this.settings.afterMs}`,
      );
    }
  }

  /** One round: resolve the stuck payments found now. Returns each one's outcome by payment id. */
  async runOnce(): Promise<Map<string, RecoveryOutcome>> {
    const { payments, logger } = this.deps;
    const outcomes = new Map<string, RecoveryOutcome>();
    for (const id of await payments.stuck(this.settings.afterMs, this.settings.batchSize)) {
      try {
        outcomes.set(id, await payments.recover(id, this.settings.afterMs));
      } catch (error) {
        logger.warn({ err: error, paymentId: id }, 'payment recovery failed; next round retries');
      }
    }
    return outcomes;
  }

  /** Run a round every `intervalMs` (the first one now). */
  start(): void {
    this.#loop.start();
  }

  /** Stop and wait for the round in progress. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }
}
