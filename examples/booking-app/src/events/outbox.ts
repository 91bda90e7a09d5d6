import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { type BusinessEvent, EventLog } from './event-log.js';

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
  /** How many times it was handed to its consumers before (fan-out topics; 0 otherwise). */
  published: number;
  claimToken: string;
}

/** An outbox row as a claim returns it (`RETURNING id, topic, payload, attempts, published, claim_token`). */
export interface OutboxRow {
  id: string;
  topic: OutboxTopic;
  payload: Record<string, unknown>;
  attempts: number;
  published: number;
  claim_token: string;
}

/** The {@link ClaimedMessage} of a claimed row. */
export function toClaimedMessage(r: OutboxRow): ClaimedMessage {
  return {
    id: r.id,
    topic: r.topic,
    payload: r.payload,
    attempts: r.attempts,
    published: r.published,
    claimToken: r.claim_token,
  };
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
       RETURNING id, topic, payload, attempts, published, claim_token`,
      [options.limit, options.leaseMs, token, only, options.ids ?? []],
    );
    return rows.map(toClaimedMessage);
  }

  /** Mark a claimed message done; false when the claim had lapsed and another relay took it. */
  async done(message: ClaimedMessage): Promise<boolean> {
    return (await this.finish([{ message }])).has(message.id);
  }

  /**
   * Finish claimed messages in one statement: each is done, or — with `checkInMs`, a fan-out
   * message handed to its consumers — given back, due again in `checkInMs`, when the relay checks
   * that every consumer recorded its delivery (re-publishing if not). Returns the ids this claim
   * still held — a fan-out message its consumers already finished (they can, between the publish and
   * this statement) included; the others had lapsed (another relay took them).
   */
  async finish(
    items: readonly { message: ClaimedMessage; checkInMs?: number }[],
  ): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    // The rows are locked in id order first, as consumers' deliveries lock them
    // (`deliverAll`): two statements over the same messages then never wait for each other in a
    // cycle (PostgreSQL would break it only after `deadlock_timeout`, 1 s by default).
    const { rows } = await this.db.query<{ id: string }>(
      `WITH f AS (
         SELECT * FROM unnest($1::text[], $2::uuid[], $3::int[]) AS f(id, token, check_in)
       ), locked AS MATERIALIZED (
         SELECT o.id, o.claim_token, o.done_at FROM outbox o
          WHERE o.id IN (SELECT id FROM f) ORDER BY o.id FOR UPDATE
       ), updated AS (
       UPDATE outbox o
          SET done_at = CASE WHEN f.check_in IS NULL THEN now() END,
              published = o.published + CASE WHEN f.check_in IS NULL THEN 0 ELSE 1 END,
              available_at = CASE WHEN f.check_in IS NULL THEN o.available_at
                                  ELSE now() + f.check_in * interval '1 millisecond' END,
              claim_token = CASE WHEN f.check_in IS NULL THEN o.claim_token END,
              last_error = NULL
         FROM f
        WHERE o.id = f.id AND o.id IN (SELECT id FROM locked) AND o.claim_token = f.token
          AND o.done_at IS NULL
        RETURNING o.id
       )
       SELECT id FROM updated
       UNION ALL
       SELECT l.id FROM locked l JOIN f ON f.id = l.id
        WHERE l.claim_token = f.token AND l.done_at IS NOT NULL AND f.check_in IS NOT NULL`,
      [
        items.map((i) => i.message.id),
        items.map((i) => i.message.claimToken),
        items.map((i) => i.checkInMs ?? null),
      ],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * A consumer applies its effect, the business event `effect`, and records that it handled
   * message `id`, in one statement: the event is written only if this call recorded the delivery
   * (false: it was recorded before, so the effect must not happen again). When the last of
   * `consumers` records, the message is done in the same statement. `record_delivery` (migration
   * 007) locks the message row first, so the last two consumers of one message cannot both miss
   * each other's delivery.
   */
  async deliver(
    id: string,
    consumer: string,
    consumers: readonly string[],
    effect: BusinessEvent,
  ): Promise<boolean> {
    const { sql, params } = EventLog.insert(effect, 4, {
      table: 'record_delivery($1, $2, $3::text[]) AS delivered',
    });
    const { rowCount } = await this.db.query(sql, [id, consumer, consumers, ...params]);
    return rowCount === 1;
  }

  /**
   * {@link deliver} for many deliveries in one statement (the consumers of one event-loop turn):
   * for each item, in order, whether this call recorded it (and wrote its effect). The rows are
   * taken in (message, consumer) order, so two such statements lock messages in the same order.
   */
  async deliverAll(
    consumers: readonly string[],
    items: readonly { id: string; consumer: string; effect: BusinessEvent }[],
  ): Promise<boolean[]> {
    const order = items
      .map((item, i) => ({ item, i }))
      .sort((a, b) =>
        a.item.id === b.item.id
          ? a.item.consumer.localeCompare(b.item.consumer)
          : a.item.id.localeCompare(b.item.id),
      );
    const column = (pick: (item: (typeof items)[number]) => unknown) =>
      order.map(({ item }) => pick(item));
    const { rows } = await this.db.query<{ n: number }>(
      `WITH f AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::text[], $8::int[])
           WITH ORDINALITY AS f(id, consumer, type, outcome, reason, subject, data, user_id, n)
       ), d AS MATERIALIZED (
         SELECT f.* FROM f CROSS JOIN LATERAL record_delivery(f.id, f.consumer, $9::text[]) AS r
       ), e AS (
         INSERT INTO business_events (type, outcome, reason, subject, data, user_id)
         SELECT type, outcome, reason, subject, data::jsonb, user_id FROM d
       )
       SELECT n::int AS n FROM d`,
      [
        column((i) => i.id),
        column((i) => i.consumer),
        column((i) => i.effect.type),
        column((i) => i.effect.outcome),
        column((i) => i.effect.reason ?? null),
        column((i) => i.effect.subject ?? null),
        column((i) => JSON.stringify(i.effect.data ?? {})),
        column((i) => i.effect.userId ?? null),
        consumers,
      ],
    );
    const recorded = new Array<boolean>(items.length).fill(false);
    for (const { n } of rows) recorded[(order[n - 1] as { i: number }).i] = true;
    return recorded;
  }

  /** Whether every one of `consumers` recorded its delivery of message `id`. */
  async delivered(id: string, consumers: readonly string[]): Promise<boolean> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox_deliveries
       WHERE message_id = $1 AND consumer = ANY($2::text[])`,
      [id, consumers],
    );
    return rows[0]?.n === consumers.length;
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

  /**
   * Delete up to `limit` delivery records older than `olderThanMs` whose message was pruned (once
   * a message is gone nothing re-publishes it); returns how many.
   */
  async pruneDeliveries(olderThanMs: number, limit: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM outbox_deliveries WHERE (message_id, consumer) IN (
         SELECT d.message_id, d.consumer FROM outbox_deliveries d
         WHERE d.done_at < now() - $1 * interval '1 millisecond'
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = d.message_id)
         LIMIT $2)`,
      [olderThanMs, limit],
    );
    return rowCount ?? 0;
  }

  /**
   * Up to `limit` messages not done yet, oldest first, as `id (attempts a, published p, due in
   * d ms, deliveries c1,c2, last error e)`: what a test prints when a bounded wait runs out.
   */
  async describePending(limit = 10): Promise<string[]> {
    const { rows } = await this.db.query<{ line: string }>(
      `SELECT o.id || ' (attempts ' || o.attempts || ', published ' || o.published || ', due in '
              || round(extract(epoch FROM (o.available_at - now())) * 1000) || ' ms, deliveries '
              || coalesce((SELECT string_agg(d.consumer, ',' ORDER BY d.consumer)
                           FROM outbox_deliveries d WHERE d.message_id = o.id), 'none')
              || coalesce(', last error ' || o.last_error, '') || ')' AS line
       FROM outbox o WHERE o.done_at IS NULL ORDER BY o.created_at, o.id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.line);
  }

  /** Messages not done yet (for metrics, tests and operators). */
  async pending(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE done_at IS NULL',
    );
    return (rows[0] as { n: number }).n;
  }
}
