import type { RedisClient } from '@boxoffice/internal';
import { Router } from 'express';
import type { Database } from '../db/database.js';
import { sendProblem } from '../http/problem.js';
import { withTimeout } from '../with-timeout.js';
import type { AppMetrics } from './metrics.js';

async function probe(check: () => Promise<unknown>, ms: number, what: string) {
  try {
    await withTimeout(check(), ms, what);
    return { ok: true as const };
  } catch (error) {
    return { ok: false as const, error: (error as Error).message };
  }
}

/** `/healthz` (the process answers), `/readyz` (Redis and the database answer), `/metrics`. */
export function healthRoutes(deps: {
  db: Database;
  redis: RedisClient;
  metrics: AppMetrics;
  timeoutMs: number;
}): Router {
  const router = Router();
  const started = Date.now();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSec: Math.round((Date.now() - started) / 1000) });
  });

  router.get('/readyz', async (_req, res) => {
    const [redis, database] = await Promise.all([
      probe(() => deps.redis.ping(), deps.timeoutMs, 'Redis'),
      probe(() => deps.db.ping(), deps.timeoutMs, 'the database'),
    ]);
    deps.metrics.dependencyUp.set({ dependency: 'redis' }, redis.ok ? 1 : 0);
    deps.metrics.dependencyUp.set({ dependency: 'database' }, database.ok ? 1 : 0);
    const checks = {
      redis: redis.ok ? 'ok' : redis.error,
      database: database.ok ? 'ok' : database.error,
    };
    if (redis.ok && database.ok) {
      res.json({ status: 'ready', checks });
      return;
    }
    const down = [!redis.ok && 'redis', !database.ok && 'database'].filter(Boolean).join(' and ');
    res.set('Retry-After', '1');
    sendProblem(res, {
      status: 503,
      code: 'not-ready',
      title: 'Not ready',
      detail: `${down} unavailable`,
      checks,
    });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  return router;
}
