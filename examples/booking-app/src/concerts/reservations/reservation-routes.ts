import { type AccessClaims, requireAccess } from '@boxoffice/queue';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { requireUser } from '../../auth/require-user.js';
import type { UserSessions } from '../../auth/user-sessions.js';
import { NotFoundError } from '../../errors.js';
import { accessProblem } from '../../http/access-problem.js';
import { idParam } from '../../http/schemas.js';
import { parse } from '../../http/validate.js';
import type { ConcertRepository } from '../concert-repository.js';
import { ConcertRooms } from '../rooms/concert-rooms.js';
import type { ReservationService } from './reservation-service.js';

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
  const concertOf = (req: Request) => parse('params', params, req.params).id;

  router.post(
    '/concerts/:id/reservations',
    // A bad id (400) and an unknown concert (404) are told before the token is looked at.
    async (req, _res, next) => {
      const id = concertOf(req);
      if (!(await deps.concerts.exists(id))) throw new NotFoundError('concert', id);
      next();
    },
    // Stateful: signature, expiry (+ grace), scope queue_entry, audience concert-<id>, and the
    // user still active in the room (complete/leave/expiry revoke it at once). 401 or 403.
    requireAccess<Request, Response>(deps.rooms.tokens, {
      scope: 'queue_entry',
      audience: (req) => ConcertRooms.roomId(concertOf(req)),
      revocation: deps.rooms,
      onProblem: accessProblem(deps.auth, concertOf),
    }),
    async (req, res) => {
      const { seatIds } = parse('body', body, req.body);
      const access = res.locals.access as AccessClaims;
      const result = await deps.reservations.reserve(concertOf(req), access, seatIds);
      res.status(201).location(`/reservations/${result.reservation.id}`).json(result);
    },
  );

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
