import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { EventLog } from '../src/events/event-log.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, count, dbBackends, expectProblem, listen, SECRET, useDatabase } from './helpers.js';

// The API is about the database; Redis only backs /readyz for now, so one Redis target suffices
// here (readiness runs on both targets in unavailable.test.ts).
const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];

describe.each(dbBackends)('HTTP API on $name', (backend) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(standalone);
  let http: Awaited<ReturnType<typeof listen>>;
  let metrics: AppMetrics;
  const auth = new DemoAuth({ secret: SECRET });

  beforeEach(async () => {
    metrics = new AppMetrics({ defaultMetrics: false });
    const app = createApp({
      db: fixture.db,
      redis: redis.client,
      auth,
      metrics,
      logger: createLogger('silent'),
      redisPrefix: redis.prefix,
    });
    http = await listen(app);
  });
  afterEach(async () => {
    await http.close();
  });

  const login = async (name: string) => {
    const res = await call(http.base, 'POST', '/auth/demo-login', { body: { name } });
    expect(res.status).toBe(200);
    return res.body.token as string;
  };

  describe('auth', () => {
    it('demo-login issues a token that /me accepts, one user per name', async () => {
      const res = await call(http.base, 'POST', '/auth/demo-login', { body: { name: ' alice ' } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tokenType: 'Bearer', user: { name: 'alice' } });
      expect(res.body.demo).toMatch(/DEMO/);
      const me = await call(http.base, 'GET', '/me', { token: res.body.token });
      expect(me.body.user).toEqual(res.body.user);
      const again = await login('alice');
      expect((await call(http.base, 'GET', '/me', { token: again })).body.user.id).toBe(
        res.body.user.id,
      );
      const [event] = await new EventLog(fixture.db).recent('user.login', 1);
      expect(event).toMatchObject({ outcome: 'success', userId: res.body.user.id });
    });

    it('400 names the bad field', async () => {
      const missing = await call(http.base, 'POST', '/auth/demo-login', { body: {} });
      expectProblem(missing, 400, 'validation-failed');
      expect(missing.body.errors[0].field).toBe('body.name');
      const bad = await call(http.base, 'POST', '/auth/demo-login', {
        body: { name: 'x<script>' },
      });
      expectProblem(bad, 400, 'validation-failed');
      expect(bad.body.detail).toMatch(/body\.name/);
      const long = await call(http.base, 'POST', '/auth/demo-login', {
        body: { name: 'a'.repeat(65) },
      });
      expectProblem(long, 400, 'validation-failed');
      const notJson = await call(http.base, 'POST', '/auth/demo-login', { rawBody: '{"name":' });
      expectProblem(notJson, 400, 'malformed-json');
      const noBody = await call(http.base, 'POST', '/auth/demo-login');
      expectProblem(noBody, 400, 'validation-failed');
    });

    it('429 with Retry-After once an IP exceeds the login limit', async () => {
      const limited = await listen(
        createApp({
          db: fixture.db,
          redis: redis.client,
          auth,
          metrics: new AppMetrics({ defaultMetrics: false }),
          logger: createLogger('silent'),
          redisPrefix: redis.prefix,
          loginRateLimit: 3,
        }),
      );
      try {
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            call(limited.base, 'POST', '/auth/demo-login', { body: { name: `r${i}` } }),
          ),
        );
        expect(results.filter((r) => r.status === 200)).toHaveLength(3);
        const refused = results.filter((r) => r.status === 429);
        expect(refused).toHaveLength(2);
        for (const r of refused) {
          expectProblem(r, 429, 'rate-limited');
          expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          expect(r.headers.get('ratelimit-remaining')).toBe('0');
        }
        expect(results[0]?.headers.get('ratelimit-limit')).toBe('3');
      } finally {
        await limited.close();
      }
    });

    it('two instances on one Redis and database act as one service', async () => {
      const instance = () =>
        listen(
          createApp({
            db: fixture.db,
            redis: redis.client,
            auth: new DemoAuth({ secret: SECRET }),
            metrics: new AppMetrics({ defaultMetrics: false }),
            logger: createLogger('silent'),
            redisPrefix: redis.prefix,
            loginRateLimit: 3,
          }),
        );
      const [a, b] = await Promise.all([instance(), instance()]);
      try {
        const fromA = await call(a.base, 'POST', '/auth/demo-login', { body: { name: 'both' } });
        const me = await call(b.base, 'GET', '/me', { token: fromA.body.token });
        expect(me.body.user).toEqual(fromA.body.user);
        // The login budget (3 per IP) is shared through Redis: 1 used on A, 2 more on B, then 429.
        expect(
          (await call(b.base, 'POST', '/auth/demo-login', { body: { name: 'b1' } })).status,
        ).toBe(200);
        expect(
          (await call(b.base, 'POST', '/auth/demo-login', { body: { name: 'b2' } })).status,
        ).toBe(200);
        expect(
          (await call(a.base, 'POST', '/auth/demo-login', { body: { name: 'a2' } })).status,
        ).toBe(429);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('401 for a missing, malformed, forged, expired or alg:none token', async () => {
      expectProblem(await call(http.base, 'GET', '/me'), 401, 'token-missing');
      expectProblem(
        await call(http.base, 'GET', '/me', { headers: { authorization: 'Basic abc' } }),
        401,
        'token-invalid',
      );
      expectProblem(
        await call(http.base, 'GET', '/me', { token: 'not.a.jwt' }),
        401,
        'token-invalid',
      );
      const forged = await new DemoAuth({ secret: 'another-secret-another-secret-12345' }).issue({
        id: 1,
        name: 'x',
      });
      expectProblem(
        await call(http.base, 'GET', '/me', { token: forged.token }),
        401,
        'token-invalid',
      );
      const key = new TextEncoder().encode(SECRET);
      const expired = await new SignJWT({ scope: 'user', name: 'x' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('1')
        .setJti('expired-1')
        .setIssuer('boxoffice-demo')
        .setAudience('boxoffice-booking-app')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(key);
      expectProblem(await call(http.base, 'GET', '/me', { token: expired }), 401, 'token-expired');
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const none = `${b64({ alg: 'none' })}.${b64({ sub: '1', scope: 'user', iss: 'boxoffice-demo', aud: 'boxoffice-booking-app', exp: 9e9, iat: 1 })}.`;
      expectProblem(await call(http.base, 'GET', '/me', { token: none }), 401, 'token-invalid');
      const wrongScope = await new SignJWT({ scope: 'queue_entry' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('1')
        .setIssuer('boxoffice-demo')
        .setAudience('boxoffice-booking-app')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
      expectProblem(
        await call(http.base, 'GET', '/me', { token: wrongScope }),
        401,
        'token-invalid',
      );
    });
  });

  describe('concerts', () => {
    it('lists concerts and returns a seat map with every status', async () => {
      const list = await call(http.base, 'GET', '/concerts');
      expect(list.status).toBe(200);
      expect(list.body.concerts).toHaveLength(3);
      const aurora = list.body.concerts.find((c: { name: string }) => c.name === 'Aurora Live');
      expect(aurora).toMatchObject({ seatCount: 50, availableCount: 48 });
      expect(Date.parse(aurora.startsAt)).toBeGreaterThan(Date.now());

      const detail = await call(http.base, 'GET', `/concerts/${aurora.id}`);
      expect(detail.status).toBe(200);
      expect(detail.body.concert.id).toBe(aurora.id);
      expect(detail.body.seats).toHaveLength(50);
      expect(detail.body.seats[0]).toMatchObject({
        label: 'A1',
        price: 15_000,
        status: 'AVAILABLE',
      });
      const blocked = detail.body.seats.filter((s: { status: string }) => s.status === 'BLOCKED');
      expect(blocked.map((s: { label: string }) => s.label).sort()).toEqual(['E10', 'E9']);
    });

    it('shows HELD and ASSIGNED seats as the database has them', async () => {
      const { rows } = await fixture.db.query<{ id: string }>(
        `INSERT INTO reservations (user_id, concert_id, fence, amount_cents, expires_at)
         VALUES ((SELECT id FROM users LIMIT 1), 2, 1, 100, now() + interval '5 minutes') RETURNING id`,
      );
      const reservation = (rows[0] as { id: string }).id;
      await fixture.db.query(
        `UPDATE seats SET status = CASE label WHEN 'A1' THEN 'HELD' ELSE 'ASSIGNED' END,
           reservation_id = $1 WHERE concert_id = 2 AND label IN ('A1', 'A2')`,
        [reservation],
      );
      const detail = await call(http.base, 'GET', '/concerts/2');
      const status = Object.fromEntries(
        detail.body.seats.map((s: { label: string; status: string }) => [s.label, s.status]),
      );
      expect(status).toMatchObject({ A1: 'HELD', A2: 'ASSIGNED', A3: 'AVAILABLE' });
      expect(detail.body.concert.availableCount).toBe(22);
    });

    it('404 for an unknown concert, 400 for a malformed id', async () => {
      expectProblem(await call(http.base, 'GET', '/concerts/999999'), 404, 'concert-not-found');
      for (const id of ['abc', '0', '-1', '1.5', '1e3', '99999999999']) {
        const res = await call(http.base, 'GET', `/concerts/${id}`);
        expectProblem(res, 400, 'validation-failed');
        expect(res.body.errors[0].field).toBe('params.id');
      }
    });
  });

  describe('products', () => {
    it('lists products with stock and shows one', async () => {
      const list = await call(http.base, 'GET', '/products');
      expect(list.body.products).toHaveLength(6);
      const vinyl = list.body.products.find((p: { name: string }) => p.name === 'Signed vinyl');
      expect(vinyl).toMatchObject({ stock: 20, price: 9_000, currency: 'USD' });
      const one = await call(http.base, 'GET', `/products/${vinyl.id}`);
      expect(one.body.product).toEqual(vinyl);
      expectProblem(await call(http.base, 'GET', '/products/4242'), 404, 'product-not-found');
      expectProblem(await call(http.base, 'GET', '/products/x'), 400, 'validation-failed');
    });

    it('popular/exact ranks units sold in the window from SQL', async () => {
      const three = await call(http.base, 'GET', '/products/popular/exact?days=3');
      expect(three.status).toBe(200);
      expect(three.body).toMatchObject({ source: 'sql', days: 3, limit: 10 });
      expect(three.body.products.slice(0, 2)).toEqual([
        { id: 1, name: 'Tour T-shirt', sold: 6, orders: 3 },
        { id: 5, name: 'Tote bag', sold: 4, orders: 1 },
      ]);
      // The seed has 5 photo books and 10 tote bags sold 4-5.5 days ago.
      const week = await call(http.base, 'GET', '/products/popular/exact?days=7&limit=2');
      expect(week.body.products).toEqual([
        { id: 5, name: 'Tote bag', sold: 14, orders: 2 },
        { id: 1, name: 'Tour T-shirt', sold: 6, orders: 3 },
      ]);
      for (const q of ['days=0', 'days=31', 'days=abc', 'limit=0', 'limit=101', 'days=1&days=2']) {
        const res = await call(http.base, 'GET', `/products/popular/exact?${q}`);
        expectProblem(res, 400, 'validation-failed');
        expect(res.body.errors[0].field).toMatch(/^query\.(days|limit)$/);
      }
    });

    it('popular from the sketch: orders record sales, product views count once per user', async () => {
      const alice = await login('alice');
      const bob = await login('bob');
      const order = (productId: number, quantity: number) =>
        call(http.base, 'POST', '/orders', {
          token: alice,
          body: { items: [{ productId, quantity }] },
        });
      expect((await order(4, 5)).status).toBe(201);
      expect((await order(1, 2)).status).toBe(201);
      expect((await order(4, 1)).status).toBe(201);
      const sales = await call(http.base, 'GET', '/products/popular?days=3&limit=2');
      expect(sales.status).toBe(200);
      expect(sales.body).toMatchObject({ source: 'sketch', by: 'sales', days: 3, limit: 2 });
      // Only what went through POST /orders is in the sketch (the seeded history is SQL only here).
      expect(sales.body.products.map((p: { id: number; sold: number }) => [p.id, p.sold])).toEqual([
        [4, 6],
        [1, 2],
      ]);
      expect(sales.body.products[0].name).toEqual(expect.any(String));

      for (const token of [alice, alice, alice, bob]) {
        expect((await call(http.base, 'GET', '/products/2', { token })).status).toBe(200);
      }
      await call(http.base, 'GET', '/products/3', { token: bob });
      const views = await call(http.base, 'GET', '/products/popular?by=views');
      expect(
        views.body.products.map((p: { id: number; views: number }) => [p.id, p.views]),
      ).toEqual([
        [2, 2],
        [3, 1],
      ]);
      for (const q of ['days=0', 'days=31', 'limit=0', 'limit=101', 'by=clicks']) {
        const res = await call(http.base, 'GET', `/products/popular?${q}`);
        expectProblem(res, 400, 'validation-failed');
      }
    });
  });

  describe('orders', () => {
    const stockOf = (id: number) =>
      count(fixture.db, 'SELECT available FROM product_stock WHERE product_id = $1', [id]);

    it('places an order: 201, stock decremented, order readable by its owner only', async () => {
      const token = await login('buyer');
      const res = await call(http.base, 'POST', '/orders', {
        token,
        body: {
          items: [
            { productId: 2, quantity: 3 },
            { productId: 1, quantity: 1 },
          ],
        },
      });
      expect(res.status).toBe(201);
      expect(res.body.order).toMatchObject({ status: 'PLACED', total: 3 * 4_500 + 3_500 });
      expect(res.headers.get('location')).toBe(`/orders/${res.body.order.id}`);
      expect(await stockOf(2)).toBe(197);
      expect(await stockOf(1)).toBe(499);
      const mine = await call(http.base, 'GET', `/orders/${res.body.order.id}`, { token });
      expect(mine.body.order).toEqual(res.body.order);
      const other = await login('someone-else');
      expectProblem(
        await call(http.base, 'GET', `/orders/${res.body.order.id}`, { token: other }),
        404,
        'order-not-found',
      );
      expectProblem(
        await call(http.base, 'GET', '/orders/not-a-uuid', { token }),
        400,
        'validation-failed',
      );
      // The new sale counts in the exact ranking at once.
      const popular = await call(http.base, 'GET', '/products/popular/exact?days=1&limit=1');
      expect(popular.body.products[0]).toMatchObject({ id: 2, sold: 5 });
    });

    it('409 when stock is short, and a multi-line order changes nothing', async () => {
      const token = await login('buyer');
      await fixture.db.query('UPDATE product_stock SET available = 20 WHERE product_id = 4');
      const res = await call(http.base, 'POST', '/orders', {
        token,
        body: {
          items: [
            { productId: 1, quantity: 2 },
            { productId: 4, quantity: 21 },
          ],
        },
      });
      expectProblem(res, 409, 'insufficient-stock');
      expect(res.body).toMatchObject({ productId: 4, requested: 21 });
      expect(await stockOf(1)).toBe(500);
      expect(await stockOf(4)).toBe(20);
      expectProblem(
        await call(http.base, 'POST', '/orders', {
          token,
          body: { items: [{ productId: 6, quantity: 1 }] },
        }),
        409,
        'insufficient-stock',
      );
      const [event] = await new EventLog(fixture.db).recent('order.placed', 1);
      expect(event).toMatchObject({ outcome: 'failure', reason: 'insufficient-stock' });
      expect(
        await count(
          fixture.db,
          "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.name = 'buyer'",
        ),
      ).toBe(0);
    });

    it('404 for an unknown product, 400 for bad items, 401 without a token', async () => {
      const token = await login('buyer');
      expectProblem(
        await call(http.base, 'POST', '/orders', {
          token,
          body: { items: [{ productId: 777, quantity: 1 }] },
        }),
        404,
        'product-not-found',
      );
      const cases: [unknown, string][] = [
        [{}, 'body.items'],
        [{ items: [] }, 'body.items'],
        [{ items: [{ productId: 1, quantity: 0 }] }, 'body.items.0.quantity'],
        [{ items: [{ productId: 1, quantity: 101 }] }, 'body.items.0.quantity'],
        [{ items: [{ productId: '1', quantity: 1 }] }, 'body.items.0.productId'],
        [{ items: [{ productId: 1.5, quantity: 1 }] }, 'body.items.0.productId'],
        [
          {
            items: [
              { productId: 1, quantity: 1 },
              { productId: 1, quantity: 2 },
            ],
          },
          'body.items',
        ],
        [[1, 2], 'body'],
      ];
      for (const [body, field] of cases) {
        const res = await call(http.base, 'POST', '/orders', { token, body });
        expectProblem(res, 400, 'validation-failed');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      expectProblem(
        await call(http.base, 'POST', '/orders', {
          body: { items: [{ productId: 1, quantity: 1 }] },
        }),
        401,
        'token-missing',
      );
      expect(await stockOf(1)).toBe(500);
    });

    it('never oversells: 60 concurrent buyers for 20 units, exactly 20 succeed', async () => {
      const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => login(`rush-${i}`)));
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          call(http.base, 'POST', '/orders', {
            token: tokens[i % tokens.length],
            body: { items: [{ productId: 3, quantity: 1 }] },
          }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(20);
      expect(statuses.filter((s) => s === 409)).toHaveLength(40);
      expect(await stockOf(3)).toBe(0);
      expect(
        await count(
          fixture.db,
          `SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
           JOIN users u ON u.id = o.user_id WHERE i.product_id = 3 AND u.name LIKE 'rush-%'`,
        ),
      ).toBe(20);
    });

    it('multi-line orders in opposite orders neither deadlock nor oversell', async () => {
      await fixture.db.query('UPDATE product_stock SET available = 15 WHERE product_id IN (1, 2)');
      const token = await login('mixer');
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(http.base, 'POST', '/orders', {
            token,
            body: {
              items:
                i % 2 === 0
                  ? [
                      { productId: 1, quantity: 1 },
                      { productId: 2, quantity: 1 },
                    ]
                  : [
                      { productId: 2, quantity: 1 },
                      { productId: 1, quantity: 1 },
                    ],
            },
          }),
        ),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(15);
      expect(results.filter((r) => r.status === 409)).toHaveLength(25);
      expect(await stockOf(1)).toBe(0);
      expect(await stockOf(2)).toBe(0);
    });
  });

  describe('stats', () => {
    it('reports success and failure rates per event type from the event log', async () => {
      const token = await login('stats');
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 1, quantity: 1 }] },
      });
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 2, quantity: 1 }] },
      });
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 6, quantity: 1 }] },
      });
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 999, quantity: 1 }] },
      });
      const res = await call(http.base, 'GET', '/stats?hours=1');
      expect(res.status).toBe(200);
      const orders = res.body.events.find((e: { type: string }) => e.type === 'order.placed');
      expect(orders).toEqual({
        type: 'order.placed',
        successes: 2,
        failures: 2,
        info: 0,
        successRate: 0.5,
        failureReasons: { 'insufficient-stock': 1, 'product-not-found': 1 },
      });
      expect(res.body.events.find((e: { type: string }) => e.type === 'user.login').successes).toBe(
        1,
      );
      expectProblem(await call(http.base, 'GET', '/stats?hours=0'), 400, 'validation-failed');
    });
  });

  describe('operations', () => {
    it('logs one JSON line per request with its request id, without the Authorization header or a query token', async () => {
      const lines: string[] = [];
      const logged = await listen(
        createApp({
          db: fixture.db,
          redis: redis.client,
          auth,
          metrics: new AppMetrics({ defaultMetrics: false }),
          logger: createLogger('debug', { write: (line: string) => void lines.push(line) }),
          redisPrefix: redis.prefix,
        }),
      );
      let token = '';
      try {
        token = (await call(logged.base, 'POST', '/auth/demo-login', { body: { name: 'logger' } }))
          .body.token;
        await call(logged.base, 'GET', '/me', { token, headers: { 'x-request-id': 'trace-me-1' } });
        await call(logged.base, 'GET', '/concerts/424242', {
          headers: { 'x-request-id': 'trace-me-2' },
        });
        await call(logged.base, 'POST', '/concerts/2/queue', { token });
        await call(logged.base, 'GET', '/concerts/2/queue', {
          token,
          headers: { 'x-request-id': 'trace-me-4' },
        });
        // EventSource sends its token in the query string: the logged URL must not carry it.
        await call(logged.base, 'GET', `/concerts/424242/queue/events?x=1&access_token=${token}`, {
          headers: { 'x-request-id': 'trace-me-3' },
        });
      } finally {
        await logged.close();
      }
      const entries = lines.map((l) => JSON.parse(l));
      const me = entries.find((e) => e.req?.id === 'trace-me-1');
      expect(me).toMatchObject({ service: 'booking-app', level: 30, res: { statusCode: 200 } });
      expect(me.req.url).toBe('/me');
      expect(JSON.stringify(me)).not.toContain(token);
      const missing = entries.find((e) => e.req?.id === 'trace-me-2');
      // A problem's line names its code; a waiting-room poll is routine (debug).
      expect(missing).toMatchObject({
        level: 40,
        res: { statusCode: 404 },
        problem: 'concert-not-found',
      });
      expect(me.problem).toBeUndefined();
      const poll = entries.find((e) => e.req?.id === 'trace-me-4');
      expect(poll).toMatchObject({ level: 20, res: { statusCode: 200 } });
      const sse = entries.find((e) => e.req?.id === 'trace-me-3');
      expect(sse.req.url).toBe('/concerts/424242/queue/events?x=1&access_token=[Redacted]');
      expect(lines.join('\n')).not.toContain(token);
    });

    it('413 problem for a body over 100 kB', async () => {
      const res = await call(http.base, 'POST', '/auth/demo-login', {
        rawBody: JSON.stringify({ name: 'x'.repeat(200_000) }),
      });
      expectProblem(res, 413, 'body-too-large');
    });

    it('healthz, readyz, request ids, metrics and problem+json 404s', async () => {
      expect((await call(http.base, 'GET', '/healthz')).body.status).toBe('ok');
      const ready = await call(http.base, 'GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ready', checks: { redis: 'ok', database: 'ok' } });

      const given = await call(http.base, 'GET', '/healthz', {
        headers: { 'x-request-id': 'abc-123' },
      });
      expect(given.headers.get('x-request-id')).toBe('abc-123');
      const generated = await call(http.base, 'GET', '/healthz', {
        headers: { 'x-request-id': 'bad id!' },
      });
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

      const missing = await call(http.base, 'GET', '/no/such/route');
      expectProblem(missing, 404, 'route-not-found');
      expect(missing.body.requestId).toBe(missing.headers.get('x-request-id'));

      const token = await login('metric');
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 1, quantity: 2 }] },
      });
      await call(http.base, 'POST', '/orders', {
        token,
        body: { items: [{ productId: 6, quantity: 1 }] },
      });
      const text = (await call(http.base, 'GET', '/metrics')).body as string;
      expect(text).toMatch(/boxoffice_orders_total\{outcome="placed"\} 1/);
      expect(text).toMatch(/boxoffice_orders_total\{outcome="insufficient_stock"\} 1/);
      expect(text).toMatch(/boxoffice_units_sold_total 2/);
      expect(text).toMatch(/http_requests_total\{method="POST",route="\/orders",status="201"\} 1/);
      expect(text).toMatch(/boxoffice_dependency_up\{dependency="redis"\} 1/);
    });
  });
});
