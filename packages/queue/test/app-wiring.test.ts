// Regressions found while wiring the reference app (issue 4): events on a lazy, offline-queue-less
// client; the exact `expiresAt` round trip through a token; a per-request `requireAccess` audience.
import type { AddressInfo } from 'node:net';
import { type ClientOptions, redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { type RoomEvent, requireAccess, WaitingRoom } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

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

describe.each(redisTargets())('app wiring on $name', (target) => {
  const redis = useRedis(target);

  it('events() works on a client with lazyConnect and no offline queue', async () => {
    const client = redis.connect({
      lazyConnect: true,
      enableOfflineQueue: false,
      // Cluster: the node connections too (ignored by a standalone client).
      ...(target.name === 'cluster' ? { redisOptions: { enableOfflineQueue: false } } : {}),
    } as ClientOptions);
    await client.connect();
    const room = new WaitingRoom(client, {
      roomId: 'concert-42',
      prefix: redis.prefix,
      tokens,
      maxActive: 5,
    });
    const events = room.events();
    await events.ready;
    const got: RoomEvent[] = [];
    const reader = (async () => {
      for await (const e of events) {
        got.push(e);
        if (e.type === 'admitted') break;
      }
    })();
    await room.join('u1');
    // Publish until the reader saw the admission (a tick publishes whether or not it admits).
    await until(async () => {
      await room.tick();
      return got.some((e) => e.type === 'admitted');
    });
    await reader;
    expect(got.find((e) => e.type === 'admitted')).toMatchObject({ userId: 'u1' });
  });

  it('events() still works on a lazy client that was never connected by the user', async () => {
    const client = redis.connect({ lazyConnect: true, enableOfflineQueue: false } as ClientOptions);
    const room = new WaitingRoom(client, {
      roomId: 'concert-43',
      prefix: redis.prefix,
      tokens,
      maxActive: 5,
    });
    const events = room.events();
    await expect(events.ready).resolves.toBeUndefined();
    await events.close();
    expect((await events.next()).done).toBe(true);
  });

  it('a token verifies to the exact millisecond expiresAt the room reports', async () => {
    const room = new WaitingRoom(redis.client, {
      roomId: 'concert-42',
      prefix: redis.prefix,
      tokens,
      maxActive: 50,
      activeTtlMs: 60_000,
      graceMs: 10_000,
    });
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    for (const u of users) await room.join(u);
    await room.tick();
    let notWholeSecond = 0;
    for (const u of users) {
      const s = await room.status(u);
      if (s.state !== 'active') throw new Error(`expected ${u} active, got ${s.state}`);
      if (s.expiresAt % 1000 !== 0) notWholeSecond++;
      const claims = await room.verify(s.token);
      expect(claims.expiresAt).toBe(s.expiresAt);
      // exp = ceil((expiresAt + grace) / 1 s): at most one second of JWT granularity past the grace.
      expect(claims.exp).toBeGreaterThanOrEqual(s.expiresAt + 10_000);
      expect(claims.exp - claims.expiresAt).toBeLessThan(10_000 + 1000);
    }
    // Admission times in ms almost never all land on whole seconds; if they did, the test proved nothing.
    expect(notWholeSecond).toBeGreaterThan(0);
  });

  it('requireAccess takes the audience from the request', async () => {
    const rooms = ['concert-1', 'concert-2'].map(
      (roomId) =>
        new WaitingRoom(redis.client, { roomId, prefix: redis.prefix, tokens, maxActive: 5 }),
    );
    const [r1, r2] = rooms as [WaitingRoom, WaitingRoom];
    const app = express();
    app.get(
      '/concerts/:id/seats',
      requireAccess(tokens, {
        scope: 'queue_entry',
        audience: (req) => req.params.id,
        // One middleware for every concert: ask the room the token names.
        revocation: {
          isTokenActive: (claims) => (claims.aud === 'concert-1' ? r1 : r2).isTokenActive(claims),
        },
      }),
      (req, res) => {
        res.json({ concert: req.params.id, aud: (res.locals.access as { aud: string }).aud });
      },
    );
    const server = await serve(app);
    try {
      await r1.join('u1');
      await r2.join('u2');
      await r1.tick();
      await r2.tick();
      const s1 = await r1.status('u1');
      const s2 = await r2.status('u2');
      if (s1.state !== 'active' || s2.state !== 'active') throw new Error('expected active');
      const get = (id: string, token: string) =>
        fetch(`${server.url}/concerts/${id}/seats`, {
          headers: { authorization: `Bearer ${token}` },
        });
      const ok1 = await get('concert-1', s1.token);
      expect(ok1.status).toBe(200);
      expect(await ok1.json()).toEqual({ concert: 'concert-1', aud: 'concert-1' });
      const ok2 = await get('concert-2', s2.token);
      expect(ok2.status).toBe(200);
      expect(await ok2.json()).toEqual({ concert: 'concert-2', aud: 'concert-2' });
      const cross = await get('concert-2', s1.token);
      expect(cross.status).toBe(403);
      expect(await cross.json()).toMatchObject({ code: 'TOKEN_FORBIDDEN' });
    } finally {
      await server.close();
    }
  });
});

describe('requireAccess audience function', () => {
  it('passes a bad audience from the function to next(error) (a server bug, not a 403)', async () => {
    const app = express();
    const seen: unknown[] = [];
    const ok = (_req: express.Request, res: express.Response) => {
      res.json({ ok: true });
    };
    app.get(
      '/x',
      requireAccess(tokens, { scope: 'queue_entry', audience: () => '', revocation: false }),
      ok,
    );
    // A route without the `:id` the function reads.
    app.get(
      '/y',
      requireAccess(tokens, {
        scope: 'queue_entry',
        audience: (r) => r.params.id,
        revocation: false,
      }),
      ok,
    );
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: unknown) => {
      seen.push(error);
      res.status(500).end();
    });
    const server = await serve(app);
    try {
      const { token } = await tokens.issue({
        sub: 'u1',
        scope: 'queue_entry',
        aud: 'concert-1',
        ttlMs: 60_000,
      });
      for (const path of ['x', 'y']) {
        const res = await fetch(`${server.url}/${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(500);
      }
      expect(seen).toHaveLength(2);
      expect(seen[0]).toBeInstanceOf(RangeError); // ''
      expect(seen[1]).toBeInstanceOf(TypeError); // undefined
    } finally {
      await server.close();
    }
  });

  it('verify returns the exact millisecond expiresAt given to issue', async () => {
    const base = Date.now() + 60_000;
    for (const offset of [0, 1, 499, 999, 1001]) {
      const expiresAt = base - (base % 1000) + offset;
      const issued = await tokens.issue({
        sub: 'u1',
        scope: 'queue_entry',
        aud: 'concert-1',
        expiresAt,
        graceMs: 5000,
      });
      const claims = await tokens.verify(issued.token, {
        scope: 'queue_entry',
        audience: 'concert-1',
      });
      expect(claims.expiresAt).toBe(expiresAt);
      expect(claims.exp).toBe(Math.ceil((expiresAt + 5000) / 1000) * 1000);
      expect(claims.exp - claims.expiresAt).toBeLessThan(5000 + 1000);
    }
  });

  it('validates audience at construction', () => {
    for (const audience of [undefined, 42, {}, null]) {
      expect(() =>
        requireAccess(tokens, { scope: 'a', audience: audience as never, revocation: false }),
      ).toThrow(TypeError);
    }
    expect(() => requireAccess(tokens, { scope: 'a', audience: '', revocation: false })).toThrow(
      RangeError,
    );
    expect(() =>
      requireAccess(tokens, { scope: 'a', audience: (r) => String(r), revocation: false }),
    ).not.toThrow();
  });
});
