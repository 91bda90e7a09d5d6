import type { AddressInfo } from 'node:net';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccessTokens, requireAccess, WaitingRoom } from '../src/index.js';
import { hsTokens } from './helpers.js';

const tokens = hsTokens();

async function serve(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('requireAccess (revocation: false, the explicit stateless opt-out)', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    const app = express();
    app.get(
      '/book',
      requireAccess(tokens, { scope: 'queue_entry', audience: 'concert-42', revocation: false }),
      (_req, res) => {
        res.json({ user: (res.locals.access as { sub: string }).sub });
      },
    );
    server = await serve(app);
  });
  afterAll(() => server.close());

  const get = (authorization?: string) =>
    fetch(`${server.url}/book`, { headers: authorization ? { authorization } : {} });

  it('lets a valid token through', async () => {
    const { token } = await tokens.issue({
      sub: 'u1',
      scope: 'queue_entry',
      aud: 'concert-42',
      ttlMs: 60_000,
    });
    const res = await get(`Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: 'u1' });
  });

  it('answers 401 problem+json for missing, invalid and expired tokens', async () => {
    const expired = await tokens.issue({
      sub: 'u1',
      scope: 'queue_entry',
      aud: 'concert-42',
      expiresAt: Date.now() - 10_000,
    });
    for (const [auth, code] of [
      [undefined, 'TOKEN_MISSING'],
      ['Basic abc', 'TOKEN_MISSING'],
      ['Bearer nope', 'TOKEN_INVALID'],
      [`Bearer ${expired.token}`, 'TOKEN_EXPIRED'],
    ] as const) {
      const res = await get(auth);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ status: 401, code });
    }
  });

  it('answers 403 for a valid token of another scope or audience', async () => {
    for (const [scope, aud] of [
      ['seat_reservation_payment', 'concert-42'],
      ['queue_entry', 'concert-43'],
    ]) {
      const { token } = await tokens.issue({
        sub: 'u1',
        scope: scope as string,
        aud: aud as string,
        ttlMs: 60_000,
      });
      const res = await get(`Bearer ${token}`);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ status: 403, code: 'TOKEN_FORBIDDEN' });
    }
  });

  it('validates its arguments', () => {
    expect(() =>
      requireAccess({} as AccessTokens, { scope: 'a', audience: 'b', revocation: false }),
    ).toThrow(TypeError);
    expect(() => requireAccess(tokens, { scope: '', audience: 'b', revocation: false })).toThrow(
      RangeError,
    );
  });

  it('revocation is required: a missing or invalid value is a TypeError, not a stateless default', () => {
    for (const revocation of [undefined, null, true, 0, 'room', {}, { isTokenActive: 1 }]) {
      expect(
        () => requireAccess(tokens, { scope: 'a', audience: 'b', revocation } as never),
        String(revocation),
      ).toThrow(TypeError);
    }
    expect(() => requireAccess(tokens, { scope: 'a', audience: 'b' } as never)).toThrow(
      /revocation must be the WaitingRoom .* or false/,
    );
    expect(() =>
      requireAccess(tokens, { scope: 'a', audience: 'b', revocation: false }),
    ).not.toThrow();
  });
});

describe.each(redisTargets())('requireAccess (revocable) on $name', (target) => {
  const redis = useRedis(target);

  it('refuses a token at once after complete()', async () => {
    const room = new WaitingRoom(redis.client, {
      roomId: 'concert-42',
      prefix: redis.prefix,
      tokens,
      maxActive: 5,
    });
    const app = express();
    app.get(
      '/book',
      requireAccess(tokens, { scope: 'queue_entry', audience: 'concert-42', revocation: room }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    const server = await serve(app);
    try {
      await room.join('u1');
      await room.tick();
      const status = await room.status('u1');
      if (status.state !== 'active') throw new Error('expected active');
      const auth = { authorization: `Bearer ${status.token}` };
      expect((await fetch(`${server.url}/book`, { headers: auth })).status).toBe(200);
      await room.complete('u1');
      const res = await fetch(`${server.url}/book`, { headers: auth });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'TOKEN_REVOKED' });
    } finally {
      await server.close();
    }
  });

  it('a token of a user who left is refused with the room, and passes only with revocation: false', async () => {
    const room = new WaitingRoom(redis.client, {
      roomId: 'concert-43',
      prefix: redis.prefix,
      tokens,
      maxActive: 5,
    });
    const app = express();
    const ok = (_req: unknown, res: express.Response) => {
      res.json({ ok: true });
    };
    const options = { scope: 'queue_entry', audience: 'concert-43' } as const;
    app.get('/book', requireAccess(tokens, { ...options, revocation: room }), ok);
    app.get('/stateless', requireAccess(tokens, { ...options, revocation: false }), ok);
    const server = await serve(app);
    try {
      await room.join('u2');
      await room.tick();
      const status = await room.status('u2');
      if (status.state !== 'active') throw new Error('expected active');
      const auth = { authorization: `Bearer ${status.token}` };
      expect((await fetch(`${server.url}/book`, { headers: auth })).status).toBe(200);
      await room.leave('u2');
      const res = await fetch(`${server.url}/book`, { headers: auth });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'TOKEN_REVOKED' });
      // What opting out costs: the signed token outlives the user's place until its exp.
      expect((await fetch(`${server.url}/stateless`, { headers: auth })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
