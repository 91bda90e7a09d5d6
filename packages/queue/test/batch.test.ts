import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import fc from 'fast-check';
import type { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { QueueClosedError, WaitingRoom, type WaitingRoomOptions } from '../src/index.js';
import { hsTokens } from './helpers.js';

const tokens = hsTokens();
const users = ['u0', 'u1', 'u2', 'u3', 'u4'];
type Op =
  | { kind: 'join' | 'leave' | 'heartbeat' | 'status' | 'complete'; user: string }
  | { kind: 'tick' };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom(
      'join',
      'join',
      'leave',
      'heartbeat',
      'status',
      'complete',
    ) as fc.Arbitrary<'join' | 'leave' | 'heartbeat' | 'status' | 'complete'>,
    user: fc.constantFrom(...users),
  }),
  fc.record({ kind: fc.constant('tick' as const) }),
);

// join/heartbeat/status calls made in the same tick of the event loop share one Lua call.
describe.each(redisTargets())('WaitingRoom batching on $name', (target) => {
  const redis = useRedis(target);
  const room = (options: Partial<WaitingRoomOptions> = {}, client = redis.client) =>
    new WaitingRoom(client, {
      roomId: 'concert-7',
      prefix: redis.prefix,
      tokens,
      maxActive: 10,
      ...options,
    });

  it('serves same-tick joins in call order with one script call per 256 visits', async () => {
    const client = redis.connect();
    let scripts = 0;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: Command, stream?: never) => {
      if (/^eval/i.test(command.name)) scripts++;
      return send(command, stream);
    }) as typeof client.sendCommand;
    const r = room({}, client);
    expect(await r.status('warm-up')).toEqual({ state: 'unknown' }); // loads the script
    scripts = 0;
    const n = 600;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => r.join(`u${i}`)));
    expect(scripts).toBe(Math.ceil(n / 256));
    results.forEach((res, i) => {
      expect(res).toMatchObject({ state: 'waiting', ticket: i + 1, position: i + 1, total: i + 1 });
    });
    const later = await Promise.all([r.status('u0'), r.status(`u${n - 1}`), r.heartbeat('u300')]);
    expect(later).toMatchObject([
      { state: 'waiting', position: 1, total: n },
      { state: 'waiting', position: n, total: n },
      { state: 'waiting', position: 301, total: n },
    ]);
    expect((await r.tick()).admitted.map((a) => a.userId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `u${i}`),
    );
  });

  it('applies the visits of one batch in order: duplicates keep one place', async () => {
    const r = room();
    const [a1, a2, sa, hb, b, sb] = await Promise.all([
      r.join('a'),
      r.join('a'),
      r.status('a'),
      r.heartbeat('b'), // before b's join in call order
      r.join('b'),
      r.status('b'),
    ]);
    expect(a1).toMatchObject({ state: 'waiting', ticket: 1, position: 1, total: 1 });
    expect(a2).toMatchObject({ state: 'waiting', ticket: 1, position: 1, total: 1 });
    expect(sa).toMatchObject({ state: 'waiting', ticket: 1, position: 1 });
    expect(hb).toEqual({ state: 'unknown' });
    expect(b).toMatchObject({ state: 'waiting', ticket: 2, position: 2, total: 2 });
    expect(sb).toMatchObject({ state: 'waiting', ticket: 2, position: 2, total: 2 });
    expect((await r.stats()).waiting).toBe(2);
    // the next batch continues the ticket sequence
    expect(await r.join('c')).toMatchObject({ ticket: 3, position: 3, total: 3 });
  });

  it('answers each call of a batch on its own: active, waiting, unknown, closed', async () => {
    const r = room({ maxActive: 1 });
    await r.join('first');
    await r.join('second');
    await r.tick();
    const [active, waiting, unknown] = await Promise.all([
      r.status('first'),
      r.join('second'),
      r.heartbeat('nobody'),
    ]);
    expect(active.state).toBe('active');
    if (active.state === 'active') expect((await r.verify(active.token)).sub).toBe('first');
    expect(waiting).toMatchObject({ state: 'waiting', position: 1, total: 1 });
    expect(unknown).toEqual({ state: 'unknown' });
    // closed by another instance: joins in the batch reject, reads answer unknown
    await room().close();
    const settled = await Promise.allSettled([r.join('x'), r.status('second'), r.join('y')]);
    expect(settled[0]).toMatchObject({ status: 'rejected', reason: expect.any(QueueClosedError) });
    expect(settled[1]).toEqual({ status: 'fulfilled', value: { state: 'unknown' } });
    expect(settled[2]).toMatchObject({ status: 'rejected', reason: expect.any(QueueClosedError) });
  });

  it('rejects every call of a batch whose script fails, and recovers on the next batch', async () => {
    const r = room();
    const line = r.keys[0] as string;
    await redis.client.set(line, 'not a sorted set');
    const settled = await Promise.allSettled([r.join('a'), r.status('b'), r.join('c')]);
    for (const s of settled) {
      expect(s).toMatchObject({ status: 'rejected', reason: expect.any(Error) });
      if (s.status === 'rejected') expect(String(s.reason)).toMatch(/WRONGTYPE/);
    }
    await redis.client.del(line);
    expect(await Promise.all([r.join('a'), r.join('c')])).toMatchObject([
      { state: 'waiting', position: 1 },
      { state: 'waiting', position: 2 },
    ]);
  });

  it('numbers same-tick pre-queue arrivals and shuffles them as one pre-queue', async () => {
    const now = Date.now();
    const r = room({
      preQueue: { opensAt: new Date(now - 60_000), startsAt: new Date(now + 3_600_000) },
    });
    const users = ['p1', 'p2', 'p3', 'p4', 'p5'];
    const joined = await Promise.all(users.map((u) => r.join(u)));
    joined.forEach((res, i) => {
      expect(res).toMatchObject({ state: 'waiting', preQueue: true, ticket: 0, total: i + 1 });
    });
    const positions = await Promise.all(users.map((u) => r.status(u)));
    expect(
      positions.map((p) => (p.state === 'waiting' ? p.position : 0)).sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps call order between batched visits and the other commands of the same tick', async () => {
    const r = room();
    const [joined, left, stats] = await Promise.all([r.join('a'), r.leave('a'), r.stats()]);
    expect(joined).toMatchObject({ state: 'waiting', position: 1 });
    expect(left).toBe(true);
    expect(stats.waiting).toBe(0);
    const [, tick, after] = await Promise.all([r.join('b'), r.tick(), r.status('b')]);
    expect(tick.admitted.map((x) => x.userId)).toEqual(['b']);
    expect(after.state).toBe('active');
  });

  // Model-based: groups of calls issued in the same tick (not awaited one by one) give exactly what a
  // FIFO model applied in call order predicts, for every single call.
  it('matches a FIFO model applied in call order, for same-tick groups of calls', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        async (groups) => {
          const r = new WaitingRoom(redis.client, {
            roomId: `batch-model-${run++}`,
            prefix: redis.prefix,
            tokens,
            maxActive: 2,
            admitPerTick: 1,
          });
          const line: string[] = [];
          const active = new Set<string>();
          const statusOf = (u: string) =>
            active.has(u)
              ? { state: 'active' }
              : line.includes(u)
                ? { state: 'waiting', position: line.indexOf(u) + 1, total: line.length }
                : { state: 'unknown' };
          for (const group of groups) {
            const expected: unknown[] = [];
            const calls: Promise<unknown>[] = [];
            for (const o of group) {
              if (o.kind === 'tick') {
                calls.push(r.tick().then((t) => t.admitted.map((a) => a.userId)));
                const next = active.size < 2 && line.length > 0 ? [line.shift() as string] : [];
                for (const u of next) active.add(u);
                expected.push(next);
              } else if (o.kind === 'join') {
                calls.push(r.join(o.user));
                if (!line.includes(o.user) && !active.has(o.user)) line.push(o.user);
                expected.push(expect.objectContaining(statusOf(o.user)));
              } else if (o.kind === 'heartbeat' || o.kind === 'status') {
                calls.push(o.kind === 'status' ? r.status(o.user) : r.heartbeat(o.user));
                expected.push(expect.objectContaining(statusOf(o.user)));
              } else if (o.kind === 'leave') {
                calls.push(r.leave(o.user));
                const at = line.indexOf(o.user);
                expected.push(at >= 0 || active.has(o.user));
                if (at >= 0) line.splice(at, 1);
                active.delete(o.user);
              } else {
                calls.push(r.complete(o.user));
                expected.push(active.delete(o.user));
              }
            }
            expect(await Promise.all(calls)).toEqual(expected);
          }
          const stats = await r.stats();
          expect([stats.waiting, stats.active]).toEqual([line.length, active.size]);
          // Every ticket in the line has a heartbeat deadline, and no other ticket has one.
          const [stored, beating] = await Promise.all([
            redis.client.zrange(r.keys[0] as string, '0', '-1', 'WITHSCORES'),
            redis.client.zrange(r.keys[6] as string, '0', '-1'),
          ]);
          const tickets = stored.filter((_, i) => i % 2 === 1);
          expect(beating.sort()).toEqual(tickets.sort());
          await r.close();
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);
});
