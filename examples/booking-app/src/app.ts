import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@boxoffice/internal';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { DemoAuth } from './auth/demo-auth.js';
import type { Database } from './db/database.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { createLogger } from './observability/logger.js';
import { AppMetrics } from './observability/metrics.js';
import { FixedWindowLimiter } from './rate-limit/fixed-window-limiter.js';
import { ConcertRepository } from './repos/concert-repository.js';
import { EventLog } from './repos/event-log.js';
import { OrderService } from './repos/order-service.js';
import { ProductRepository } from './repos/product-repository.js';
import { UserRepository } from './repos/user-repository.js';
import { authRoutes } from './routes/auth.js';
import { concertRoutes } from './routes/concerts.js';
import { healthRoutes } from './routes/health.js';
import { orderRoutes } from './routes/orders.js';
import { productRoutes } from './routes/products.js';
import { statsRoutes } from './routes/stats.js';

/** What the app is built from; the server (or a test) creates the parts and owns their lifecycle. */
export interface AppDeps {
  db: Database;
  redis: RedisClient;
  auth: DemoAuth;
  /** @defaultValue a JSON logger at level `info` */
  logger?: Logger;
  /** @defaultValue a fresh registry with the default process metrics */
  metrics?: AppMetrics;
  /** Shown on `/` so a person can see which Redis the demo uses. @defaultValue 'redis' */
  redisDescription?: string;
  /** How long `/readyz` waits for each dependency. @defaultValue 2000 */
  readinessTimeoutMs?: number;
  /** Prefix of the app's Redis keys. @defaultValue 'bo' */
  redisPrefix?: string;
  /** Demo logins allowed per client IP and minute; 0 turns the limit off. @defaultValue 30 */
  loginRateLimit?: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The reference app: demo login, concerts and seat maps, products and orders, health, readiness
 * and metrics. Queue, reservations, payments, SSE, pages and trending plug in here as their
 * packages become usable (see README, "Not built yet").
 */
export function createApp(deps: AppDeps): Express {
  const logger = deps.logger ?? createLogger();
  const metrics = deps.metrics ?? new AppMetrics();
  const events = new EventLog(deps.db);
  const users = new UserRepository(deps.db);
  const concerts = new ConcertRepository(deps.db);
  const products = new ProductRepository(deps.db);
  const orders = new OrderService(deps.db, events);
  const loginLimit = deps.loginRateLimit ?? 30;
  const loginLimiter =
    loginLimit > 0
      ? new FixedWindowLimiter(deps.redis, {
          name: 'login',
          limit: loginLimit,
          windowMs: 60_000,
          prefix: deps.redisPrefix ?? 'bo',
        })
      : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use(
    pinoHttp({
      logger,
      // A caller's X-Request-Id is kept (when sane) so one id follows a request across services.
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    }),
  );
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route });
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });
  app.use(express.json({ limit: '100kb' }));

  app.get('/', (_req, res) => {
    res.json({
      name: 'boxoffice reference app',
      redis: deps.redisDescription ?? 'redis',
      database: deps.db.description,
      endpoints: [
        'POST /auth/demo-login',
        'GET /me',
        'GET /concerts',
        'GET /concerts/:id',
        'GET /products',
        'GET /products/:id',
        'GET /products/popular/exact?days=3&limit=10',
        'POST /orders',
        'GET /orders/:id',
        'GET /stats?hours=24',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ],
      notBuiltYet:
        'waiting room, reservations/holds, payments, SSE, web pages, trending (see README)',
    });
  });
  app.use(
    healthRoutes({
      db: deps.db,
      redis: deps.redis,
      metrics,
      timeoutMs: deps.readinessTimeoutMs ?? 2000,
    }),
  );
  app.use(authRoutes({ auth: deps.auth, users, events, metrics, loginLimiter }));
  app.use(concertRoutes({ concerts }));
  app.use(productRoutes({ products }));
  app.use(orderRoutes({ auth: deps.auth, orders, metrics }));
  app.use(statsRoutes({ events }));

  app.use(notFound);
  app.use(errorHandler());
  return app;
}
