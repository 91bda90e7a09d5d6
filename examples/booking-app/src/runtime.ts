import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisClient } from '@boxoffice/internal';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import type { Logger } from 'pino';
import { type AppLocals, createApp } from './app.js';
import { DemoAuth } from './auth/demo-auth.js';
import { MockPaymentGateway } from './concerts/payments/mock-payment-gateway.js';
import { ConcertRooms } from './concerts/rooms/concert-rooms.js';
import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { openDatabase } from './db/open.js';
import { seedDemoData } from './db/seed.js';
import { createLogger } from './observability/logger.js';
import { AppMetrics } from './observability/metrics.js';
import { connectRedis } from './redis-connection.js';

/** How long each part of the runtime gets to close on shutdown. */
const CLOSE_STEP_MS = 5_000;

import { ConcertRepository } from './concerts/concert-repository.js';

/** A running app and everything it owns. */
export interface Runtime {
  readonly url: string;
  readonly logger: Logger;
  readonly db: Database;
  /** Standalone, Sentinel-managed or Cluster, as configured. */
  readonly redis: RedisClient;
  /** The mock PSP that `POST /payments` and its retry worker call (configured from `PG_*`). */
  readonly paymentGateway: MockPaymentGateway;
  readonly server: Server;
  /** Stop serving, then close Redis, the database and any Redis the runtime started. Idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: connect Redis (a Cluster, a Sentinel-managed master, REDIS_URL, else one
 * `@boxoffice/local-redis` finds or starts), open the database (DATABASE_URL, else embedded PGlite),
 * migrate, seed, and listen.
 */
export async function startRuntime(config: AppConfig): Promise<Runtime> {
  const logger = createLogger(
    config.logLevel,
    undefined,
    config.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  );
  const cleanups: [name: string, close: () => Promise<unknown>][] = [];
  const cleanup = async () => {
    // Each part gets a bounded time to close, so one that hangs (a connection stuck in a
    // reconnect, a job that does not return) cannot keep the process from exiting; it is logged.
    for (const [name, close] of cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        close().then(
          () => false,
          () => false,
        ),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), CLOSE_STEP_MS);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) logger.warn({ part: name }, 'shutdown: part did not close in time');
    }
    cleanups.length = 0;
  };
  try {
    const connection = await connectRedis(config.redis, logger);
    cleanups.push(['redis', () => connection.close()]);
    const redis = connection.client;
    const redisDescription = connection.description;

    const db = await openDatabase(config.database);
    cleanups.push(['database', () => db.close()]);
    const applied = await migrate(db);
    const seeded = config.database.seed ? await seedDemoData(db) : null;
    logger.info({ database: db.description, applied, seeded }, 'database ready');

    if (!config.auth.jwtSecret) {
      logger.warn('JWT_SECRET is not set: using a random per-process secret (demo only)');
    }
    const auth = new DemoAuth({
      secret: config.auth.jwtSecret,
      ttlSec: config.auth.ttlSec,
      streamTtlSec: config.auth.streamTtlSec,
    });
    const paymentGateway = new MockPaymentGateway(db, config.paymentGateway);
    // An in-memory database starts empty at every start, but Redis keeps holds, locks, idempotency
    // keys and sketches: with the same prefix a new run would meet the last run's state (seats locked
    // by holds of reservations that no longer exist, a key of the old "alice" replayed to the new
    // one). Such a run gets a prefix of its own.
    const ephemeral = !config.database.url && !config.database.pgliteDataDir;
    const redisPrefix = ephemeral
      ? `${config.redis.prefix}:run-${randomBytes(4).toString('hex')}`
      : config.redis.prefix;
    if (ephemeral)
      logger.info({ redisPrefix }, 'in-memory database: Redis keys under a per-run prefix');
    const metrics = new AppMetrics();
    const rooms = new ConcertRooms(redis, {
      secret: config.auth.jwtSecret ?? randomBytes(32),
      prefix: redisPrefix,
      settings: config.queue,
      logger,
      metrics,
    });
    cleanups.push(['waiting rooms', () => rooms.close()]);
    // Every instance runs every concert's ticker; the package's lease lets one tick at a time, and
    // another takes over if that instance dies.
    for (const concert of await new ConcertRepository(db).list()) rooms.room(concert.id);
    const holds = new SeatHolds(redis, {
      prefix: redisPrefix,
      ttlMs: config.holds.ttlMs,
      graceMs: config.holds.graceMs,
      onError: (error) => logger.warn({ err: error }, 'seat holds background error'),
    });
    cleanups.push(['seat holds', () => holds.close()]);
    const app = createApp({
      rooms,
      holds,
      paymentGateway,
      db,
      redis,
      auth,
      logger,
      metrics,
      redisDescription,
      redisPrefix: redisPrefix,
      loginRateLimit: config.auth.loginRateLimit,
      seatsPerUserMax: config.seatsPerUserMax,
      seatStatusCacheMs: config.seatStatusCacheMs,
      trustProxy: config.trustProxy,
      queueRateLimits: config.queueRateLimits,
      metricsToken: config.auth.metricsToken,
      adminToken: config.auth.adminToken,
      paymentRecovery: {
        intervalMs: config.paymentRecovery.intervalMs,
        ...(config.paymentRecovery.afterMs && { afterMs: config.paymentRecovery.afterMs }),
      },
      holdReaper: { ...config.holdReaper, graceMs: config.holds.graceMs },
      outbox: config.outbox,
      eventsPublishWindowMs: config.eventsPublishWindowMs,
    });

    // Hold expiry (also of holds that expired while every instance was down), payment retries and
    // the payment.succeeded consumers run in every instance; BullMQ hands each job to one of them.
    const locals = app.locals as AppLocals;
    locals.startWorkers();
    // The seeded order history goes into an empty sales sketch (a Redis that outlived an in-memory
    // database already has it), so /products/popular has data to compare with /popular/exact.
    if (seeded && seeded.orders > 0 && (await locals.trends.sales.total()) === 0) {
      const lines = await locals.trends.backfill(db);
      logger.info({ lines }, 'sales sketch backfilled from the seeded orders');
    }
    cleanups.push(['workers', () => locals.close()]);

    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
      s.once('listening', () => resolve(s));
      s.once('error', reject);
    });
    cleanups.push([
      'http server',
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ]);
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
