import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  QueueClosedError,
  type TickResult,
  WaitingRoom,
  type WaitingRoomOptions,
} from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// configure()/settings() are shared by every instance through Redis: what one instance stores, the
// ticks of the others use, without a restart.
describe.each(redisTargets())('WaitingRoom live settings on $name', (target) => {
  const redis = useRedis(target);
  const instance = (options: Partial<WaitingRoomOptions> = {}) =>
    new WaitingRoom(redis.connect(), {
      roomId: 'live-room',
      prefix: redis.prefix,
      tokens,
      maxActive: 10,
      admitPerTick: 1,
      tickMs: 50,
      ...options,
    });
  const ids = (t: TickResult) => t.admitted.map((a) => a.userId);

  it("one instance configures, the other's ticks obey; settings() reads them everywhere", async () => {
    const [a, b] = [instance(), instance()];
    expect(await b.settings()).toEqual({ maxActive: 10, admitPerTick: 1, order: 'fifo' });
    for (const u of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) await a.join(u);
    expect(ids(await b.tick())).toEqual(['u1']);

    expect(await a.configure({ admitPerTick: 3 })).toEqual({
      maxActive: 10,
      admitPerTick: 3,
      order: 'fifo',
    });
    expect(await b.settings()).toMatchObject({ admitPerTick: 3 });
    const t = await b.tick();
    expect(ids(t)).toEqual(['u2', 'u3', 'u4']);
    expect(t.settings).toEqual({ maxActive: 10, admitPerTick: 3, order: 'fifo' });

    // A capacity below the active count (4): nobody admitted, nobody active evicted.
    expect(await b.configure({ maxActive: 2 })).toMatchObject({ maxActive: 2, admitPerTick: 3 });
    const full = await a.tick();
    expect(full).toMatchObject({ admitted: [], active: 4, expired: [], evicted: [] });
    expect(await a.status('u1')).toMatchObject({ state: 'active' });
    await a.complete('u1');
    await a.complete('u2');
    expect((await b.tick()).admitted).toEqual([]); // 2 active = maxActive
    await a.complete('u3');
    expect(ids(await b.tick())).toEqual(['u5']);

    const stats = await a.stats();
    expect(stats.settings).toEqual({ maxActive: 2, admitPerTick: 3, order: 'fifo' });
    expect(stats).toMatchObject({ paused: false, active: 2, waiting: 1 });
  });

  it('a running ticker on another instance picks up the change at its next tick', async () => {
    const seen: TickResult[] = [];
    const ticker = instance({ onTick: (t) => seen.push(t) });
    const operator = instance();
    for (let i = 0; i < 8; i++) await operator.join(`w${i}`);
    await operator.pause();
    ticker.start();
    try {
      await until(() => seen.some((t) => t.paused));
      await operator.configure({ admitPerTick: 4 });
      await operator.resume();
      const t = (await until(() => seen.find((x) => x.admitted.length > 0))) as TickResult;
      expect(t.admitted).toHaveLength(4);
      expect(t.settings.admitPerTick).toBe(4);
    } finally {
      await ticker.stop();
    }
  });

  it('validates like the constructor and stores nothing on a bad value', async () => {
    const r = instance();
    await r.configure({ maxActive: 7 });
    const bad: [unknown, ErrorConstructor][] = [
      [{ maxActive: 0 }, RangeError],
      [{ maxActive: 1.5 }, TypeError],
      [{ maxActive: '5' }, TypeError],
      [{ admitPerTick: 100_001 }, RangeError],
      [{ admitPerTick: -1 }, RangeError],
      [{ order: 'lifo' }, TypeError],
      [{ admitPerTick: 5, maxActive: 0 }, RangeError], // one bad field: none stored
      [{ maxActiv: 5 }, TypeError],
      [null, TypeError],
      [[], TypeError],
    ];
    for (const [update, type] of bad) {
      await expect(r.configure(update as never)).rejects.toBeInstanceOf(type);
    }
    expect(() => instance({ order: 'lifo' as never })).toThrow(TypeError);
    expect(await r.settings()).toEqual({ maxActive: 7, admitPerTick: 1, order: 'fifo' });
    // undefined fields are left alone, like undefined options
    expect(await r.configure({ maxActive: undefined, order: 'random' })).toEqual({
      maxActive: 7,
      admitPerTick: 1,
      order: 'random',
    });
  });

  it('two configure calls at once keep both fields', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = [instance(), instance()];
      await Promise.all([
        a.configure({ maxActive: 100 + round }),
        b.configure({ admitPerTick: 50 + round }),
        a.configure({ order: round % 2 ? 'random' : 'fifo' }),
      ]);
      expect(await b.settings()).toEqual({
        maxActive: 100 + round,
        admitPerTick: 50 + round,
        order: round % 2 ? 'random' : 'fifo',
      });
    }
  });

  it("order 'random' admits random waiters, everyone eventually; 'fifo' the head again", async () => {
    const a = instance({ maxActive: 1000, admitPerTick: 5, order: 'random' });
    const users = Array.from({ length: 20 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    for (const u of users) await a.join(u);
    const first = ids(await a.tick());
    expect(first).toHaveLength(5);
    // all 20 in the line: the head would be r00..r04 (chance of a random draw giving it: 1/15504)
    expect([...first].sort()).not.toEqual(users.slice(0, 5));
    const admitted = new Set(first);
    for (let i = 0; i < 3; i++) for (const u of ids(await a.tick())) admitted.add(u);
    expect([...admitted].sort()).toEqual(users);

    for (const u of ['f1', 'f2', 'f3', 'f4', 'f5', 'f6']) await a.join(u);
    await instance().configure({ order: 'fifo' });
    expect(ids(await a.tick())).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
  });

  it('configure and settings refuse a closed room', async () => {
    const r = instance();
    await r.close();
    await expect(r.configure({ maxActive: 3 })).rejects.toBeInstanceOf(QueueClosedError);
    await expect(instance().settings()).rejects.toBeInstanceOf(QueueClosedError);
  });
});

