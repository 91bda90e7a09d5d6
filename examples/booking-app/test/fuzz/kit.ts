import * as fuzz from '@boxoffice/internal/fuzz';
import {
  type RedisFixture,
  redisTargets,
  scanKeys,
  useRedis,
} from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import fc from 'fast-check';
import { afterEach, beforeEach, expect } from 'vitest';
import { createApp } from '../../src/app.js';
import { DemoAuth } from '../../src/auth/demo-auth.js';
import { ConcertRooms } from '../../src/concerts/rooms/concert-rooms.js';
import type { Database } from '../../src/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import { AppMetrics } from '../../src/observability/metrics.js';
import { call, dbBackends, listen, SECRET, useDatabase } from '../helpers.js';

// What the HTTP fuzz suites share: hostile input, the "4xx problem+json" check, a snapshot of the
// state a rejected request must not change, and an app instance whose rooms the test ticks.

/** Strings a validator may get wrong (long ones up to 20,000 characters: the body limit is 100 kB). */
export const nastyString = fuzz.nastyString({ minLong: 100, maxLong: 20_000 });

/** Numbers that break arithmetic and integer columns (JSON has no NaN: it becomes null). */
export const nastyNumber = fc.oneof(
  fc.constantFrom(
    -1,
    0,
    -0,
    0.5,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53,
    2 ** 53 + 2,
    1e308,
    -1e308,
    5e-324,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
);

/** Any JSON value, biased towards the awkward ones. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  nastyNumber,
  fc.constantFrom(null, true, false, [], {}),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(nastyNumber, { maxLength: 30 }),
);

/** Request bodies that are not valid JSON at all, or JSON nested far too deep. */
export const badJsonText = fc.oneof(
  fc.constantFrom('{', '{"a":', '[1,2', '{"a":1}}', "{'a':1}", 'NaN', '{"a":NaN}', '\u0000', ''),
  nastyString,
  fc.integer({ min: 1000, max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
);

/** Percent-escapes that do not decode (a cut sequence, a lone surrogate, a bare `%`). */
export const brokenEscape = ['%', '%zz', '%E0%A4%A', '%ED%A0%80', '%C0%AF', 'a%'];

/** Percent-encode any string (lone surrogates become U+FFFD first: encodeURIComponent throws on them). */
const uriComponent = (s: string) => encodeURIComponent(s.replace(/\p{Cs}/gu, '\ufffd'));

/** Raw query strings: repeated keys, brackets, broken percent-encoding, huge values. */
export const badQuery = (names: readonly string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...names), fc.constantFrom('x', '__proto__', 'constructor')),
        fc.oneof(
          nastyNumber.map(String),
          fc.constantFrom('', '%00', '1e3', '+1', ' 1', '0x10', '[]', '1.0'),
          nastyString.map(uriComponent),
        ),
        fc.constantFrom('', '[]', '[a]', '.b'),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.map(([k, v, suffix]) => `${k}${suffix}=${v}`).join('&'));

/** A path segment for an `:id`: numbers out of range, signs, exponents, broken escapes, huge ones. */
export const badId = fc.oneof(
  nastyNumber.map(String),
  fc.constantFrom('0', '-1', '01', '1e3', '2147483648', '99999999999', '%00', '1%2F2'),
  nastyString.map(uriComponent),
);

/** Every request answered: status, headers and parsed body. */
export type Answer = Awaited<ReturnType<typeof call>>;

/** The property every refused request has: a 4xx RFC 9457 problem, never a 5xx. */
export function expectProblem4xx(res: Answer, what: string): void {
  expect(res.status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeGreaterThanOrEqual(
    400,
  );
  expect(res.status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
  // 431 (request header fields too large) comes from Node's HTTP parser, before the app runs.
  if (res.status === 431) return;
  expect(res.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
  expect(res.body, what).toMatchObject({ status: res.status, type: expect.any(String) });
  expect(typeof res.body.title, what).toBe('string');
}

/**
 * The state a rejected request must leave alone: reservations, payments, orders, charges, seats,
 * stock and the outbox in the database; seat locks, holds, payment records and queue keys in Redis.
 * Not included, on purpose: the business event log (failures are recorded there by design), rate
 * limit counters and idempotency records (a 4xx answer is stored and replayed, as the IETF draft
 * says).
 */
export async function snapshot(db: Database, redis: RedisFixture): Promise<unknown> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM users)::int AS users,
            (SELECT count(*) FROM reservations)::int AS reservations,
            (SELECT count(*) FROM reservation_seats)::int AS reservation_seats,
            (SELECT count(*) FROM payments)::int AS payments,
            (SELECT count(*) FROM orders)::int AS orders,
            (SELECT count(*) FROM order_items)::int AS order_items,
            (SELECT count(*) FROM mock_pg_charges)::int AS charges,
            (SELECT count(*) FROM outbox)::int AS outbox,
            (SELECT coalesce(sum(available), 0)::int FROM product_stock) AS stock,
            (SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM seats) AS seats,
            (SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM reservations) AS held`,
  );
  const keys = (await scanKeys(redis.client, `${redis.prefix}*`))
    .filter((k) => !/:idem:|:ratelimit:/.test(k))
    .sort();
  return { db: rows[0], keys };
}

/** One app on the test's database and Redis prefix; rooms do not tick on their own. */
export async function startApp(db: Database, redis: RedisFixture) {
  const logger = createLogger('silent');
  const rooms = new ConcertRooms(redis.client, {
    secret: SECRET,
    prefix: redis.prefix,
    settings: { maxActive: 100, admitPerTick: 100 },
    tick: false,
    logger,
  });
  const holds = new SeatHolds(redis.client, { prefix: redis.prefix });
  const auth = new DemoAuth({ secret: SECRET });
  const app = createApp({
    db,
    redis: redis.client,
    auth,
    rooms,
    holds,
    metrics: new AppMetrics({ defaultMetrics: false }),
    logger,
    redisPrefix: redis.prefix,
    loginRateLimit: 0,
  });
  const http = await listen(app);
  const base = http.base;

  const login = async (name: string) => {
    const res = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    expect(res.status).toBe(200);
    return { token: res.body.token as string, id: res.body.user.id as number };
  };
  /** Join the concert's room, tick, and return the user's queue_entry token. */
  const admit = async (userToken: string, concertId = 1) => {
    expect(
      (await call(base, 'POST', `/concerts/${concertId}/queue`, { token: userToken })).status,
    ).toBe(200);
    await rooms.room(concertId).tick();
    const status = await call(base, 'GET', `/concerts/${concertId}/queue`, { token: userToken });
    expect(status.body.state).toBe('active');
    return status.body.token as string;
  };
  /** Seat ids of a concert by status. */
  const seats = async (concertId: number, status: string) =>
    (
      await db.query<{ id: number }>(
        'SELECT id FROM seats WHERE concert_id = $1 AND status = $2 ORDER BY id',
        [concertId, status],
      )
    ).rows.map((r) => r.id);

  return {
    base,
    rooms,
    auth,
    login,
    admit,
    seats,
    async close() {
      await http.close();
      await holds.close();
      await rooms.close();
    },
  };
}

/** Log how many inputs a property tried (the issue asks every fuzz test to say it). */
export function report(what: string, tried: number, statuses: Map<number, number>): void {
  console.log(
    `booking-app fuzz: ${tried} ${what}; answers by status ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
}

/** Count an answer's status. */
export function tally(statuses: Map<number, number>, status: number): void {
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

/**
 * Registers hooks in the current describe block: a seeded PGlite schema, the standalone Redis, and
 * per test an app from {@link startApp} (closed after it). Read `app` inside the test.
 */
export function useFuzzApp() {
  const [pglite] = dbBackends;
  const [standalone] = redisTargets();
  if (!pglite || !standalone) throw new Error('missing a test target');
  const fixture = useDatabase(pglite, { seed: true });
  const redis = useRedis(standalone);
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  beforeEach(async () => {
    app = await startApp(fixture.db, redis);
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  return {
    fixture,
    redis,
    get app() {
      if (!app) throw new Error('useFuzzApp: the app exists only inside a test');
      return app;
    },
  };
}
