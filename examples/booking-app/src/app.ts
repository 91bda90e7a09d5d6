import express, { type Express } from 'express';
import type { Cluster, Redis } from 'ioredis';
import { sendProblem } from './problem.js';

/** What the app is built from; the server (or a test) creates the parts. */
export interface AppDeps {
  redis: Redis | Cluster;
  /** Shown on the index page so a person can see which Redis the demo uses. */
  redisDescription: string;
}

/**
 * The reference app. For now it only reports which Redis it uses and whether that Redis answers;
 * the booking flows arrive with issue #7.
 */
export function createApp({ redis, redisDescription }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/', (_req, res) => {
    res.json({
      name: 'boxoffice reference app',
      redis: redisDescription,
      status: 'placeholder: the booking flows are not built yet (issue #7)',
    });
  });

  app.get('/health', async (_req, res) => {
    try {
      const pong = await redis.ping();
      res.json({ status: 'ok', redis: pong });
    } catch (error) {
      res.set('Retry-After', '1');
      sendProblem(res, {
        status: 503,
        code: 'redis-unavailable',
        title: 'Redis is unavailable',
        detail: (error as Error).message,
      });
    }
  });

  return app;
}
