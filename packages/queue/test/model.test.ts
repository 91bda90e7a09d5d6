import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaitingRoom } from '../src/index.js';
import { hsTokens } from './helpers.js';

const tokens = hsTokens();
const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
type Op =
  | { kind: 'join' | 'leave' | 'heartbeat' | 'complete'; user: string }
  | { kind: 'tick'; times: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('join', 'join', 'leave', 'heartbeat', 'complete') as fc.Arbitrary<
      'join' | 'leave' | 'heartbeat' | 'complete'
    >,
    user: fc.constantFrom(...users),
  }),
  fc.record({ kind: fc.constant('tick' as const), times: fc.integer({ min: 1, max: 2 }) }),
);

// Model-based check: any sequence of operations leaves the room in the state a plain FIFO model
// with capacity predicts (positions exact, admission order, one place per user).
describe.each(redisTargets())('WaitingRoom against a FIFO model on $name', (target) => {
  const redis = useRedis(target);

  it('matches the model for random operation sequences', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const room = new WaitingRoom(redis.client, {
          roomId: `model-${run++}`,
          prefix: redis.prefix,
          tokens,
          maxActive: 2,
          admitPerTick: 1,
        });
        const line: string[] = [];
        const active = new Set<string>();
        for (const o of ops) {
          if (o.kind === 'tick') {
            for (let i = 0; i < o.times; i++) {
              const res = await room.tick();
              const expected = active.size < 2 && line.length > 0 ? [line.shift() as string] : [];
              for (const u of expected) active.add(u);
              expect(res.admitted.map((a) => a.userId)).toEqual(expected);
              expect(res.active).toBe(active.size);
            }
          } else if (o.kind === 'join') {
            await room.join(o.user);
            if (!line.includes(o.user) && !active.has(o.user)) line.push(o.user);
          } else if (o.kind === 'leave') {
            const at = line.indexOf(o.user);
            const was = at >= 0 || active.has(o.user);
            expect(await room.leave(o.user)).toBe(was);
            if (at >= 0) line.splice(at, 1);
            active.delete(o.user);
          } else if (o.kind === 'complete') {
            expect(await room.complete(o.user)).toBe(active.delete(o.user));
          } else {
            await room.heartbeat(o.user);
          }
        }
        for (const u of users) {
          const s = await room.status(u);
          if (active.has(u)) expect(s.state).toBe('active');
          else if (line.includes(u)) {
            expect(s).toMatchObject({
              state: 'waiting',
              position: line.indexOf(u) + 1,
              total: line.length,
            });
          } else expect(s).toEqual({ state: 'unknown' });
        }
        const stats = await room.stats();
        expect([stats.waiting, stats.active]).toEqual([line.length, active.size]);
        await room.close();
      }),
      { numRuns: 25 },
    );
  });
});
