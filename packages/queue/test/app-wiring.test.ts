// Regressions found while wiring the reference app (issue 4): events on a lazy, offline-queue-less
// client; the exact `expiresAt` round trip through a token. (The per-request `requireAccess`
// audience is in require-access.test.ts, for both adapters.)
import { type ClientOptions, redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { type RoomEvent, WaitingRoom } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();

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
});

describe('token expiry round trip', () => {
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
});
