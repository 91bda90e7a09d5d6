import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { DemoAuth } from './auth/demo-auth.js';
import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open.js';
import { seedDemoData } from './db/seed.js';
import { createLogger } from './observability/logger.js';
import { AppMetrics } from './observability/metrics.js';
import { MockPaymentGateway } from './payments/mock-payment-gateway.js';

/** A running app and everything it owns. */
export interface Runtime {
  readonly url: string;
  readonly logger: Logger;
  readonly db: Database;
  readonly redis: Redis;
  /** Built from `PG_*` now; the payment flow (waiting for @boxoffice/idempotency) will call it. */
  readonly paymentGateway: MockPaymentGateway;
  readonly server: Server;
  /** Stop serving, then close Redis, the database and any Redis the runtime started. Idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: connect Redis (REDIS_URL, else `@boxoffice/local-redis` finds or starts
 * one), open the database (DATABASE_URL, else embedded PGlite), migrate, seed, and listen.
 */
export async function startRuntime(config: AppConfig): Promise<Runtime> {
  const logger = createLogger(config.logLevel);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const found = await getRedis({ url: config.redis.url });
    cleanups.push(() => found.stop());
    // No offline queue once connected: while Redis is down, commands fail at once (→ 503) instead
    // of piling up until the request times out.
    const redis = new Redis(found.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
    await redis.connect();
    cleanups.push(async () => redis.disconnect());
    const redisDescription = `${found.url} (${found.source})`;

    const db = await openDatabase(config.database);
    cleanups.push(() => db.close());
    const applied = await migrate(db);
    const seeded = config.database.seed ? await seedDemoData(db) : null;
    logger.info({ database: db.description, applied, seeded }, 'database ready');

    if (!config.auth.jwtSecret) {
      logger.warn('JWT_SECRET is not set: using a random per-process secret (demo only)');
    }
    const auth = new DemoAuth({ secret: config.auth.jwtSecret, ttlSec: config.auth.ttlSec });
    const paymentGateway = new MockPaymentGateway(db, config.paymentGateway);
    const app = createApp({
      db,
      redis,
      auth,
      logger,
      metrics: new AppMetrics(),
      redisDescription,
      redisPrefix: config.redis.prefix,
      loginRateLimit: config.auth.loginRateLimit,
    });

    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.port, config.host);
      s.once('listening', () => resolve(s));
      s.once('error', reject);
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;
    const host = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(config.host)
      ? 'localhost'
      : config.host;
    const url = `http://${host}:${port}`;
    logger.info({ url, redis: redisDescription, database: db.description }, 'listening');
    return { url, logger, db, redis, paymentGateway, server, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
