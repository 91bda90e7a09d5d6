import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, SECRET } from '../helpers.js';
import { expectProblem4xx, nastyString, report, snapshot, tally, useFuzzApp } from './kit.js';

// Fuzzing the bearer tokens of every authenticated endpoint: forged, altered, alg:none, expired,
// another audience/scope/user, another kind of token, malformed Authorization headers. Each is a
// 401/403 problem+json and changes nothing; the genuine tokens still work afterwards.

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const otherKey = new TextEncoder().encode('another-secret-another-secret-another!!');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

type Kind = 'user' | 'entry' | 'payment';

/** How to spoil a genuine token of the endpoint's kind (or what to send instead). */
const attack = fc.oneof(
  fc.record({ how: fc.constant('flip' as const), at: fc.nat(), to: fc.nat(63) }),
  fc.record({ how: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ how: fc.constant('alg-none' as const), sig: fc.constantFrom('', 'x') }),
  fc.record({
    how: fc.constant('header-alg' as const),
    alg: fc.constantFrom('HS384', 'HS512', 'RS256', 'ES256', 'EdDSA', 'none', 'hs256', ''),
  }),
  fc.record({
    how: fc.constant('swap-claims' as const),
    claims: fc.record(
      {
        sub: fc.oneof(fc.constantFrom('1', '2', '999999', '0', '-1', '1e3'), nastyString),
        aud: fc.oneof(
          fc.constantFrom('concert-1', 'concert-2', 'boxoffice-booking-app'),
          nastyString,
        ),
        scope: fc.constantFrom('user', 'queue_entry', 'seat_reservation_payment', 'admin'),
        exp: fc.oneof(fc.integer(), fc.constantFrom(9e9, 1e308, -1)),
        reservationId: fc.uuid(),
      },
      { requiredKeys: [] },
    ),
    // Re-signed with a key the server does not have, or sent with the original signature.
    resign: fc.boolean(),
  }),
  fc.record({ how: fc.constant('expired' as const), agoSec: fc.integer({ min: 1, max: 10 ** 6 }) }),
  fc.record({ how: fc.constant('wrong-audience' as const), concert: fc.constantFrom(2, 3, 999) }),
  fc.record({
    how: fc.constant('cross-kind' as const),
    use: fc.constantFrom<Kind>('user', 'entry', 'payment'),
  }),
  fc.record({
    how: fc.constant('header' as const),
    value: fc.oneof(
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer a b',
        'Basic YTpi',
        'Token abc',
        'Bearer a,b',
        '',
      ),
      nastyString.map((s) => `Bearer ${s}`),
    ),
  }),
  fc.record({ how: fc.constant('garbage' as const), text: nastyString }),
);
type Attack = typeof attack extends fc.Arbitrary<infer A> ? A : never;

