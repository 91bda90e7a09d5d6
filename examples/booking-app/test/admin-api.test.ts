import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import {
  call,
  dbBackends,
  expectProblem,
  listen,
  SECRET,
  useDatabase,
  waitFor,
} from './helpers.js';
import { openSse } from './sse.js';

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];
const postgres = dbBackends[1] as (typeof dbBackends)[number];
const ADMIN = 'admin-token-0123456789';
const ROOM = '/admin/api/concerts/1/room';

// Issue #15: the operator API behind ADMIN_TOKEN. The rooms do not tick by themselves here: the
// test ticks them, so "not admitted while paused" is exact, not a matter of waiting.
describe('operator API (/admin/api)', () => {
  const fixture = useDatabase(postgres, { seed: true });
  const redis = useRedis(standalone);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  const instance = async (adminToken: string | undefined) => {
    const metrics = new AppMetrics({ defaultMetrics: false });
    const rooms = new ConcertRooms(redis.client, {
      secret: SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 2, admitPerTick: 2 },
      tick: false,
      logger: createLogger('silent'),
    });
    const app = createApp({
      db: fixture.db,
      redis: redis.client,
      auth,
      rooms,
      metrics,
      logger: createLogger('silent'),
      redisPrefix: redis.prefix,
      ...(adminToken && { adminToken }),
    });
    const http = await listen(app);
    opened.push({ close: () => rooms.close() }, http);
    const admin = (method: string, path: string, body?: unknown) =>
      call(http.base, method, path, { token: ADMIN, ...(body !== undefined && { body }) });
    return { base: http.base, rooms, metrics, admin };
  };

  const joinAs = async (base: string, name: string) => {
    const login = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    const token = login.body.token as string;
    const joined = await call(base, 'POST', '/concerts/1/queue', { token });
    expect(joined.body.state).toBe('waiting');
    return token;
  };

  it('ADMIN_TOKEN unset: every /admin/api route is 404, the page says how to turn it on', async () => {
    const { base, admin } = await instance(undefined);
    expectProblem(await admin('GET', '/admin/api'), 404, 'route-not-found');
    expectProblem(await admin('GET', ROOM), 404, 'route-not-found');
    expectProblem(await admin('POST', `${ROOM}/pause`), 404, 'route-not-found');
    expectProblem(await admin('PATCH', ROOM, { maxActive: 5 }), 404, 'route-not-found');
    expectProblem(await admin('GET', '/admin/api/concerts/1/live'), 404, 'route-not-found');
    const page = await fetch(`${base}/admin`);
    expect(page.status).toBe(404);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    expect(await page.text()).toContain('ADMIN_TOKEN');
  });

  it('401 problem+json without the token or with a wrong one; nothing changes', async () => {
    const { base, admin } = await instance(ADMIN);
    expect((await fetch(`${base}/admin`)).status).toBe(200);
    expectProblem(await call(base, 'GET', ROOM), 401, 'token-missing');
    const wrong = await call(base, 'POST', `${ROOM}/pause`, { token: `${ADMIN}x` });
    expectProblem(wrong, 401, 'token-invalid');
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
    const short = await call(base, 'GET', '/admin/api', { token: 'admin' });
    expectProblem(short, 401, 'token-invalid');
    expect((await admin('GET', ROOM)).body.paused).toBe(false);
    expect((await admin('GET', '/admin/api')).body).toEqual({ enabled: true });
    expectProblem(await admin('GET', '/admin/api/concerts/999/room'), 404, 'concert-not-found');
  });

  it('400 on a bad configure, with nothing stored; a good one shows in GET', async () => {
    const { admin } = await instance(ADMIN);
    const before = (await admin('GET', ROOM)).body.settings;
    expect(before).toEqual({ maxActive: 2, admitPerTick: 2, order: 'fifo' });
    // The package's RangeError: a valid maxActive beside an out-of-range admitPerTick stores neither.
    const range = await admin('PATCH', ROOM, { maxActive: 7, admitPerTick: 0 });
    expectProblem(range, 400, 'invalid-room-settings');
    expect(range.body.detail).toMatch(/admitPerTick/);
    expectProblem(await admin('PATCH', ROOM, { maxActive: 'ten' }), 400, 'validation-failed');
    expectProblem(await admin('PATCH', ROOM, { order: 'lifo' }), 400, 'validation-failed');
    expectProblem(await admin('PATCH', ROOM, { maxActive: 1.5 }), 400, 'validation-failed');
    expectProblem(await admin('PATCH', ROOM, { evictPerTick: 3 }), 400, 'validation-failed');
    expect((await admin('GET', ROOM)).body.settings).toEqual(before);

    const changed = await admin('PATCH', ROOM, { maxActive: 7, order: 'random' });
    expect(changed.status).toBe(200);
    expect(changed.body.settings).toEqual({ maxActive: 7, admitPerTick: 2, order: 'random' });
    expect((await admin('GET', ROOM)).body.settings).toEqual(changed.body.settings);
  });

  it('pause: ticks admit nobody; resume: the next tick admits', async () => {
    const { base, rooms, admin } = await instance(ADMIN);
    const paused = await admin('POST', `${ROOM}/pause`);
    expect(paused.body).toMatchObject({ paused: true, pausedBy: { operator: true } });
    const token = await joinAs(base, 'ada');
    for (let i = 0; i < 3; i++) await rooms.room(1).tick();
    expect((await call(base, 'GET', '/concerts/1/queue', { token })).body).toMatchObject({
      state: 'waiting',
      paused: true,
    });
    expect((await admin('GET', ROOM)).body).toMatchObject({ waiting: 1, active: 0, paused: true });

    const resumed = await admin('POST', `${ROOM}/resume`);
    expect(resumed.body).toMatchObject({
      resumed: true,
      paused: false,
      pausedBy: { operator: false },
    });
    await rooms.room(1).tick();
    expect((await call(base, 'GET', '/concerts/1/queue', { token })).body.state).toBe('active');
    expect((await admin('GET', ROOM)).body).toMatchObject({ waiting: 0, active: 1 });
  });

  it('the automatic resume (a seat freed) never undoes an operator pause', async () => {
    const { base, admin } = await instance(ADMIN);
    // Every AVAILABLE seat of concert 1 HELD by one reservation: not sold out, none available.
    const userId = (await call(base, 'POST', '/auth/demo-login', { body: { name: 'holder' } })).body
      .user.id as number;
    const { rows } = await fixture.db.query<{ id: string }>(
      `INSERT INTO reservations (user_id, concert_id, hold_id, fence, amount_cents, expires_at)
       VALUES ($1, 1, 'h', 1, 0, now() + interval '1 minute') RETURNING id`,
      [userId],
    );
    const reservation = rows[0]?.id;
    const holdAll = () =>
      fixture.db.query(
        `UPDATE seats SET status = 'HELD', reservation_id = $1
         WHERE concert_id = 1 AND status = 'AVAILABLE'`,
        [reservation],
      );
    const freeAll = () =>
      fixture.db.query(
        `UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL WHERE reservation_id = $1`,
        [reservation],
      );
    const room = () => admin('GET', ROOM).then((r) => r.body);
    await holdAll();
    // Reading the room reads the sale state (at most once a second): the app pauses the room.
    await waitFor(room, (r) => r.paused && r.pausedBy.noSeatAvailable);

    // The operator pauses too; then a seat comes back: the app's resume must not lift that pause.
    await admin('POST', `${ROOM}/pause`);
    await freeAll();
    const freed = await waitFor(room, (r) => !r.pausedBy.noSeatAvailable);
    expect(freed).toMatchObject({ paused: true, pausedBy: { operator: true } });
    await new Promise((resolve) => setTimeout(resolve, 300)); // let a (wrong) async resume land
    expect((await room()).paused).toBe(true);

    // The operator resumes while no seat is available: the room stays paused for that reason and
    // reopens by itself once a seat is free again.
    await holdAll();
    await waitFor(room, (r) => r.pausedBy.noSeatAvailable);
    const resumed = await admin('POST', `${ROOM}/resume`);
    expect(resumed.body).toMatchObject({
      resumed: false,
      paused: true,
      pausedBy: { operator: false },
    });
    await freeAll();
    await waitFor(room, (r) => !r.paused);
  });

  it('the live stream sends snapshots with seats and the counters', async () => {
    const { base, metrics } = await instance(ADMIN);
    metrics.reservations.inc({ outcome: 'seat-locked' }, 2);
    metrics.reservations.inc({ outcome: 'held' });
    metrics.payments.inc({ outcome: 'succeeded' }, 3);
    metrics.payments.inc({ outcome: 'declined' });
    const refused = await openSse(`${base}/admin/api/concerts/1/live`);
    expect(refused.status).toBe(401);
    await refused.close();
    const stream = await openSse(`${base}/admin/api/concerts/1/live`, {
      authorization: `Bearer ${ADMIN}`,
    });
    opened.push({ close: () => stream.close() });
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const first = await stream.next((e) => e.event === 'snapshot');
    expect(first.data).toMatchObject({
      concertId: 1,
      waiting: 0,
      active: 0,
      paused: false,
      settings: { maxActive: 2, admitPerTick: 2, order: 'fifo' },
      // Aurora Live: 50 seats, E9 and E10 BLOCKED.
      seats: { total: 50, available: 48, held: 0, sold: 0, blocked: 2, left: 48 },
      payments: { succeeded: 3, declined: 1 },
      reservations: { 'seat-locked': 2, held: 1 },
      reservationConflicts: 2,
    });
    expect(first.data.waitMs).toMatchObject({ p50: null, p90: null });
    const second = await stream.next((e) => e.event === 'snapshot' && e !== first, 5000);
    expect(Date.parse(second.data.at)).toBeGreaterThan(Date.parse(first.data.at));
  });
});
