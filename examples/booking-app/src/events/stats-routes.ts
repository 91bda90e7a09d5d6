import { Router } from 'express';
import { z } from 'zod';
import { intQuery } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { EventLog } from './event-log.js';

const query = z.object({ hours: intQuery(1, 24 * 30, 24) });

/** `GET /stats?hours=24`: success and failure rates per business event type, from the event log. */
export function statsRoutes(deps: { events: EventLog }): Router {
  const router = Router();
  router.get('/stats', async (req, res) => {
    const { hours } = parse('query', query, req.query);
    res.json({ hours, events: await deps.events.stats(hours) });
  });
  return router;
}
