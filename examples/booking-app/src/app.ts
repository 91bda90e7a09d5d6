import { randomBytes } from 'node:crypto';
import { IdempotencyStore } from '@boxoffice/idempotency';
import type { RedisClient } from '@boxoffice/internal';
import { SeatLock } from '@boxoffice/seat-lock';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { adminRoutes } from './admin/admin-routes.js';
import { LiveSnapshots } from './admin/live-snapshots.js';
import { RoomControl } from './admin/room-control.js';
import { authRoutes } from './auth/auth-routes.js';
import type { DemoAuth } from './auth/demo-auth.js';
import { TokenRevocations } from './auth/token-revocations.js';
import { UserRepository } from './auth/user-repository.js';
import { UserSessions } from './auth/user-sessions.js';
import { ConcertRepository } from './concerts/concert-repository.js';
import { concertRoutes } from './concerts/concert-routes.js';
import {
  BookingEvents,
  CONSUMERS,
  type PaymentSucceeded,
} from './concerts/payments/booking-events.js';
import { MockPaymentGateway } from './concerts/payments/mock-payment-gateway.js';
import {
  PaymentRecovery,
  type PaymentRecoverySettings,
} from './concerts/payments/payment-recovery.js';
import { paymentRoutes } from './concerts/payments/payment-routes.js';
import { PaymentService, type PaymentSettings } from './concerts/payments/payment-service.js';
import { PaymentTokens } from './concerts/payments/payment-tokens.js';
import { HoldReaper, type HoldReaperSettings } from './concerts/reservations/hold-reaper.js';
import { reservationRoutes } from './concerts/reservations/reservation-routes.js';
import { ReservationService } from './concerts/reservations/reservation-service.js';
import { ConcertRooms } from './concerts/rooms/concert-rooms.js';
import { queueRoutes } from './concerts/rooms/queue-routes.js';
import { SaleStates } from './concerts/sale-states.js';
import { SeatMapCache } from './concerts/seat-map-cache.js';
import type { Database } from './db/database.js';
import { EventLog } from './events/event-log.js';
import { OutboxRelay, type OutboxRelaySettings } from './events/outbox-relay.js';
import { statsRoutes } from './events/stats-routes.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { requireOperatorToken, securityHeaders } from './http/security-headers.js';
import { staticPages } from './http/static-pages.js';
import { readBacklog } from './observability/backlog.js';
import { healthRoutes } from './observability/health-routes.js';
import { createLogger } from './observability/logger.js';
import { AppMetrics } from './observability/metrics.js';
import { requestLog } from './observability/request-log.js';
import { FixedWindowLimiter } from './rate-limit/fixed-window-limiter.js';
import { type QueueRateLimits, queueRateLimits } from './rate-limit/queue-limits.js';
import { orderRoutes } from './shop/order-routes.js';
import { OrderService } from './shop/order-service.js';
import { ProductRepository } from './shop/product-repository.js';
import { productRoutes } from './shop/product-routes.js';
import { ProductTrends } from './shop/product-trends.js';
import { withTimeout } from './with-timeout.js';

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
  /** Waiting-room joins and stream opens per user and per address and minute (0 = off). @defaultValue {@link QUEUE_RATE_LIMITS} */
  queueRateLimits?: Partial<QueueRateLimits>;
  /** Express `trust proxy`: whose `X-Forwarded-*` to believe (client address, HTTPS). @defaultValue false */
  trustProxy?: boolean | number | string;
  /** When set, `/metrics` and `/stats` need `Authorization: Bearer <metricsToken>`. @defaultValue unset (open) */
  metricsToken?: string;
  /**
   * When set, the operator page's API (`/admin/api/...`, see `admin/admin-routes.ts`) is on, behind
   * `Authorization: Bearer <adminToken>`. @defaultValue unset (those routes answer 404)
   */
  adminToken?: string;
  /**
   * The concerts' waiting rooms (and the access-token signer). The caller owns it and closes it.
   * @defaultValue rooms created on first use with a random token secret, closed by
   * `app.locals.close()`
   */
  rooms?: ConcertRooms;
  /**
   * Seat holds behind reservations. The caller owns them and closes them. Expiry runs once
   * `app.locals.startWorkers()` (or `app.locals.reservations.startExpiry()`) is called — the runtime
   * does; a test may leave it off to play "the app was down".
   * Their `prefix` is `redisPrefix`: the app reads their seat locks under it (to name the taken
   * seats of a 409).
   * @defaultValue `new SeatHolds(redis, { prefix })` (5 min + 10 s), closed by `app.locals.close()`
   */
  holds?: SeatHolds;
  /**
   * How long one seat-status snapshot (one SQL query per concert) answers
   * `GET /concerts/:id/seats/status` in this process: the bound on how stale that answer is.
   * @defaultValue 1000
   */
  seatStatusCacheMs?: number;
  /** Most seats one user may hold and own per concert (409 `seat-limit-reached` beyond). @defaultValue 4 */
  seatsPerUserMax?: number;
  /** @defaultValue `new MockPaymentGateway(db)` (no failures) */
  paymentGateway?: MockPaymentGateway;
  /** Gateway retry pacing. @defaultValue 1 s doubling, 5 attempts */
  paymentRetries?: Partial<PaymentSettings>;
  /** The outbox relay (poll 1 s, lease 5 s, fast path after each commit). @defaultValue {} */
  outbox?: Partial<OutboxRelaySettings>;
  /** How long a `payment.succeeded` waits for others to share its BullMQ job. @defaultValue 100 */
  eventsPublishWindowMs?: number;
  /** Recovery of stuck payments: STARTED, PG_REQUESTED, overdue RETRY_SCHEDULED (after 60 s, checked every 15 s). @defaultValue {} */
  paymentRecovery?: Partial<PaymentRecoverySettings>;
  /**
   * The database-side backstop of hold expiry (reservations HELD 60 s past `expiresAt` + grace,
   * checked every 15 s). Pass the holds' `graceMs` when it is not the default 10 s. @defaultValue {}
   */
  holdReaper?: Partial<HoldReaperSettings>;
}

