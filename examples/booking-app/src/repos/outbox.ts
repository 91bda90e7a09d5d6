import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';

/** What an outbox message asks the relay to do. */
export type OutboxTopic = 'payment.succeeded' | 'room.complete';

/** A message to write in the transaction that causes it. */
export interface OutboxMessage {
  /** Unique per effect; a second insert with the same id is ignored. */
  id: string;
  topic: OutboxTopic;
  payload: Record<string, unknown>;
}

/** A message a relay claimed: it owns it until `claimToken`'s lease lapses. */
export interface ClaimedMessage extends OutboxMessage {
  attempts: number;
  claimToken: string;
}

interface OutboxRow {
  id: string;
  topic: OutboxTopic;
  payload: Record<string, unknown>;
  attempts: number;
  claim_token: string;
}

/**
 * The `outbox` table (migration 003). Writers `add` messages inside their own transaction; relays
 * `claim` due messages, perform them, then mark them `done` (or `retryLater`). A claim is one
 * statement, `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, that moves `available_at`
 * into the future: concurrent relays on PostgreSQL skip each other's rows instead of waiting, and a
 * relay that dies holding a claim loses it when the lease lapses. On PGlite (one session, one
 * statement at a time) the same statement is simply serialised.
 */
export class OutboxRepository {
  constructor(private readonly db: Queryable) {}

  /** Insert `messages` on `tx` (the caller's transaction); an id already present is left alone. */
  async add(tx: Queryable, messages: readonly OutboxMessage[]): Promise<void> {
    for (const m of messages) {
      await tx.query(
        `INSERT INTO outbox (id, topic, payload) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING`,
        [m.id, m.topic, JSON.stringify(m.payload)],
      );
    }
  }

  /**
   * Claim up to `limit` due, unfinished messages for `leaseMs` (oldest first), or only those among
   * `ids` when given (the writer's fast path). Returns what this caller now owns.
   */
  async claim(options: {
    limit: number;
    leaseMs: number;
    ids?: readonly string[];
  }): Promise<ClaimedMessage[]> {
    const token = randomUUID();
    const only = options.ids !== undefined;
    const { rows } = await this.db.query<OutboxRow>(
      `UPDATE outbox SET available_at = now() + $2 * interval '1 millisecond',
              attempts = attempts + 1, claim_token = $3
       WHERE id IN (
         SELECT id FROM outbox
         WHERE done_at IS NULL AND available_at <= now() AND ($4::boolean = false OR id = ANY($5::text[]))
         ORDER BY available_at, id
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       AND done_at IS NULL
       RETURNING id, topic, payload, attempts, claim_token`,
      [options.limit, options.leaseMs, token, only, options.ids ?? []],
    );
    return rows.map((r) => ({
      id: r.id,
      topic: r.topic,
      payload: r.payload,
      attempts: r.attempts,
      claimToken: r.claim_token,
    }));
  }

  /** Mark a claimed message done; false when the claim had lapsed and another relay took it. */
  async done(message: ClaimedMessage): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE outbox SET done_at = now(), last_error = NULL
       WHERE id = $1 AND claim_token = $2 AND done_at IS NULL`,
      [message.id, message.claimToken],
    );
    return rowCount === 1;
  }

  /** Give a claimed message back, due again in `delayMs`, with the error that stopped it. */
  async retryLater(message: ClaimedMessage, error: string, delayMs: number): Promise<void> {
    await this.db.query(
      `UPDATE outbox SET available_at = now() + $3 * interval '1 millisecond', last_error = $4,
              claim_token = NULL
       WHERE id = $1 AND claim_token = $2 AND done_at IS NULL`,
      [message.id, message.claimToken, delayMs, error.slice(0, 1000)],
    );
  }

  /**
   * Delete up to `limit` messages done more than `olderThanMs` ago (oldest first); returns how
   * many. Their effects happened; only a duplicate insert of the same id (which no writer makes
   * after the effect) would run again once its row is gone.
   */
  async prune(olderThanMs: number, limit: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox
         WHERE done_at IS NOT NULL AND done_at < now() - $1 * interval '1 millisecond'
         ORDER BY done_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED)`,
      [olderThanMs, limit],
    );
    return rowCount ?? 0;
  }

  /** Messages not done yet (for metrics, tests and operators). */
  async pending(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL',
    );
    return (rows[0] as { n: number }).n;
  }
}
