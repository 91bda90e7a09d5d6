import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { masters } from '@boxoffice/internal';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  estimatePosition,
  type PositionEvent,
  QueueClosedError,
  type RoomEvent,
  type TickResult,
  TokenRevokedError,
  WaitingRoom,
  type WaitingRoomOptions,
} from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();

describe.each(redisTargets())('WaitingRoom on $name', (target) => {
  const redis = useRedis(target);
  const room = (options: Partial<WaitingRoomOptions> = {}, client = redis.client) =>
    new WaitingRoom(client, {
      roomId: 'concert-42',
      prefix: redis.prefix,
      tokens,
      maxActive: 10,
      ...options,
    });

  it('serves in FIFO order and reports positions', async () => {
    const r = room({ maxActive: 100, admitPerTick: 2 });
    const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
    for (const [i, u] of users.entries()) {
      const res = await r.join(u);
      expect(res).toMatchObject({ state: 'waiting', position: i + 1, total: i + 1, ticket: i + 1 });
    }
    const t1 = await r.tick();
    expect(t1.admitted.map((a) => a.userId)).toEqual(['u1', 'u2']);
    expect(await r.status('u3')).toMatchObject({ state: 'waiting', position: 1, total: 3 });
    const t2 = await r.tick();
    expect(t2.admitted.map((a) => a.userId)).toEqual(['u3', 'u4']);
    const active = await r.status('u1');
    expect(active.state).toBe('active');
    if (active.state === 'active') {
      const claims = await tokens.verify(active.token, {
        scope: 'queue_entry',
        audience: 'concert-42',
      });
      expect(claims.sub).toBe('u1');
      expect(claims.jti).toBe(active.jti);
      expect(active.expiresAt).toBe(t1.admitted[0]?.expiresAt);
    }
  });

  it('stores UUID user ids compactly and gives them back as text', async () => {
    const r = room({ maxActive: 1 });
    const lower = randomUUID();
    const upper = randomUUID().toUpperCase(); // not canonical: stored as is, still a distinct user
    await r.join(lower);
    await r.join(upper);
    await r.join(upper.toLowerCase());
    expect((await r.stats()).waiting).toBe(3);
    const t = await r.tick();
    expect(t.admitted.map((a) => a.userId)).toEqual([lower]);
    const s = await r.status(lower);
    if (s.state !== 'active') throw new Error('expected active');
    expect((await r.verify(s.token)).sub).toBe(lower);
    expect(await r.status(upper)).toMatchObject({ state: 'waiting', position: 1 });
    expect(await r.leave(upper)).toBe(true);
    expect(await r.complete(lower)).toBe(true);
    expect((await r.tick()).admitted.map((a) => a.userId)).toEqual([upper.toLowerCase()]);
  });

  it('keeps one entry per user under concurrent joins from several clients', async () => {
    const rooms = [room(), room({}, redis.connect()), room({}, redis.connect())];
    const joins = [];
    for (let i = 0; i < 60; i++) {
      const r = rooms[i % 3] as WaitingRoom;
      joins.push(r.join('same-user'), r.join(`other-${i % 20}`));
    }
    const results = await Promise.all(joins);
    const tickets = new Set(
      results
        .filter((_, i) => i % 2 === 0)
        .map((res) => (res.state === 'waiting' ? res.ticket : -1)),
    );
    expect(tickets.size).toBe(1);
    expect((await rooms[0]?.stats())?.waiting).toBe(21);
  });

  it('keeps the place on rejoin and heartbeat', async () => {
    const r = room();
    const a = await r.join('a');
    await r.join('b');
    await r.join('c');
    const again = await r.join('a');
    expect(again).toMatchObject({ state: 'waiting', position: 1, total: 3 });
    expect(again.state === 'waiting' && a.state === 'waiting' && again.ticket === a.ticket).toBe(
      true,
    );
    expect(await r.heartbeat('b')).toMatchObject({ state: 'waiting', position: 2 });
    expect(await r.heartbeat('nobody')).toEqual({ state: 'unknown' });
    expect(await r.status('nobody')).toEqual({ state: 'unknown' });
    expect((await r.stats()).waiting).toBe(3);
  });

  it('evicts silent waiters after the heartbeat timeout, and only them', async () => {
    // maxPollAfterMs 100: every waiter is told to come back within 100 ms (deadline 1.1 s).
    const r = room({ heartbeatTimeoutMs: 1000, maxPollAfterMs: 100, maxActive: 1 });
    await r.join('blocker');
    await r.tick(); // blocker takes the only slot; nobody else gets admitted
    for (const u of ['s1', 's2', 'k1', 'k2']) await r.join(u);
    const first = await r.tick();
    expect(first.evicted).toEqual([]);
    const evicted: string[] = [];
    let alive = true;
    const keepAlive = (async () => {
      while (alive) {
        await r.heartbeat('k1');
        await r.heartbeat('k2');
        await new Promise((res) => setTimeout(res, 150));
      }
    })();
    try {
      await until(async () => {
        evicted.push(...(await r.tick()).evicted);
        return evicted.length >= 2;
      });
      // a few more rounds past the timeout: the live users stay
      for (let i = 0; i < 5; i++) {
        evicted.push(...(await r.tick()).evicted);
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      alive = false;
      await keepAlive;
    }
    expect(evicted.sort()).toEqual(['s1', 's2']);
    expect(await r.status('s1')).toEqual({ state: 'unknown' });
    expect(await r.status('k1')).toMatchObject({ state: 'waiting', position: 1 });
    expect(await r.status('k2')).toMatchObject({ state: 'waiting', position: 2 });
    expect((await r.stats()).evictedTotal).toBe(2);
  });

  it('frees the place on leave and the slot on complete', async () => {
    const r = room({ maxActive: 1 });
    for (const u of ['a', 'b', 'c', 'd']) await r.join(u);
    expect(await r.leave('b')).toBe(true);
    expect(await r.leave('b')).toBe(false);
    expect(await r.status('c')).toMatchObject({ position: 2, total: 3 });
    expect((await r.tick()).admitted.map((x) => x.userId)).toEqual(['a']);
    expect((await r.tick()).admitted).toEqual([]);
    expect(await r.complete('a')).toBe(true);
    expect(await r.complete('a')).toBe(false);
    expect(await r.status('a')).toEqual({ state: 'unknown' });
    expect((await r.tick()).admitted.map((x) => x.userId)).toEqual(['c']);
    expect(await r.leave('c')).toBe(true); // leaving the booking area frees the slot too
    expect((await r.tick()).admitted.map((x) => x.userId)).toEqual(['d']);
  });

  it('expires active users after activeTtlMs + graceMs', async () => {
    const r = room({ activeTtlMs: 400, graceMs: 300 });
    await r.join('a');
    const t = await r.tick();
    const expiresAt = t.admitted[0]?.expiresAt as number;
    expect(expiresAt).toBe(t.at + 400);
    const ticks: TickResult[] = [];
    await until(async () => {
      const res = await r.tick();
      ticks.push(res);
      return res.expired.length > 0;
    });
    const last = ticks.at(-1) as TickResult;
    expect(last.expired).toEqual(['a']);
    expect(last.at).toBeGreaterThanOrEqual(expiresAt + 300);
    // every earlier round still saw the user active (not expired before the grace ran out)
    for (const res of ticks.slice(0, -1)) {
      expect(res.active).toBe(1);
      expect(res.at).toBeLessThan(expiresAt + 300);
    }
    expect(await r.status('a')).toEqual({ state: 'unknown' });
    // rejoining after expiry queues again at the back
    expect(await r.join('a')).toMatchObject({ state: 'waiting', position: 1 });
  });

  it('never exceeds capacity with 3 instances ticking concurrently', async () => {
    const maxActive = 4;
    const results: { instance: number; result: TickResult }[] = [];
    const rooms = [0, 1, 2].map((instance) =>
      room(
        {
          maxActive,
          admitPerTick: 3,
          tickMs: 20,
          onTick: (result) => results.push({ instance, result }),
        },
        instance === 0 ? redis.client : redis.connect(),
      ),
    );
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    await Promise.all(users.map((u, i) => (rooms[i % 3] as WaitingRoom).join(u)));
    for (const r of rooms) r.start();
    const done = new Set<string>();
    try {
      await until(
        async () => {
          // finish a random active user now and then, from a random instance
          for (const u of users) {
            if (done.has(u)) continue;
            const s = await (rooms[Math.floor(Math.random() * 3)] as WaitingRoom).status(u);
            if (s.state === 'active' && Math.random() < 0.5) {
              await (rooms[Math.floor(Math.random() * 3)] as WaitingRoom).complete(u);
              done.add(u);
            }
          }
          const a = await (rooms[0] as WaitingRoom).stats();
          expect(a.active).toBeLessThanOrEqual(maxActive);
          return done.size === users.length;
        },
        60_000,
        20,
      );
    } finally {
      await Promise.all(rooms.map((r) => r.stop()));
    }
    expect(results.length).toBeGreaterThan(0);
    for (const { result } of results) expect(result.active).toBeLessThanOrEqual(maxActive);
    const tickNumbers = results.map((r) => r.result.tick);
    expect(new Set(tickNumbers).size).toBe(tickNumbers.length);
    const admitted = results.flatMap((r) => r.result.admitted.map((a) => a.userId));
    expect(admitted.sort()).toEqual([...users].sort());

    // manual ticks from all instances at once: still never above capacity
    for (const u of users) await (rooms[0] as WaitingRoom).join(u);
    for (let round = 0; round < 5; round++) {
      const concurrent = await Promise.all(rooms.flatMap((r) => [r.tick(), r.tick()]));
      for (const res of concurrent) expect(res.active).toBeLessThanOrEqual(maxActive);
      const seen = concurrent.flatMap((res) => res.admitted.map((a) => a.userId));
      expect(new Set(seen).size).toBe(seen.length);
      const ticks = concurrent.map((res) => res.tick);
      expect(new Set(ticks).size).toBe(ticks.length);
      await Promise.all(seen.slice(0, 2).map((u) => (rooms[1] as WaitingRoom).complete(u)));
    }
  });

  it('only one of several started instances ticks at a time (fenced lease)', async () => {
    const byInstance = new Map<number, number[]>();
    const rooms = [0, 1, 2].map((instance) =>
      room(
        {
          tickMs: 20,
          onTick: (res) =>
            byInstance.set(instance, [...(byInstance.get(instance) ?? []), res.tick]),
        },
        instance === 0 ? redis.client : redis.connect(),
      ),
    );
    for (const r of rooms) r.start();
    await until(async () => (await (rooms[0] as WaitingRoom).stats()).ticks >= 15);
    const leader = [...byInstance.entries()].find(([, ticks]) => ticks.length > 0)?.[0] as number;
    await (rooms[leader] as WaitingRoom).stop(); // releases the lease: another instance takes over
    const before = (await (rooms[0] as WaitingRoom).stats()).ticks;
    await until(async () => (await (rooms[0] as WaitingRoom).stats()).ticks >= before + 10);
    await Promise.all(rooms.map((r) => r.stop()));
    const all = [...byInstance.values()].flat();
    expect(new Set(all).size).toBe(all.length); // no tick number twice
    const takers = [...byInstance.entries()].filter(([, ticks]) => ticks.length > 0);
    expect(takers.length).toBeGreaterThanOrEqual(2);
    // the stopped leader ticked no more; another instance carried on from where it stopped
    const leaderTicks = byInstance.get(leader) as number[];
    expect(leaderTicks.every((t) => t <= before)).toBe(true);
    const others = takers.filter(([i]) => i !== leader).flatMap(([, t]) => t);
    expect(others.filter((t) => t > before).length).toBeGreaterThanOrEqual(10);
    // while both ran, the ticks came from one lease holder at a time: the sequence changes hands
    // at most once per takeover, not round-robin
    const sequence = all
      .sort((a, b) => a - b)
      .map((t) => takers.find(([, ts]) => ts.includes(t))?.[0]);
    const handovers = sequence.filter((who, i) => i > 0 && who !== sequence[i - 1]).length;
    expect(handovers).toBeLessThanOrEqual(3);
  });

  it('shuffles the pre-queue fairly at startsAt, ahead of later arrivals', async () => {
    const startsAt = new Date(Date.now() + 1500);
    const r = room({
      maxActive: 100,
      admitPerTick: 100,
      preQueue: { opensAt: new Date(Date.now() - 1000), startsAt },
    });
    const early = Array.from({ length: 20 }, (_, i) => `early-${i}`);
    for (const u of early) {
      expect(await r.join(u)).toMatchObject({ state: 'waiting', preQueue: true, ticket: 0 });
    }
    expect((await r.tick()).admitted).toEqual([]); // nobody before startsAt
    await until(() => Date.now() > startsAt.getTime() + 100);
    const late = ['late-0', 'late-1', 'late-2'];
    for (const u of late) {
      const res = await r.join(u);
      expect(res.state === 'waiting' && res.position > 20 && !res.preQueue).toBe(true);
    }
    const t = await r.tick();
    const order = t.admitted.map((a) => a.userId);
    expect(order.slice(0, 20).sort()).toEqual([...early].sort());
    expect(order.slice(20)).toEqual(late);
    expect(order.slice(0, 20)).not.toEqual(early); // 1 in 20! chance of a false failure
  });

  it('moves a large pre-queue in bounded batches, keeping later arrivals behind it', async () => {
    const startsAt = new Date(Date.now() + 2500);
    const r = room({
      maxActive: 1,
      admitPerTick: 1,
      preQueue: { opensAt: new Date(Date.now() - 1000), startsAt },
    });
    const early = Array.from({ length: 1200 }, (_, i) => `early-${i}`);
    await Promise.all(early.map((u) => r.join(u)));
    await until(() => Date.now() > startsAt.getTime() + 100);
    expect(await r.join('late')).toMatchObject({ position: 1201, total: 1201, preQueue: false });
    const t1 = await r.tick(); // moves the first 1,000, admits the first of them
    expect(t1.admitted).toHaveLength(1);
    expect(await r.status('late')).toMatchObject({ position: 1200, total: 1200 });
    const waiting = await Promise.all(early.map((u) => r.status(u)));
    const positions = waiting.flatMap((s) => (s.state === 'waiting' ? [s.position] : []));
    expect(positions.sort((a, b) => a - b)).toEqual(Array.from({ length: 1199 }, (_, i) => i + 1));
    expect(waiting.filter((s) => s.state === 'waiting' && s.preQueue)).toHaveLength(200);
    await r.tick(); // moves the other 200; capacity is full, nobody admitted
    expect(await r.status('late')).toMatchObject({ position: 1200 });
    await r.complete(t1.admitted[0]?.userId as string);
    const t3 = await r.tick();
    expect(t3.admitted[0]?.userId).toMatch(/^early-/);
  });

  it('refuses joins before the pre-queue opens', async () => {
    const r = room({
      preQueue: {
        opensAt: new Date(Date.now() + 60_000),
        startsAt: new Date(Date.now() + 120_000),
      },
    });
    const error = await r.join('early-bird').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueClosedError);
    expect(error).toMatchObject({ reason: 'not-open', code: 'QUEUE_NOT_OPEN' });
    expect(await r.status('early-bird')).toEqual({ state: 'unknown' });
  });

  it('delivers admitted, evicted and position events to a subscriber', async () => {
    const r = room({ maxActive: 1, activeTtlMs: 200, graceMs: 0 });
    const events = r.events();
    await events.ready;
    const got: RoomEvent[] = [];
    const reader = (async () => {
      for await (const e of events) {
        got.push(e);
        if (e.type === 'evicted') break;
      }
    })();
    await r.join('x');
    await r.join('y');
    await r.tick();
    await until(async () => (await r.tick()).expired.length > 0);
    await reader;
    expect(got.find((e) => e.type === 'admitted')).toMatchObject({ type: 'admitted', userId: 'x' });
    expect(got.find((e) => e.type === 'evicted')).toMatchObject({ userId: 'x', reason: 'expired' });
    const position = got.find((e) => e.type === 'position');
    expect(position).toMatchObject({ type: 'position', servingTicket: 2, waiting: 1, active: 1 });
    expect(estimatePosition(2, position as PositionEvent)).toBe(1);
    expect(estimatePosition(7, position as PositionEvent)).toBe(6);
  });

  it('ends event iteration when the signal aborts', async () => {
    const r = room();
    const abort = new AbortController();
    const events = r.events({ signal: abort.signal });
    await events.ready;
    const done = (async () => {
      const seen: string[] = [];
      for await (const e of events) seen.push(e.type);
      return seen;
    })();
    await r.tick();
    await until(async () => {
      await r.tick();
      return true;
    });
    setTimeout(() => abort.abort(), 200);
    const seen = await done;
    expect(seen.every((t) => t === 'position')).toBe(true);
    expect((await events.next()).done).toBe(true);
  });

  it('revokes tokens statefully on complete', async () => {
    const r = room();
    await r.join('a');
    await r.tick();
    const s = await r.status('a');
    if (s.state !== 'active') throw new Error('expected active');
    expect((await r.verify(s.token)).sub).toBe('a');
    expect(await r.isTokenActive({ sub: 'a', aud: 'concert-42', jti: s.jti })).toBe(true);
    expect(await r.isTokenActive({ sub: 'a', aud: 'other-room', jti: s.jti })).toBe(false);
    await r.complete('a');
    await expect(r.verify(s.token)).rejects.toBeInstanceOf(TokenRevokedError);
    // stateless verification still accepts it until it expires
    expect(
      (await tokens.verify(s.token, { scope: 'queue_entry', audience: 'concert-42' })).sub,
    ).toBe('a');
  });

  it('a status read writes nothing', async () => {
    const r = room();
    expect(await r.status('nobody')).toEqual({ state: 'unknown' });
    expect(await scanKeys(redis.client, `${redis.prefix}*`)).toEqual([]);
    await r.join('a');
    const keys = await scanKeys(redis.client, `${redis.prefix}*`);
    expect(await r.status('a')).toMatchObject({ state: 'waiting', position: 1 });
    expect(await scanKeys(redis.client, `${redis.prefix}*`)).toEqual(keys);
  });

  it('an idle room ticks at idleTickMs, and a join on the same instance wakes its ticker at once', async () => {
    const idle = room({ roomId: 'idle-room', tickMs: 20, idleTickMs: 600_000, maxActive: 1 });
    const busy = room({ roomId: 'busy-room', tickMs: 20 });
    const ticks = async (r: WaitingRoom) => (await r.stats()).ticks;
    try {
      idle.start();
      busy.start();
      // While the room with no idle pace runs ten rounds, the idle one runs its first only.
      await until(async () => (await ticks(busy)) >= 10 && (await ticks(idle)) >= 1);
      expect(await ticks(idle)).toBe(1);
      // A join ends the 10-minute wait: admitted by the next round, then rounds every tickMs again.
      expect(await idle.join('a')).toMatchObject({ state: 'waiting', position: 1 });
      await until(async () => (await idle.status('a')).state === 'active', 5_000);
      const admittedAt = await ticks(idle);
      await until(async () => (await ticks(idle)) >= admittedAt + 3, 5_000);
    } finally {
      await Promise.all([idle.close(), busy.close()]);
    }
  });

  it('rejects an idleTickMs shorter than tickMs', () => {
    expect(() => room({ tickMs: 100, idleTickMs: 50 })).toThrow(RangeError);
    expect(() => room({ tickMs: 100, idleTickMs: 1.5 })).toThrow(TypeError);
  });

  it('close() deletes every key and refuses later joins', async () => {
    const r = room({ heartbeatTimeoutMs: 1000 });
    for (const u of ['a', 'b', 'c']) await r.join(u);
    await r.tick();
    r.start();
    await until(async () => (await r.stats()).ticks >= 2);
    expect((await scanKeys(redis.client, `${redis.prefix}*`)).length).toBeGreaterThan(3);
    await r.close();
    const left = await scanKeys(redis.client, `${redis.prefix}*`);
    expect(left).toEqual([`${redis.prefix}:q:{concert-42}:m`]);
    expect(await redis.client.hgetall(left[0] as string)).toEqual({ closed: '1' });
    expect(await redis.client.pttl(left[0] as string)).toBeGreaterThan(0);
    await expect(r.join('d')).rejects.toBeInstanceOf(QueueClosedError);
    await expect(room().join('d')).rejects.toMatchObject({ reason: 'closed' });
    expect(await room().status('a')).toEqual({ state: 'unknown' });
  });

  it('keeps one Lua call and the same Redis commands per status whatever the line length', async () => {
    const r = room();
    const base = `${redis.prefix}:q:{concert-42}:`;
    // The commands scripts run on our keys, as `NAME key-suffix`, from MONITOR on a plain socket
    // (ioredis' own monitor() can trip over a busy shared server's output before its mode switch).
    // A marker command after fn() ends the capture once MONITOR has printed it (a node prints in
    // order, and every room key is on one node), instead of waiting some time for the output.
    const marker = `${base}monitor-end`;
    const monitorCommands = async (fn: () => Promise<unknown>): Promise<string[]> => {
      const seen: string[] = [];
      let markerSeen = false;
      const sockets = await Promise.all(
        masters(redis.client).map(
          (node) =>
            new Promise<Socket>((resolve, reject) => {
              const { host, port } = node.options as { host: string; port: number };
              const socket = connect(port, host);
              let buffer = '';
              let ready = false;
              socket.on('error', reject);
              socket.on('data', (chunk) => {
                buffer += chunk.toString('latin1');
                const lines = buffer.split('\r\n');
                buffer = lines.pop() as string;
                for (const line of lines) {
                  if (!ready && line === '+OK') {
                    ready = true;
                    resolve(socket);
                    continue;
                  }
                  if (line.endsWith(`"${marker}"`)) markerSeen = true;
                  const m = / lua\] "(\w+)" "([^"]*)"(?: "([^"]*)")?/.exec(line);
                  if (!ready || !m?.[2]?.startsWith(base)) continue;
                  const [, name, key] = m as unknown as [string, string, string];
                  seen.push(`${name} ${key.slice(base.length)}`);
                }
              });
              socket.write('MONITOR\r\n');
            }),
        ),
      );
      await fn();
      await redis.client.exists(marker);
      await until(() => markerSeen, 10_000).catch(() => {
        throw new Error(`MONITOR never printed the marker; seen so far: ${seen.join(', ')}`);
      });
      for (const socket of sockets) socket.destroy();
      return seen;
    };
    await r.join('probe');
    const small = await monitorCommands(() => r.status('probe'));
    // 100k more waiters, pipelined
    const n = 100_000;
    const batch = 5000;
    for (let i = 0; i < n; i += batch) {
      await Promise.all(Array.from({ length: batch }, (_, j) => r.join(`w-${i + j}`)));
    }
    expect((await r.stats()).waiting).toBe(n + 1);
    const large = await monitorCommands(() => r.status('probe'));
    const largeTail = await monitorCommands(() => r.status(`w-${n - 1}`));
    const largeBeat = await monitorCommands(() => r.heartbeat(`w-${n - 1}`));
    expect(small).toEqual(['HMGET m', 'ZMSCORE w', 'ZRANK w', 'ZCARD w']);
    expect(large).toEqual(small);
    expect(largeTail).toEqual(small);
    // A heartbeat adds one write, its deadline, whatever the line length.
    expect(largeBeat).toEqual([...small, 'ZADD h']);
    expect(await r.status(`w-${n - 1}`)).toMatchObject({ position: n + 1 });
  }, 120_000);
});

