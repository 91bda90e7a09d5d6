import type { AccessClaims } from '@boxoffice/queue';
import type { SeatLock } from '@boxoffice/seat-lock';
import type { Hold, SeatHolds } from '@boxoffice/seat-lock/holds';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../../db/database.js';
import {
  NotFoundError,
  SeatLimitReachedError,
  SeatLockedError,
  SeatUnavailableError,
} from '../../errors.js';
import type { EventLog } from '../../events/event-log.js';
import type { AppMetrics } from '../../observability/metrics.js';
import type { PaymentTokens } from '../payments/payment-tokens.js';
import { releaseReservation } from './reservation-release.js';

/** A reservation as the API shows it. */
export interface Reservation {
  id: string;
  concertId: number;
  userId: number;
  seatIds: number[];
  status: 'HELD' | 'CONFIRMED' | 'EXPIRED' | 'CANCELLED';
  /** Total of the seats' prices, integer cents. */
  amount: number;
  currency: 'USD';
  /** What the UI counts down to (ISO); the server accepts payment until a grace period later. */
  expiresAt: string;
  holdId: string;
}

/** A reservation and the payment token that lets its holder pay for it. */
export interface HeldReservation {
  reservation: Reservation;
  paymentToken: string;
}

/** The columns of {@link ReservationRow}, from `reservations r`. */
const RESERVATION_COLUMNS = `r.id, r.concert_id, r.user_id, r.status, r.amount_cents, r.expires_at,
  r.hold_id, coalesce((SELECT array_agg(seat_id ORDER BY seat_id) FROM reservation_seats rs
                       WHERE rs.reservation_id = r.id), '{}') AS seat_ids`;

interface ReservationRow {
  id: string;
  concert_id: number;
  user_id: number;
  status: Reservation['status'];
  amount_cents: number;
  expires_at: Date;
  hold_id: string;
  seat_ids: number[];
}

const toReservation = (r: ReservationRow): Reservation => ({
  id: r.id,
  concertId: r.concert_id,
  userId: r.user_id,
  seatIds: r.seat_ids.map(Number),
  status: r.status,
  amount: r.amount_cents,
  currency: 'USD',
  expiresAt: r.expires_at.toISOString(),
  holdId: r.hold_id,
});

/** What is kept with each hold in Redis (and handed back to onExpire). */
interface HoldData {
  concertId: number;
  userId: number;
  seatIds: number[];
}

/** The seat-lock resource of a seat: every seat of a concert shares the concert's hash tag. */
export const seatResource = (concertId: number, seatId: number) =>
  `{concert-${concertId}}:seat-${seatId}`;

/**
 * SQL: how many seats of concert `$2` user `$1` holds or owns — the HELD and ASSIGNED seats of their
 * HELD and CONFIRMED reservations.
 */
const SEATS_OF_USER = `SELECT count(*)::int FROM seats us JOIN reservations ur ON ur.id = us.reservation_id
   WHERE ur.user_id = $1 AND ur.concert_id = $2 AND ur.status IN ('HELD', 'CONFIRMED')
     AND us.status IN ('HELD', 'ASSIGNED')`;

/** The seats asked for, with how many seats their user already has (one round trip). */
async function seatsAskedFor(
  q: Queryable,
  userId: number,
  concertId: number,
  seatIds: number[],
): Promise<{ seats: Map<number, { status: string; price_cents: number }>; held: number }> {
  const { rows } = await q.query<{ id: number; status: string; price_cents: number; held: number }>(
    `SELECT id, status, price_cents, (${SEATS_OF_USER}) AS held
       FROM seats WHERE concert_id = $2 AND id = ANY($3::int[])`,
    [userId, concertId, seatIds],
  );
  return { seats: new Map(rows.map((s) => [s.id, s])), held: rows[0]?.held ?? 0 };
}

/**
 * Reservations: a multi-seat lock + hold in Redis (`SeatHolds`), then the reservation row and the
 * seats HELD in one database transaction guarded by the lock's fencing tokens; a payment token for
 * the UI. Expiry (the holds' onExpire) rolls the database back once per hold, guarded by status.
 */
