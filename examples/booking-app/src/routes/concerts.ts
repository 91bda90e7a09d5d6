import { Router } from 'express';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import { idParam } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { ConcertRepository } from '../repos/concert-repository.js';

const params = z.object({ id: idParam });

/** `GET /concerts` and `GET /concerts/:id` (concert and seat map). */
export function concertRoutes(deps: { concerts: ConcertRepository }): Router {
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

  return router;
}
