import { AccessTokenError } from '@boxoffice/queue';
import { Router } from 'express';
import { z } from 'zod';
import { bearerToken, requireUser } from '../auth/require-user.js';
import type { UserSessions } from '../auth/user-sessions.js';
import type { ReservationService } from '../booking/reservation-service.js';
import { NotAdmittedError, NotFoundError } from '../errors.js';
import { idParam } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { ConcertRooms } from '../queue/concert-rooms.js';
import type { ConcertRepository } from '../repos/concert-repository.js';

const params = z.object({ id: idParam });
const body = z.object({
  seatIds: z
    .array(z.number().int().positive().max(2_147_483_647))
    .min(1, 'must have at least one seat')
    .max(10, 'must have at most 10 seats')
    .refine((ids) => new Set(ids).size === ids.length, { message: 'must not list a seat twice' }),
});

/**
 * `POST /concerts/:id/reservations {seatIds}` with the `queue_entry` token of that concert
 * (`Authorization: Bearer`); with the user token, `GET /concerts/:id/reservations/mine` (the
 * caller's payable holds, each with a payment token) and `GET /reservations/:id`.
 */
export function reservationRoutes(deps: {
  auth: UserSessions;
  concerts: ConcertRepository;
  rooms: ConcertRooms;
  reservations: ReservationService;
}): Router {
  const router = Router();
  const isUserToken = (token: string) =>
    deps.auth.verify(token).then(
      () => true,
      () => false,
    );

  router.post('/concerts/:id/reservations', async (req, res) => {
    const { id } = parse('params', params, req.params);
    if (!(await deps.concerts.exists(id))) throw new NotFoundError('concert', id);
    const token = bearerToken(req);
    if (typeof token !== 'string') throw token;
    // Stateful: signature, expiry (+ grace), scope queue_entry, audience concert-<id>, and the
    // user still active in the room (complete/leave/expiry revoke it at once). 401 or 403.
    const access = await deps.rooms
      .room(id)
      .verify(token)
      .catch(async (error: unknown) => {
        // A user token is refused for its signature; say what it means: not admitted.
        if (error instanceof AccessTokenError && (await isUserToken(token))) {
          throw new NotAdmittedError(id);
        }
        throw error;
      });
    const { seatIds } = parse('body', body, req.body);
    const result = await deps.reservations.reserve(id, access, seatIds);
    res.status(201).location(`/reservations/${result.reservation.id}`).json(result);
  });

  // The caller's own holds on the concert that can still be paid (a reloaded seat map).
  router.get('/concerts/:id/reservations/mine', requireUser(deps.auth), async (req, res) => {
    const { id } = parse('params', params, req.params);
    if (!(await deps.concerts.exists(id))) throw new NotFoundError('concert', id);
    const reservations = await deps.reservations.live(id, (req.user as { id: number }).id);
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json({ reservations });
  });

  router.get('/reservations/:id', requireUser(deps.auth), async (req, res) => {
    const { id } = parse('params', z.object({ id: z.uuid('must be a UUID') }), req.params);
    const reservation = await deps.reservations.get(id, (req.user as { id: number }).id);
    if (!reservation) throw new NotFoundError('reservation', id);
    res.json({ reservation });
  });

  return router;
}
