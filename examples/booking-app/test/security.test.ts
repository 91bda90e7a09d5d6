import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppDeps, createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, dbBackends, listen, SECRET, useDatabase } from './helpers.js';

// Issue 18: what a request may see or leave behind. None of it depends on the database engine.
const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const postgres = dbBackends[1] as (typeof dbBackends)[number];

describe('security of the HTTP surface', () => {
  const fixture = useDatabase(postgres, { seed: true });
  const redis = useRedis(standalone);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];
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
      redisPrefix: redis.prefix,
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
      const token = await login(base, 'logged');
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
      expect(answers[0]?.body).toMatch(/event: status\ndata: {"state":"unknown"}/);
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
      const missing = await call(base, 'GET', `/concerts/999/queue/events?access_token=${token}`);
      expect(missing.status).toBe(404);
      expect(missing.body.instance).toBe('/concerts/999/queue/events');
      const route = await call(base, 'GET', `/nowhere?access_token=${token}`);
      expect(route.body.instance).toBe('/nowhere');
      expect(JSON.stringify([missing.body, route.body])).not.toContain(token);
    });
  });
});
