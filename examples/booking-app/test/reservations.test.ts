import { useRedis } from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import type { ReservationService } from '../src/concerts/reservations/reservation-service.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import { EventLog } from '../src/events/event-log.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, count, flowCombos, listen, SECRET, useDatabase, waitFor } from './helpers.js';

const combos = flowCombos();

describe.each(combos)('reservations on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  /** One app instance with its own Redis client, rooms (no ticker: tests tick) and holds. */
  const instance = async (options: { ttlMs?: number; graceMs?: number; expiry?: boolean } = {}) => {
    const client = redis.connect();
    const logger = createLogger('silent');
    const rooms = new ConcertRooms(client, {
      secret: SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 100, admitPerTick: 100 },
      tick: false,
      logger,
    });
    const holds = new SeatHolds(client, {
      prefix: redis.prefix,
      ttlMs: options.ttlMs ?? 300_000,
      graceMs: options.graceMs ?? 10_000,
      sweepIntervalMs: 500,
    });
    const app = createApp({
      db: fixture.db,
      redis: client,
      auth,
      rooms,
      holds,
      metrics: new AppMetrics({ defaultMetrics: false }),
      logger,
      redisPrefix: redis.prefix,
    });
    if (options.expiry) (app.locals.reservations as ReservationService).startExpiry();
    const http = await listen(app);
    opened.push({ close: () => holds.close() }, { close: () => rooms.close() }, http);
    return { base: http.base, rooms };
  };

  const login = async (base: string, name: string) => {
    const res = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    expect(res.status).toBe(200);
    return res.body.token as string;
  };

  /** Join the concert's room, run a tick, and return the queue_entry token. */
  const admit = async (base: string, rooms: ConcertRooms, user: string, concertId = 1) => {
    expect((await call(base, 'POST', `/concerts/${concertId}/queue`, { token: user })).status).toBe(
      200,
    );
    await rooms.room(concertId).tick();
    const status = await call(base, 'GET', `/concerts/${concertId}/queue`, { token: user });
    expect(status.body.state).toBe('active');
    return status.body.token as string;
  };

  const seatIds = async (base: string, labels: string[], concertId = 1) => {
    const map = await call(base, 'GET', `/concerts/${concertId}`);
    return labels.map(
      (l) => (map.body.seats as { id: number; label: string }[]).find((s) => s.label === l)?.id,
    ) as number[];
  };

  const seatRow = async (id: number) =>
    (
      await fixture.db.query<{ status: string; reservation_id: string | null; fence: string }>(
        'SELECT status, reservation_id, fence::text FROM seats WHERE id = $1',
        [id],
      )
    ).rows[0];

  it('201: seats locked and HELD with the reservation in one go, and a payment token', async () => {
    const { base, rooms } = await instance();
    const alice = await login(base, 'alice');
    const entry = await admit(base, rooms, alice);
    const [a1, a2] = await seatIds(base, ['A1', 'A2']);
    const res = await call(base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [a1, a2] },
    });
    expect(res.status).toBe(201);
    const { reservation, paymentToken } = res.body;
    expect(reservation).toMatchObject({
      concertId: 1,
      seatIds: [a1, a2],
      status: 'HELD',
      amount: 30_000,
      currency: 'USD',
    });
    expect(res.headers.get('location')).toBe(`/reservations/${reservation.id}`);
    const expiresAt = Date.parse(reservation.expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(250_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(300_000 + 5000);

    const claims = await rooms.tokens.verify(paymentToken, {
      scope: 'seat_reservation_payment',
      audience: 'concert-1',
    });
    expect(claims.payload).toMatchObject({ reservationId: reservation.id, seatIds: [a1, a2] });
    // JWT times are whole seconds: the token's UI expiry is the hold's, rounded down.
    expect(expiresAt - claims.expiresAt).toBeGreaterThanOrEqual(0);
    expect(expiresAt - claims.expiresAt).toBeLessThan(1000);
    expect(claims.exp - claims.expiresAt).toBeGreaterThanOrEqual(10_000);
    expect(claims.exp - claims.expiresAt).toBeLessThanOrEqual(11_000);

    for (const id of [a1, a2] as number[]) {
      const row = await seatRow(id);
      expect(row).toMatchObject({ status: 'HELD', reservation_id: reservation.id });
      expect(Number(row?.fence)).toBeGreaterThan(0);
    }
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM reservations WHERE status = 'HELD' AND hold_id = $1",
        [reservation.holdId],
      ),
    ).toBe(1);
    const map = await call(base, 'GET', '/concerts/1');
    expect(map.body.seats.find((s: { id: number }) => s.id === a1).status).toBe('HELD');

    const mine = await call(base, 'GET', `/reservations/${reservation.id}`, { token: alice });
    expect(mine.body.reservation).toMatchObject({ id: reservation.id, seatIds: [a1, a2] });
    const bob = await login(base, 'bob');
    expect(
      (await call(base, 'GET', `/reservations/${reservation.id}`, { token: bob })).status,
    ).toBe(404);
    const [event] = await new EventLog(fixture.db).recent('reservation.attempted', 1);
    expect(event).toMatchObject({ outcome: 'success', subject: `reservation:${reservation.id}` });
  });

  it('401/403 token rules, 404 unknown seat, 400 BLOCKED/ASSIGNED and bad input', async () => {
    const { base, rooms } = await instance();
    const alice = await login(base, 'alice');
    const [a1, e9, b1] = await seatIds(base, ['A1', 'E9', 'B1']);
    const [other] = await seatIds(base, ['A1'], 2);
    const reserve = (token: string | undefined, body: unknown, concert = 1) =>
      call(base, 'POST', `/concerts/${concert}/reservations`, { token, body });

    const missing = await reserve(undefined, { seatIds: [a1] });
    expect(missing.status).toBe(401);
    expect(missing.body.code).toBe('token-missing');
    // The app's problem shape, as its error handler gives every other refusal.
    expect(missing.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(missing.body).toEqual({
      type: 'urn:boxoffice:problem:token-missing',
      code: 'token-missing',
      status: 401,
      title: 'Authentication required',
      detail: 'send Authorization: Bearer <token>',
      instance: '/concerts/1/reservations',
      requestId: expect.any(String),
    });
    const basic = await call(base, 'POST', '/concerts/1/reservations', {
      headers: { authorization: 'Basic abc' },
      body: { seatIds: [a1] },
    });
    expect(basic.body).toMatchObject({ status: 401, code: 'token-invalid' });
    expect((await reserve('garbage', { seatIds: [a1] })).body).toMatchObject({
      type: 'urn:boxoffice:problem:token-invalid',
      status: 401,
      title: 'A valid access token is required',
    });
    // The user token is not a queue_entry token (another key, another issuer): not admitted.
    expect((await reserve(alice, { seatIds: [a1] })).body).toMatchObject({
      status: 401,
      code: 'not-admitted',
    });
    const entry = await admit(base, rooms, alice);
    const elsewhere = await reserve(entry, { seatIds: [other] }, 2);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.code).toBe('token-forbidden');
    expect((await reserve(entry, { seatIds: [a1] }, 999)).body.code).toBe('concert-not-found');

    expect((await reserve(entry, { seatIds: [a1, 999_999] })).body).toMatchObject({
      status: 404,
      code: 'seat-not-found',
    });
    // A seat of concert 2 is not a seat of concert 1.
    expect((await reserve(entry, { seatIds: [other] })).status).toBe(404);
    const blocked = await reserve(entry, { seatIds: [a1, e9] });
    expect(blocked.status).toBe(400);
    expect(blocked.body).toMatchObject({
      code: 'seat-unavailable',
      seatId: e9,
      seatStatus: 'BLOCKED',
    });
    await fixture.db.query(
      `WITH r AS (INSERT INTO reservations (user_id, concert_id, status, fence, amount_cents, expires_at)
                  SELECT id, 1, 'CONFIRMED', 1, 0, now() FROM users WHERE name = 'alice' RETURNING id)
       UPDATE seats SET status = 'ASSIGNED', reservation_id = (SELECT id FROM r) WHERE id = $1`,
      [b1],
    );
    expect((await reserve(entry, { seatIds: [b1] })).body).toMatchObject({
      status: 400,
      seatStatus: 'ASSIGNED',
    });
    for (const body of [{}, { seatIds: [] }, { seatIds: [a1, a1] }, { seatIds: ['x'] }]) {
      const bad = await reserve(entry, body);
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toMatch(/^body\.seatIds/);
    }
    expect(
      (await call(base, 'GET', '/concerts/1')).body.seats.find((s: { id: number }) => s.id === a1)
        .status,
    ).toBe('AVAILABLE');

    // Leaving the room revokes the queue_entry token at once.
    await call(base, 'DELETE', '/concerts/1/queue', { token: alice });
    const revoked = await reserve(entry, { seatIds: [a1] });
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe('token-revoked');
    const failures = await new EventLog(fixture.db).recent('reservation.attempted', 20);
    expect(failures.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['seat-not-found', 'seat-unavailable']),
    );
  });

  it('409 when a seat is locked; all or nothing; racing users never share a seat', async () => {
    const { base, rooms } = await instance();
    const labels = ['C1', 'C2', 'C3', 'C4', 'C5', 'C6'];
    const ids = await seatIds(base, labels);
    const users = await Promise.all(Array.from({ length: 10 }, (_, i) => login(base, `racer${i}`)));
    const entries = [];
    for (const u of users) entries.push(await admit(base, rooms, u));
    // Overlapping pairs: (C1,C2), (C2,C3), ... so winners exclude each other.
    const results = await Promise.all(
      entries.map((t, i) =>
        call(base, 'POST', '/concerts/1/reservations', {
          token: t,
          body: { seatIds: [ids[i % 5], ids[(i % 5) + 1]] },
        }),
      ),
    );
    const won = results.filter((r) => r.status === 201);
    const lost = results.filter((r) => r.status !== 201);
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const r of lost) {
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('seat-locked');
    }
    const heldSeats = won.flatMap((r) => r.body.reservation.seatIds as number[]);
    expect(new Set(heldSeats).size).toBe(heldSeats.length);
    expect(await count(fixture.db, "SELECT count(*) FROM seats WHERE status = 'HELD'")).toBe(
      heldSeats.length,
    );
    expect(
      await count(
        fixture.db,
        'SELECT count(*) FROM (SELECT seat_id FROM reservation_seats GROUP BY seat_id HAVING count(*) > 1) d',
      ),
    ).toBe(0);
    // A loser's free seat stayed free (all or nothing): every HELD seat belongs to a winner.
    const free = ids.filter((id) => !heldSeats.includes(id));
    for (const id of free) expect((await seatRow(id))?.status).toBe('AVAILABLE');
  });

  it('a lock whose fence is not above the seat row is refused in the database: 409, nothing written', async () => {
    const { base, rooms } = await instance();
    const [free, fenced] = await seatIds(base, ['D1', 'D2']);
    // As if a newer holder (after a failover that lost the lock) had already written D2.
    await fixture.db.query('UPDATE seats SET fence = 1000000000 WHERE id = $1', [fenced]);
    const user = await login(base, 'stale');
    const entry = await admit(base, rooms, user);
    const before = await count(fixture.db, 'SELECT count(*) FROM reservations');
    const res = await call(base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [free, fenced] },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('seat-locked');
    expect(res.body.seatIds).toEqual([fenced]);
    // All or nothing: the free seat was not kept either, and the hold was given back.
    expect(await count(fixture.db, 'SELECT count(*) FROM reservations')).toBe(before);
    expect(await seatRow(free as number)).toMatchObject({
      status: 'AVAILABLE',
      reservation_id: null,
    });
    expect(await seatRow(fenced as number)).toMatchObject({
      status: 'AVAILABLE',
      fence: '1000000000',
    });
    const again = await call(base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [free] },
    });
    expect(again.status).toBe(201);
  });

  it('an unpaid hold expires exactly once across two instances: seats AVAILABLE, reservation EXPIRED', async () => {
    const one = await instance({ ttlMs: 1000, graceMs: 200, expiry: true });
    await instance({ ttlMs: 1000, graceMs: 200, expiry: true });
    const alice = await login(one.base, 'alice');
    const entry = await admit(one.base, one.rooms, alice);
    const [d1, d2] = await seatIds(one.base, ['D1', 'D2']);
    const res = await call(one.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [d1, d2] },
    });
    expect(res.status).toBe(201);
    const id = res.body.reservation.id;
    await waitFor(
      () =>
        count(
          fixture.db,
          "SELECT count(*) FROM reservations WHERE id = $1 AND status = 'EXPIRED'",
          [id],
        ),
      (n) => n === 1,
    );
    for (const seat of [d1, d2] as number[]) {
      expect(await seatRow(seat)).toMatchObject({ status: 'AVAILABLE', reservation_id: null });
    }
    // Give the other instance's worker and sweeps time to (not) run it again.
    await new Promise((r) => setTimeout(r, 800));
    expect(
      await count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'reservation.expired'",
      ),
    ).toBe(1);
    // The seats can be held again.
    const again = await call(one.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [d1, d2] },
    });
    expect(again.status).toBe(201);
  });

  it('a hold that expired while the app was down is rolled back when an instance starts', async () => {
    const down = await instance({ ttlMs: 1000, graceMs: 200, expiry: false });
    const alice = await login(down.base, 'alice');
    const entry = await admit(down.base, down.rooms, alice);
    const [d3] = await seatIds(down.base, ['D3']);
    const res = await call(down.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [d3] },
    });
    expect(res.status).toBe(201);
    // Past the deadline with nobody running expiry: the database still says HELD.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await seatRow(d3 as number))?.status).toBe('HELD');
    await instance({ ttlMs: 1000, graceMs: 200, expiry: true });
    await waitFor(
      () => seatRow(d3 as number),
      (row) => row?.status === 'AVAILABLE',
    );
    expect(
      await count(fixture.db, "SELECT count(*) FROM reservations WHERE status = 'EXPIRED'"),
    ).toBe(1);
  });
});
