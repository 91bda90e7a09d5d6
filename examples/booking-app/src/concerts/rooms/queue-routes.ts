import { estimatePosition, type RoomEvent, type RoomStatus } from '@boxoffice/queue';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { z } from 'zod';
import { type SessionUser, STREAM_SCOPE } from '../../auth/demo-auth.js';
import { requireUser } from '../../auth/require-user.js';
import type { UserSessions } from '../../auth/user-sessions.js';
import { NotFoundError, UnauthorizedError } from '../../errors.js';
import { idParam } from '../../http/schemas.js';
import { parse } from '../../http/validate.js';
import type { AppMetrics } from '../../observability/metrics.js';
import type { SaleStates } from '../sale-states.js';
import { BeatGrid } from './beat-grid.js';
import type { ConcertRooms } from './concert-rooms.js';
import { PositionUpdates, statusIsNews, streamBeatMs } from './position-updates.js';
import { KeepAlive } from './sse-keep-alive.js';

const params = z.object({ id: idParam });
const SSE_KEEPALIVE_MS = 15_000;

/**
 * The waiting room of each concert: `POST /concerts/:id/queue` (join), `GET` (poll = heartbeat),
 * `DELETE` (leave; also `POST ?_method=DELETE` with an `access_token` form field, which is what
 * `navigator.sendBeacon` can send), `POST /concerts/:id/queue/stream-token` and
 * `GET /concerts/:id/queue/events` (Server-Sent Events). The stream takes the user token in the
 * `Authorization` header, or a stream token in `?access_token=` (what EventSource can send): a
 * user token is never accepted from a URL, where proxies and browser history keep it.
 * Join and poll answers, and the stream's `status` events, carry `soldOut: true` once no seat is
 * left to sell (the stream then sends `soldout` and ends), so clients stop waiting for nothing.
 */
