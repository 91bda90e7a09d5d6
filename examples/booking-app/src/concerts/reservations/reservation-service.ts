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
import { EventLog } from '../../events/event-log.js';
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
      reservationId = await db.transaction(async (tx) => {
        // One user's reservations are counted and taken one at a time (two parallel requests for
        // different seats would otherwise both see room under the cap). NO KEY UPDATE does not
        // block the foreign-key checks of the user's other inserts. The count must be a statement
        // of its own after this lock: a statement's snapshot is taken when it starts (READ
        // COMMITTED), and one taken before the lock was granted would miss the other's seats.
        await tx.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
        const fences = seatIds.map((id) =>
          String(placed.lease.fences.get(seatResource(concertId, id)) as bigint),
        );
        const prices = seatIds.map((id) => byId.get(id)?.price_cents ?? 0);
        const event = EventLog.insert(
          {
            type: 'reservation.attempted',
            outcome: 'success',
            userId,
            data: { concertId, seatIds, holdId: placed.holdId, amount },
          },
          12,
          { table: 'res', subject: `'reservation:' || res.id` },
        );
        // The rest in one statement: the cap, the reservation, its seats HELD — each only where the
        // fence is newer than the seat's, which refuses a holder whose lock already passed to
        // someone newer — and the business event.
        const { rows } = await tx.query<{ held: number; id: string | null; seats: number[] }>(
          `WITH held AS (${SEATS_OF_USER}),
           res AS (
             INSERT INTO reservations (user_id, concert_id, status, hold_id, fence, amount_cents,
                                       expires_at)
             SELECT $1, $2, 'HELD', $3, $4, $5, $6 WHERE (SELECT * FROM held) + $7 <= $8
             RETURNING id),
           asked AS (SELECT * FROM unnest($9::int[], $10::bigint[], $11::int[])
                        AS a(seat_id, fence, price_cents)),
           upd AS (
             UPDATE seats s SET status = 'HELD', reservation_id = res.id, fence = a.fence,
                    updated_at = now()
               FROM res, asked a
              WHERE s.id = a.seat_id AND s.status = 'AVAILABLE' AND s.fence < a.fence
             RETURNING s.id, a.price_cents),
           rs AS (
             INSERT INTO reservation_seats (reservation_id, seat_id, price_cents)
             SELECT res.id, upd.id, upd.price_cents FROM res, upd),
           e AS (${event.sql})
           SELECT (SELECT * FROM held) AS held, (SELECT id FROM res) AS id,
                  array(SELECT id FROM upd) AS seats`,
          [
            userId,
            concertId,
            placed.holdId,
            String(placed.lease.fence),
            amount,
            new Date(placed.expiresAt),
            seatIds.length,
            max,
            seatIds,
            fences,
            prices,
            ...event.params,
          ],
        );
        const result = rows[0] as { held: number; id: string | null; seats: number[] };
        const over = overCap(result.held);
        if (over || result.id === null)
          throw over ?? new SeatLimitReachedError(max, result.held, 0);
        const updated = new Set(result.seats.map(Number));
        const lost = seatIds.filter((id) => !updated.has(id));
        // Thrown, the transaction rolls back: nothing of this reservation stays.
        if (lost.length > 0) throw new SeatLockedError(lost);
        return result.id;
      });
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
