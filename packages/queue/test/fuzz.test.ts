import * as fuzz from '@boxoffice/internal/fuzz';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokenError, QueueError, WaitingRoom } from '../src/index.js';
import { ADAPTERS } from './access-adapters.js';
import { hsTokens, SECRET } from './helpers.js';

// Fuzzing the public API against a real Redis: malformed user ids are refused with a
// TypeError/RangeError before any Redis call, and any token that is not exactly what was issued
// (forged, altered, alg:none, expired, another audience or scope, claims of the wrong type) is
// refused with an AccessTokenError (401/403) — never another error, never a write.

const RUNS = 150;
const tokens = hsTokens();
const ISSUER = 'boxoffice-test';
const ROOM = 'concert-7';
const SCOPE = 'queue_entry';

const nastyString = fuzz.nastyString();
const hostile = fuzz.hostile(nastyString);

const userId = fc.oneof(
  { weight: 2, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: fc.stringMatching(/^u[0-9]{1,4}$/) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: hostile },
);

const { maybe } = fuzz;

const isMisuse = (e: unknown) =>
  (e instanceof TypeError || e instanceof RangeError) && !(e instanceof QueueError);

async function settle<T>(fn: () => T | Promise<T>) {
  try {
    return { ok: true as const, value: await fn() };
  } catch (error) {
    return { ok: false as const, error };
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const key = new TextEncoder().encode(SECRET);
const otherKey = new TextEncoder().encode('another-secret-another-secret-another!!');

/** What to do to a valid token (or which invalid one to build instead). */
const tokenAttack = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), to: fc.nat(63) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('alg-none' as const), sig: fc.constantFrom('', 'x', 'AAAA') }),
  fc.record({
    kind: fc.constant('header' as const),
    alg: fc.constantFrom('HS384', 'HS512', 'RS256', 'ES256', 'EdDSA', 'none', 'hs256', ''),
  }),
  fc.record({
    kind: fc.constant('claims' as const),
    claims: fc.record(
      {
        sub: fc.oneof(hostile, fc.jsonValue()),
        aud: fc.oneof(fc.constantFrom(ROOM, 'concert-8', ''), fc.array(fc.string()), hostile),
        scope: fc.oneof(fc.constantFrom(SCOPE, 'seat_reservation_payment', 'user'), hostile),
        jti: fc.oneof(fc.uuid(), hostile),
        exp: fc.oneof(fc.integer(), fc.constantFrom('9e9', null, 1e308, -1), fc.double()),
        iss: fc.oneof(fc.constant(ISSUER), nastyString),
        eat: fc.oneof(fc.integer(), fc.double(), nastyString),
      },
      { requiredKeys: [] },
    ),
    // Signed with the right key (a bug on the signer's side), the wrong one, or re-used signature.
    sign: fc.constantFrom('right', 'other', 'reuse'),
  }),
  fc.record({ kind: fc.constant('garbage' as const), text: nastyString }),
  fc.record({ kind: fc.constant('dots' as const), n: fc.integer({ min: 0, max: 6 }) }),
);
type Attack = typeof tokenAttack extends fc.Arbitrary<infer A> ? A : never;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Build the attacked token from a valid one; `null` when the attack happens to change nothing or
 * cannot be encoded (a bigint claim).
 */
async function attack(valid: string, a: Attack): Promise<string | null> {
  try {
    return await build(valid, a);
  } catch {
    return null;
  }
}

async function build(valid: string, a: Attack): Promise<string | null> {
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  switch (a.kind) {
    case 'flip': {
      const i = a.at % valid.length;
      const to = valid[i] === '.' ? 'A' : (ALPHABET[a.to] as string);
      const out = valid.slice(0, i) + to + valid.slice(i + 1);
      // Base64url's last character may carry unused bits: a flip there can decode to the same bytes.
      const same = (s: string) =>
        s.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex'));
      return same(out).join('.') === same(valid).join('.') ? null : out;
    }
    case 'truncate':
      return valid.slice(0, a.at % valid.length);
    case 'alg-none':
      return `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.${a.sig}`;
    case 'header':
      return `${b64({ alg: a.alg, typ: 'JWT' })}.${payload}.${signature}`;
    case 'claims': {
      const forged = { ...claims, ...a.claims };
      if (a.sign === 'reuse') return `${header}.${b64(forged)}.${signature}`;
      if (JSON.stringify(forged) === JSON.stringify(claims) && a.sign === 'right') return null;
      return new SignJWT(forged)
        .setProtectedHeader({ alg: 'HS256' })
        .sign(a.sign === 'right' ? key : otherKey);
    }
    case 'garbage':
      return a.text;
    default:
      return Array.from({ length: a.n + 1 }, () => header).join('.');
  }
}