/**
 * What `createApp` puts in `app.locals`: the flows, plus `startWorkers()` (hold expiry, payment
 * retries and recovery, the hold reaper, the outbox relay, event consumers of this process) and `close()` (stops them and closes what createApp
 * created itself; rooms and holds passed in stay the caller's).
 */
export interface AppLocals {
  rooms: ConcertRooms;
  holds: SeatHolds;
  reservations: ReservationService;
  payments: PaymentService;
  bookingEvents: BookingEvents;
  /** Performs `room.complete` and `payment.succeeded` from the outbox table. */
  outbox: OutboxRelay;
  /** Resolves payments left in STARTED, PG_REQUESTED or RETRY_SCHEDULED by a process that died. */
  paymentRecovery: PaymentRecovery;
  /** Ends HELD reservations whose hold should long have ended (e.g. Redis lost it). */
  holdReaper: HoldReaper;
  idempotencyStore: IdempotencyStore;
  trends: ProductTrends;
  startWorkers(): void;
  close(): Promise<void>;
}

/** Requests slower than this are logged as warnings, whatever their status. */
const SLOW_REQUEST_MS = 5_000;
/** A waiting-room poll, `GET /concerts/:id/queue` (logged at debug). */
const QUEUE_POLL = /^\/concerts\/\d+\/queue(?:\?|$)/;

/**
 * The reference app: demo login, concerts and seat maps, the waiting room (`@boxoffice/queue`),
 * reservations on seat holds (`@boxoffice/seat-lock/holds`), payments with `Idempotency-Key`
 * (`@boxoffice/idempotency`), products, orders and trending (`@boxoffice/sketch`), health,
 * readiness and metrics. Background workers start with `app.locals.startWorkers()`.
 */
