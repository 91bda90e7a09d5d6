import { randomUUID } from 'node:crypto';
import { call } from './helpers.js';

/** A step of the flow answered something the flow cannot go on from. */
export class FlowError extends Error {
  override name = 'FlowError';
  constructor(
    readonly step: string,
    readonly response: Awaited<ReturnType<typeof call>>,
  ) {
    super(`${step}: ${response.status} ${JSON.stringify(response.body)}`);
  }
}

/** What one pass through the concert flow ended with. */
export interface BookingOutcome {
  /** Status of the reservation attempt (0 if the user was never admitted). */
  reserveStatus: number;
  /** Status of the payment (0 if there was nothing to pay). */
  payStatus: number;
  reservationId?: string;
  seatIds: number[];
}

/**
 * One user's concert flow over HTTP against `base`: demo login, join the waiting room, wait to be
 * admitted, hold `seats` (these seat ids, or the first n AVAILABLE ones), pay with a fresh
 * Idempotency-Key.
 */
export async function bookSeats(
  base: string,
  name: string,
  concertId: number,
  seats: number | number[] = 1,
): Promise<BookingOutcome> {
  const login = await call(base, 'POST', '/auth/demo-login', { body: { name } });
  if (login.status !== 200) throw new FlowError('login', login);
  const token = login.body.token as string;
  const path = `/concerts/${concertId}/queue`;
  // Join, then poll until admitted. A 5xx ends the flow (FlowError); an entry the room no longer
  // knows (`unknown`: evicted, or lost with a Redis failover) is joined again, as the page does.
  const join = async () => {
    const joined = await call(base, 'POST', path, { token });
    if (joined.status !== 200) throw new FlowError('join', joined);
    return joined.body;
  };
  let status = await join();
  const deadline = Date.now() + 20_000;
  while (status.state !== 'active') {
    if (Date.now() > deadline) throw new Error(`${name} not admitted: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const polled = await call(base, 'GET', path, { token });
    if (polled.status !== 200) throw new FlowError('queue', polled);
    status = polled.body.state === 'unknown' ? await join() : polled.body;
  }
  const active = status;
  const seatIds = Array.isArray(seats) ? seats : await firstAvailable(base, concertId, seats);
  const held = await call(base, 'POST', `/concerts/${concertId}/reservations`, {
    token: active.token,
    body: { seatIds },
  });
  if (held.status !== 201) return { reserveStatus: held.status, payStatus: 0, seatIds };
  const reservationId = held.body.reservation.id as string;
  const paid = await call(base, 'POST', '/payments', {
    token: held.body.paymentToken,
    body: { reservationId },
    headers: { 'idempotency-key': `"${randomUUID()}"` },
  });
  return { reserveStatus: 201, payStatus: paid.status, reservationId, seatIds };
}

/** The ids of the first `n` AVAILABLE seats of a concert. */
export async function firstAvailable(
  base: string,
  concertId: number,
  n: number,
): Promise<number[]> {
  const concert = await call(base, 'GET', `/concerts/${concertId}`);
  return (concert.body.seats as { id: number; status: string }[])
    .filter((s) => s.status === 'AVAILABLE')
    .slice(0, n)
    .map((s) => s.id);
}
