import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { AccessTokens, type RoomEvent, WaitingRoom } from '@boxoffice/queue';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RoomGateway } from '../src/concerts/rooms/room-gateway.js';

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];

/** Polls `check` every 20 ms until it holds, for at most `ms`; then fails with `explain()`. */
async function until(check: () => boolean, ms: number, explain: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not reached in ${ms} ms: ${explain()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The SSE fan-out of one room in one process, on a real ticking room (real Redis pub/sub).
describe('RoomGateway', () => {
  const redis = useRedis(standalone);
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function ticking() {
    let roomTicks = 0;
    const room = new WaitingRoom(redis.client, {
      roomId: 'gw',
      prefix: redis.prefix,
      tokens: new AccessTokens({ secret: 's'.repeat(32), issuer: 'test' }),
      maxActive: 1,
      tickMs: 50,
      onTick: () => {
        roomTicks++;
      },
    });
    const gateway = new RoomGateway(room, pino({ level: 'silent' }));
    let ticks = 0;
    gateway.onTick(() => {
      ticks++;
    });
    cleanups.push(
      () => room.stop(),
      () => gateway.close(),
    );
    return { room, gateway, ticks: () => ticks, roomTicks: () => roomTicks };
  }

  it('a tick reaches the streams that are due, and only when the line moved; wakeAll makes all due', async () => {
    const { room, gateway, ticks } = await ticking();
    const calls = { near: 0, far: 0 };
    // "near" wants every tick; "far" says it has nothing to show for a minute.
    await gateway.subscribe('near', () => {
      calls.near++;
      return undefined;
    });
    await gateway.subscribe('far', () => {
      calls.far++;
      return Date.now() + 60_000;
    });
    room.start();
    await until(
      () => ticks() >= 10,
      5_000,
      () => `ticks ${ticks()}`,
    );
    // The line never moved: only the first tick called anyone.
    expect(calls).toEqual({ near: 1, far: 1 });

    // Capacity 1: "a" is admitted, each later join lengthens the line, and the tick after it
    // calls the stream that is due ("near"), never the one that is not ("far").
    await room.join('a');
    for (const user of ['b', 'c', 'd']) {
      const seen = calls.near;
      await room.join(user);
      await until(
        () => calls.near > seen,
        2_000,
        () => `near called ${calls.near} times after ${user} joined; ticks ${ticks()}`,
      );
    }
    expect(calls.far).toBe(1);

    gateway.wakeAll();
    const before = ticks();
    await until(
      () => calls.far === 2,
      2_000,
      () => `far ${calls.far}, ticks ${ticks() - before}`,
    );
    expect(ticks() - before).toBeLessThanOrEqual(2);
  });

  it("a user's own events reach it at once, whatever its due time; unsubscribed streams get nothing", async () => {
    const { room, gateway } = await ticking();
    const seen: RoomEvent['type'][] = [];
    let dropped = 0;
    const unsubscribe = await gateway.subscribe('bob', () => {
      dropped++;
      return undefined;
    });
    unsubscribe();
    await gateway.subscribe('alice', (event) => {
      seen.push(event.type);
      return Date.now() + 60_000;
    });
    await room.join('alice');
    room.start();
    await until(
      () => seen.includes('admitted'),
      5_000,
      () => `alice saw ${JSON.stringify(seen)}`,
    );
    expect(seen.filter((t) => t === 'position').length).toBeLessThanOrEqual(1);
    expect(dropped).toBe(0);
  });

  it('with no stream left in this process, a tick runs no hook (no sale refresh for nobody)', async () => {
    const { room, gateway, ticks, roomTicks } = await ticking();
    const unsubscribe = await gateway.subscribe('carol', () => undefined);
    room.start();
    await until(
      () => ticks() >= 2,
      5_000,
      () => `hook ticks ${ticks()}, room ticks ${roomTicks()}`,
    );
    unsubscribe();
    const hooked = ticks();
    const from = roomTicks();
    await until(
      () => roomTicks() >= from + 5,
      5_000,
      () => `room ticks ${roomTicks() - from}`,
    );
    expect(ticks()).toBeLessThanOrEqual(hooked + 1); // at most one tick already under way
  });
});