export function queueRoutes(deps: {
  auth: UserSessions;
  sales: SaleStates;
  rooms: ConcertRooms;
  metrics: AppMetrics;
  /** Rate limits of joins and stream opens (after the user is known). @defaultValue none */
  limits?: { join: RequestHandler[]; stream: RequestHandler[] };
}): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  /** The concert of the request and whether it is sold out (404 when there is no such concert). */
  const saleOf = async (req: Request) => {
    const { id } = parse('params', params, req.params);
    const state = await deps.sales.get(id);
    if (state === null) throw new NotFoundError('concert', id);
    return { id, soldOut: state.soldOut };
  };
  const concertOf = async (req: Request) => (await saleOf(req)).id;
  const beats = new BeatGrid();
  /**
   * Keep a concert's sale state fresh from its room's ticks: once per tick and process, not once
   * per stream (10,000 streams at 10 ticks a second would make 100,000 promises a second); once it
   * is sold out, every stream is due at the next tick, whatever its pace, to hear it.
   */
  const watchedSales = new Set<number>();
  const watchSale = (id: number) => {
    if (watchedSales.has(id)) return;
    watchedSales.add(id);
    const gateway = deps.rooms.gateway(id);
    gateway.onTick(() => {
      deps.sales.get(id).catch(() => {});
      if (deps.sales.peek(id)?.soldOut) gateway.wakeAll();
    });
  };
  const userOf = (req: Request) => String((req.user as { id: number }).id);

  const leave = async (req: Request, res: Response) => {
    const id = await concertOf(req);
    const left = await deps.rooms.room(id).leave(userOf(req));
    res.json({ left, state: 'unknown' });
  };

  router.post(
    '/concerts/:id/queue',
    form,
    (req, _res, next) => {
      // sendBeacon can only POST, and cannot set headers: the token comes as a form field.
      if (req.query._method === 'DELETE') return next();
      next('route');
    },
    requireUser(deps.auth, { body: true }),
    leave,
  );

  /** A stream token of room `id` for the request's user, as `POST …/stream-token` answers it. */
  const streamToken = async (req: Request, id: number) => {
    const { token, expiresAt } = await deps.auth.issueStream(
      req.user as SessionUser,
      `concert-${id}`,
    );
    return { token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString(), scope: STREAM_SCOPE };
  };

  const limits = deps.limits ?? { join: [], stream: [] };
  router.post('/concerts/:id/queue', requireUser(deps.auth), ...limits.join, async (req, res) => {
    const { id, soldOut } = await saleOf(req);
    // Sold out is final (sold seats never return): nobody new is put in line, and nobody needs to
    // leave it either — a page that shows "sold out" sends nothing more, where a leave from each of
    // 9,000 waiters at the moment of the sell-out was a stampede (their places lapse by themselves).
    const room = deps.rooms.room(id);
    const status = soldOut ? await room.status(userOf(req)) : await room.join(userOf(req));
    if (!soldOut) deps.metrics.queueJoins.inc({ concert: String(id) });
    // A waiter's next step is opening the stream: its token comes with the join, which spares a
    // crowd one request per arrival (`POST …/stream-token` is for reopening it later).
    const stream = status.state === 'waiting' && !soldOut ? await streamToken(req, id) : undefined;
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json({ ...status, soldOut, ...(stream && { stream }) });
  });

  router.get('/concerts/:id/queue', requireUser(deps.auth), async (req, res) => {
    const { id, soldOut } = await saleOf(req);
    res.json({ ...(await deps.rooms.room(id).heartbeat(userOf(req))), soldOut });
  });

  router.delete('/concerts/:id/queue', requireUser(deps.auth), leave);

  router.post('/concerts/:id/queue/stream-token', requireUser(deps.auth), async (req, res) => {
    const id = await concertOf(req);
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json(await streamToken(req, id));
  });

  /** The stream's user: a user token in the header, else a stream token of this room in the query. */
  const streamUser: RequestHandler = async (req, res, next) => {
    const fromQuery = req.query.access_token;
    if (req.get('authorization') || fromQuery === undefined) {
      return requireUser(deps.auth)(req, res, next);
    }
    try {
      if (typeof fromQuery !== 'string' || !fromQuery) {
        throw new UnauthorizedError('token-invalid', 'access_token must be one stream token');
      }
      const { id } = parse('params', params, req.params);
      const claims = await deps.auth.verifyStream(fromQuery, `concert-${id}`);
      req.user = { id: claims.id, name: '', tokenId: claims.sessionId, expiresAtSec: 0 };
      next();
    } catch (error) {
      next(error);
    }
  };

  router.get('/concerts/:id/queue/events', streamUser, ...limits.stream, async (req, res) => {
    const { id, soldOut } = await saleOf(req);
    const userId = userOf(req);
    const room = deps.rooms.room(id);
    let status: RoomStatus = { state: 'unknown' };
    const positions = new PositionUpdates();
    let ended = false;
    // Events that arrive between the subscription and the first `status` (the headers are not
    // written yet): handled once it is sent. Writing one earlier would send default headers
    // without text/event-stream, and EventSource gives such a stream up for good.
    let early: RoomEvent[] | undefined = [];
    const timers: NodeJS.Timeout[] = [];
    let cancelBeat = () => {}; // one beat is pending at a time
    let unsubscribe = () => {};
    const end = () => {
      if (ended) return;
      ended = true;
      for (const t of timers) clearTimeout(t);
      cancelBeat();
      unsubscribe();
      res.end();
    };
    const quiet = new KeepAlive();
    const send = (event: string, data: unknown) => {
      if (res.writableEnded) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      quiet.wrote();
    };
    let told: RoomStatus = status; // the last status sent
    const sendStatus = (soldOut: boolean) => {
      told = status;
      send('status', { ...status, soldOut });
    };

    // An open stream is a present user: it heartbeats on the client's behalf at the pace the
    // room asks for (far back, at half the timeout: streamBeatMs), and sends the status when it is
    // news. The beats of every stream of the process share a grid (BeatGrid), so they reach Redis
    // as batches, not one call per stream.
    const schedule = () => {
      if (status.state === 'waiting') {
        const after = streamBeatMs(status.pollAfterMs, room.options.heartbeatTimeoutMs);
        cancelBeat = beats.schedule(() => void beat(), after);
      }
    };
    const beat = async () => {
      if (ended) return;
      try {
        const [sale, next] = await Promise.all([saleOf(req), room.heartbeat(userId)]);
        status = next;
        // Written only when the page would show something new: far back, most beats change nothing.
        if (sale.soldOut || statusIsNews(told, status, positions.last)) {
          if (status.state === 'waiting') positions.shown(status.position);
          sendStatus(sale.soldOut);
        }
        if (sale.soldOut) {
          send('soldout', {});
          return end();
        }
        if (status.state === 'unknown') return end();
        schedule();
      } catch (error) {
        req.log?.warn({ err: error }, 'sse heartbeat failed');
        cancelBeat = beats.schedule(() => void beat(), 2000);
      }
    };

    const onEvent = (event: RoomEvent): number | undefined => {
      if (ended) return undefined;
      if (early) {
        early.push(event);
        return undefined;
      }
      if (event.type === 'position') {
        // The sell-out reaches every stream within a tick of this instance learning it (one
        // query per concert per SaleStates maxAge, shared by every stream of the instance; the
        // gateway then calls every stream: watchSale).
        if (deps.sales.peek(id)?.soldOut) {
          send('soldout', {});
          end();
          return undefined;
        }
        if (status.state !== 'waiting') return Date.now() + 5_000; // nothing to show; see above
        if (status.ticket > 0) {
          const bound = Math.min(
            status.position,
            estimatePosition(status.ticket, event),
            Math.max(1, event.waiting),
          );
          const position = positions.next(bound);
          if (position !== undefined) {
            send('position', {
              position,
              servingTicket: event.servingTicket,
              waiting: event.waiting,
              active: event.active,
            });
          }
        }
        return positions.dueAt();
      }
      if (event.type === 'admitted') {
        // "Your turn": the event carries no token (it is a broadcast); read it from the room.
        void room.status(userId).then(
          (s) => {
            status = s;
            send('admitted', s);
          },
          (error) => req.log?.warn({ err: error }, 'sse status failed'),
        );
      } else {
        send('evicted', { reason: event.reason });
        end();
      }
      return undefined;
    };

    // Subscribe before reading the status, so an admission in between is not missed.
    watchSale(id);
    unsubscribe = await deps.rooms.gateway(id).subscribe(userId, onEvent);
    try {
      status = await room.heartbeat(userId);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.on('close', end);
    // A comment only on a stream silent since the last check (at most 2 × 15 s quiet).
    const keepAlive = () => {
      if (quiet.due() && !res.writableEnded) res.write(': keep-alive\n\n');
    };
    timers.push(setInterval(keepAlive, SSE_KEEPALIVE_MS));
    if (status.state === 'waiting') positions.shown(status.position);
    sendStatus(soldOut);
    if (soldOut) {
      send('soldout', {});
      return end();
    }
    if (status.state === 'unknown') return end();
    schedule();
    const held = early;
    early = undefined;
    for (const event of held) onEvent(event);
  });

  return router;
}
