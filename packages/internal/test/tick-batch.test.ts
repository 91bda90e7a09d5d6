import { afterEach, describe, expect, it, vi } from 'vitest';
import { redisTargets, silentRedis, useRedis } from '../../local-redis/src/testing.js';
import {
  CallGuard,
  callErrors,
  luaScript,
  type PipelinedCommand,
  TickBatch,
  TickPipeline,
  TickScript,
} from '../src/index.js';
import { TestRedisError } from './test-errors.js';

// KEYS[i], ARGV[1 + i]: INCRBY per operation after a head of one argument; 'bad' fails that one.
const incrAll = luaScript(
  'test',
  'incr_all',
  `local out = {}
for i = 1, #KEYS do
  local by = ARGV[1 + i]
  if by == 'bad' then out[i] = redis.error_reply('ERR bad ' .. ARGV[1])
  else out[i] = redis.call('INCRBY', KEYS[i], by) end
end
return out`,
  '1',
);

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('TickBatch', () => {
  it('sends what one tick queued as one batch, at process.nextTick', async () => {
    const sent: number[][] = [];
    const batch = new TickBatch<number>((items) => sent.push(items));
    batch.add(1);
    batch.add(2);
    expect(sent).toEqual([]);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(sent).toEqual([[1, 2]]);
  });

  it("'turn' waits for setImmediate, after the tick's continuations", async () => {
    const sent: number[][] = [];
    const batch = new TickBatch<number>((items) => sent.push(items), { defer: 'turn' });
    batch.add(1);
    await Promise.resolve();
    batch.add(2);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(sent).toEqual([]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sent).toEqual([[1, 2]]);
  });

  it('{ afterMs } sends what the window after the first item queued; a flush or max ends the window', () => {
    vi.useFakeTimers();
    try {
      const sent: number[][] = [];
      const batch = new TickBatch<number>((items) => sent.push(items), {
        defer: { afterMs: 100 },
        max: 3,
      });
      batch.add(1);
      vi.advanceTimersByTime(60);
      batch.add(2);
      vi.advanceTimersByTime(39);
      expect(sent).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(sent).toEqual([[1, 2]]);
      // After a flush, the next item waits a whole window of its own.
      batch.add(3);
      vi.advanceTimersByTime(50);
      batch.flush();
      batch.add(4);
      vi.advanceTimersByTime(99);
      expect(sent).toEqual([[1, 2], [3]]);
      vi.advanceTimersByTime(1);
      expect(sent).toEqual([[1, 2], [3], [4]]);
      // At max at once, and the window starts again with the next item.
      batch.add(5);
      batch.add(6);
      batch.add(7);
      expect(sent.at(-1)).toEqual([5, 6, 7]);
      batch.add(8);
      vi.advanceTimersByTime(99);
      expect(sent.at(-1)).toEqual([5, 6, 7]);
      vi.advanceTimersByTime(1);
      expect(sent.at(-1)).toEqual([8]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends at once at max, and on flush; later items wait for the tick', async () => {
    const sent: number[][] = [];
    const batch = new TickBatch<number>((items) => sent.push(items), { max: 2 });
    batch.add(1);
    batch.add(2);
    expect(sent).toEqual([[1, 2]]);
    batch.add(3);
    batch.flush();
    batch.flush();
    batch.add(4);
    expect(sent).toEqual([[1, 2], [3]]);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(sent).toEqual([[1, 2], [3], [4]]);
  });
});

describe.each(redisTargets().filter((t) => t.name === 'standalone'))(
  'TickPipeline on $name',
  (target) => {
    const redis = useRedis(target);

    it('one pipeline per turn, each command answered on its own', async () => {
      const client = redis.client;
      let pipelines = 0;
      const pipeline = client.pipeline.bind(client);
      client.pipeline = ((...a: Parameters<typeof pipeline>) => {
        pipelines++;
        return pipeline(...a);
      }) as typeof client.pipeline;
      closers.push(() => {
        client.pipeline = pipeline;
      });
      const tp = new TickPipeline(client);
      const command = (name: string, ...args: unknown[]) =>
        new Promise<unknown>((resolve, reject) => {
          const c: PipelinedCommand = {
            command: name,
            args,
            reply: (error, value) => (error ? reject(error) : resolve(value)),
          };
          tp.send(c);
        });
      const key = `${redis.prefix}:n`;
      const replies = await Promise.allSettled([
        command('incr', key),
        command('hget', key, 'f'),
        command('incr', key),
      ]);
      expect(pipelines).toBe(1);
      expect(replies.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([
        1,
        'rejected',
        2,
      ]);
      // A command pipelines lack fails its whole batch before anything is sent.
      await expect(command('nosuchcommand', key)).rejects.toThrow(/no command nosuchcommand/);
    });
  },
);

describe.each(redisTargets())('TickScript on $name', (target) => {
  const redis = useRedis(target);

  it('runs the operations of a tick in order, with a reply or the package error each', async () => {
    const guard = new CallGuard(2_000, callErrors(TestRedisError));
    const ts = new TickScript(redis.client, incrAll, ['head'], guard, { max: 16 });
    const key = `${redis.prefix}:{n}`;
    const results = await Promise.allSettled([
      ts.op([key], ['2'], 'a'),
      ts.op([key], ['bad'], 'b'),
      ts.op([key], ['3'], 'c'),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(results[2]).toEqual({ status: 'fulfilled', value: 5 });
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(TestRedisError);
    expect(error).toMatchObject({ operation: 'b', kind: 'script' });
    expect(error.message).toMatch(/ERR bad head/);
    // A plain command goes after the operations queued before it.
    const queued = ts.op([key], ['1'], 'd');
    expect(await ts.send(() => redis.client.get(key))).toBe('6');
    expect(await queued).toBe(6);
  });
});

describe('TickScript deadline', () => {
  it('a silent Redis: every operation of the call fails as a timeout of its own name', async () => {
    const silent = await silentRedis();
    closers.push(() => silent.close());
    const guard = new CallGuard(100, callErrors(TestRedisError));
    const ts = new TickScript(silent.client(), incrAll, ['head'], guard, { max: 16 });
    const errors = await Promise.all(
      ['a', 'b'].map((op) => ts.op(['k'], ['1'], op).catch((e: unknown) => e)),
    );
    for (const [i, error] of errors.entries()) {
      expect(error).toBeInstanceOf(TestRedisError);
      expect(error).toMatchObject({ kind: 'timeout', operation: ['a', 'b'][i] });
      expect((error as Error).message).toBe(`${['a', 'b'][i]}: no answer from Redis within 100 ms`);
    }
  });
});
