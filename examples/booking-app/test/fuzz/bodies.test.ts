import { parseIdempotencyKey } from '@boxoffice/idempotency';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, count, waitFor } from '../helpers.js';
import {
  badJsonText,
  expectProblem4xx,
  hostileJson,
  nastyNumber,
  nastyString,
  report,
  snapshot,
  tally,
  useFuzzApp,
} from './kit.js';

// Fuzzing the bodies and Idempotency-Key headers of the endpoints that change state, with genuine
// tokens: reservations, orders and payments. Every refused request is a 4xx problem+json that
// changes nothing (all or nothing: one bad seat or item among good ones changes nothing either),
// and a key reused with another payload never runs the operation a second time.

/** Idempotency-Key header values that must be refused (what an HTTP client can send at all). */
const badKeyHeader = fc
  .oneof(
    fc.constantFrom(
      '',
      '""',
      '"unterminated',
      '"a\\nb"',
      'two words',
      '"a", "b"',
      `"${'k'.repeat(256)}"`,
    ),
    nastyString.filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)),
  )
  .filter((s) => {
    try {
      parseIdempotencyKey(s.trim());
      return false;
    } catch {
      return true;
    }
  });

// The "bad" bodies are built from arbitraries that can, now and then, land on a valid body
// (a small integer that is a free seat id, a quantity of 1): those are filtered out, so that the
// property asserts a refusal only for what must be refused.
const isIntegerIn = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** Whether `body` could hold seats: 1 to 10 distinct seat ids, every one a free seat. */
function couldReserve(body: unknown, free: readonly number[]): boolean {
  const ids = (body as { seatIds?: unknown } | null)?.seatIds;
  return (
    Array.isArray(ids) &&
    ids.length >= 1 &&
    ids.length <= 10 &&
    new Set(ids).size === ids.length &&
    ids.every((id) => free.includes(id as number))
  );
}

/** Whether `body` could place an order: items that are each a product 1–5 in a quantity 1–100. */
function couldOrder(body: unknown): boolean {
  const items = (body as { items?: unknown } | null)?.items;
  return (
    Array.isArray(items) &&
    items.length >= 1 &&
    items.every((item) => {
      const { productId, quantity } = (item ?? {}) as { productId?: unknown; quantity?: unknown };
      return isIntegerIn(productId, 1, 5) && isIntegerIn(quantity, 1, 100);
    })
  );
}