// Generous: every run is a few Redis round trips, on a machine other suites keep busy.
describe.each(redisTargets())('queue fuzz on $name', { timeout: 120_000 }, (target) => {
  const redis = useRedis(target);
  const keys = async () => (await scanKeys(redis.client, `${redis.prefix}*`)).sort();
  const room = () =>
    new WaitingRoom(redis.client, { roomId: ROOM, prefix: redis.prefix, tokens, maxActive: 2 });

  it('join / heartbeat / status / leave / complete: a typed refusal before Redis, or a consistent answer', async () => {
    const r = room();
    let tried = 0;
    let refused = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          userId,
          fc.constantFrom('join', 'heartbeat', 'status', 'leave', 'complete'),
          async (id, method) => {
            tried++;
            const before = await keys();
            const user = id as string;
            const result = await settle(() => r[method as 'join'](user));
            if (!result.ok) {
              refused++;
              if (!isMisuse(result.error)) throw result.error;
              expect(await keys()).toEqual(before);
              return;
            }
            // An accepted id is a real member: after a join it is in the room, after leave it is not.
            if (method === 'join') {
              expect((await r.status(user)).state).not.toBe('unknown');
              expect(await r.leave(user)).toBe(true);
            }
            expect((await r.status(user)).state).toBe('unknown');
          },
        ),
        { numRuns: RUNS },
      );
    } finally {
      console.log(`queue fuzz (${target.name}): ${tried} user ids to the room, ${refused} refused`);
      await r.stop();
    }
  });

  it('any token other than the one issued is refused with an AccessTokenError, writing nothing', async () => {
    const r = room();
    const joined = await r.join('u-admitted');
    expect(joined.state).toBe('waiting');
    await r.tick();
    const status = await r.status('u-admitted');
    if (status.state !== 'active') throw new Error('u-admitted must be active');
    expect((await r.verify(status.token)).sub).toBe('u-admitted');
    let tried = 0;
    let accepted = 0;
    const statuses = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(tokenAttack, async (a) => {
          const token = await attack(status.token, a);
          fc.pre(token !== null && token !== status.token);
          tried++;
          const before = await keys();
          for (const verify of [
            () => r.verify(token as string),
            () => tokens.verify(token as string, { scope: SCOPE, audience: ROOM }),
          ]) {
            const result = await settle(verify);
            if (result.ok) {
              // Only a token signed with the right key (the signer's own mistake) may pass, and
              // then with well-typed claims.
              if (a.kind !== 'claims' || a.sign !== 'right') {
                throw new Error(`accepted a forged token: ${JSON.stringify(a)}`);
              }
              accepted++;
              const c = result.value;
              expect([typeof c.sub, typeof c.jti, c.aud, c.scope]).toEqual([
                'string',
                'string',
                ROOM,
                SCOPE,
              ]);
              expect(Number.isFinite(c.expiresAt) && Number.isFinite(c.exp)).toBe(true);
              continue;
            }
            if (!(result.error instanceof AccessTokenError)) throw result.error;
            const s = result.error.status;
            expect([401, 403]).toContain(s);
            statuses.set(s, (statuses.get(s) ?? 0) + 1);
          }
          expect(await keys()).toEqual(before);
        }),
        {
          numRuns: 200,
          examples: [
            [{ kind: 'claims', claims: { exp: -8.64e12 }, sign: 'right' }],
            [{ kind: 'claims', claims: { sub: 5 }, sign: 'right' }],
            [{ kind: 'claims', claims: { sub: 'u\u0000' }, sign: 'right' }],
            [{ kind: 'claims', claims: { jti: { a: 1 } }, sign: 'right' }],
            [{ kind: 'claims', claims: { aud: [ROOM, 'x'] }, sign: 'right' }],
          ],
        },
      );
    } finally {
      console.log(
        `queue fuzz (${target.name}): ${tried} altered tokens, refusals by status ${JSON.stringify(Object.fromEntries(statuses))}, ${accepted} accepted (validly signed)`,
      );
      await r.stop();
    }
    // The original still verifies: nothing above revoked it.
    expect((await r.verify(status.token)).sub).toBe('u-admitted');
  });

  it.each(ADAPTERS)(
    'requireAccess ($name) answers every altered token with a 401/403 problem and never runs the handler',
    async (adapter) => {
      const r = room();
      await r.join('u-http');
      await r.tick();
      const status = await r.status('u-http');
      if (status.state !== 'active') throw new Error('u-http must be active');
      const server = await adapter.serve(tokens, [
        { path: '/book', options: { scope: SCOPE, audience: ROOM, revocation: r } },
      ]);
      const get = (authorization: string) =>
        fetch(`${server.url}/book`, { headers: { authorization } });
      expect((await get(`Bearer ${status.token}`)).status).toBe(200);
      let tried = 0;
      const statuses = new Map<number, number>();
      try {
        await fc.assert(
          fc.asyncProperty(
            tokenAttack,
            fc.constantFrom('Bearer ', 'bearer  ', 'Basic ', ''),
            async (a, scheme) => {
              const token = await attack(status.token, a);
              const header = `${scheme}${token}`;
              // An HTTP client cannot send control characters or characters above U+00FF in a header.
              fc.pre(
                token !== null &&
                  token !== status.token &&
                  /^[\t\x20-\x7e\x80-\xff]*$/.test(header),
              );
              tried++;
              const before = await keys();
              const res = await get(header);
              statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
              const body = await res.text();
              if (res.status === 200) {
                // Only a token validly signed by the issuer itself (the 'claims' attack) may pass.
                expect(a.kind === 'claims' && a.sign === 'right', body).toBe(true);
                return;
              }
              // 431: the header was too large for Node's HTTP parser (the app never saw it).
              if (res.status !== 431) {
                expect([401, 403], body).toContain(res.status);
                expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
              }
              expect(await keys()).toEqual(before);
            },
          ),
          { numRuns: 150 },
        );
      } finally {
        console.log(
          `queue fuzz (${target.name}): ${tried} altered tokens to requireAccess (${adapter.name}), by status ${JSON.stringify(Object.fromEntries(statuses))}`,
        );
        await server.close();
        await r.stop();
      }
      expect(server.handled).toBe(1 + (statuses.get(200) ?? 0));
    },
  );

  it('AccessTokens.issue refuses malformed claims with a TypeError/RangeError', async () => {
    let tried = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            sub: userId,
            scope: fc.oneof({ weight: 3, arbitrary: fc.constant(SCOPE) }, hostile),
            aud: fc.oneof({ weight: 3, arbitrary: fc.constant(ROOM) }, hostile),
            ttlMs: fc.oneof(fc.integer({ min: 1, max: 60_000 }), hostile),
            graceMs: maybe(hostile),
            jti: maybe(hostile),
            claims: maybe(fc.oneof(fc.object({ maxDepth: 1 }), hostile)),
          },
          { requiredKeys: ['sub', 'scope', 'aud'] },
        ),
        async (options) => {
          tried++;
          const result = await settle(() => tokens.issue(options as never));
          if (!result.ok) {
            refused++;
            if (!isMisuse(result.error)) throw result.error;
            return;
          }
          // What was issued verifies, with exactly the claims given.
          const claims = await tokens.verify(result.value.token, {
            scope: options.scope as string,
            audience: options.aud as string,
          });
          expect(claims.sub).toBe(options.sub);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`queue fuzz (${target.name}): ${tried} issue() inputs, ${refused} refused`);
  });
});
