import {
  deleteByPrefix,
  randomPrefix,
  redisTargets,
  useRedis,
} from '@boxoffice/local-redis/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { Seat, SeatLayout } from '../src/concerts/concert-repository.js';
import { ConcertRepository } from '../src/concerts/concert-repository.js';
import { SeatMapCache } from '../src/concerts/seat-map-cache.js';
import type { Database } from '../src/db/database.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { call, dbBackends, POSTGRES_URL, randomSchema, useDatabase, waitFor } from './helpers.js';
import { killServers, start, stopped } from './server-process.js';

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const CONCERT = 1; // Aurora Live: 50 seats, E9 and E10 BLOCKED
const CACHE_MS = 300;
const LETTER = { AVAILABLE: 'A', HELD: 'H', ASSIGNED: 'S', BLOCKED: 'B' } as const;

type Layout = SeatLayout & { version: string };
type FullSeat = Seat;

const flatten = (layout: Layout) =>
  layout.rows.flatMap((r) =>
    r.ids.map((id, i) => ({
      id,
      section: r.section,
      row: r.row,
      number: r.numbers[i],
      label: r.labels[i],
      price: r.prices[i],
    })),
  );

// The compact seat map over real HTTP against the built server (one process for the file, with a
// short status cache so the staleness bound is quick to see).
describe('compact seat map (dist/server.js)', () => {
  const redis = useRedis(standalone);
  const schema = randomSchema();
  // The server lives for the whole file: its own prefix (useRedis gives one per test, set later).
  const prefix = randomPrefix();
  let server: Awaited<ReturnType<typeof start>>;
  let base = '';

  beforeAll(async () => {
    const { standaloneUrl } = inject('boxofficeRedis') as { standaloneUrl: string };
    server = await start({
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: standaloneUrl,
      REDIS_PREFIX: prefix,
      JWT_SECRET: 'seat-map-test-secret-seat-map-test-secret',
      QUEUE_TICK_MS: '100',
      SEAT_STATUS_CACHE_MS: String(CACHE_MS),
    });
    base = server.url;
  });
  afterAll(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await stopped(server.child);
    }
    killServers();
    await deleteByPrefix(redis.client, prefix);
    const admin = await PgDatabase.open({ url: POSTGRES_URL });
    await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await admin.close();
  });

  /** Log in, join the room and wait for admission; the queue_entry token. */
  const admitted = async (name: string) => {
    const login = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    const user = login.body.token as string;
    expect((await call(base, 'POST', `/concerts/${CONCERT}/queue`, { token: user })).status).toBe(
      200,
    );
    const active = await waitFor(
      async () => (await call(base, 'GET', `/concerts/${CONCERT}/queue`, { token: user })).body,
      (s) => s.state === 'active',
    );
    return active.token as string;
  };

  it('layout + status match the full form seat by seat; the layout is cacheable, with a 304', async () => {
    const [full, layoutRes, statusRes] = await Promise.all([
      call(base, 'GET', `/concerts/${CONCERT}`),
      call(base, 'GET', `/concerts/${CONCERT}/seats/layout`),
      call(base, 'GET', `/concerts/${CONCERT}/seats/status`),
    ]);
    expect(layoutRes.status).toBe(200);
    expect(layoutRes.headers.get('content-type')).toMatch(/^application\/json/);
    expect(layoutRes.headers.get('cache-control')).toBe('public, max-age=3600');
    const layout = layoutRes.body as Layout;
    expect(layoutRes.headers.get('etag')).toBe(`"${layout.version}"`);
    expect(layout.concert).toMatchObject({ id: CONCERT, name: 'Aurora Live', seatCount: 50 });
    expect(layout.concert).not.toHaveProperty('availableCount');

    expect(statusRes.status).toBe(200);
    expect(statusRes.headers.get('cache-control')).toBe('no-cache');
    const status = statusRes.body;
    expect(statusRes.headers.get('etag')).toBe(`"${status.version}"`);
    expect(status).toMatchObject({
      concertId: CONCERT,
      layout: layout.version,
      maxStalenessMs: 2 * CACHE_MS,
      seatCount: 50,
      availableCount: 48,
    });
    expect(status.codes).toMatch(/^[AHSB]{50}$/);

    const seats = flatten(layout);
    const fullSeats = full.body.seats as FullSeat[];
    expect(seats).toHaveLength(fullSeats.length);
    fullSeats.forEach((s, i) => {
      expect(seats[i]).toEqual({
        id: s.id,
        section: s.section,
        row: s.row,
        number: s.number,
        label: s.label,
        price: s.price,
      });
      expect(status.codes[i], s.label).toBe(LETTER[s.status]);
    });

    const again = await call(base, 'GET', `/concerts/${CONCERT}/seats/layout`, {
      headers: { 'if-none-match': layoutRes.headers.get('etag') as string },
    });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.get('etag')).toBe(layoutRes.headers.get('etag'));
  });

  it('304 while nothing changes; a stale map never decides: the reservation path answers 409; a new ETag within the cache bound', async () => {
    const layout = (await call(base, 'GET', `/concerts/${CONCERT}/seats/layout`)).body as Layout;
    const seats = flatten(layout);
    const before = await call(base, 'GET', `/concerts/${CONCERT}/seats/status`);
    const etag = before.headers.get('etag') as string;
    const notModified = await call(base, 'GET', `/concerts/${CONCERT}/seats/status`, {
      headers: { 'if-none-match': `W/"other", ${etag}` },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('cache-control')).toBe('no-cache');

    // Bob's map (just fetched) shows B3 free; Alice holds it; Bob still tries from his map.
    const index = seats.findIndex((s) => s.label === 'B3');
    expect(before.body.codes[index]).toBe('A');
    const [alice, bob] = await Promise.all([admitted('seatmap-alice'), admitted('seatmap-bob')]);
    const seatId = seats[index]?.id as number;
    const held = await call(base, 'POST', `/concerts/${CONCERT}/reservations`, {
      token: alice,
      body: { seatIds: [seatId] },
    });
    expect(held.status).toBe(201);
    const refused = await call(base, 'POST', `/concerts/${CONCERT}/reservations`, {
      token: bob,
      body: { seatIds: [seatId] },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('seat-locked');

    // Within the cache bound (+ one query), the status shows B3 HELD under a new ETag.
    const heldAt = Date.now();
    let last: Awaited<ReturnType<typeof call>> | undefined;
    try {
      await waitFor(
        async () =>
          (last = await call(base, 'GET', `/concerts/${CONCERT}/seats/status`, {
            headers: { 'if-none-match': etag },
          })),
        (res) => res.status === 200,
        CACHE_MS + 5_000,
      );
    } catch (e) {
      throw new Error(
        `still pending after ${Date.now() - heldAt} ms: a 200 with a new ETag (last answer ${last?.status} ${last?.headers.get('etag')}, was ${etag})`,
        { cause: e },
      );
    }
    const changed = last as Awaited<ReturnType<typeof call>>;
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.body.codes[index]).toBe('H');
    expect(changed.body.availableCount).toBe(before.body.availableCount - 1);
  });

  it('404 problem for an unknown concert, 400 for a malformed id', async () => {
    for (const path of ['layout', 'status']) {
      const missing = await call(base, 'GET', `/concerts/999999/seats/${path}`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(missing.body).toMatchObject({ status: 404, code: 'concert-not-found' });
      for (const id of ['abc', '0', '1.5', '99999999999']) {
        const bad = await call(base, 'GET', `/concerts/${id}/seats/${path}`);
        expect(bad.status).toBe(400);
        expect(bad.body).toMatchObject({ code: 'validation-failed' });
        expect(bad.body.errors[0].field).toBe('params.id');
      }
    }
  });
});

describe('SeatMapCache', () => {
  const fixture = useDatabase(dbBackends[0] as (typeof dbBackends)[number], { seed: true });

  /** The repository on a database that counts its queries; each waits for `gate` first. */
  const counted = () => {
    const queries: string[] = [];
    const control = { gate: Promise.resolve() };
    const db = new Proxy(fixture.db, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== 'query') return typeof value === 'function' ? value.bind(target) : value;
        return async (sql: string, params?: unknown[]) => {
          queries.push(sql);
          await control.gate;
          return target.query(sql, params);
        };
      },
    }) as Database;
    return { repo: new ConcertRepository(db), queries, control };
  };

  it('serves the previous answer while the next query runs, up to twice the TTL; then waits', async () => {
    const { repo, queries, control } = counted();
    const statusQueries = () => queries.filter((q) => q.includes('string_agg')).length;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const cache = new SeatMapCache(repo, { statusTtlMs: 1_000 });
      const first = await cache.status(CONCERT);
      expect(statusQueries()).toBe(1);
      // The next query is held back, as a query waiting for a database connection under load.
      let open = () => {};
      control.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const settledWithin = async (p: Promise<unknown>) =>
        Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
      vi.setSystemTime(1_001_500); // older than the TTL, younger than twice it
      const stale = cache.status(CONCERT);
      expect(await settledWithin(stale)).toBe(true);
      expect((await stale)?.etag).toBe(first?.etag);
      expect(await cache.status(CONCERT)).toBe(first);
      expect(statusQueries()).toBe(2); // one query in flight, started by the first stale request
      vi.setSystemTime(1_002_000); // twice the TTL: requests wait for the query
      const waiting = cache.status(CONCERT);
      expect(await settledWithin(waiting)).toBe(false);
      open();
      expect((await waiting)?.etag).toBe(first?.etag); // nothing changed in the database
      expect(statusQueries()).toBe(2);
      expect(cache.maxStalenessMs).toBe(2_000);
    } finally {
      vi.useRealTimers();
    }
  });

  it('one status query per TTL, shared by concurrent requests; the layout once', async () => {
    const { repo, queries } = counted();
    const cache = new SeatMapCache(repo, { statusTtlMs: 60_000 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.status(CONCERT)));
    expect(new Set(answers.map((a) => a?.etag)).size).toBe(1);
    await cache.status(CONCERT);
    await cache.layout(CONCERT);
    const statusQueries = queries.filter((q) => q.includes('string_agg'));
    expect(statusQueries).toHaveLength(1);
    expect(queries).toHaveLength(3); // the status query, and the layout's two

    // TTL 0: every request after the previous one settled queries again.
    const fresh = new SeatMapCache(repo, { statusTtlMs: 0 });
    await fresh.status(CONCERT);
    await fresh.status(CONCERT);
    expect(queries.filter((q) => q.includes('string_agg'))).toHaveLength(3);
    expect(await fresh.status(424242)).toBeNull();
    expect(() => new SeatMapCache(repo, { statusTtlMs: -1 })).toThrow(/statusTtlMs/);
  });
});
