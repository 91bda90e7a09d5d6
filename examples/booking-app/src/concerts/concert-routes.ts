import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import { idParam } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { ConcertRepository } from './concert-repository.js';
import type { CachedBody, SeatMapCache } from './seat-map-cache.js';

const params = z.object({ id: idParam });

/** The layout never changes while a concert sells; a changed one gets a new version (ETag). */
const LAYOUT_CACHE_CONTROL = 'public, max-age=3600';
/** Statuses change: a client revalidates every time (a 304 when nothing changed). */
const STATUS_CACHE_CONTROL = 'no-cache';

/** RFC 9110 If-None-Match (weak comparison): `*` or a list containing the tag, `W/` or not. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function sendCached(req: Request, res: Response, found: CachedBody, cacheControl: string): void {
  res.setHeader('ETag', found.etag);
  res.setHeader('Cache-Control', cacheControl);
  if (matchesIfNoneMatch(req.get('if-none-match'), found.etag)) {
    res.status(304).end();
    return;
  }
  res.type('application/json').send(found.body);
}

/**
 * `GET /concerts`, `GET /concerts/:id` (concert and full seat map, one object per seat), and the
 * compact seat map: `GET /concerts/:id/seats/layout` and `GET /concerts/:id/seats/status`.
 */
export function concertRoutes(deps: {
  concerts: ConcertRepository;
  seatMap: SeatMapCache;
}): Router {
  const router = Router();

  router.get('/concerts', async (_req, res) => {
    res.json({ concerts: await deps.concerts.list() });
  });

  router.get('/concerts/:id', async (req, res) => {
    const { id } = parse('params', params, req.params);
    const found = await deps.concerts.get(id);
    if (!found) throw new NotFoundError('concert', id);
    res.json(found);
  });

  router.get('/concerts/:id/seats/layout', async (req, res) => {
    const { id } = parse('params', params, req.params);
    const layout = await deps.seatMap.layout(id);
    if (!layout) throw new NotFoundError('concert', id);
    sendCached(req, res, layout, LAYOUT_CACHE_CONTROL);
  });

  router.get('/concerts/:id/seats/status', async (req, res) => {
    const { id } = parse('params', params, req.params);
    const status = await deps.seatMap.status(id);
    if (!status) throw new NotFoundError('concert', id);
    sendCached(req, res, status, STATUS_CACHE_CONTROL);
  });

  return router;
}
