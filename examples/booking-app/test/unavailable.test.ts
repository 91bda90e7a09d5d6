import { connect, createServer, type Socket } from 'node:net';
import { IdempotencyStore, IdempotencyStoreUnavailableError } from '@boxoffice/idempotency';
import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import { AccessTokens, QueueRedisError, WaitingRoom } from '@boxoffice/queue';
import { SeatLock, SeatLockRedisError } from '@boxoffice/seat-lock';
import { CountMinSketch, SketchRedisError } from '@boxoffice/sketch';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import type { Database } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { PgliteDatabase } from '../src/db/pglite-database.js';
import { seedDemoData } from '../src/db/seed.js';
import { DatabaseUnavailableError, RedisUnavailableError } from '../src/errors.js';
import { redisUnavailable } from '../src/http/redis-failure.js';

const SECRET = 'unavailable-test-secret-0123456789';

import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, count, listen, POSTGRES_URL, randomSchema, useDatabase } from './helpers.js';

const auth = new DemoAuth({ secret: 'unavailable-test-secret-0123456789' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

/** A TCP proxy to PostgreSQL that the test can cut, like a database failover or network split. */
async function pgProxy() {
  const target = new URL(POSTGRES_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(POSTGRES_URL);
  url.port = String(port);
  return {
    url: url.toString(),
    cut: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

async function appOn(
  db: Database,
  redis: Parameters<typeof createApp>[0]['redis'],
  redisPrefix: string,
) {
  const http = await listen(
    createApp({
      db,
      redis,
      redisPrefix,
      auth,
      logger: createLogger('silent'),
      metrics: new AppMetrics({ defaultMetrics: false }),
      readinessTimeoutMs: 3000,
    }),
  );
  cleanups.push(() => http.close());
  return http;
}

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];

describe('database down', () => {
  const redis = useRedis(standalone);

  it('PostgreSQL unreachable: 503 + Retry-After on data routes and /readyz', async () => {
    const proxy = await pgProxy();
    cleanups.push(() => proxy.cut());
    const schema = randomSchema();
    const db = await PgDatabase.open({ url: proxy.url, schema, connectTimeoutMs: 2000 });
    cleanups.push(async () => {
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    });
    cleanups.push(() => db.close());
    await migrate(db);
    await seedDemoData(db);
    const http = await appOn(db, redis.client, redis.prefix);
    expect((await call(http.base, 'GET', '/concerts')).status).toBe(200);

    await proxy.cut();
    for (const path of ['/concerts', '/concerts/1', '/products', '/products/popular/exact']) {
      const res = await call(http.base, 'GET', path);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'database-unavailable', service: 'database' });
    }
    const login = await call(http.base, 'POST', '/auth/demo-login', { body: { name: 'x' } });
    expect(login.status).toBe(503);
    const ready = await call(http.base, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    expect(ready.body).toMatchObject({ code: 'not-ready', checks: { redis: 'ok' } });
    expect(ready.body.checks.database).not.toBe('ok');
  });

  it('PGlite closed: DatabaseUnavailableError, 503 database-unavailable', async () => {
    const db = await PgliteDatabase.open();
    await migrate(db);
    const http = await appOn(db, redis.client, redis.prefix);
    expect((await call(http.base, 'GET', '/concerts')).status).toBe(200);
    await db.close();
    await expect(db.ping()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(db.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    const res = await call(http.base, 'GET', '/concerts');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('database-unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
  });
});

describe.each(redisTargets())('Redis down ($name)', (target) => {
  const redis = useRedis(target);

  // PostgreSQL here: the database is not what this block is about, and it starts in no time.
  const database = useDatabase({ name: 'postgres' });

  it('/readyz answers 503 naming Redis while the database is fine', async () => {
    const db = database.db;
    const client = redis.connect();
    await client.ping();
    const http = await appOn(db, client, redis.prefix);
    expect((await call(http.base, 'GET', '/readyz')).status).toBe(200);

    client.disconnect();
    const ready = await call(http.base, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    expect(ready.body).toMatchObject({ code: 'not-ready', checks: { database: 'ok' } });
    expect(ready.body.checks.redis).not.toBe('ok');
    const metrics = (await call(http.base, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/boxoffice_dependency_up\{dependency="redis"\} 0/);
    // Routes that do not need Redis keep working.
    expect((await call(http.base, 'GET', '/concerts')).status).toBe(200);
    // A route that needs Redis (the login rate limit) answers 503, never lets traffic through.
    const login = await call(http.base, 'POST', '/auth/demo-login', { body: { name: 'x' } });
    expect(login.status).toBe(503);
    expect(login.headers.get('retry-after')).toBe('1');
    expect(login.body).toMatchObject({ code: 'redis-unavailable', service: 'redis' });
    expect(await count(db, "SELECT count(*) FROM users WHERE name = 'x'")).toBe(0);
  });

  it('classifies the error a dead client throws as RedisUnavailableError (→ 503)', async () => {
    const client = redis.connect();
    await client.ping();
    client.disconnect();
    const error = await client.get(`${redis.prefix}:x`).catch((e: unknown) => e);
    const mapped = redisUnavailable(error);
    expect(mapped).toBeInstanceOf(RedisUnavailableError);
    expect(mapped?.status).toBe(503);
    // A command error is not an outage.
    const wrong = await redis.client.call('NO_SUCH_COMMAND').catch((e: unknown) => e);
    expect(redisUnavailable(wrong)).toBeNull();
    // Nor is an error that merely mentions what an outage says.
    expect(redisUnavailable(new Error('ECONNREFUSED Connection is closed.'))).toBeNull();
  });
});

describe('Redis failures of the packages', () => {
  it("maps each package's typed Redis failure by kind, never by message", async () => {
    const dead = await unreachableClient();
    cleanups.push(async () => dead.disconnect());
    const failures = await Promise.all([
      new SeatLock(dead).tryAcquire(['A1']).catch((e: unknown) => e),
      new WaitingRoom(dead, {
        roomId: 'r',
        tokens: new AccessTokens({ secret: SECRET, issuer: 'test' }),
        maxActive: 1,
      })
        .join('alice')
        .catch((e: unknown) => e),
      new IdempotencyStore(dead).claim('k').catch((e: unknown) => e),
      new CountMinSketch(dead, { key: 'c' }).estimate('a').catch((e: unknown) => e),
    ]);
    const types = [
      SeatLockRedisError,
      QueueRedisError,
      IdempotencyStoreUnavailableError,
      SketchRedisError,
    ];
    failures.forEach((failure, i) => {
      expect(failure).toBeInstanceOf(types[i]);
      expect(failure).toMatchObject({ kind: 'unavailable' });
      const mapped = redisUnavailable(failure);
      expect(mapped).toBeInstanceOf(RedisUnavailableError);
      expect(mapped?.status).toBe(503);
      expect(mapped?.cause).toBe(failure);
    });
    // An error reply (a bug) is not an outage, whichever package reports it.
    expect(redisUnavailable(new SeatLockRedisError('acquire', 'script', 'WRONGTYPE'))).toBeNull();
    expect(redisUnavailable(new QueueRedisError('visit', 'script', 'ERR'))).toBeNull();
    expect(redisUnavailable(new SketchRedisError('add', 'timeout', 'no answer'))?.status).toBe(503);
  });
});
