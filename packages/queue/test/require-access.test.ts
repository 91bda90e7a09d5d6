import { redisTargets, unreachableClient, useRedis } from '@boxoffice/local-redis/testing';
import Fastify, { type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireAccess as fastifyAccess } from '../src/fastify.js';
import {
  type AccessProblem,
  type AccessTokens,
  QueueRedisError,
  TokenExpiredError,
  WaitingRoom,
} from '../src/index.js';
import { type AccessServer, ADAPTERS, type TestAccessOptions } from './access-adapters.js';
import { hsTokens } from './helpers.js';

const tokens = hsTokens();
const stateless = { scope: 'queue_entry', audience: 'concert-42', revocation: false } as const;

function issue(overrides: { scope?: string; aud?: string; expiresAt?: number } = {}) {
  const { scope = 'queue_entry', aud = 'concert-42', expiresAt } = overrides;
  return tokens.issue({
    sub: 'u1',
    scope,
    aud,
    ...(expiresAt === undefined ? { ttlMs: 60_000 } : { expiresAt }),
  });
}

const get = (server: AccessServer, path: string, authorization?: string) =>
  fetch(`${server.url}${path}`, { headers: authorization ? { authorization } : {} });

/** The WaitingRoom `room` admits `user` and returns the user's queue_entry token. */
async function admitted(room: WaitingRoom, user: string): Promise<string> {
  await room.join(user);
  await room.tick();
  const status = await room.status(user);
  if (status.state !== 'active') throw new Error(`${user} is not active`);
  return status.token;
}

