import { randomUUID } from 'node:crypto';
import { useRedis } from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, count, flowCombos, listen, SECRET, useDatabase } from './helpers.js';

// The cap is a database question (one user's transactions serialised on the user row): both
// engines, standalone Redis.
const combos = flowCombos().filter((c) => c.name !== 'pglite + cluster');

describe.each(combos)('seats per user and concert on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(target);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  const instance = async () => {
    const client = redis.connect();
    const logger = createLogger('silent');
    const rooms = new ConcertRooms(client, {
      secret: SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 100, admitPerTick: 100 },
      tick: false,
      logger,
    });
    const holds = new SeatHolds(client, { prefix: redis.prefix });
    const app = createApp({
      db: fixture.db,
      redis: client,
      auth,
      rooms,
      holds,
      metrics: new AppMetrics({ defaultMetrics: false }),
      logger,
      redisPrefix: redis.prefix,
      // default seatsPerUserMax: 4
    });
    const http = await listen(app);
    opened.push({ close: () => holds.close() }, { close: () => rooms.close() }, http);
    const base = http.base;

    /** Log `name` in, admit them to concert 1, and return their queue_entry token. */
    const admitted = async (name: string) => {
      const login = await call(base, 'POST', '/auth/demo-login', { body: { name } });
      const user = login.body.token as string;
      expect((await call(base, 'POST', '/concerts/1/queue', { token: user })).status).toBe(200);
      await rooms.room(1).tick();
      const status = await call(base, 'GET', '/concerts/1/queue', { token: user });
      expect(status.body.state).toBe('active');
      return status.body.token as string;
    };
    const reserve = (entry: string, seatIds: number[]) =>
      call(base, 'POST', '/concerts/1/reservations', { token: entry, body: { seatIds } });
    const free = async () => {
      const map = await call(base, 'GET', '/concerts/1');
      return (map.body.seats as { id: number; status: string }[])
        .filter((s) => s.status === 'AVAILABLE')
        .map((s) => s.id);
    };
    return { base, admitted, reserve, free };
  };

  const seatsOf = (name: string) =>
    count(
      fixture.db,
      `SELECT count(*) FROM seats s JOIN reservations r ON r.id = s.reservation_id
       JOIN users u ON u.id = r.user_id WHERE u.name = $1 AND s.status IN ('HELD', 'ASSIGNED')`,
      [name],
    );

  it('409 seat-limit-reached past 4 held or paid seats; nothing is held, the seats stay free', async () => {
    const app = await instance();
    const alice = await app.admitted('alice');
    const seats = await app.free();
    const first = await app.reserve(alice, seats.slice(0, 3));
    expect(first.status).toBe(201);

    const over = await app.reserve(alice, seats.slice(3, 5));
    expect(over.status).toBe(409);
    expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(over.body).toMatchObject({
      code: 'seat-limit-reached',
      limit: 4,
      held: 3,
      requested: 2,
    });
    expect(over.body.detail).toMatch(/at most 4 .* already have 3/);
    expect(await seatsOf('alice')).toBe(3);
    expect(await count(fixture.db, 'SELECT count(*) FROM reservations')).toBe(1);
    // No lock or hold was left on the refused seats: another buyer takes them at once.
    const bob = await app.admitted('bob');
    expect((await app.reserve(bob, seats.slice(3, 5))).status).toBe(201);

    // Paid (CONFIRMED, seats ASSIGNED) seats count as well.
    const paid = await call(app.base, 'POST', '/payments', {
      token: first.body.paymentToken,
      body: { reservationId: first.body.reservation.id },
      headers: { 'idempotency-key': `"${randomUUID()}"` },
    });
    expect(paid.status).toBe(201);
    const again = await app.admitted('alice');
    const more = await app.free();
    const refused = await app.reserve(again, more.slice(0, 2));
    expect(refused.body).toMatchObject({ code: 'seat-limit-reached', held: 3 });
    expect((await app.reserve(again, more.slice(0, 1))).status).toBe(201);
    expect(await seatsOf('alice')).toBe(4);
  });

  it('one user, 12 parallel reservations of one seat each: exactly 4 succeed', async () => {
    const app = await instance();
    const alice = await app.admitted('alice');
    const seats = (await app.free()).slice(0, 12);
    const answers = await Promise.all(seats.map((id) => app.reserve(alice, [id])));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(4);
    expect(answers.filter((a) => a.status !== 201).map((a) => a.body.code)).toEqual(
      Array(8).fill('seat-limit-reached'),
    );
    expect(await seatsOf('alice')).toBe(4);
    // The 8 refused seats carry no lock: two other buyers take all of them.
    const refused = seats.filter((_, i) => answers[i]?.status !== 201);
    const bob = await app.admitted('bob');
    const carol = await app.admitted('carol');
    expect((await app.reserve(bob, refused.slice(0, 4))).status).toBe(201);
    expect((await app.reserve(carol, refused.slice(4))).status).toBe(201);
  });
});
