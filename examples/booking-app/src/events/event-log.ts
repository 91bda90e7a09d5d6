import type { Queryable } from '../db/database.js';
import { StatementBatch } from '../db/statement-batch.js';

/** One business event: what a user tried and how it went (the notes' success/failure rates). */
export interface BusinessEvent {
  /** Dotted name, e.g. `order.placed`, `user.login`. */
  type: string;
  outcome: 'success' | 'failure' | 'info';
  /** Why it failed, as a stable code (e.g. `insufficient-stock`). */
  reason?: string | undefined;
  userId?: number | undefined;
  /** What it was about, e.g. `order:<uuid>` or `product:3`. */
  subject?: string | undefined;
  data?: Record<string, unknown>;
}

/** A stored event with its id and time. */
export interface StoredBusinessEvent extends BusinessEvent {
  id: number;
  occurredAt: Date;
}

/** An event's INSERT as SQL text and its parameters, for a statement of the caller's. */
export interface EventInsert {
  sql: string;
  params: unknown[];
}

/** Append-only business event log in the `business_events` table. */
export class EventLog {
  constructor(private readonly db: Queryable) {}

  /**
   * The INSERT of `event`, its parameters numbered from `$first`, so a caller can write it in the
   * same statement as the change it describes (one round trip, e.g. as a CTE). `from`: the user id
   * and/or the subject are SQL expressions over the CTE `from.table` instead of parameters (e.g.
   * `{ table: 'u', userId: 'u.id' }`); no row there, no event.
   */
  static insert(
    event: BusinessEvent,
    first = 1,
    from?: { table: string; userId?: string; subject?: string },
  ): EventInsert {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${first + params.length - 1}`;
    };
    const values = [
      param(event.type),
      param(event.outcome),
      param(event.reason ?? null),
      from?.subject ?? param(event.subject ?? null),
      param(JSON.stringify(event.data ?? {})),
      from?.userId ?? param(event.userId ?? null),
    ];
    const sql = `INSERT INTO business_events (type, outcome, reason, subject, data, user_id)
       SELECT ${values.join(', ')}${from ? ` FROM ${from.table}` : ''}`;
    return { sql, params };
  }

  /**
   * Append `event`; pass a transaction as `on` to commit it together with the change it describes.
   * Without one, the events recorded in one event-loop turn (e.g. the refused attempts of a sale)
   * are written in one statement.
   */
  async record(event: BusinessEvent, on?: Queryable): Promise<void> {
    if (on === undefined || on === this.db) return this.#records.run(event);
    const { sql, params } = EventLog.insert(event);
    await on.query(sql, params);
  }

  /** The events recorded outside a transaction in one turn, as one multi-row INSERT. */
  readonly #records = new StatementBatch(
    async (events: BusinessEvent[]) => {
      const column = (pick: (e: BusinessEvent) => unknown) => events.map(pick);
      await this.db.query(
        `INSERT INTO business_events (type, outcome, reason, subject, data, user_id)
         SELECT type, outcome, reason, subject, data::jsonb, user_id
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
             AS f(type, outcome, reason, subject, data, user_id)`,
        [
          column((e) => e.type),
          column((e) => e.outcome),
          column((e) => e.reason ?? null),
          column((e) => e.subject ?? null),
          column((e) => JSON.stringify(e.data ?? {})),
          column((e) => e.userId ?? null),
        ],
      );
      return events.map(() => undefined);
    },
    async (event: BusinessEvent) => {
      const { sql, params } = EventLog.insert(event);
      await this.db.query(sql, params);
    },
  );

  /** The latest events of one type, newest first. */
  async recent(type: string, limit = 50): Promise<StoredBusinessEvent[]> {
    const { rows } = await this.db.query<{
      id: string | number;
      occurred_at: Date;
      type: string;
      outcome: 'success' | 'failure' | 'info';
      reason: string | null;
      user_id: number | null;
      subject: string | null;
      data: Record<string, unknown>;
    }>(
      `SELECT id, occurred_at, type, outcome, reason, user_id, subject, data
       FROM business_events WHERE type = $1 ORDER BY id DESC LIMIT $2`,
      [type, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      occurredAt: r.occurred_at,
      type: r.type,
      outcome: r.outcome,
      reason: r.reason ?? undefined,
      userId: r.user_id ?? undefined,
      subject: r.subject ?? undefined,
      data: r.data,
    }));
  }

  /**
   * Success and failure counts per event type over the last `hours` hours, with the success rate
   * (successes / (successes + failures), null when there were none) and failures by reason.
   */
  async stats(hours: number): Promise<EventStats[]> {
    const { rows } = await this.db.query<{
      type: string;
      outcome: 'success' | 'failure' | 'info';
      reason: string | null;
      n: number;
    }>(
      `SELECT type, outcome, reason, count(*)::int AS n FROM business_events
       WHERE occurred_at >= now() - make_interval(hours => $1)
       GROUP BY type, outcome, reason ORDER BY type, outcome, reason`,
      [hours],
    );
    const byType = new Map<string, EventStats>();
    for (const r of rows) {
      let s = byType.get(r.type);
      if (!s) {
        s = {
          type: r.type,
          successes: 0,
          failures: 0,
          info: 0,
          successRate: null,
          failureReasons: {},
        };
        byType.set(r.type, s);
      }
      if (r.outcome === 'success') s.successes += r.n;
      else if (r.outcome === 'info') s.info += r.n;
      else {
        s.failures += r.n;
        const reason = r.reason ?? 'unknown';
        s.failureReasons[reason] = (s.failureReasons[reason] ?? 0) + r.n;
      }
    }
    for (const s of byType.values()) {
      const decided = s.successes + s.failures;
      s.successRate = decided === 0 ? null : s.successes / decided;
    }
    return [...byType.values()];
  }
}

/** Counts of one event type over a window (see {@link EventLog.stats}). */
export interface EventStats {
  type: string;
  successes: number;
  failures: number;
  info: number;
  successRate: number | null;
  failureReasons: Record<string, number>;
}