describe.each(ADAPTERS)('requireAccess ($name)', (adapter) => {
  describe('answers (revocation: false, the explicit stateless opt-out)', () => {
    let server: AccessServer;
    beforeAll(async () => {
      server = await adapter.serve(tokens, [
        { path: '/book', options: stateless },
        {
          path: '/concerts/:id/seats',
          options: { ...stateless, audience: (req) => req.params.id },
        },
        { path: '/empty-audience', options: { ...stateless, audience: () => '' } },
        // A route without the `:id` the function reads.
        { path: '/no-param', options: { ...stateless, audience: (req) => req.params.id } },
      ]);
    });
    afterAll(() => server.close());

    it('lets a valid token through and attaches its claims', async () => {
      const { token } = await issue();
      const res = await get(server, '/book', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ sub: 'u1', aud: 'concert-42' });
    });

    it('answers 401 problem+json with WWW-Authenticate for missing, invalid and expired tokens', async () => {
      const expired = await issue({ expiresAt: Date.now() - 10_000 });
      const before = server.handled;
      for (const [auth, code, error] of [
        [undefined, 'TOKEN_MISSING', 'invalid_request'],
        ['Basic abc', 'TOKEN_MISSING', 'invalid_request'],
        ['Bearer', 'TOKEN_MISSING', 'invalid_request'],
        ['Bearer nope', 'TOKEN_INVALID', 'invalid_token'],
        [`Bearer ${expired.token}`, 'TOKEN_EXPIRED', 'invalid_token'],
      ] as const) {
        const res = await get(server, '/book', auth);
        expect(res.status, String(auth)).toBe(401);
        expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
        expect(res.headers.get('www-authenticate')).toBe(`Bearer error="${error}"`);
        expect(await res.json()).toEqual({
          type: `urn:boxoffice:queue:${code.toLowerCase().replace('_', '-')}`,
          title: 'Unauthorized',
          status: 401,
          code,
          detail: expect.any(String),
        });
      }
      expect(server.handled).toBe(before);
    });

    it('answers 403 for a valid token of another scope or audience', async () => {
      const before = server.handled;
      for (const [scope, aud] of [
        ['seat_reservation_payment', 'concert-42'],
        ['queue_entry', 'concert-43'],
      ] as const) {
        const { token } = await issue({ scope, aud });
        const res = await get(server, '/book', `Bearer ${token}`);
        expect(res.status).toBe(403);
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(await res.json()).toMatchObject({
          type: 'urn:boxoffice:queue:token-forbidden',
          title: 'Forbidden',
          status: 403,
          code: 'TOKEN_FORBIDDEN',
        });
      }
      expect(server.handled).toBe(before);
    });

    it('takes the audience from the request', async () => {
      const { token } = await issue({ aud: 'concert-1' });
      const ok = await get(server, '/concerts/concert-1/seats', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ sub: 'u1', aud: 'concert-1' });
      const cross = await get(server, '/concerts/concert-2/seats', `Bearer ${token}`);
      expect(cross.status).toBe(403);
      expect(await cross.json()).toMatchObject({ code: 'TOKEN_FORBIDDEN' });
    });

    it('passes a bad audience from the function to the error handling (a server bug, not a 403)', async () => {
      const { token } = await issue();
      server.errors.length = 0;
      for (const path of ['/empty-audience', '/no-param']) {
        expect((await get(server, path, `Bearer ${token}`)).status).toBe(500);
      }
      expect(server.errors).toHaveLength(2);
      expect(server.errors[0]).toBeInstanceOf(RangeError); // ''
      expect(server.errors[1]).toBeInstanceOf(TypeError); // undefined
    });
  });

  describe('construction', () => {
    const make = (options: unknown, t: unknown = tokens) =>
      adapter.requireAccess(t as AccessTokens, options as TestAccessOptions);

    it('validates its arguments', () => {
      expect(() => make(stateless, {})).toThrow(TypeError);
      expect(() => make({ ...stateless, scope: '' })).toThrow(RangeError);
      expect(() => make(null)).toThrow(TypeError);
      expect(() => make(stateless)).not.toThrow();
    });

    it('validates audience', () => {
      for (const audience of [undefined, 42, {}, null]) {
        expect(() => make({ ...stateless, audience })).toThrow(TypeError);
      }
      expect(() => make({ ...stateless, audience: '' })).toThrow(RangeError);
      expect(() => make({ ...stateless, audience: (r: unknown) => String(r) })).not.toThrow();
    });

    it('revocation is required: a missing or invalid value is a TypeError, not a stateless default', () => {
      for (const revocation of [undefined, null, true, 0, 'room', {}, { isTokenActive: 1 }]) {
        expect(() => make({ ...stateless, revocation }), String(revocation)).toThrow(TypeError);
      }
      expect(() => make({ scope: 'a', audience: 'b' })).toThrow(
        /revocation must be the WaitingRoom .* or false/,
      );
    });

    it('onProblem must be a function if given', () => {
      for (const onProblem of [null, 1, 'hook', {}]) {
        expect(() => make({ ...stateless, onProblem }), String(onProblem)).toThrow(TypeError);
      }
      expect(() => make({ ...stateless, onProblem: undefined })).not.toThrow();
    });
  });

  describe('onProblem', () => {
    let server: AccessServer;
    const seen: { problem: AccessProblem; req: unknown }[] = [];
    const warnings: unknown[] = [];
    const record: TestAccessOptions['onProblem'] = (problem, req) => {
      seen.push({ problem, req });
    };
    beforeAll(async () => {
      server = await adapter.serve(tokens, [
        {
          path: '/shaped',
          options: {
            ...stateless,
            onProblem: (problem, req, res) => {
              record(problem, req, res);
              adapter.setHeader(res, 'x-request-id', 'req-1');
              // The hook may also try to change what the package owns; those stay.
              adapter.setHeader(res, 'content-type', 'text/plain');
              return {
                code: problem.code.toLowerCase(),
                status: problem.status,
                requestId: 'req-1',
              };
            },
          },
        },
        {
          path: '/async',
          options: {
            ...stateless,
            onProblem: async (problem) => {
              await new Promise((resolve) => setTimeout(resolve, 20));
              return { later: problem.code };
            },
          },
        },
        { path: '/default', options: { ...stateless, onProblem: record } },
        {
          path: '/throws',
          options: {
            ...stateless,
            onProblem: () => {
              throw new Error('hook bug');
            },
          },
        },
        {
          path: '/rejects',
          options: { ...stateless, onProblem: () => Promise.reject(new Error('no')) },
        },
        { path: '/array', options: { ...stateless, onProblem: () => [1] as never } },
        { path: '/bigint', options: { ...stateless, onProblem: () => ({ n: 1n }) } },
        {
          path: '/bad-audience',
          options: { ...stateless, audience: () => '', onProblem: record },
        },
      ]);
    });
    afterAll(() => server.close());
    afterEach(() => {
      seen.length = 0;
      warnings.length = 0;
      vi.restoreAllMocks();
    });
    const spyWarnings = () =>
      vi.spyOn(process, 'emitWarning').mockImplementation((warning: unknown) => {
        warnings.push(warning);
      });

    it('replaces the body; the status, Content-Type and WWW-Authenticate stay; other headers are added', async () => {
      const expired = await issue({ expiresAt: Date.now() - 10_000 });
      const res = await get(server, '/shaped', `Bearer ${expired.token}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(res.headers.get('x-request-id')).toBe('req-1');
      expect(await res.json()).toEqual({ code: 'token_expired', status: 401, requestId: 'req-1' });
      expect(server.handled).toBe(0);
      const [{ problem, req }] = seen as [(typeof seen)[0]];
      expect(Object.isFrozen(problem)).toBe(true);
      expect(problem).toEqual({
        status: 401,
        code: 'TOKEN_EXPIRED',
        type: 'urn:boxoffice:queue:token-expired',
        title: 'Unauthorized',
        detail: expect.any(String),
        cause: expect.any(TokenExpiredError),
      });
      expect((req as { headers: Record<string, string> }).headers.authorization).toBe(
        `Bearer ${expired.token}`,
      );
    });

    it('may be async', async () => {
      const { token } = await issue({ aud: 'elsewhere' });
      const res = await get(server, '/async', `Bearer ${token}`);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ later: 'TOKEN_FORBIDDEN' });
    });

    it('returning nothing keeps the default body', async () => {
      const res = await get(server, '/default');
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'TOKEN_MISSING', title: 'Unauthorized' });
      expect(seen.map((s) => s.problem.code)).toEqual(['TOKEN_MISSING']);
    });

    it('a hook that throws, rejects or returns no JSON object: the default problem, and a warning', async () => {
      spyWarnings();
      for (const path of ['/throws', '/rejects', '/array', '/bigint']) {
        const res = await get(server, path, 'Bearer nope');
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        expect(await res.json()).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
      }
      expect(warnings).toHaveLength(4);
      expect(String((warnings[0] as Error).message)).toMatch(/onProblem failed for TOKEN_INVALID/);
      expect(server.handled).toBe(0);
    });

    it('is not called on success or for a server error', async () => {
      const { token } = await issue();
      expect((await get(server, '/default', `Bearer ${token}`)).status).toBe(200);
      expect((await get(server, '/bad-audience', `Bearer ${token}`)).status).toBe(500);
      expect(seen).toEqual([]);
    });
  });

  it('a revocation check that fails (Redis unreachable) goes to the error handling, not a 401', async () => {
    const client = await unreachableClient();
    const room = new WaitingRoom(client, {
      roomId: 'concert-42',
      tokens,
      maxActive: 5,
      commandTimeoutMs: 500,
    });
    const server = await adapter.serve(tokens, [
      { path: '/book', options: { ...stateless, revocation: room } },
    ]);
    try {
      const { token } = await issue();
      const res = await get(server, '/book', `Bearer ${token}`);
      expect(res.status).toBe(500);
      expect(server.errors).toEqual([expect.any(QueueRedisError)]);
      expect(server.handled).toBe(0);
    } finally {
      await server.close();
      client.disconnect();
    }
  });

  describe.each(redisTargets())('revocable, on $name', (target) => {
    const redis = useRedis(target);
    const room = (roomId: string) =>
      new WaitingRoom(redis.client, { roomId, prefix: redis.prefix, tokens, maxActive: 5 });
    let server: AccessServer | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it('refuses a token at once after complete()', async () => {
      const r = room('concert-42');
      server = await adapter.serve(tokens, [
        { path: '/book', options: { ...stateless, revocation: r } },
      ]);
      const token = await admitted(r, 'u1');
      expect((await get(server, '/book', `Bearer ${token}`)).status).toBe(200);
      await r.complete('u1');
      const res = await get(server, '/book', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(await res.json()).toMatchObject({
        type: 'urn:boxoffice:queue:token-revoked',
        code: 'TOKEN_REVOKED',
      });
    });

    it('a token of a user who left is refused with the room, and passes only with revocation: false', async () => {
      const r = room('concert-42');
      server = await adapter.serve(tokens, [
        { path: '/book', options: { ...stateless, revocation: r } },
        { path: '/stateless', options: stateless },
      ]);
      const token = await admitted(r, 'u2');
      expect((await get(server, '/book', `Bearer ${token}`)).status).toBe(200);
      await r.leave('u2');
      const res = await get(server, '/book', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'TOKEN_REVOKED' });
      // What opting out costs: the signed token outlives the user's place until its exp.
      expect((await get(server, '/stateless', `Bearer ${token}`)).status).toBe(200);
    });

    it('one guard for many rooms: the audience from the request, the room the token names', async () => {
      const r1 = room('concert-1');
      const r2 = room('concert-2');
      server = await adapter.serve(tokens, [
        {
          path: '/concerts/:id/seats',
          options: {
            scope: 'queue_entry',
            audience: (req) => req.params.id,
            revocation: {
              isTokenActive: (claims) =>
                (claims.aud === 'concert-1' ? r1 : r2).isTokenActive(claims),
            },
          },
        },
      ]);
      const t1 = await admitted(r1, 'u1');
      const t2 = await admitted(r2, 'u2');
      const seats = (id: string, token: string) =>
        get(server as AccessServer, `/concerts/${id}/seats`, `Bearer ${token}`);
      const ok1 = await seats('concert-1', t1);
      expect(await ok1.json()).toEqual({ sub: 'u1', aud: 'concert-1' });
      const ok2 = await seats('concert-2', t2);
      expect(await ok2.json()).toEqual({ sub: 'u2', aud: 'concert-2' });
      const cross = await seats('concert-2', t1);
      expect(cross.status).toBe(403);
      expect(await cross.json()).toMatchObject({ code: 'TOKEN_FORBIDDEN' });
      await r2.complete('u2');
      expect(await (await seats('concert-2', t2)).json()).toMatchObject({ code: 'TOKEN_REVOKED' });
    });
  });
});

describe('requireAccess (Fastify only)', () => {
  it('works as a preHandler too, with the audience typed from the route params', async () => {
    const app = Fastify();
    app.post<{ Params: { id: string } }>(
      '/concerts/:id/reservations',
      {
        preHandler: fastifyAccess<FastifyRequest<{ Params: { id: string } }>>(tokens, {
          ...stateless,
          audience: (request) => request.params.id,
        }),
      },
      async (request) => ({ sub: request.access?.sub, body: request.body }),
    );
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { token } = await issue({ aud: 'concert-1' });
      const reserve = (id: string) =>
        fetch(`${url}/concerts/${id}/reservations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ seats: ['A-1'] }),
        });
      const ok = await reserve('concert-1');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ sub: 'u1', body: { seats: ['A-1'] } });
      expect((await reserve('concert-2')).status).toBe(403);
    } finally {
      await app.close();
    }
  });
});