export function createApp(deps: AppDeps): Express {
  const logger = deps.logger ?? createLogger();
  const metrics = deps.metrics ?? new AppMetrics();
  const events = new EventLog(deps.db);
  const users = new UserRepository(deps.db);
  const concerts = new ConcertRepository(deps.db);
  const seatMap = new SeatMapCache(concerts, {
    ...(deps.seatStatusCacheMs !== undefined && { statusTtlMs: deps.seatStatusCacheMs }),
  });
  const products = new ProductRepository(deps.db);
  const orders = new OrderService(deps.db, events);
  const sessions = new UserSessions(
    deps.auth,
    new TokenRevocations(deps.redis, { prefix: deps.redisPrefix ?? 'bo' }),
  );
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

  const rooms =
    deps.rooms ??
    new ConcertRooms(deps.redis, {
      secret: randomBytes(32),
      prefix: deps.redisPrefix ?? 'bo',
      logger,
      metrics,
    });
  // The room admits only while a seat is AVAILABLE: when every seat left is held (or sold), more
  // admissions would only show a full map; it reopens when an expired hold frees a seat — unless an
  // operator paused it (RoomControl keeps the two reasons apart). Every instance sets the same
  // state it reads (idempotent), at most once per read of SaleStates.
  const roomControl = new RoomControl({
    redis: deps.redis,
    rooms,
    concerts,
    prefix: deps.redisPrefix ?? 'bo',
    logger,
  });
  const sales = new SaleStates(concerts, {
    onChange: (id, state) => roomControl.onSaleChange(id, state),
  });

  const holds = deps.holds ?? new SeatHolds(deps.redis, { prefix: deps.redisPrefix ?? 'bo' });
  // Only reads lock owners (to name the taken seats of a 409): no waiting, so no subscriber.
  const seatLocks = new SeatLock(deps.redis, { prefix: deps.redisPrefix ?? 'bo', wakeUp: false });
  const paymentTokens = new PaymentTokens(rooms.tokens);
  const reservations = new ReservationService({
    db: deps.db,
    holds,
    paymentTokens,
    events,
    metrics,
    logger,
    seatsPerUserMax: deps.seatsPerUserMax ?? 4,
    locks: seatLocks,
  });

  const prefix = deps.redisPrefix ?? 'bo';
  const store = new IdempotencyStore(deps.redis, { prefix });
  const trends = new ProductTrends(deps.redis, { prefix, logger });
  const bookingEvents = new BookingEvents(deps.redis, {
    prefix,
    db: deps.db,
    store,
    logger,
    publishWindowMs: deps.eventsPublishWindowMs,
  });
  // The effects of a successful payment outside the database, performed from the outbox. Both are
  // idempotent: an event alone in its BullMQ job has the event id as jobId, and consumers dedupe
  // on the event id (finally in PostgreSQL) whichever job brought it; completing a user who
  // already left the booking area changes nothing.
  const outbox = new OutboxRelay({
    db: deps.db,
    logger,
    metrics,
    settings: deps.outbox ?? {},
    handlers: {
      'payment.succeeded': {
        consumers: CONSUMERS,
        publish: (payload, published) =>
          bookingEvents.publish(payload as unknown as PaymentSucceeded, published),
      },
      'room.complete': (payload) => {
        const { concertId, userId } = payload as { concertId: number; userId: number };
        return rooms.room(concertId).complete(String(userId));
      },
    },
  });
  const gateway = deps.paymentGateway ?? new MockPaymentGateway(deps.db);
  const payments = new PaymentService({
    client: deps.redis,
    prefix,
    db: deps.db,
    holds,
    gateway,
    events,
    outbox,
    metrics,
    logger,
    settings: deps.paymentRetries ?? {},
  });
  const paymentRecovery = new PaymentRecovery({
    payments,
    logger,
    gatewayCallMs: gateway.options.timeoutMs + gateway.options.latencyMs,
    settings: deps.paymentRecovery ?? {},
  });
  const holdReaper = new HoldReaper({
    db: deps.db,
    holds,
    reservations,
    events,
    metrics,
    logger,
    settings: deps.holdReaper ?? {},
  });
  // The backlog gauges (outbox, hold-expiry lag) are read from the database at scrape time,
  // bounded so a slow database cannot hang /metrics (they read NaN then).
  metrics.observeBacklog(async () => {
    try {
      return await withTimeout(
        readBacklog(deps.db, holdReaper.settings.graceMs),
        deps.readinessTimeoutMs ?? 2000,
        'the backlog metrics query',
      );
    } catch (error) {
      logger.warn({ err: error }, 'backlog metrics unavailable');
      throw error;
    }
  });
  const locals: AppLocals = {
    rooms,
    holds,
    reservations,
    payments,
    bookingEvents,
    outbox,
    paymentRecovery,
    holdReaper,
    idempotencyStore: store,
    trends,
    startWorkers() {
      reservations.startExpiry();
      holdReaper.start();
      payments.startRetries();
      paymentRecovery.start();
      outbox.start();
      bookingEvents.startConsumers();
    },
    async close() {
      await holdReaper.stop();
      await paymentRecovery.stop();
      await outbox.stop();
      await payments.close();
      await bookingEvents.close();
      if (!deps.holds) await holds.close();
      await seatLocks.close();
      if (!deps.rooms) await rooms.close();
    },
  };

  const app = express();
  Object.assign(app.locals, locals);
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);

  app.use(
    requestLog(logger, {
      // A problem answer, or a slow one, is a warning: logged at the default level, so the request
      // id of a hang finds out where it went. Waiting-room polls (one per waiter every few
      // seconds) are routine: `debug`.
      level: (req, res, tookMs, error) =>
        error || res.statusCode >= 500
          ? 'error'
          : res.statusCode >= 400 || tookMs > SLOW_REQUEST_MS
            ? 'warn'
            : req.method === 'GET' && QUEUE_POLL.test(req.url ?? '')
              ? 'debug'
              : 'info',
    }),
  );
  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route });
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      if (res.getHeader('idempotent-replayed') === 'true') metrics.idempotentReplays.inc({ route });
    });
    next();
  });
  app.use(securityHeaders);
  app.use(['/metrics', '/stats'], requireOperatorToken(deps.metricsToken));
  app.use(express.json({ limit: '100kb' }));
  // web pages: `/` for browsers, `/admin`, and public/*.html|js|css|svg
  app.use(staticPages(undefined, { adminEnabled: Boolean(deps.adminToken) }));

  app.get('/', (_req, res) => {
    res.json({
      name: 'boxoffice reference app',
      redis: deps.redisDescription ?? 'redis',
      database: deps.db.description,
      endpoints: [
        'POST /auth/demo-login',
        'POST /auth/logout',
        'GET /me',
        'GET /concerts',
        'GET /concerts/:id',
        'GET /concerts/:id/seats/layout',
        'GET /concerts/:id/seats/status',
        'POST /concerts/:id/queue',
        'GET /concerts/:id/queue',
        'DELETE /concerts/:id/queue',
        'POST /concerts/:id/queue/stream-token',
        'GET /concerts/:id/queue/events?access_token=<stream token>',
        'POST /concerts/:id/reservations',
        'GET /concerts/:id/reservations/mine',
        'GET /reservations/:id',
        'POST /payments',
        'GET /payments/:id',
        'GET /products',
        'GET /products/:id',
        'GET /products/popular?days=3&limit=10&by=sales|views',
        'GET /products/popular/exact?days=3&limit=10',
        'POST /orders',
        'GET /orders/:id',
        'GET /stats?hours=24',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /admin/api/concerts/:id/room (ADMIN_TOKEN)',
        'POST /admin/api/concerts/:id/room/pause|resume (ADMIN_TOKEN)',
        'PATCH /admin/api/concerts/:id/room (ADMIN_TOKEN)',
        'GET /admin/api/concerts/:id/live (ADMIN_TOKEN)',
      ],
      pages:
        'open / in a browser: concerts, waiting room, seat map, payment, popular products; /admin: the operator page',
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
  app.use(authRoutes({ auth: sessions, users, events, metrics, loginLimiter }));
  app.use(concertRoutes({ concerts, seatMap }));
  const queueLimits = queueRateLimits(deps.redis, prefix, deps.queueRateLimits);
  app.use(queueRoutes({ auth: sessions, sales, rooms, metrics, limits: queueLimits }));
  app.use(reservationRoutes({ auth: sessions, concerts, rooms, reservations }));
  app.use(paymentRoutes({ auth: sessions, paymentTokens, payments, store, metrics }));
  app.use(productRoutes({ products, trends, auth: sessions }));
  app.use(orderRoutes({ auth: sessions, orders, metrics, store, trends }));
  app.use(statsRoutes({ events }));
  if (deps.adminToken) {
    const snapshots = new LiveSnapshots({ rooms, control: roomControl, sales, seatMap, metrics });
    app.use(adminRoutes({ token: deps.adminToken, sales, rooms, control: roomControl, snapshots }));
  }

  app.use(notFound);
  app.use(errorHandler());
  return app;
}
