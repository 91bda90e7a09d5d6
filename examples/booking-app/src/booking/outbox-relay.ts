import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { AppMetrics } from '../observability/metrics.js';
import { type ClaimedMessage, OutboxRepository, type OutboxTopic } from '../repos/outbox.js';
import { PeriodicRound } from './periodic-round.js';

/** Performs one message. Must be idempotent: a message can be performed more than once. */
export type OutboxHandler = (payload: Record<string, unknown>) => Promise<unknown>;

/** Options of {@link OutboxRelay}. */
export interface OutboxRelaySettings {
  /** How often a running relay looks for due messages. @defaultValue 1000 */
  pollMs: number;
  /** Messages claimed per round. @defaultValue 50 */
  batchSize: number;
  /** How long a claim lasts; a relay that dies holding one lets another take it after this. @defaultValue 30000 */
  leaseMs: number;
  /** Delay after a failed attempt, doubling per attempt, capped at 60 s. @defaultValue 1000 */
  retryDelayMs: number;
  /**
   * Perform a writer's messages right after its commit (`afterCommit`), before the next poll. Off,
   * only the polling relay performs them — what a crash between commit and effect looks like.
   * @defaultValue true
   */
  immediate: boolean;
  /** Done messages are deleted this long after they were done. @defaultValue 604_800_000 (7 days) */
  retentionMs: number;
  /** Done messages deleted per statement; each round prunes at most once a minute. @defaultValue 1000 */
  pruneBatch: number;
}

const DEFAULTS: Readonly<OutboxRelaySettings> = Object.freeze({
  pollMs: 1000,
  batchSize: 50,
  leaseMs: 30_000,
  retryDelayMs: 1000,
  immediate: true,
  retentionMs: 7 * 86_400_000,
  pruneBatch: 1000,
});

/** Pruning runs at most this often per relay, whatever `pollMs` is. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Drains the `outbox` table: claims due messages (see {@link OutboxRepository.claim}), runs the
 * handler of each message's topic, and marks it done — or gives it back with a backoff when the
 * handler fails. Every instance runs one (`start()`); row claims keep two relays off one message,
 * and the handlers are idempotent (BullMQ jobId = message id, consumers deduped by event id,
 * `room.complete` a no-op the second time) for the case a claim lapses mid-way.
 */
export class OutboxRelay {
  readonly settings: Readonly<OutboxRelaySettings>;
  readonly #repo: OutboxRepository;
  readonly #loop: PeriodicRound;
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: {
      db: Database;
      handlers: Record<OutboxTopic, OutboxHandler>;
      logger: Logger;
      metrics: AppMetrics;
      settings?: Partial<OutboxRelaySettings>;
    },
  ) {
    this.settings = Object.freeze({ ...DEFAULTS, ...deps.settings });
    this.#loop = new PeriodicRound(
      () => this.round(),
      this.settings.pollMs,
      deps.logger,
      'outbox relay',
    );
    for (const name of [
      'pollMs',
      'batchSize',
      'leaseMs',
      'retryDelayMs',
      'retentionMs',
      'pruneBatch',
    ] as const) {
      const v = this.settings[name];
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`outbox ${name} must be a positive integer, got ${v}`);
      }
    }
    this.#repo = new OutboxRepository(deps.db);
  }

  /** The writer's fast path: perform `ids` now (unless `immediate` is off). Never throws. */
  async afterCommit(ids: readonly string[]): Promise<void> {
    if (!this.settings.immediate || ids.length === 0) return;
    try {
      await this.#perform(
        await this.#repo.claim({ limit: ids.length, leaseMs: this.settings.leaseMs, ids }),
      );
    } catch (error) {
      // The rows are committed: the polling relay performs them later.
      this.deps.logger.warn({ err: error, ids }, 'outbox fast path failed; the relay will retry');
    }
  }

  /**
   * One polling round: perform the due messages (see {@link drain}), then, at most once a minute,
   * delete done messages older than `retentionMs` so the table does not grow forever.
   */
  async round(): Promise<void> {
    await this.drain();
    if (Date.now() - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = Date.now();
      await this.prune();
    }
  }

  /** Delete done messages older than `retentionMs` until none is left; returns how many. */
  async prune(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = await this.#repo.prune(this.settings.retentionMs, this.settings.pruneBatch);
      deleted += n;
      if (n < this.settings.pruneBatch) break;
    }
    if (deleted > 0) this.deps.logger.info({ deleted }, 'outbox: pruned done messages');
    return deleted;
  }

  /** Claim and perform due messages until none is left. Returns how many were done. */
  async drain(): Promise<number> {
    let done = 0;
    for (;;) {
      const claimed = await this.#repo.claim({
        limit: this.settings.batchSize,
        leaseMs: this.settings.leaseMs,
      });
      if (claimed.length === 0) return done;
      done += await this.#perform(claimed);
      if (claimed.length < this.settings.batchSize) return done;
    }
  }

  async #perform(messages: ClaimedMessage[]): Promise<number> {
    const { handlers, logger, metrics } = this.deps;
    const results = await Promise.all(
      messages.map(async (m) => {
        try {
          await handlers[m.topic](m.payload);
        } catch (error) {
          const delay = Math.min(this.settings.retryDelayMs * 2 ** (m.attempts - 1), 60_000);
          logger.warn(
            { err: error, id: m.id, attempts: m.attempts, delay },
            'outbox message failed',
          );
          metrics.outbox.inc({ topic: m.topic, outcome: 'failed' });
          await this.#repo.retryLater(m, String((error as Error)?.message ?? error), delay);
          return false;
        }
        const mine = await this.#repo.done(m);
        metrics.outbox.inc({ topic: m.topic, outcome: mine ? 'done' : 'lapsed' });
        return true;
      }),
    );
    return results.filter(Boolean).length;
  }

  /** Run a round every `pollMs` (the first one now). */
  start(): void {
    this.#loop.start();
  }

  /** Stop and wait for the round in progress. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }
}
