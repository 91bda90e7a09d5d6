import { randomBytes } from 'node:crypto';
import { useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import type { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import { call, flowCombos, SECRET, useDatabase } from './helpers.js';
import { usePaymentApps } from './payment-fixture.js';

// Issue #15 "Pages without dead ends": the answers a page needs to tell a user what to do next
// (which seats are taken, why a token is refused, which hold is the caller's).

describe.each(flowCombos())('reservation answers on $name', ({ db: backend, redis: target }) => {
  const fixture = useDatabase(backend, { seed: true });
  const apps = usePaymentApps(fixture, useRedis(target));

  /** One app whose rooms tick only when told; `roomSecret` as the runtime's (not the users'). */
  const instance = async (roomSecret: string | Uint8Array = SECRET) => {
    const { base, rooms } = await apps.instance({ workers: false, roomSecret });
    return { base, rooms };
  };
  const login = async (base: string, name: string) => (await apps.login(base, name)).token;

  /** Join concert 1's room, tick, and return the queue_entry token. */
  const admit = async (base: string, rooms: ConcertRooms, user: string) => {
    await call(base, 'POST', '/concerts/1/queue', { token: user });
    await rooms.room(1).tick();
    const status = await call(base, 'GET', '/concerts/1/queue', { token: user });
    expect(status.body.state).toBe('active');
    return status.body.token as string;
  };

  const seatIds = async (base: string, labels: string[]) => {
    const map = await call(base, 'GET', '/concerts/1');
    return labels.map(
      (l) => (map.body.seats as { id: number; label: string }[]).find((s) => s.label === l)?.id,
    ) as number[];
  };

  it('409 seat-locked names the seats that are taken, not every seat asked for', async () => {
    const { base, rooms } = await instance();
    const [a1, a2, a3] = await seatIds(base, ['A1', 'A2', 'A3']);
    const alice = await admit(base, rooms, await login(base, 'alice'));
    const bob = await admit(base, rooms, await login(base, 'bob'));
    const held = await call(base, 'POST', '/concerts/1/reservations', {
      token: alice,
      body: { seatIds: [a2] },
    });
    expect(held.status).toBe(201);
    const refused = await call(base, 'POST', '/concerts/1/reservations', {
      token: bob,
      body: { seatIds: [a1, a2, a3] },
    });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ code: 'seat-locked', seatIds: [a2] });
    expect(refused.body.detail).toMatch(new RegExp(`\\b${a2}\\b`));
    expect(refused.body.detail).not.toMatch(new RegExp(`\\b(${a1}|${a3})\\b`));
  });

  it.each([
    ['the users’ key', SECRET],
    ['a key of its own', randomBytes(32)],
  ])('401 not-admitted for a user token (room signed with %s)', async (_name, roomSecret) => {
    const { base, rooms } = await instance(roomSecret);
    const [a1] = await seatIds(base, ['A1']);
    const user = await login(base, 'alice');
    const reserve = (token: string) =>
      call(base, 'POST', '/concerts/1/reservations', { token, body: { seatIds: [a1] } });
    const refused = await reserve(user);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.code).toBe('not-admitted');
    expect(refused.body.detail).toMatch(/not admitted to concert 1/);
    expect(refused.body.detail).not.toMatch(/signature/);
    // Admitted, but sending the user token instead of the queue_entry token: the same answer.
    await admit(base, rooms, user);
    expect((await reserve(user)).body.code).toBe('not-admitted');
    // A token that is nobody's stays token-invalid.
    expect((await reserve(`${user.slice(0, -4)}AAAA`)).body.code).toBe('token-invalid');
  });

  it('GET /concerts/:id/reservations/mine: the caller’s live holds only, with a payment token', async () => {
    const { base, rooms } = await instance();
    const [b1, b2] = await seatIds(base, ['B1', 'B2']);
    const aliceUser = await login(base, 'alice');
    const bobUser = await login(base, 'bob');
    const alice = await admit(base, rooms, aliceUser);
    const placed = await call(base, 'POST', '/concerts/1/reservations', {
      token: alice,
      body: { seatIds: [b1, b2] },
    });
    expect(placed.status).toBe(201);
    const mine = (token?: string) =>
      call(base, 'GET', '/concerts/1/reservations/mine', { ...(token && { token }) });

    const hers = await mine(aliceUser);
    expect(hers.status).toBe(200);
    expect(hers.headers.get('cache-control')).toMatch(/no-store/);
    expect(hers.body.reservations).toHaveLength(1);
    expect(hers.body.reservations[0].reservation).toEqual(placed.body.reservation);
    expect(typeof hers.body.reservations[0].paymentToken).toBe('string');
    // Someone else's hold is not theirs to see.
    expect((await mine(bobUser)).body).toEqual({ reservations: [] });
    expect((await mine()).status).toBe(401);
    expect(
      (await call(base, 'GET', '/concerts/999/reservations/mine', { token: bobUser })).status,
    ).toBe(404);

    // The re-issued payment token pays for the hold (what the seat map's pay link leads to).
    const paid = await call(base, 'POST', '/payments', {
      token: hers.body.reservations[0].paymentToken,
      body: { reservationId: placed.body.reservation.id },
      headers: { 'idempotency-key': '"dead-ends-1"' },
    });
    expect(paid.status).toBe(201);
    // Paid is no longer a hold to pay for.
    expect((await mine(aliceUser)).body.reservations).toEqual([]);
  });

  it('a hold past its expiresAt is not offered any more', async () => {
    const { base, rooms } = await instance();
    const [c1] = await seatIds(base, ['C1']);
    const user = await login(base, 'carol');
    const entry = await admit(base, rooms, user);
    const placed = await call(base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [c1] },
    });
    expect(placed.status).toBe(201);
    await fixture.db.query(
      `UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [placed.body.reservation.id],
    );
    const res = await call(base, 'GET', '/concerts/1/reservations/mine', { token: user });
    expect(res.body).toEqual({ reservations: [] });
  });
});