// Generous: the properties send hundreds of requests on a shared 2-core machine.
describe('HTTP fuzz: bearer tokens', { timeout: 120_000 }, () => {
  const ctx = useFuzzApp();
  const { fixture, redis } = ctx;

  it('every spoiled token on every authenticated endpoint (and the SSE query) is a 401/403 problem and changes nothing', async () => {
    const { app } = ctx;
    const alice = await app.login('alice');
    const bob = await app.login('bob');
    const entry = await app.admit(alice.token);
    const [seat, other] = await app.seats(1, 'AVAILABLE');
    const reserved = await call(app.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [seat] },
    });
    expect(reserved.status).toBe(201);
    const reservationId = reserved.body.reservation.id as string;
    const genuine: Record<Kind, string> = {
      user: alice.token,
      entry,
      payment: reserved.body.paymentToken,
    };

    // [label, method, path, kind of token it takes, extra request options]
    const endpoints: [string, string, string, Kind, Parameters<typeof call>[3]][] = [
      ['me', 'GET', '/me', 'user', {}],
      ['join', 'POST', '/concerts/1/queue', 'user', {}],
      ['poll', 'GET', '/concerts/1/queue', 'user', {}],
      ['leave', 'DELETE', '/concerts/1/queue', 'user', {}],
      ['reserve', 'POST', '/concerts/1/reservations', 'entry', { body: { seatIds: [other] } }],
      [
        'pay',
        'POST',
        '/payments',
        'payment',
        { body: { reservationId }, headers: { 'idempotency-key': '"fuzz-pay"' } },
      ],
      ['order', 'POST', '/orders', 'user', { body: { items: [{ productId: 1, quantity: 1 }] } }],
      ['get reservation', 'GET', `/reservations/${reservationId}`, 'user', {}],
      ['list orders', 'GET', '/orders/00000000-0000-4000-8000-000000000000', 'user', {}],
    ];

    /** The token (or Authorization header) an attack produces; null when it changed nothing. */
    const spoil = async (kind: Kind, a: Attack): Promise<{ header: string } | null> => {
      const valid = genuine[kind];
      const [header, payload, signature] = valid.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const bearer = (t: string) => ({ header: `Bearer ${t}` });
      switch (a.how) {
        case 'flip': {
          const i = a.at % valid.length;
          const out =
            valid.slice(0, i) + (valid[i] === '.' ? 'A' : ALPHABET[a.to]) + valid.slice(i + 1);
          // Base64url's last character may carry unused bits: a flip there can decode the same.
          const bytes = (s: string) =>
            s.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex'));
          return bytes(out).join() === bytes(valid).join() ? null : bearer(out);
        }
        case 'truncate':
          return bearer(valid.slice(0, a.at % valid.length) || 'x');
        case 'alg-none':
          return bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.${a.sig}`);
        case 'header-alg':
          return bearer(`${b64({ alg: a.alg, typ: 'JWT' })}.${payload}.${signature}`);
        case 'swap-claims': {
          const forged = { ...claims, ...a.claims };
          if (!a.resign) {
            return JSON.stringify(forged) === JSON.stringify(claims)
              ? null
              : bearer(`${header}.${b64(forged)}.${signature}`);
          }
          return bearer(
            await new SignJWT(forged).setProtectedHeader({ alg: 'HS256' }).sign(otherKey),
          );
        }
        case 'expired': {
          const exp = Math.floor(Date.now() / 1000) - a.agoSec;
          if (kind === 'user') {
            const key = new TextEncoder().encode(SECRET);
            const { exp: _e, iat: _i, ...rest } = claims;
            return bearer(
              await new SignJWT(rest)
                .setProtectedHeader({ alg: 'HS256' })
                .setIssuedAt(exp - 3600)
                .setExpirationTime(exp)
                .sign(key),
            );
          }
          const { sub, scope, aud, jti: _j, exp: _e, iat: _i, iss: _s, eat: _t, ...extra } = claims;
          const issued = await app.rooms.tokens.issue({
            sub,
            scope,
            aud,
            expiresAt: exp * 1000,
            claims: extra,
          });
          return bearer(issued.token);
        }
        case 'wrong-audience': {
          if (kind === 'user') return null;
          const {
            sub,
            scope,
            jti: _j,
            exp: _e,
            iat: _i,
            iss: _s,
            eat: _t,
            aud: _a,
            ...extra
          } = claims;
          const issued = await app.rooms.tokens.issue({
            sub,
            scope,
            aud: `concert-${a.concert}`,
            ttlMs: 60_000,
            claims: extra,
          });
          return bearer(issued.token);
        }
        case 'cross-kind':
          // Another kind of genuine token, or the right kind for another user (bob).
          return a.use === kind
            ? kind === 'user'
              ? bearer(bob.token)
              : null
            : bearer(genuine[a.use]);
        case 'header':
          return { header: a.value };
        default:
          return bearer(a.text);
      }
    };

    const statuses = new Map<number, number>();
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        attack,
        async ([label, method, path, kind, options], a) => {
          const spoiled = await spoil(kind, a);
          // fetch cannot send control characters or characters above U+00FF in a header.
          fc.pre(spoiled !== null && /^[\t\x20-\x7e\x80-\xff]*$/.test(spoiled.header));
          // Bob's user token is a genuine token for the endpoints that only need *a* user.
          fc.pre(!(a.how === 'cross-kind' && a.use === kind && label !== 'get reservation'));
          tried++;
          const before = await snapshot(fixture.db, redis);
          const headers: Record<string, string> = { ...(options?.headers ?? {}) };
          if (spoiled?.header) headers.authorization = spoiled.header;
          const res = await call(app.base, method, path, { ...options, headers });
          tally(statuses, res.status);
          const what = `${label} with ${JSON.stringify(a).slice(0, 200)}`;
          expectProblem4xx(res, what);
          if (res.status !== 431) {
            // A missing/unreadable token is 401; a readable one for something else may be 403, and
            // "another user's reservation" is 404 (its existence is not revealed).
            expect([401, 403, 404], what).toContain(res.status);
          }
          expect(await snapshot(fixture.db, redis), what).toEqual(before);
        },
      ),
      { numRuns: 200 },
    );
    report('spoiled tokens', tried, statuses);

    // The genuine tokens were not revoked or used up by any of it.
    expect((await call(app.base, 'GET', '/me', { token: alice.token })).status).toBe(200);
    const now = await call(app.base, 'POST', '/concerts/1/reservations', {
      token: entry,
      body: { seatIds: [other] },
    });
    expect(now.status).toBe(201);

    // The SSE stream takes a stream token in the query (EventSource cannot send headers); the
    // genuine user token is refused there too.
    const stream = (
      await call(app.base, 'POST', '/concerts/1/queue/stream-token', { token: alice.token })
    ).body.token as string;
    const asUser = await call(
      app.base,
      'GET',
      `/concerts/1/queue/events?access_token=${alice.token}`,
    );
    expect(asUser).toMatchObject({ status: 401, body: { code: 'token-invalid' } });
    statuses.clear();
    tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.nat(), fc.nat(63)).map(([at, to]) => {
            const i = at % stream.length;
            return stream.slice(0, i) + (ALPHABET[to] as string) + stream.slice(i + 1);
          }),
          nastyString,
        ),
        async (token) => {
          const bytes = (s: string) =>
            s.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex'));
          fc.pre(bytes(token).join() !== bytes(stream).join());
          tried++;
          const controller = new AbortController();
          const res = await fetch(
            `${app.base}/concerts/1/queue/events?access_token=${encodeURIComponent(token.replace(/\p{Cs}/gu, '\ufffd'))}`,
            { signal: controller.signal },
          );
          tally(statuses, res.status);
          const type = res.headers.get('content-type') ?? '';
          if (res.status === 200) controller.abort();
          expect(res.status, token.slice(0, 100)).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          if (res.status !== 431) expect(type).toMatch(/^application\/problem\+json/);
          await res.body?.cancel();
        },
      ),
      { numRuns: 60 },
    );
    report('spoiled SSE query tokens', tried, statuses);
  });
});
