import { type Request, Router } from 'express';
import { z } from 'zod';
import type { ConcertRooms } from '../concerts/rooms/concert-rooms.js';
import type { SaleStates } from '../concerts/sale-states.js';
import { HttpError, NotFoundError } from '../errors.js';
import { idParam } from '../http/schemas.js';
import { requireOperatorToken } from '../http/security-headers.js';
import { parse } from '../http/validate.js';
import type { LiveSnapshots } from './live-snapshots.js';
import type { RoomControl } from './room-control.js';

const params = z.object({ id: idParam });
/** Types here; the ranges are the queue package's (its RangeError becomes a 400 too). */
const settingsBody = z
  .object({
    maxActive: z.number().int().optional(),
    admitPerTick: z.number().int().optional(),
    order: z.enum(['fifo', 'random']).optional(),
  })
  .strict();
/** How often the live stream sends a snapshot. */
const LIVE_EVERY_MS = 1000;

/**
 * The operator page's JSON API, mounted only when `ADMIN_TOKEN` is set (otherwise every
 * `/admin/api/...` path is an unknown route: 404), each call with `Authorization: Bearer
 * <ADMIN_TOKEN>` (401 problem+json otherwise): `GET /admin/api` (is the token right?),
 * `GET /admin/api/concerts/:id/room` (settings, live figures and why it is paused),
 * `POST .../room/pause` and `.../room/resume`, `PATCH .../room` (`{ maxActive?, admitPerTick?,
 * order? }`, live for every instance) and `GET .../live` (Server-Sent Events: a `snapshot` event
 * every second).
 */
export function adminRoutes(deps: {
  token: string;
  sales: SaleStates;
  rooms: ConcertRooms;
  control: RoomControl;
  snapshots: LiveSnapshots;
}): Router {
  const router = Router();
  router.use(
    '/admin/api',
    requireOperatorToken(deps.token, { variable: 'ADMIN_TOKEN', realm: 'admin' }),
    (_req, res, next) => {
      res.set('Cache-Control', 'no-store');
      next();
    },
  );

  /** The concert of the request (404 when there is no such concert). */
  const concertOf = async (req: Request) => {
    const { id } = parse('params', params, req.params);
    if ((await deps.sales.get(id)) === null) throw new NotFoundError('concert', id);
    return id;
  };

  router.get('/admin/api', (_req, res) => {
    res.json({ enabled: true });
  });

  router.get('/admin/api/concerts/:id/room', async (req, res) => {
    res.json(await deps.snapshots.room(await concertOf(req)));
  });

  router.post('/admin/api/concerts/:id/room/pause', async (req, res) => {
    const id = await concertOf(req);
    await deps.control.pause(id);
    req.log?.info({ concert: id }, 'operator paused the room');
    res.json(await deps.snapshots.room(id));
  });

  router.post('/admin/api/concerts/:id/room/resume', async (req, res) => {
    const id = await concertOf(req);
    const resumed = await deps.control.resume(id);
    req.log?.info({ concert: id, resumed }, 'operator resumed the room');
    res.json({ resumed, ...(await deps.snapshots.room(id)) });
  });

  router.patch('/admin/api/concerts/:id/room', async (req, res) => {
    const id = await concertOf(req);
    const update = parse('body', settingsBody, req.body ?? {});
    try {
      await deps.rooms.room(id).configure(update);
    } catch (error) {
      // The package validates ranges and stores nothing when a value is refused.
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new HttpError(
          400,
          'invalid-room-settings',
          'The room settings are invalid',
          error.message,
        );
      }
      throw error;
    }
    req.log?.info({ concert: id, update }, 'operator changed the room settings');
    res.json(await deps.snapshots.room(id));
  });

  router.get('/admin/api/concerts/:id/live', async (req, res) => {
    const id = await concertOf(req);
    const first = await deps.snapshots.snapshot(id);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('snapshot', first);
    let reading = false;
    const timer = setInterval(() => {
      if (reading) return; // a slow read is not stacked: the next one starts when it is done
      reading = true;
      deps.snapshots
        .snapshot(id)
        .then(
          (snapshot) => send('snapshot', snapshot),
          (error: unknown) => {
            req.log?.warn({ err: error, concert: id }, 'admin live snapshot failed');
            send('unavailable', { at: new Date().toISOString() });
          },
        )
        .finally(() => {
          reading = false;
        });
    }, LIVE_EVERY_MS);
    res.on('close', () => {
      clearInterval(timer);
      res.end();
    });
  });

  return router;
}