describe.each(redisTargets())('WaitingRoom stats and eviction bound on $name', (target) => {
  const redis = useRedis(target);
  const room = (options: Partial<WaitingRoomOptions> = {}) =>
    new WaitingRoom(redis.client, {
      roomId: 'stats-room',
      prefix: redis.prefix,
      tokens,
      maxActive: 1,
      activeTtlMs: 60_000,
      ...options,
    });

  it('stats: paused, settings, the last minute’s waits and abandons', async () => {
    const r = room();
    const empty = await r.stats();
    expect(empty).toMatchObject({
      paused: false,
      abandonedPerMin: 0,
      admittedPerMin: 0,
      settings: { maxActive: 1, admitPerTick: 100, order: 'fifo' },
      waitMs: { p50: null, p90: null, admitted: 0 },
    });
    await r.join('first');
    await r.tick(); // 'first' admitted at once: wait 0 (its join is dated by this tick)
    await r.join('second');
    await r.join('quitter');
    await r.tick(); // dates the joins; the booking area is full
    await sleep(300);
    expect(await r.leave('quitter')).toBe(true);
    expect(await r.leave('nobody')).toBe(false); // not an abandon
    await r.complete('first');
    await r.pause();
    const t = await r.tick();
    expect(t.admitted).toEqual([]);
    await r.resume();
    expect((await r.tick()).admitted.map((a) => a.userId)).toEqual(['second']);
    const s = await r.stats();
    expect(s).toMatchObject({ abandonedPerMin: 1, admittedPerMin: 2, admittedTotal: 2 });
    expect(s.waitMs.admitted).toBe(2);
    // nearest rank: p50 is the shorter wait (≈ 0), p90 the longer (≈ 300 ms, bins ±9 %)
    expect(s.waitMs.p50).toBeLessThan(50);
    expect(s.waitMs.p90).toBeGreaterThanOrEqual(250);
    expect(s.waitMs.p90).toBeLessThan(2000);
    await r.pause();
    expect((await r.stats()).paused).toBe(true);
  });

  it('evictions count as abandons', async () => {
    const r = room({ heartbeatTimeoutMs: 200, maxPollAfterMs: 100 });
    await r.join('busy');
    await r.tick();
    await r.join('silent');
    const evicted = await until(async () => {
      const e = (await r.tick()).evicted;
      return e.length > 0 ? e : undefined;
    });
    expect(evicted).toEqual(['silent']);
    expect((await r.stats()).abandonedPerMin).toBe(1);
  });

  // tickMs 1000, heartbeatTimeoutMs 400, maxPollAfterMs 100: the silent waiter's deadline is
  // 500 ms after its join, and no tick runs for 1.2 s; the first tick after that evicts it (and
  // only it: 'chatty' heartbeats every ~40 ms).
  it('a silent waiter is evicted by the first tick after its deadline, however rare the ticks', async () => {
    const r = room({ heartbeatTimeoutMs: 400, maxPollAfterMs: 100, tickMs: 1000 });
    await r.join('blocker');
    await r.tick(); // the booking area is full: the others wait
    await r.join('silent');
    const joinedAt = Date.now();
    await r.join('chatty');
    while (Date.now() - joinedAt < 1200) {
      expect(await r.heartbeat('chatty')).toMatchObject({ state: 'waiting' });
      await sleep(40);
    }
    const t = await r.tick();
    expect(t.evicted).toEqual(['silent']);
    expect(await r.status('chatty')).toMatchObject({ state: 'waiting' });
    expect(await r.status('silent')).toEqual({ state: 'unknown' });
  });

  it('a waiter back after a long silence, before the next tick, keeps its place', async () => {
    const r = room({ heartbeatTimeoutMs: 400, maxPollAfterMs: 100, tickMs: 1000 });
    await r.join('blocker');
    await r.tick();
    await r.join('late');
    const joinedAt = Date.now();
    await r.join('chatty');
    while (Date.now() - joinedAt < 1000) {
      await r.heartbeat('chatty');
      await sleep(40);
    }
    expect(await r.heartbeat('late')).toMatchObject({ state: 'waiting' });
    expect((await r.tick()).evicted).toEqual([]);
    expect(await r.status('late')).toMatchObject({ state: 'waiting' });
  });
});
