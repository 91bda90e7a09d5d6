import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { type RoomStatus, WaitingRoom, type WaitingRoomOptions } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waiting = (s: RoomStatus) => {
  if (s.state !== 'waiting') throw new Error(`expected a waiter, got ${JSON.stringify(s)}`);
  return s;
};

// How often a waiter is asked to come back (pollAfterMs) grows with its ETA, and its eviction
// deadline follows what it was told: a waiter far back polls rarely and is never evicted for it.
describe.each(redisTargets())('WaitingRoom poll pace on $name', (target) => {
  const redis = useRedis(target);
  const room = (options: Partial<WaitingRoomOptions> = {}) =>
    new WaitingRoom(redis.client, {
      roomId: 'pace-room',
      prefix: redis.prefix,
      tokens,
      maxActive: 1,
      ...options,
    });

  // No tick has run, so the ETA is the full pace: position × tickMs / admitPerTick.
  it('pollAfterMs is a quarter of the ETA, at least tickMs, at most maxPollAfterMs', async () => {
    const r = room({ admitPerTick: 1, tickMs: 1000, maxPollAfterMs: 60_000 });
    const users = Array.from({ length: 300 }, (_, i) => `u${i + 1}`);
    await Promise.all(users.map((u) => r.join(u)));
    const at = async (position: number) => {
      const s = waiting(await r.status(`u${position}`));
      expect(s.position).toBe(position);
      return [s.etaMs, s.pollAfterMs];
    };
    expect(await at(1)).toEqual([1000, 1000]);
    expect(await at(8)).toEqual([8000, 2000]);
    expect(await at(100)).toEqual([100_000, 25_000]);
    expect(await at(240)).toEqual([240_000, 60_000]);
    expect(await at(300)).toEqual([300_000, 60_000]);
  });

  // The last minute's admissions say nothing about the pace to come right after admissions start
  // or resume: a waiter told ETA/4 from them would come back long after its turn. So the ETA
  // assumes the full pace for the streak's first 10 s, then the streak's own pace.
  it('ETAs assume the full pace for the first 10 s of admitting, then the measured one', async () => {
    const r = room({ admitPerTick: 2, maxActive: 2, tickMs: 1000 });
    for (let i = 1; i <= 10; i++) await r.join(`u${i}`);
    expect((await r.tick()).admitted).toHaveLength(2); // the streak starts
    // Full pace: 2 per 1 s tick, position 1 → 1 s (the last minute's 2 admissions would say 30 s).
    expect(waiting(await r.status('u3'))).toMatchObject({ position: 1, etaMs: 1000 });

    // 20 s into the streak (its start moved back in the meta hash), 2 more admissions: 4 over
    // 20 s is 12 a minute, so position 1 waits 5 s.
    const meta = r.keys[4] as string;
    await redis.client.hset(meta, 'as', Date.now() - 20_000);
    await Promise.all([r.complete('u1'), r.complete('u2')]);
    expect((await r.tick()).admitted).toHaveLength(2);
    const eta = waiting(await r.status('u5')).etaMs;
    // The streak is 20 s plus the time this test took since the HSET (a quarter of it shows).
    expect(eta).toBeGreaterThanOrEqual(5000 - 10); // Redis time against Date.now(): rounding
    expect(eta).toBeLessThan(6000);

    // A pause ends the streak: after the resume, the full pace again.
    await r.pause();
    await r.tick();
    await r.resume();
    await Promise.all([r.complete('u3'), r.complete('u4')]);
    expect((await r.tick()).admitted).toHaveLength(2);
    expect(waiting(await r.status('u7'))).toMatchObject({ position: 1, etaMs: 1000 });
  });

  it('while paused a waiter polls no faster than a third of the timeout; in a random-order room no slower', async () => {
    const r = room({ admitPerTick: 1, tickMs: 1000, heartbeatTimeoutMs: 30_000 });
    for (const u of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await r.join(u);
    await r.pause();
    expect(waiting(await r.status('a'))).toMatchObject({ etaMs: 1000, pollAfterMs: 10_000 });
    await r.resume();
    expect(waiting(await r.status('a'))).toMatchObject({ pollAfterMs: 1000 });

    const random = new WaitingRoom(redis.client, {
      roomId: 'pace-random',
      prefix: redis.prefix,
      tokens,
      maxActive: 1,
      admitPerTick: 1,
      tickMs: 1000,
      heartbeatTimeoutMs: 30_000,
      order: 'random',
    });
    for (let i = 0; i < 200; i++) await random.join(`r${i}`);
    expect(waiting(await random.status('r199'))).toMatchObject({
      etaMs: 200_000,
      pollAfterMs: 10_000,
    });
  });

  // pollAfterMs (1.5 s) longer than the timeout (1 s): silent for the whole interval, then back, is
  // obeying; silent for pollAfterMs + heartbeatTimeoutMs is gone. The test ticks every 50 ms
  // itself; tickMs 2000 only makes every pollAfterMs the cap (it is at least tickMs).
  it('a waiter that comes back after pollAfterMs is never evicted; one silent past pollAfterMs + heartbeatTimeoutMs is', async () => {
    const r = room({ heartbeatTimeoutMs: 1000, maxPollAfterMs: 1500, tickMs: 2000 });
    await r.join('head');
    expect((await r.tick()).admitted.map((a) => a.userId)).toEqual(['head']);
    const before = Date.now();
    const obeys = waiting(await r.join('obeys'));
    const silent = waiting(await r.join('silent'));
    expect([obeys.pollAfterMs, silent.pollAfterMs]).toEqual([1500, 1500]);

    const evicted: { userId: string; at: number }[] = [];
    let ticking = true;
    const ticker = (async () => {
      while (ticking) {
        const t = await r.tick();
        for (const userId of t.evicted) evicted.push({ userId, at: t.at });
        await sleep(50);
      }
    })();
    try {
      for (let beat = 0; beat < 2; beat++) {
        await sleep(obeys.pollAfterMs);
        expect(waiting(await r.heartbeat('obeys')).pollAfterMs).toBe(1500);
      }
      const gone = await until(() => evicted.find((e) => e.userId === 'silent'), 5_000);
      expect(gone?.at).toBeGreaterThanOrEqual(before + 1500 + 1000);
    } finally {
      ticking = false;
      await ticker;
    }
    expect(evicted.map((e) => e.userId)).toEqual(['silent']);
    expect(await r.status('obeys')).toMatchObject({ state: 'waiting', position: 1 });
  });
});
