import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppDeps, createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { addressBucket } from '../src/rate-limit/client-bucket.js';
import { call, dbBackends, listen, SECRET, streamToken, useDatabase } from './helpers.js';

// Issue 18: what a request may see or leave behind. None of it depends on the database engine.
const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const postgres = dbBackends[1] as (typeof dbBackends)[number];

describe('security of the HTTP surface', () => {
  const fixture = useDatabase(postgres, { seed: true });
  const redis = useRedis(standalone);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];
  let instances = 0;
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  /** An app with `deps` on top of the test's database and Redis; `lines` collects its log. */
  const instance = async (deps: Partial<AppDeps> = {}) => {
    const lines: string[] = [];
    const app = createApp({
      db: fixture.db,
      redis: redis.client,
      auth,
      metrics: new AppMetrics({ defaultMetrics: false }),
      logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
      // Each instance its own rate-limit buckets.
      redisPrefix: `${redis.prefix}:${++instances}`,
      ...deps,
    });
    const http = await listen(app);
    opened.push(http, { close: () => (app.locals as { close(): Promise<void> }).close() });
    return { base: http.base, lines };
  };
  const login = async (base: string, name: string) =>
    (await call(base, 'POST', '/auth/demo-login', { body: { name } })).body.token as string;

  describe('tokens in logs and problem bodies (18.4)', () => {
    it('the request log redacts access_token however its name is encoded', async () => {
      const { base, lines } = await instance();
      const token = await streamToken(base, await login(base, 'logged'), 1);
      const urls = [
        `/concerts/1/queue/events?access%5Ftoken=${token}`,
        `/concerts/1/queue/events?x=1&ACCESS_TOKEN=${token}&y=2`,
        `/concerts/1/queue/events?access_token%5B%5D=${token}`,
      ];
      const answers = [];
      for (const [i, url] of urls.entries()) {
        answers.push(await call(base, 'GET', url, { headers: { 'x-request-id': `log-${i}` } }));
      }
      // The encoded name is a token the route accepts (a user not in line: one status, the end);
      // redacting the log must not touch the request the route reads.
      expect(answers[0]?.status).toBe(200);
      expect(answers[0]?.body).toMatch(/event: status\ndata: {"state":"unknown"[,}]/);
      const entries = lines.map((l) => JSON.parse(l));
      expect(entries.find((e) => e.req?.id === 'log-0').req.url).toBe(
        '/concerts/1/queue/events?access%5Ftoken=[Redacted]',
      );
      expect(entries.find((e) => e.req?.id === 'log-1').req.url).toBe(
        '/concerts/1/queue/events?x=1&ACCESS_TOKEN=[Redacted]&y=2',
      );
      expect(lines.join('\n')).not.toContain(token);
    });

    it('a problem body names the path, never the query string', async () => {
      const { base } = await instance();
      const token = await login(base, 'echo');
      const missing = await call(base, 'GET', '/concerts/999/queue/events?x=1', { token });
      expect(missing.status).toBe(404);
      expect(missing.body.instance).toBe('/concerts/999/queue/events');
      const route = await call(base, 'GET', `/nowhere?access_token=${token}`);
      expect(route.body.instance).toBe('/nowhere');
      expect(JSON.stringify([missing.body, route.body])).not.toContain(token);
    });
  });
  describe('stream tokens and logout (18.5)', () => {
    const claimsOf = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString());

    it('the SSE URL takes only a short stream token of that room; the header keeps the user token', async () => {
      const { base } = await instance();
      const user = await login(base, 'streamer');
      const issued = await call(base, 'POST', '/concerts/1/queue/stream-token', { token: user });
      expect(issued.status).toBe(200);
      expect(issued.headers.get('cache-control')).toBe('no-store');
      const stream = issued.body.token as string;
      const claims = claimsOf(stream);
      expect(claims).toMatchObject({ scope: 'queue_events', aud: 'concert-1', sub: claims.sub });
      expect(claims.sub).toBe(claimsOf(user).sub);
      expect(claims.exp - claims.iat).toBe(120);
      expect(Date.parse(issued.body.expiresAt)).toBe(claims.exp * 1000);

      const events = (query: string, headers: Record<string, string> = {}) =>
        call(base, 'GET', `/concerts/1/queue/events${query}`, { headers });
      // A user token in the URL is refused: a logged URL must not be worth a session.
      const userInUrl = await events(`?access_token=${user}`);
      expect(userInUrl).toMatchObject({ status: 401, body: { code: 'token-invalid' } });
      expect(JSON.stringify(userInUrl.body)).not.toContain(user);
      expect((await events(`?access_token=${stream}`)).status).toBe(200);
      expect((await events('', { authorization: `Bearer ${user}` })).status).toBe(200);
      // Not another room's, not an API credential.
      const otherRoom = await call(base, 'GET', `/concerts/2/queue/events?access_token=${stream}`);
      expect(otherRoom).toMatchObject({ status: 401, body: { code: 'token-invalid' } });
      expect((await call(base, 'GET', '/me', { token: stream })).status).toBe(401);
      expect((await call(base, 'POST', '/concerts/1/queue', { token: stream })).status).toBe(401);
      expect(
        (await call(base, 'POST', '/concerts/1/queue/stream-token', { token: stream })).status,
      ).toBe(401);
      // An expired one is refused (the page then fetches a new one).
      const short = new DemoAuth({ secret: SECRET, streamTtlSec: 1 });
      const expiring = await (await instance({ auth: short })).base;
      const soon = await streamToken(expiring, await login(expiring, 'brief'), 1);
      await new Promise((r) => setTimeout(r, 2100));
      const late = await call(expiring, 'GET', `/concerts/1/queue/events?access_token=${soon}`);
      expect(late).toMatchObject({ status: 401, body: { code: 'token-expired' } });
    });

    it('a logout revokes the user token and its stream tokens until the token would expire', async () => {
      const { base } = await instance();
      const user = await login(base, 'leaving');
      const other = await login(base, 'staying');
      const stream = await streamToken(base, user, 1);
      const key = `${redis.prefix}:${instances}:revoked-token:{${claimsOf(user).jti}}`;
      // A refused logout changes nothing.
      const forged = `${user.slice(0, -2)}xx`;
      expect((await call(base, 'POST', '/auth/logout', { token: forged })).status).toBe(401);
      expect(await redis.client.exists(key)).toBe(0);

      expect((await call(base, 'POST', '/auth/logout', { token: user })).status).toBe(204);
      const ttl = await redis.client.pttl(key);
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000 + 5000);
      for (const [method, path] of [
        ['GET', '/me'],
        ['POST', '/concerts/1/queue'],
        ['POST', '/concerts/1/queue/stream-token'],
        ['POST', '/auth/logout'],
      ] as const) {
        const res = await call(base, method, path, { token: user });
        expect(res, `${method} ${path}`).toMatchObject({
          status: 401,
          body: { code: 'token-revoked' },
        });
      }
      const events = await call(base, 'GET', `/concerts/1/queue/events?access_token=${stream}`);
      expect(events).toMatchObject({ status: 401, body: { code: 'token-revoked' } });
      expect((await call(base, 'GET', '/me', { token: other })).status).toBe(200);
    });
  });

  describe('abuse brakes (18.3)', () => {
    it('buckets IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
      expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
      expect(addressBucket('2001:0db8:0001:0002::9')).toBe('2001:db8:1:2::/64');
      expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
      expect(addressBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
      expect(addressBucket('::ffff:10.1.2.3')).toBe('10.1.2.3');
      expect(addressBucket('10.1.2.3')).toBe('10.1.2.3');
    });

    it('TRUST_PROXY: the login limit keys on the forwarded client, one bucket per IPv6 /64', async () => {
      const behind = await instance({ loginRateLimit: 2, trustProxy: 'loopback' });
      const from = (ip: string, name: string) =>
        call(behind.base, 'POST', '/auth/demo-login', {
          body: { name },
          headers: { 'x-forwarded-for': ip },
        });
      expect((await from('2001:db8:1:2::1', 'a')).status).toBe(200);
      expect((await from('2001:db8:1:2::2', 'b')).status).toBe(200);
      const third = await from('2001:db8:1:2:ffff::3', 'c');
      expect(third.status).toBe(429);
      expect(third.body.code).toBe('rate-limited');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another /64, and another client behind the same proxy: buckets of their own.
      expect((await from('2001:db8:1:3::1', 'd')).status).toBe(200);
      expect((await from('198.51.100.7', 'e')).status).toBe(200);
    });

    it('without TRUST_PROXY a forwarded address is not believed', async () => {
      const direct = await instance({ loginRateLimit: 1 });
      const from = (ip: string) =>
        call(direct.base, 'POST', '/auth/demo-login', {
          body: { name: 'x' },
          headers: { 'x-forwarded-for': ip },
        });
      expect((await from('198.51.100.1')).status).toBe(200);
      expect((await from('198.51.100.2')).status).toBe(429);
    });

    it('joins are limited per user and per address: 429 problem+json with Retry-After', async () => {
      const perUser = await instance({ queueRateLimits: { joinPerUser: 3 } });
      const alice = await login(perUser.base, 'alice');
      for (let i = 0; i < 3; i++) {
        expect(
          (await call(perUser.base, 'POST', '/concerts/1/queue', { token: alice })).status,
        ).toBe(200);
      }
      const over = await call(perUser.base, 'POST', '/concerts/1/queue', { token: alice });
      expect(over.status).toBe(429);
      expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(over.body).toMatchObject({ code: 'rate-limited', limit: 3 });
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another user from the same address is not braked by alice's budget.
      const bob = await login(perUser.base, 'bob');
      expect((await call(perUser.base, 'POST', '/concerts/1/queue', { token: bob })).status).toBe(
        200,
      );

      const perAddress = await instance({ queueRateLimits: { joinPerAddress: 2 } });
      const users = [];
      for (const name of ['u1', 'u2', 'u3']) users.push(await login(perAddress.base, name));
      const answers = [];
      for (const token of users) {
        answers.push((await call(perAddress.base, 'POST', '/concerts/2/queue', { token })).status);
      }
      expect(answers).toEqual([200, 200, 429]);
    });

    it('SSE stream opens are limited per user', async () => {
      const app = await instance({ queueRateLimits: { streamPerUser: 2 } });
      const carol = await login(app.base, 'carol');
      // Carol is not in line: each stream sends one status and ends.
      const stream = await streamToken(app.base, carol, 1);
      const open = () => call(app.base, 'GET', `/concerts/1/queue/events?access_token=${stream}`);
      expect((await open()).status).toBe(200);
      expect((await open()).status).toBe(200);
      const over = await open();
      expect(over.status).toBe(429);
      expect(over.body.code).toBe('rate-limited');
    });
  });

  describe('headers and operator endpoints (18.7)', () => {
    it('JSON answers carry the protective headers; a token answer is never cached', async () => {
      const { base } = await instance();
      const concerts = await call(base, 'GET', '/concerts');
      expect(concerts.headers.get('x-content-type-options')).toBe('nosniff');
      expect(concerts.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(concerts.headers.get('referrer-policy')).toBe('no-referrer');
      expect(concerts.headers.get('x-frame-options')).toBe('DENY');
      expect(concerts.headers.get('strict-transport-security')).toBeNull();
      const problem = await call(base, 'GET', '/concerts/999');
      expect(problem.headers.get('x-content-type-options')).toBe('nosniff');
      const token = await call(base, 'POST', '/auth/demo-login', { body: { name: 'cache' } });
      expect(token.headers.get('cache-control')).toBe('no-store');
      // The pages keep their own policy.
      const page = await call(base, 'GET', '/queue.html');
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    });

    it('HSTS only for HTTPS as a trusted proxy reports it', async () => {
      const behind = await instance({ trustProxy: 'loopback' });
      const https = await call(behind.base, 'GET', '/healthz', {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(https.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      const direct = await instance();
      const spoofed = await call(direct.base, 'GET', '/healthz', {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(spoofed.headers.get('strict-transport-security')).toBeNull();
    });

    it('METRICS_TOKEN puts /metrics and /stats behind a bearer token', async () => {
      const secret = 'metrics-token-0123456789';
      const guarded = await instance({ metricsToken: secret });
      for (const path of ['/metrics', '/stats']) {
        const none = await call(guarded.base, 'GET', path);
        expect(none.status).toBe(401);
        expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(none.body.code).toBe('token-missing');
        expect((await call(guarded.base, 'GET', path, { token: 'wrong' })).body.code).toBe(
          'token-invalid',
        );
        expect((await call(guarded.base, 'GET', path, { token: secret })).status).toBe(200);
      }
      const open = await instance();
      expect((await call(open.base, 'GET', '/metrics')).status).toBe(200);
    });
  });
});
