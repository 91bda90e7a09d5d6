import { randomUUID } from 'node:crypto';
import { TickBatch } from '@boxoffice/internal';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { redisUnavailable } from '../http/redis-failure.js';
import type { AppMetrics } from '../observability/metrics.js';
import { PeriodicRound } from '../periodic-round.js';
import { TimeoutError, withTimeout } from '../with-timeout.js';
import { type ClaimedMessage, OutboxRepository, type OutboxTopic } from './outbox.js';

/** Performs one message. Must be idempotent: a message can be performed more than once. */
export type OutboxHandler = (payload: Record<string, unknown>) => Promise<unknown>;

/**
 * A message handed to consumers elsewhere (a publish on queues Redis may lose): the message is done
 * only when each of `consumers` recorded its delivery ({@link OutboxRepository.deliver}),
 * and re-published while any is missing.
 */
export interface OutboxFanOut {
  consumers: readonly string[];
  /** Hand the message to the consumers; `published` is how many times it was before (0 the first time). */
  publish: (payload: Record<string, unknown>, published: number) => Promise<unknown>;
}

/** Options of {@link OutboxRelay}. */
export interface OutboxRelaySettings {
  /** How often a running relay looks for due messages. @defaultValue 1000 */
  pollMs: number;
  /** Messages claimed per round. @defaultValue 50 */
  batchSize: number;
  /**
   * How long a claim lasts; a relay that dies holding one lets another take it after this. A
   * handler gets half of it to finish, else it counts as failed (handlers are idempotent, so a late
   * finish is harmless). @defaultValue 5000
   */
  leaseMs: number;
  /**
   * Delay after a failed attempt, doubling per attempt, capped at 60 s — except while Redis is
   * unreachable, when every message fails alike and waits only this long. @defaultValue 1000
   */
  retryDelayMs: number;
  /**
   * After publishing a fan-out message, check this long later that every consumer recorded its
   * delivery, and re-publish if not (the jobs were lost); doubling per re-publish, capped at 60 s.
   * @defaultValue 10000
   */
  redeliverAfterMs: number;
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
  leaseMs: 5_000,
  retryDelayMs: 1000,
  redeliverAfterMs: 10_000,
  immediate: true,
  retentionMs: 7 * 86_400_000,
  pruneBatch: 1000,
});

/** A performed message and how to finish it (see {@link OutboxRepository.finish}). */
interface Finished {
  message: ClaimedMessage;
  checkInMs?: number;
}

/** The messages one caller performed, waiting for this turn's finish statement. */
interface FinishRequest {
  items: Finished[];
  resolve(mine: Set<string>): void;
  reject(error: unknown): void;
}

/** Pruning runs at most this often per relay, whatever `pollMs` is. */
const PRUNE_EVERY_MS = 60_000;
/** The longest backoff of a failing message and the longest wait before a re-publish. */
const MAX_DELAY_MS = 60_000;

/**
 * Drains the `outbox` table: claims due messages (see {@link OutboxRepository.claim}), runs the
 * handler of each message's topic, and marks it done — or gives it back with a backoff when the
 * handler fails. A fan-out topic ({@link OutboxFanOut}) is not done when published: its consumers
 * finish it as they record their deliveries, and the relay re-publishes it after
 * `redeliverAfterMs` while any delivery is missing — so an event whose jobs Redis lost still
 * reaches every consumer. Every instance runs one (`start()`); row claims keep two relays off one
 * message, and the handlers are idempotent (BullMQ jobId from the message id, consumers deduped by
 * event id in PostgreSQL, `room.complete` a no-op the second time) for the case a claim lapses.
 */
