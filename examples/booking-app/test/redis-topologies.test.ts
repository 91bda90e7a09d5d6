import { masters } from '@boxoffice/internal';
import { startSentinelGroup } from '@boxoffice/local-redis';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { type BookingOutcome, bookSeats, FlowError, firstAvailable } from './booking-flow.js';
import { call, count, POSTGRES_URL, randomSchema, SECRET, waitFor } from './helpers.js';
import { invariantViolations, readInvariants } from './invariants.js';
import { killServers, start, stopped } from './server-process.js';

afterEach(killServers);

const cluster = redisTargets()[1] as ReturnType<typeof redisTargets>[number];
const fastFlow = {
  JWT_SECRET: SECRET,
  QUEUE_TICK_MS: '100',
  PG_LATENCY_MS: '5',
  LOG_LEVEL: 'error',
};

/** A PostgreSQL schema the server processes share and the test reads; dropped afterwards. */
async function withSchema(fn: (db: Database, env: Record<string, string>) => Promise<void>) {
  const schema = randomSchema();
  const db = await PgDatabase.open({ url: POSTGRES_URL, schema });
  try {
    await fn(db, { DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema });
  } finally {
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await db.close();
  }
}

describe('dist/server.js on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  const redis = useRedis(cluster);

  it('two instances book and pay through the 3-master cluster', async () => {
    const { clusterNodes } = inject('boxofficeRedis');
    await withSchema(async (db, dbEnv) => {
      const env = {
        ...dbEnv,
        ...fastFlow,
        REDIS_CLUSTER_NODES: clusterNodes.map((n) => `${n.host}:${n.port}`).join(','),
        REDIS_PREFIX: redis.prefix,
      };
      const a = await start(env);
      const b = await start(env);
      expect((await call(a.url, 'GET', '/')).body.redis).toMatch(/^cluster /);
      // Six users on two instances, two seats each; the last wants the first user's (sold: 400).
      const seats = await firstAvailable(a.url, 1, 10);
      const wanted = [0, 1, 2, 3, 4, 0].map((u) => seats.slice(2 * u, 2 * u + 2));
      const first = await bookSeats(a.url, 'c0', 1, wanted[0]);
      const outcomes = await Promise.all(
        wanted.slice(1).map((ids, i) => bookSeats(i % 2 ? a.url : b.url, `c${i + 1}`, 1, ids)),
      );
      expect([first, ...outcomes].map((o) => [o.reserveStatus, o.payStatus])).toEqual([
        [201, 201],
        [201, 201],
        [201, 201],
        [201, 201],
        [201, 201],
        [400, 0],
      ]);
      expect(
        await count(db, "SELECT count(*) FROM seats WHERE concert_id = 1 AND status = 'ASSIGNED'"),
      ).toBe(10);
      expect(invariantViolations(await readInvariants(db))).toEqual([]);
      // The keys really are spread over the masters (hash tags per resource, not one slot for all).
      const perMaster = await Promise.all(
        masters(redis.client).map(async (m) => (await m.keys(`${redis.prefix}*`)).length),
      );
      expect(perMaster.filter((n) => n > 0).length).toBeGreaterThan(1);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect([await stopped(a.child), await stopped(b.child)]).toEqual([0, 0]);
    });
  });
});

describe('dist/server.js behind Redis Sentinel (REDIS_SENTINELS)', () => {
  it('keeps booking through a failover: 503 + Retry-After at worst, resumes, sells nothing twice', async () => {
    const group = await startSentinelGroup();
    try {
      await withSchema(async (db, dbEnv) => {
        const env = {
          ...dbEnv,
          ...fastFlow,
          REDIS_SENTINELS: group.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
          REDIS_SENTINEL_NAME: group.masterName,
          LOG_LEVEL: 'warn',
        };
        const server = await start(env);
        expect((await call(server.url, 'GET', '/')).body.redis).toMatch(/^sentinel bo-master/);
        expect(await bookSeats(server.url, 'before', 1)).toMatchObject({
          reserveStatus: 201,
          payStatus: 201,
        });

        // Users keep booking while the master is switched; record every outcome.
        let running = true;
        const outcomes: (BookingOutcome | FlowError)[] = [];
        const load = (async () => {
          for (let i = 0; running; i++) {
            outcomes.push(
              await bookSeats(server.url, `during-${i}`, 1).catch((e: unknown) => {
                if (e instanceof FlowError) return e;
                throw e;
              }),
            );
          }
        })();
        const switched = await group.failover();
        // From the moment Sentinel switched: how long until a full booking succeeds again.
        const resumed = Date.now();
        const after = await waitFor(
          () => bookSeats(server.url, `after-${Date.now()}`, 1).catch(() => null),
          (o) => o?.reserveStatus === 201 && o.payStatus === 201,
          30_000,
        );
        const resumeMs = Date.now() - resumed;
        running = false;
        await load;
        expect(after?.seatIds.length).toBe(1);

        // While the master moved, a request failed as 503 (problem+json, Retry-After) or not at
        // all: never a 500, never a hang (bookSeats would throw a plain Error on a timeout).
        const failed = outcomes.filter((o) => o instanceof FlowError);
        for (const { response } of failed) {
          expect(response.status).toBe(503);
          expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        }
        const statuses = outcomes.flatMap((o) =>
          o instanceof FlowError ? [o.response.status] : [o.reserveStatus, o.payStatus],
        );
        expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
        const ready = await call(server.url, 'GET', '/readyz');
        expect(ready.status).toBe(200);
        const invariants = await readInvariants(db);
        expect(invariantViolations(invariants)).toEqual([]);
        console.log(
          `[sentinel failover] ${switched.from.port} -> ${switched.to.port} in ${switched.elapsedMs} ms ` +
            `(Sentinel); booking flow succeeded again ${resumeMs} ms later; ` +
            `${outcomes.length} flows during the switch, statuses ${JSON.stringify(countBy(statuses))}; ` +
            `invariants ${JSON.stringify(invariants)}`,
        );
        server.child.kill('SIGTERM');
        expect(await stopped(server.child)).toBe(0);
        // Shutdown bounds each part's close (5 s); say which one hung, if any did.
        const stuck = server
          .output()
          .split('\n')
          .filter((l) => l.includes('did not close in time'));
        if (stuck.length) console.log(`[sentinel failover] slow shutdown: ${stuck.join(' | ')}`);
      });
    } finally {
      await group.stop();
    }
  }, 90_000);
});

const countBy = (values: number[]) =>
  values.reduce<Record<number, number>>((acc, v) => {
    acc[v] = (acc[v] ?? 0) + 1;
    return acc;
  }, {});
