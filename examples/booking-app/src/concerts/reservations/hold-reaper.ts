import type { SeatHolds } from '@boxoffice/seat-lock/holds';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import type { EventLog } from '../../events/event-log.js';
import type { AppMetrics } from '../../observability/metrics.js';
import { PeriodicRound } from '../../periodic-round.js';
import { LIVE_PAYMENT_STATUSES, releaseReservation } from './reservation-release.js';
import type { ReservationService } from './reservation-service.js';

/** Options of {@link HoldReaper}. */
export interface HoldReaperSettings {
  /** The holds' grace after `expiresAt` (a payment is accepted until then). @defaultValue 10000 */
  graceMs: number;
  /**
   * How long past `expiresAt + graceMs` a reservation may stay HELD before the reaper looks at it.
   * The normal expiry (a BullMQ job at the deadline, the holds' sweep every 30 s) comes first;
   * the reaper is the backstop. @defaultValue 60000
   */
  marginMs: number;
  /** How often a running reaper looks. @defaultValue 15000 */
  intervalMs: number;
  /** Reservations looked at per round. @defaultValue 50 */
  batchSize: number;
}

/** What one reaper did with one reservation. */
export type ReapOutcome = 'expired' | 'expired-lost' | 'cancelled' | 'skipped';

const DEFAULTS: Readonly<HoldReaperSettings> = Object.freeze({
  graceMs: 10_000,
  marginMs: 60_000,
  intervalMs: 15_000,
  batchSize: 50,
});

/**
 * Ends HELD reservations whose hold should long have ended, from the database side: a Redis that
 * lost its data (restart without persistence) also lost the hold records, their expiry jobs and the
 * sweep's index, so nothing in Redis will ever expire them. Every instance runs one. It looks at
 * reservations HELD past `expires_at + graceMs + marginMs` with no payment in a live state
 * (STARTED, PG_REQUESTED, RETRY_SCHEDULED: those are the payment recovery's), and by the hold:
 * gone from Redis → EXPIRED (seats AVAILABLE, one `reservation.expired`; the transaction of a
 * normal expiry); still `held`/`expiring` → the holds' own expiry (`holds.expire`, claimed once);
 * `expired` → the expiry's rollback; `confirmed`/`cancelled` with no live payment (its payer died
 * before deciding) → CANCELLED. Each write is guarded by status under the reservation's row lock,
 * so two reapers (or a reaper and an expiry) apply it once.
 */
export class HoldReaper {
  readonly settings: Readonly<HoldReaperSettings>;
  readonly #loop: PeriodicRound;

  constructor(
    private readonly deps: {
      db: Database;
      holds: SeatHolds;
      reservations: ReservationService;
      events: EventLog;
      metrics: AppMetrics;
      logger: Logger;
      settings?: Partial<HoldReaperSettings>;
    },
  ) {
    this.settings = Object.freeze({ ...DEFAULTS, ...deps.settings });
    this.#loop = new PeriodicRound(
      () => this.runOnce(),
      this.settings.intervalMs,
      deps.logger,
      'hold reaper',
    );
    for (const name of ['marginMs', 'intervalMs', 'batchSize'] as const) {
      const v = this.settings[name];
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`hold reaper ${name} must be a positive integer, got ${v}`);
      }
    }
    if (!Number.isInteger(this.settings.graceMs) || this.settings.graceMs < 0) {
      throw new RangeError(
        `hold reaper graceMs must be an integer ≥ 0, got ${this.settings.graceMs}`,
      );
    }
  }

  /** One round: look at the overdue HELD reservations found now. Returns each one's outcome by id. */
  async runOnce(): Promise<Map<string, ReapOutcome>> {
    const { db, logger } = this.deps;
    const { graceMs, marginMs, batchSize } = this.settings;
    const { rows } = await db.query<{ id: string; hold_id: string }>(
      `SELECT r.id, r.hold_id FROM reservations r
       WHERE r.status = 'HELD' AND r.expires_at < now() - $1 * interval '1 millisecond'
         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.reservation_id = r.id
                         AND p.status = ANY($2::text[]))
       ORDER BY r.expires_at LIMIT $3`,
      [graceMs + marginMs, LIVE_PAYMENT_STATUSES, batchSize],
    );
    const outcomes = new Map<string, ReapOutcome>();
    for (const row of rows) {
      try {
        outcomes.set(row.id, await this.#reap(row.id, row.hold_id));
      } catch (error) {
        logger.warn(
          { err: error, reservationId: row.id },
          'hold reaper failed; next round retries',
        );
      }
    }
    return outcomes;
  }

  async #reap(reservationId: string, holdId: string): Promise<ReapOutcome> {
    const { db, holds, reservations, events, metrics, logger } = this.deps;
    const hold = await holds.get(holdId);
    let outcome: ReapOutcome;
    if (hold === null || hold.state === 'confirmed' || hold.state === 'cancelled') {
      // Past the deadline nobody can confirm any more, so a payment that did confirm inserted its
      // row before: the row lock + live-payment check in releaseReservation sees it.
      const to = hold === null ? 'EXPIRED' : 'CANCELLED';
      const released = await db.transaction((tx) =>
        releaseReservation(
          tx,
          events,
          { reservationId },
          { to, unlessPaying: {}, data: { reaped: hold === null ? 'hold-lost' : hold.state } },
        ),
      );
      outcome = !released ? 'skipped' : hold === null ? 'expired-lost' : 'cancelled';
      if (released && to === 'EXPIRED') metrics.holdsExpired.inc();
    } else if (hold.state === 'expired') {
      outcome = (await reservations.expire(hold)) ? 'expired' : 'skipped';
    } else {
      outcome = (await holds.expire(holdId)) === 'expired' ? 'expired' : 'skipped';
    }
    if (outcome !== 'skipped') {
      logger.info(
        { reservationId, holdId, hold: hold?.state ?? 'lost', outcome },
        'held reservation reaped',
      );
    }
    return outcome;
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
