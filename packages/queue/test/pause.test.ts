import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { type PositionEvent, QueueClosedError, WaitingRoom } from '../src/index.js';
import { hsTokens, until } from './helpers.js';

const tokens = hsTokens();

// pause()/resume() are shared by every instance through Redis: what one instance sets, the ticks
// of the others obey.
describe.each(redisTargets())('WaitingRoom pause/resume on $name', (target) => {
  const redis = useRedis(target);
  const instance = () =>
    new WaitingRoom(redis.connect(), {
      roomId: 'paused-room',
      prefix: redis.prefix,
      tokens,
      maxActive: 10,
      admitPerTick: 1,
      tickMs: 50,
    });

  it("one instance pauses, the other's ticks admit nobody; joins, heartbeats and leaving go on", async () => {
    const [a, b] = [instance(), instance()];
    await a.join('u1');
    await a.join('u2');
    expect((await b.tick()).admitted.map((x) => x.userId)).toEqual(['u1']);
    expect(await a.stats()).toMatchObject({ paused: false });

    await a.pause();
    await a.pause(); // idempotent
    expect(await b.stats()).toMatchObject({ paused: true, active: 1, waiting: 1 });
    const paused = await b.tick();
    expect(paused).toMatchObject({ admitted: [], paused: true, waiting: 1, active: 1 });
    expect(await b.join('u3')).toMatchObject({ state: 'waiting', position: 2 });
    // A waiter's status says so, and asks for polling no faster than heartbeatTimeoutMs / 3.
    expect(await b.heartbeat('u2')).toMatchObject({
      state: 'waiting',
      position: 1,
      paused: true,
      pollAfterMs: 10_000,
    });
    expect(await b.leave('u3')).toBe(true);
    expect(await b.status('u1')).toMatchObject({ state: 'active' }); // the active stay
    expect((await a.tick()).admitted).toEqual([]);

    await b.resume();
    await b.resume();
    const resumed = await a.tick();
    expect(resumed).toMatchObject({ paused: false, active: 2 });
    expect(resumed.admitted.map((x) => x.userId)).toEqual(['u2']);
    await a.join('u4');
    expect(await a.status('u4')).toMatchObject({ state: 'waiting', paused: false });
    expect(await a.stats()).toMatchObject({ paused: false });
  });

  it('a paused room still evicts silent waiters', async () => {
    const r = new WaitingRoom(redis.client, {
      roomId: 'paused-evict',
      prefix: redis.prefix,
      tokens,
      maxActive: 1,
      tickMs: 50,
      heartbeatTimeoutMs: 200,
    });
    await r.join('quiet');
    await r.pause();
    const evicted = await until(async () => {
      const { evicted: e } = await r.tick();
      return e.length > 0 ? e : undefined;
    });
    expect(evicted).toEqual(['quiet']);
  });

  it('the tick broadcast says paused; the ticker keeps ticking', async () => {
    const r = instance();
    const events = r.events();
    await events.ready;
    try {
      await r.join('w');
      await r.pause();
      r.start();
      let position: PositionEvent | undefined;
      for await (const event of events) {
        if (event.type === 'position') {
          position = event;
          break;
        }
      }
      expect(position).toMatchObject({ paused: true, waiting: 1, active: 0 });
      expect(await r.status('w')).toMatchObject({ state: 'waiting' });
    } finally {
      await events.close();
      await r.stop();
    }
  });

  it('pause and resume refuse a closed room', async () => {
    const r = instance();
    await r.close();
    await expect(r.pause()).rejects.toBeInstanceOf(QueueClosedError);
    await expect(r.resume()).rejects.toBeInstanceOf(QueueClosedError);
  });
});