export class OutboxRelay {
  readonly settings: Readonly<OutboxRelaySettings>;
  readonly #repo: OutboxRepository;
  readonly #loop: PeriodicRound;
  /** The finishes of one event-loop turn (many payments commit together under load): one statement. */
  readonly #finishes = new TickBatch<FinishRequest>((requests) => void this.#finishAll(requests), {
    defer: 'turn',
  });
  #prunedAt = Number.NEGATIVE_INFINITY;
  /** Fast-path fan-outs still on their way (`stop()` waits for them). */
  readonly #fanOuts = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Database;
      handlers: Record<OutboxTopic, OutboxHandler | OutboxFanOut>;
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
      'redeliverAfterMs',
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

  /**
   * How a writer claims the messages it inserts (its fast path: no separate claim round trip): a
   * fresh claim token and this relay's lease, or null when `immediate` is off (the messages are
   * left due for the polling relay).
   */
  writerClaim(): { token: string; leaseMs: number } | null {
    return this.settings.immediate ? { token: randomUUID(), leaseMs: this.settings.leaseMs } : null;
  }

  /**
   * The writer's fast path: perform the messages it claimed as it inserted them
   * ({@link writerClaim}), right after its commit; resolves once those with a plain handler are
   * done. Fan-out messages go on without being waited for: a publish may wait for others to share
   * its job, and the writer's caller needs no consumer. Never throws: if this fails or the process
   * dies first, the claim's lease lapses and a polling relay performs them.
   */
  async afterCommit(claimed: readonly ClaimedMessage[]): Promise<void> {
    if (!this.settings.immediate || claimed.length === 0) return;
    const plain = (m: ClaimedMessage) => typeof this.deps.handlers[m.topic] === 'function';
    const fanOut = claimed.filter((m) => !plain(m));
    if (fanOut.length > 0) {
      const performing = this.#performQuietly(fanOut);
      this.#fanOuts.add(performing);
      void performing.finally(() => this.#fanOuts.delete(performing));
    }
    await this.#performQuietly(claimed.filter(plain));
  }

  async #performQuietly(messages: ClaimedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.#perform(messages);
    } catch (error) {
      const ids = messages.map((m) => m.id);
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
    const { retentionMs, pruneBatch } = this.settings;
    let deleted = 0;
    for (;;) {
      const n = await this.#repo.prune(retentionMs, pruneBatch);
      deleted += n;
      if (n < pruneBatch) break;
    }
    while ((await this.#repo.pruneDeliveries(retentionMs, pruneBatch)) === pruneBatch) {}
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

  /**
   * Perform claimed messages, then mark the ones that went well in one statement (done, or handed
   * to their consumers); returns how many.
   */
  async #perform(messages: ClaimedMessage[]): Promise<number> {
    const performed = (await Promise.all(messages.map((m) => this.#performOne(m)))).filter(
      (f): f is Finished => f !== undefined,
    );
    const mine = performed.length === 0 ? new Set<string>() : await this.#finish(performed);
    for (const { message: m, checkInMs } of performed) {
      const outcome = !mine.has(m.id)
        ? 'lapsed'
        : checkInMs === undefined
          ? 'done'
          : m.published > 0
            ? 'republished'
            : 'published';
      this.deps.metrics.outbox.inc({ topic: m.topic, outcome });
    }
    return performed.length;
  }

  /** Mark `items` finished together with every other caller's of this turn; the ids that were mine. */
  #finish(items: Finished[]): Promise<Set<string>> {
    return new Promise((resolve, reject) => this.#finishes.add({ items, resolve, reject }));
  }

  async #finishAll(requests: FinishRequest[]): Promise<void> {
    try {
      const mine = await this.#repo.finish(requests.flatMap((r) => r.items));
      for (const r of requests) r.resolve(mine);
    } catch (error) {
      for (const r of requests) r.reject(error);
    }
  }

  /**
   * Perform one claimed message: how to finish it (done, or handed to its consumers and checked
   * again in `checkInMs`), or undefined when it failed and is due again after a backoff.
   */
  async #performOne(m: ClaimedMessage): Promise<Finished | undefined> {
    const { logger, metrics } = this.deps;
    const handler = this.deps.handlers[m.topic];
    try {
      if (typeof handler === 'function') {
        await this.#bounded(handler(m.payload), m);
        return { message: m };
      }
      if (m.published > 0 && (await this.#repo.delivered(m.id, handler.consumers))) {
        return { message: m };
      }
      await this.#bounded(handler.publish(m.payload, m.published), m);
      if (m.published > 0) {
        logger.warn(
          { id: m.id, published: m.published },
          'outbox: deliveries missing, re-published',
        );
      }
      return {
        message: m,
        checkInMs: Math.min(this.settings.redeliverAfterMs * 2 ** m.published, MAX_DELAY_MS),
      };
    } catch (error) {
      // An outage fails every message alike: retry soon after it ends, not after a long backoff.
      const delay =
        redisUnavailable(error) || error instanceof TimeoutError
          ? this.settings.retryDelayMs
          : Math.min(this.settings.retryDelayMs * 2 ** (m.attempts - 1), MAX_DELAY_MS);
      logger.warn({ err: error, id: m.id, attempts: m.attempts, delay }, 'outbox message failed');
      metrics.outbox.inc({ topic: m.topic, outcome: 'failed' });
      await this.#repo.retryLater(m, String((error as Error)?.message ?? error), delay);
      return undefined;
    }
  }

  /** `work` within half the lease, so it ends before another relay may take the message over. */
  #bounded<T>(work: Promise<T>, m: ClaimedMessage): Promise<T> {
    return withTimeout(work, Math.floor(this.settings.leaseMs / 2), `outbox ${m.topic} ${m.id}`);
  }

  /** Run a round every `pollMs` (the first one now). */
  start(): void {
    this.#loop.start();
  }

  /** Stop, and wait for the round in progress and for the fast path's fan-outs still on their way. */
  async stop(): Promise<void> {
    await this.#loop.stop();
    await Promise.all(this.#fanOuts);
  }
}