describe('WaitingRoom input validation', () => {
  const fake = { defineCommand: () => {}, duplicate: () => {} } as never;
  const base = { roomId: 'r', tokens, maxActive: 1 };
  it('rejects bad options before any Redis call', () => {
    expect(() => new WaitingRoom(fake, { ...base, maxActive: 0 })).toThrow(RangeError);
    expect(() => new WaitingRoom(fake, { ...base, maxActive: 1.5 })).toThrow(TypeError);
    expect(() => new WaitingRoom(fake, { ...base, tickMs: 5 })).toThrow(/tickMs/);
    expect(() => new WaitingRoom(fake, { ...base, maxPollAfterMs: 10 })).toThrow(RangeError);
    expect(() => new WaitingRoom(fake, { ...base, maxPollAfterMs: 1.5 })).toThrow(TypeError);
    expect(() => new WaitingRoom(fake, { ...base, roomId: '' })).toThrow(RangeError);
    expect(() => new WaitingRoom(fake, { ...base, roomId: 'a{b}' })).toThrow(/braces/);
    expect(() => new WaitingRoom(fake, { ...base, tokens: {} as never })).toThrow(/AccessTokens/);
    expect(() => new WaitingRoom(fake, { ...base, tikMs: 5 } as never)).toThrow(
      /unknown option 'tikMs'/,
    );
    expect(() => new WaitingRoom({} as never, base)).toThrow(/ioredis/);
    expect(
      () =>
        new WaitingRoom(fake, {
          ...base,
          preQueue: { opensAt: new Date(2000), startsAt: new Date(1000) },
        }),
    ).toThrow(RangeError);
  });

  it('rejects bad user ids before any Redis call', async () => {
    const r = new WaitingRoom(fake, base);
    for (const bad of ['', 'x'.repeat(257), 'tab\there', 'nul\u0000', 42, null, undefined]) {
      await expect(r.join(bad as string)).rejects.toThrow(/userId/);
      await expect(r.status(bad as string)).rejects.toThrow(/userId/);
    }
  });
});