// Generous: the properties send hundreds of requests on a shared 2-core machine.
describe('HTTP fuzz: request bodies', { timeout: 120_000 }, () => {
  const ctx = useFuzzApp();
  const { fixture, redis } = ctx;

  it('POST /concerts/:id/reservations and POST /orders: bad bodies are a 4xx problem and change nothing', async () => {
    const { app } = ctx;
    const alice = await app.login('alice');
    const entry = await app.admit(alice.token);
    const free = await app.seats(1, 'AVAILABLE');
    const blocked = await app.seats(1, 'BLOCKED');
    const elsewhere = await app.seats(2, 'AVAILABLE');
    // A seat id that is not a free seat of concert 1 (or not a seat id at all).
    const badSeat = fc.oneof(
      // Well-formed ids the database refuses (BLOCKED, another concert's, unknown) come first.
      {
        weight: 4,
        arbitrary: fc.constantFrom(...blocked, ...elsewhere.slice(0, 3), 100_000, 2 ** 31 - 1),
      },
      fc.constantFrom(0, -1, 2 ** 31),
      nastyNumber,
      nastyString,
      fc.constantFrom(null, true, [], {}),
    );
    const reservationBody = fc
      .oneof(
        hostileJson,
        hostileJson.map((seatIds) => ({ seatIds })),
        // Good seats with at least one bad one: all or nothing.
        fc
          .tuple(fc.subarray(free.slice(0, 5)), fc.array(badSeat, { minLength: 1, maxLength: 3 }))
          .chain(([good, bad]) =>
            fc.shuffledSubarray([...good, ...bad], { minLength: good.length + bad.length }),
          )
          .map((seatIds) => ({ seatIds })),
        fc.constant({ seatIds: free.slice(0, 11) }), // over the 10-seat limit
        fc.constant({ seatIds: [free[0], free[0]] }),
      )
      .filter((body) => !couldReserve(body, free));
    // Products: 1..6 exist; 6 has no stock. Quantities: 1..100 are valid.
    const badItem = fc.oneof(
      fc.record({
        productId: fc.constantFrom(6, 100_000, 0, -1, 2 ** 31),
        quantity: fc.constant(1),
      }),
      fc.record({
        productId: fc.constant(1),
        quantity: fc.oneof(nastyNumber, fc.constantFrom(0, 101, 1.5, 2 ** 31)),
      }),
      fc.record({ productId: fc.constant(3), quantity: fc.constant(21) }), // 20 in stock
      fc.record({ productId: fc.oneof(nastyString, nastyNumber), quantity: hostileJson }),
      hostileJson,
    );
    const orderBody = fc
      .oneof(
        hostileJson,
        hostileJson.map((items) => ({ items })),
        fc
          .tuple(
            fc.subarray([
              { productId: 1, quantity: 1 },
              { productId: 2, quantity: 2 },
            ]),
            fc.array(badItem, { minLength: 1, maxLength: 3 }),
          )
          .map(([good, bad]) => ({ items: [...good, ...bad] })),
      )
      .filter((body) => !couldOrder(body));

    const statuses = new Map<number, number>();
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ to: fc.constant('reserve' as const), body: reservationBody }),
          fc.record({ to: fc.constant('order' as const), body: orderBody }),
          fc.record({
            to: fc.constantFrom('reserve' as const, 'order' as const),
            raw: badJsonText,
          }),
        ),
        async (input) => {
          tried++;
          const before = await snapshot(fixture.db, redis);
          const [path, token] =
            input.to === 'reserve' ? ['/concerts/1/reservations', entry] : ['/orders', alice.token];
          const res =
            'raw' in input
              ? await call(app.base, 'POST', path, { token, rawBody: input.raw })
              : await call(app.base, 'POST', path, { token, body: input.body });
          tally(statuses, res.status);
          const what = `${input.to} ${JSON.stringify(input).slice(0, 200)}`;
          expectProblem4xx(res, what);
          expect(await snapshot(fixture.db, redis), what).toEqual(before);
        },
      ),
      { numRuns: 150 },
    );
    report('bad reservation and order bodies', tried, statuses);
    // The queue_entry token still reserves: the refusals were about the bodies, not the token.
    const ok = await call(app.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [free[0]] },
    });
    expect(ok.status).toBe(201);
  });

  it('POST /payments and /orders: bad bodies and Idempotency-Keys change nothing; a reused key never runs twice', async () => {
    const { app } = ctx;
    const alice = await app.login('alice');
    const entry = await app.admit(alice.token);
    const [seat] = await app.seats(1, 'AVAILABLE');
    const reserved = await call(app.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [seat] },
    });
    expect(reserved.status).toBe(201);
    const payToken = reserved.body.paymentToken as string;
    const reservationId = reserved.body.reservation.id as string;
    const pay = (key: string | undefined, body: unknown, raw?: string) =>
      call(app.base, 'POST', '/payments', {
        token: payToken,
        ...(raw === undefined ? { body } : { rawBody: raw }),
        headers: key === undefined ? {} : { 'idempotency-key': key },
      });

    const statuses = new Map<number, number>();
    let tried = 0;
    const body = fc.oneof(
      hostileJson,
      hostileJson.map((id) => ({ reservationId: id })),
      fc.uuid().map((id) => ({ reservationId: id })),
      fc.constant({ reservationId: reservationId.toUpperCase() }),
    );
    // 1. Before any payment: bad keys, missing keys, bad bodies. Nothing is paid.
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ key: badKeyHeader, body: fc.constant({ reservationId }) }),
          fc.record({ key: fc.constant(undefined), body: fc.constant({ reservationId }) }),
          fc.record({ key: fc.uuid().map((k) => `"${k}"`), body }),
          fc.record({ key: fc.uuid().map((k) => `"${k}"`), raw: badJsonText }),
        ),
        async (input) => {
          tried++;
          const before = await snapshot(fixture.db, redis);
          const res = await pay(
            input.key,
            'body' in input ? input.body : undefined,
            'raw' in input ? input.raw : undefined,
          );
          tally(statuses, res.status);
          const what = `pay ${JSON.stringify(input).slice(0, 200)}`;
          // A body naming this very reservation in another spelling may legitimately pay it.
          if (res.status === 201) throw new Error(`${what}: paid`);
          expectProblem4xx(res, what);
          expect(await snapshot(fixture.db, redis), what).toEqual(before);
        },
      ),
      { numRuns: 150 },
    );
    // 2. One genuine payment with key K, then K again with any payload: a replay or a 4xx, never
    // a second payment or charge.
    const first = await pay('"fuzz-key-1"', { reservationId });
    expect(first.status).toBe(201);
    // The 201 does not wait for the publish of payment.succeeded (it leaves within the publish
    // window); the state every reuse must keep is the one after it, its job in Redis.
    const eventId = `payment.succeeded:${first.body.payment.id}`;
    await waitFor(
      () => count(fixture.db, 'SELECT published FROM outbox WHERE id = $1', [eventId]),
      (n) => n === 1,
    );
    const paid = await snapshot(fixture.db, redis);
    await fc.assert(
      // Unknown members are ignored (so `amount` pays nothing more), but change the fingerprint.
      fc.asyncProperty(
        fc.oneof(body, fc.constant({ reservationId }), fc.constant({ reservationId, amount: -1 })),
        async (b) => {
          tried++;
          const res = await pay('"fuzz-key-1"', b);
          tally(statuses, res.status);
          if (res.status === 201) {
            expect(res.headers.get('idempotent-replayed')).toBe('true');
            expect(res.body.payment.id).toBe(first.body.payment.id);
          } else {
            expectProblem4xx(res, `reuse ${JSON.stringify(b).slice(0, 200)}`);
          }
          expect(await snapshot(fixture.db, redis)).toEqual(paid);
        },
      ),
      { numRuns: 100 },
    );
    report('payment bodies and keys', tried, statuses);
    const { rows } = await fixture.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM payments',
    );
    expect(rows[0]?.n).toBe(1);

    // 3. POST /orders with a reused Idempotency-Key: another payload is a 422 and changes nothing.
    const item = fc.record({
      productId: fc.constantFrom(1, 2, 4, 5),
      quantity: fc.integer({ min: 1, max: 3 }),
    });
    const items = fc.uniqueArray(item, {
      minLength: 1,
      maxLength: 3,
      selector: (i) => i.productId,
    });
    statuses.clear();
    tried = 0;
    await fc.assert(
      fc.asyncProperty(fc.uuid(), items, items, async (key, a, b) => {
        tried++;
        const order = (list: unknown) =>
          call(app.base, 'POST', '/orders', {
            token: alice.token,
            body: { items: list },
            headers: { 'idempotency-key': `"${key}"` },
          });
        const first = await order(a);
        expect(first.status).toBe(201);
        const placed = await snapshot(fixture.db, redis);
        const again = await order(b);
        tally(statuses, again.status);
        if (JSON.stringify(a) === JSON.stringify(b)) {
          expect(again.status).toBe(201);
          expect(again.body.order.id).toBe(first.body.order.id);
        } else {
          expectProblem4xx(again, `reuse ${JSON.stringify([a, b])}`);
          expect(again.status).toBe(422);
        }
        expect(await snapshot(fixture.db, redis)).toEqual(placed);
      }),
      {
        numRuns: 60,
        // The same payload again must be the replay (random pairs are almost always different).
        examples: [
          [
            '00000000-0000-4000-8000-000000000001',
            [{ productId: 1, quantity: 1 }],
            [{ productId: 1, quantity: 1 }],
          ],
        ],
      },
    );
    report('reused order keys', tried, statuses);
  });
});