export class ReservationService {
  constructor(
    private readonly deps: {
      db: Database;
      holds: SeatHolds;
      paymentTokens: PaymentTokens;
      events: EventLog;
      metrics: AppMetrics;
      logger: Logger;
      /** Most seats one user may hold and own per concert. @defaultValue 4 */
      seatsPerUserMax?: number;
      /**
       * Reads who holds a seat's lock (`SeatLock.owner`, same prefix as `holds`), to name the seats
       * that are taken when a hold cannot be placed. @defaultValue none: every seat asked for
       */
      locks?: Pick<SeatLock, 'owner'>;
    },
  ) {}

  /**
   * The seats of `seatIds` whose lock someone holds: `SeatHolds.place` only says that one was
   * taken. All of them when none is any more (released in between) or the locks cannot be read.
   */
  async #taken(concertId: number, seatIds: number[]): Promise<number[]> {
    const { locks } = this.deps;
    if (!locks) return seatIds;
    try {
      const owners = await Promise.all(
        seatIds.map((id) => locks.owner(seatResource(concertId, id))),
      );
      const taken = seatIds.filter((_, i) => owners[i] !== null);
      return taken.length > 0 ? taken : seatIds;
    } catch {
      return seatIds;
    }
  }

  /**
   * Hold `seatIds` of `concertId` for the holder of a verified `queue_entry` token.
   * @throws NotFoundError unknown seat; SeatUnavailableError BLOCKED/ASSIGNED; SeatLimitReachedError
   * over the per-user cap; SeatLockedError when the lock is taken (or the seat is HELD).
   */
  async reserve(
    concertId: number,
    access: AccessClaims,
    seatIds: number[],
  ): Promise<HeldReservation> {
    const { db, holds, events, metrics } = this.deps;
    const userId = Number(access.sub);
    const fail = async (reason: string, error: Error) => {
      metrics.reservations.inc({ outcome: reason });
      await events.record({
        type: 'reservation.attempted',
        outcome: 'failure',
        reason,
        userId,
        subject: `concert:${concertId}`,
        data: { seatIds },
      });
      return error;
    };

    const { seats: byId, held } = await seatsAskedFor(db, userId, concertId, seatIds);
    for (const id of seatIds) {
      const seat = byId.get(id);
      if (!seat) throw await fail('seat-not-found', new NotFoundError('seat', id));
      if (seat.status === 'BLOCKED' || seat.status === 'ASSIGNED') {
        throw await fail('seat-unavailable', new SeatUnavailableError(id, seat.status));
      }
    }

    const max = this.deps.seatsPerUserMax ?? 4;
    const overCap = (held: number) =>
      held + seatIds.length > max
        ? new SeatLimitReachedError(max, held, seatIds.length)
        : undefined;
    // A cheap early answer that takes no seat lock; the check that counts is in the transaction.
    const early = overCap(held);
    if (early) throw await fail('seat-limit-reached', early);

    const resources = seatIds.map((id) => seatResource(concertId, id));
    const data: HoldData = { concertId, userId, seatIds };
    const placing = metrics.holdPlaceSeconds.startTimer();
    const placed = await holds.place(resources, { data });
    placing({ outcome: placed ? 'held' : 'seat-locked' });
    if (!placed) {
      throw await fail('seat-locked', new SeatLockedError(await this.#taken(concertId, seatIds)));
    }

    const amount = seatIds.reduce((sum, id) => sum + (byId.get(id)?.price_cents ?? 0), 0);
    let reservationId: string;
    try {
      // One call (migration 008): under the user's row lock the cap, the reservation, its seats
      // HELD only where this lock's fence is newer than the seat's (a holder whose lock already
      // passed to someone newer is refused), and the business event — all or nothing.
      const fences = seatIds.map((id) =>
        String(placed.lease.fences.get(seatResource(concertId, id)) as bigint),
      );
      const prices = seatIds.map((id) => byId.get(id)?.price_cents ?? 0);
      const { rows } = await db.query<{ held: number; id: string | null; seats: number[] }>(
        'SELECT held, id, seats FROM reserve_seats($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
        [
          userId,
          concertId,
          placed.holdId,
          String(placed.lease.fence),
          amount,
          new Date(placed.expiresAt),
          max,
          seatIds,
          fences,
          prices,
          'reservation.attempted',
          JSON.stringify({ concertId, seatIds, holdId: placed.holdId, amount }),
        ],
      );
      const result = rows[0] as { held: number; id: string | null; seats: number[] };
      const over = overCap(result.held);
      if (over) throw over;
      if (result.id === null) {
        const updated = new Set(result.seats.map(Number));
        throw new SeatLockedError(seatIds.filter((id) => !updated.has(id)));
      }
      reservationId = result.id;
    } catch (error) {
      // Nothing was written: give the seats back now rather than at the hold's deadline.
      await holds.cancel(placed.holdId).catch(() => {});
      if (error instanceof SeatLockedError) throw await fail('seat-locked', error);
      if (error instanceof SeatLimitReachedError) throw await fail('seat-limit-reached', error);
      throw error;
    }
    metrics.reservations.inc({ outcome: 'held' });

    const reservation: Reservation = {
      id: reservationId,
      concertId,
      userId,
      seatIds,
      status: 'HELD',
      amount,
      currency: 'USD',
      expiresAt: new Date(placed.expiresAt).toISOString(),
      holdId: placed.holdId,
    };
    return { reservation, paymentToken: await this.deps.paymentTokens.issue(reservation, placed) };
  }

  /** A reservation of `userId`, or null (unknown or someone else's). */
  async get(id: string, userId: number): Promise<Reservation | null> {
    const { rows } = await this.deps.db.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM reservations r WHERE r.id = $1 AND r.user_id = $2`,
      [id, userId],
    );
    return rows[0] ? toReservation(rows[0]) : null;
  }

  /**
   * The holds of `userId` on `concertId` that can still be paid: reservations HELD and before their
   * `expiresAt` whose hold is still held in Redis, oldest first, each with a fresh payment token.
   * What a reloaded seat map shows as the user's own (nobody else's reservation is ever listed).
   */
  async live(concertId: number, userId: number): Promise<HeldReservation[]> {
    const { rows } = await this.deps.db.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM reservations r
       WHERE r.user_id = $1 AND r.concert_id = $2 AND r.status = 'HELD'
         AND r.expires_at > now() AND r.hold_id IS NOT NULL
       ORDER BY r.created_at`,
      [userId, concertId],
    );
    const live: HeldReservation[] = [];
    for (const row of rows) {
      const hold = await this.deps.holds.get(row.hold_id);
      if (hold?.state !== 'held') continue;
      const reservation = toReservation(row);
      live.push({
        reservation,
        paymentToken: await this.deps.paymentTokens.issue(reservation, hold),
      });
    }
    return live;
  }

  /**
   * onExpire of the holds: reservation HELD → EXPIRED and its seats back to AVAILABLE, in one
   * transaction keyed by the hold id and guarded by status, so a second run changes nothing.
   * Returns true if this call rolled back.
   */
  async expire(hold: Hold): Promise<boolean> {
    const { db, events, metrics, logger } = this.deps;
    const released = await db.transaction((tx) =>
      releaseReservation(
        tx,
        events,
        { holdId: hold.holdId },
        { to: 'EXPIRED', data: { runs: hold.runs } },
      ),
    );
    if (released) {
      metrics.holdsExpired.inc();
      logger.info({ reservationId: released.id, holdId: hold.holdId }, 'reservation expired');
    }
    return released !== null;
  }

  /** Register {@link expire} as the holds' onExpire (starts this process's worker and sweep). */
  startExpiry(): void {
    this.deps.holds.onExpire((hold) => this.expire(hold).then(() => undefined));
  }
}
