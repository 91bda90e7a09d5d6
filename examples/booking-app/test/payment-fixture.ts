import type { RedisFixture } from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import { afterEach, expect } from 'vitest';
import { type AppDeps, type AppLocals, createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import {
  MockPaymentGateway,
  type MockPaymentGatewayOptions,
} from '../src/concerts/payments/mock-payment-gateway.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import type { Database } from '../src/db/database.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, type DbFixture, listen, SECRET } from './helpers.js';

/** Options of one app instance of {@link usePaymentApps}. */
export interface PaymentAppOptions {
  gateway?: MockPaymentGatewayOptions;
  /** Another handle on the test's database (a second pool: a second process). @defaultValue fixture.db */
  db?: Database;
  /** `startWorkers()` at once (hold expiry, retries, recovery, outbox relay, consumers). @defaultValue true */
  workers?: boolean;
  outbox?: AppDeps['outbox'];
  paymentRecovery?: AppDeps['paymentRecovery'];
  /** Retry settings of the payment service. @defaultValue { retryDelayMs: 200 } */
  paymentRetries?: AppDeps['paymentRetries'];
  /** The rooms' token secret (the runtime's may differ from the user tokens'). @defaultValue SECRET */
  roomSecret?: string | Uint8Array;
}

/** One app on a free port, as {@link usePaymentApps} starts it. */
export interface PaymentApp {
  base: string;
  rooms: ConcertRooms;
  holds: SeatHolds;
  gateway: MockPaymentGateway;
  locals: AppLocals;
  metrics: AppMetrics;
  db: Database;
}

/**
 * The booking flow up to a payment, for the payment suites: `instance()` serves an app (rooms
 * without a ticker — `reserve` ticks — a mock gateway of 5 ms, retries after 200 ms) closed after
 * the test; `reserve()` logs a user in, admits them and holds seats of concert 1; `pay()` posts
 * `/payments` with an `Idempotency-Key`.
 */
export function usePaymentApps(fixture: DbFixture, redis: RedisFixture) {
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  const instance = async (options: PaymentAppOptions = {}): Promise<PaymentApp> => {
    const db = options.db ?? fixture.db;
    const client = redis.connect();
    const logger = createLogger('silent');
    const rooms = new ConcertRooms(client, {
      secret: options.roomSecret ?? SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 100, admitPerTick: 100 },
      tick: false,
      logger,
    });
    const holds = new SeatHolds(client, { prefix: redis.prefix });
    const gateway = new MockPaymentGateway(db, { latencyMs: 5, ...options.gateway });
    const metrics = new AppMetrics({ defaultMetrics: false });
    const app = createApp({
      db,
      redis: client,
      auth,
      rooms,
      holds,
      paymentGateway: gateway,
      paymentRetries: { retryDelayMs: 200, ...options.paymentRetries },
      metrics,
      logger,
      redisPrefix: redis.prefix,
      ...(options.outbox ? { outbox: options.outbox } : {}),
      ...(options.paymentRecovery ? { paymentRecovery: options.paymentRecovery } : {}),
    });
    const locals = app.locals as AppLocals;
    if (options.workers ?? true) locals.startWorkers();
    const http = await listen(app);
    opened.push({ close: () => holds.close() }, { close: () => rooms.close() }, locals, http);
    return { base: http.base, rooms, holds, gateway, locals, metrics, db };
  };

  const login = async (base: string, name: string) => {
    const res = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    return { token: res.body.token as string, id: res.body.user.id as number };
  };

  /** Admit `name`, hold `labels` of concert 1; returns the tokens and the reservation. */
  const reserve = async (env: PaymentApp, name: string, labels: string[]) => {
    const user = await login(env.base, name);
    await call(env.base, 'POST', '/concerts/1/queue', { token: user.token });
    await env.rooms.room(1).tick();
    const entry = (await call(env.base, 'GET', '/concerts/1/queue', { token: user.token })).body
      .token as string;
    const map = await call(env.base, 'GET', '/concerts/1');
    const seatIds = labels.map(
      (l) => (map.body.seats as { id: number; label: string }[]).find((s) => s.label === l)?.id,
    );
    const res = await call(env.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds },
    });
    expect(res.status).toBe(201);
    return {
      user,
      entry,
      reservation: res.body.reservation,
      paymentToken: res.body.paymentToken as string,
    };
  };

  const pay = (base: string, token: string | undefined, body: unknown, key?: string) =>
    call(base, 'POST', '/payments', {
      token,
      body,
      headers: key ? { 'idempotency-key': `"${key}"` } : {},
    });

  return { auth, instance, login, reserve, pay };
}
