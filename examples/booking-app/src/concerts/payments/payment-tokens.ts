import type { AccessClaims, AccessTokens } from '@boxoffice/queue';
import { decodeJwt } from 'jose';
import { AccessTokenRefusedError, UnauthorizedError } from '../../errors.js';
import { ConcertRooms } from '../rooms/concert-rooms.js';

/** What a payment token is issued for: a reservation and its seats. */
export interface PaymentTokenSubject {
  id: string;
  concertId: number;
  seatIds: number[];
  userId: number;
}

/**
 * `seat_reservation_payment` tokens: issued with a reservation, valid as long as its hold (and the
 * hold's grace), the only credential of `POST /payments`. Signed with the rooms' access-token key
 * (audience `concert-<id>`), so a user token can never pass as one.
 */
export class PaymentTokens {
  constructor(private readonly tokens: AccessTokens) {}

  /** A token for `reservation`, valid until the hold's `expiresAt` plus the grace to `deadline`. */
  async issue(
    reservation: PaymentTokenSubject,
    hold: { expiresAt: number; deadline: number },
  ): Promise<string> {
    const { id: reservationId, concertId, seatIds, userId } = reservation;
    const issued = await this.tokens.issue({
      sub: String(userId),
      scope: 'seat_reservation_payment',
      aud: ConcertRooms.roomId(concertId),
      expiresAt: hold.expiresAt,
      graceMs: hold.deadline - hold.expiresAt,
      claims: { reservationId, concertId, seatIds },
    });
    return issued.token;
  }

  /**
   * The claims of `token` if it is a live payment token for `reservationId`.
   * @throws UnauthorizedError (401) or AccessTokenRefusedError (401/403): not one, or another's.
   */
  async verify(token: string, reservationId: string): Promise<AccessClaims> {
    const access = await this.tokens.verify(token, {
      scope: 'seat_reservation_payment',
      audience: concertAudience(token),
    });
    if (access.payload.reservationId !== reservationId) {
      throw new AccessTokenRefusedError(
        true,
        'token-forbidden',
        'the payment token was issued for another reservation',
      );
    }
    return access;
  }

  /**
   * Refuse verified `access` unless the reservation row is the one it was issued for (its concert
   * and its owner).
   * @throws AccessTokenRefusedError 403
   */
  static checkReservation(
    access: AccessClaims,
    reservation: { concert_id: number; user_id: number },
  ): void {
    if (
      access.aud !== ConcertRooms.roomId(reservation.concert_id) ||
      access.sub !== String(reservation.user_id)
    ) {
      throw new AccessTokenRefusedError(
        true,
        'token-forbidden',
        'the payment token does not match this reservation',
      );
    }
  }
}

/** The `concert-<id>` audience a token names, read before it is verified (against that audience). */
function concertAudience(token: string): string {
  let aud: unknown;
  try {
    aud = decodeJwt(token).aud;
  } catch {
    throw new UnauthorizedError('token-invalid', 'the token is not a valid JWT');
  }
  if (typeof aud !== 'string' || !/^concert-\d{1,10}$/.test(aud)) {
    throw new UnauthorizedError('token-invalid', 'the token has no concert audience');
  }
  return aud;
}
