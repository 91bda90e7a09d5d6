import { afterEach, describe, expect, it } from 'vitest';
import {
  timedFailure as failure,
  reconnectingClient,
  redisTargets,
  silentRedis,
  useRedis,
} from '../../local-redis/src/testing.js';
import { CallGuard, callErrors } from '../src/index.js';
import { TestRedisError } from './test-errors.js';

class TestOwnError extends Error {}

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

// The one deadline module every package bounds its Redis calls with (ARCHITECTURE.md).
describe('CallGuard', () => {
  it('a Redis that never answers: the package error, kind timeout, within the bound', async () => {
    const silent = await silentRedis();
    closers.push(() => silent.close());
    const client = silent.client();
    const guard = new CallGuard(200, callErrors(TestRedisError));
    const results = await Promise.all(
      ['a', 'b', 'c'].map((op) => failure(() => guard.run(client, op, () => client.get(op)))),
    );
    for (const [i, { error, ms }] of results.entries()) {
      expect(error).toBeInstanceOf(TestRedisError);
      expect(error).toMatchObject({ kind: 'timeout', operation: ['a', 'b', 'c'][i] });
      expect(ms).toBeGreaterThanOrEqual(195);
      expect(ms).toBeLessThan(200 + 1500);
    }
    // A pipeline that gets no reply at all fails within the bound too.
    const piped = await failure(() =>
      guard.pipeline(client, 'p', (onReply) =>
        client.pipeline().get('x', onReply).get('y', onReply).exec(),
      ),
    );
    expect(piped.error).toMatchObject({ kind: 'timeout', operation: 'p' });
    expect(piped.ms).toBeLessThan(200 + 1500);
    // Closing it finishes too (QUIT, bounded, on a ready connection; else cut at once).
    const start = Date.now();
    await guard.quit(client);
    expect(Date.now() - start).toBeLessThan(200 + 1500);
  });

  it('a reconnecting client: kind unavailable, at once, the call never made', async () => {
    const client = await reconnectingClient();
    closers.push(() => client.disconnect());
    const guard = new CallGuard(60_000, callErrors(TestRedisError));
    let made = false;
    const { error, ms } = await failure(() =>
      guard.run(client, 'get', () => {
        made = true;
        return client.get('k');
      }),
    );
    expect(error).toMatchObject({ kind: 'unavailable', operation: 'get' });
    expect(ms).toBeLessThan(1500);
    expect(made).toBe(false);
  });

  it('within(): settles with the promise, or times out; errors are wrapped, own ones pass', async () => {
    const guard = new CallGuard(100, callErrors(TestRedisError, TestOwnError));
    expect(await guard.within('w', Promise.resolve(7))).toBe(7);
    const never = await failure(() => guard.within('w', new Promise(() => {})));
    expect(never.error).toMatchObject({ kind: 'timeout', operation: 'w' });
    const raw = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const wrapped = await failure(() => guard.within('w', Promise.reject(raw)));
    expect(wrapped.error).toBeInstanceOf(TestRedisError);
    expect(wrapped.error).toMatchObject({ kind: 'unavailable', cause: raw });
    const own = new TestOwnError('closed');
    expect((await failure(() => guard.within('w', Promise.reject(own)))).error).toBe(own);
  });
});

describe.each(redisTargets().filter((t) => t.name === 'standalone'))(
  'CallGuard.pipeline on $name',
  (target) => {
    const redis = useRedis(target);

    it('a pipeline slow to build: its bound starts once it is sent, not while this process builds it', async () => {
      const guard = new CallGuard(1000, callErrors(TestRedisError));
      // Building and serializing a big pipeline is the caller's own CPU time (a sketch's hasMany of
      // 200,000 items spent over a second on it): here 1.5 s, more than the bound, before exec().
      const replies = await guard.pipeline(redis.client, 'p', (onReply) => {
        const pipeline = redis.client.pipeline().ping(onReply).ping(onReply);
        const until = Date.now() + 1500;
        while (Date.now() < until) {}
        return pipeline.exec();
      });
      expect(replies).toEqual([
        [null, 'PONG'],
        [null, 'PONG'],
      ]);
    });
  },
);
