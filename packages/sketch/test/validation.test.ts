import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { BloomFilter, CountMinSketch, Trending, VERSION } from '../src/index.js';

// Never connected: every check below must throw before any Redis call.
const client = new Redis({ lazyConnect: true, enableOfflineQueue: false });
afterAll(() => client.disconnect());

const cms = new CountMinSketch(client, { key: 'v', width: 10, depth: 2 });
const bf = new BloomFilter(client, { key: 'v', capacity: 100 });
const trending = new Trending(client, { name: 'v' });

describe('input validation (no Redis needed)', () => {
  it('exports the package version', () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [{ key: 'k', epsilon: 0 }, RangeError, /epsilon must be in \(0, 1\)/],
    [{ key: 'k', epsilon: 1 }, RangeError, /epsilon/],
    [{ key: 'k', delta: 1.5 }, RangeError, /delta/],
    [{ key: 'k', delta: Number.NaN }, TypeError, /delta/],
    [{ key: 'k', width: 100_000, depth: 200 }, RangeError, /depth/],
    [{ key: 'k', width: 2 ** 24, depth: 2 }, RangeError, /exceeds the limit/],
    [{ key: 'k', epsilon: 1e-7 }, RangeError, /exceeds the limit/],
    [{ key: 'k', width: 10, depth: 2, epsilon: 0.1 }, TypeError, /not both/],
    [{ key: 'k', width: 1.5, depth: 2 }, TypeError, /width must be an integer/],
    [{ key: 'k', wdith: 10 }, TypeError, /unknown option 'wdith'/],
    [{ key: '' }, RangeError, /key must not be empty/],
    [{ key: 'a{b' }, TypeError, /unbalanced/],
    [{ key: 'k', prefix: 'a b' }, TypeError, /prefix/],
    [{ key: 'k', conservative: 'yes' }, TypeError, /conservative must be a boolean/],
  ])('CountMinSketch options %o → %s', (options, type, message) => {
    expect(() => new CountMinSketch(client, options as never)).toThrow(type);
    expect(() => new CountMinSketch(client, options as never)).toThrow(message);
  });

  it('refuses a missing client', () => {
    expect(() => new CountMinSketch(undefined as never, { key: 'k' })).toThrow(/client/);
    expect(() => new BloomFilter({} as never, { key: 'k' })).toThrow(/client/);
    expect(() => new Trending(null as never, { name: 'k' })).toThrow(/client/);
  });

  const badItems: [unknown, RegExp][] = [
    [undefined, /must be a string or a number/],
    [{}, /must be a string or a number/],
    [['a'], /must be a string or a number/],
    [null, /must be a string or a number/],
    [Number.NaN, /finite/],
    [Number.POSITIVE_INFINITY, /finite/],
    ['', /must not be empty/],
    ['x'.repeat(1025), /at most 1024 bytes/],
    ['é'.repeat(513), /at most 1024 bytes/],
  ];
  it.each(badItems)('item %s is refused everywhere', async (value, message) => {
    await expect(cms.add(value as never)).rejects.toThrow(message);
    await expect(cms.estimate(value as never)).rejects.toThrow(message);
    await expect(cms.addMany([[value as never, 1]])).rejects.toThrow(message);
    await expect(bf.add(value as never)).rejects.toThrow(message);
    await expect(bf.has(value as never)).rejects.toThrow(message);
    await expect(trending.record(value as never)).rejects.toThrow(message);
    await expect(trending.estimate(value as never)).rejects.toThrow(message);
    if (value !== undefined) {
      // (an undefined dedupeBy means "no dedupe")
      await expect(trending.record('ok', 1, { dedupeBy: value as never })).rejects.toThrow(message);
    }
    expect(() => trending.buffered({ flushMs: 600_000 }).record(value as never)).toThrow(message);
  });

  it('accepts a 1 KiB item', () => {
    // validation passes; the call then fails only because this client is not connected
    return expect(cms.add('x'.repeat(1024))).rejects.not.toThrow(/bytes/);
  });

  it.each([0, -1, 1.5, 2 ** 31 + 1, Number.NaN, '2', null])(
    'increment %s is refused',
    async (n) => {
      await expect(cms.add('a', n as never)).rejects.toThrow(/n must be an integer/);
      await expect(cms.addMany([['a', n as never]])).rejects.toThrow(/must be an integer/);
      await expect(trending.record('a', n as never)).rejects.toThrow(/n must be an integer/);
    },
  );

  it.each([
    [{ capacity: 0 }, /capacity/],
    [{ capacity: 1.5 }, /capacity/],
    [{ errorRate: 0 }, /errorRate/],
    [{ errorRate: 1 }, /errorRate/],
    [{ capacity: 2 ** 32, errorRate: 1e-9 }, /512 MiB/],
  ])('BloomFilter options %o are refused', (options, message) => {
    expect(() => new BloomFilter(client, { key: 'k', ...options })).toThrow(message);
  });

  it.each([
    [{ window: { days: 3 }, bucket: { hours: 5 } }, /whole number of buckets/],
    [{ window: { hours: 1 }, bucket: { days: 1 } }, /whole number of buckets/],
    [{ window: { days: 30 }, bucket: { minutes: 1 } }, /at most 999/],
    [{ window: { weeks: 1 } }, /unknown option 'weeks'/],
    [{ window: { days: -1 } }, /days must be a finite number/],
    [{ bucket: 10 }, /bucket must be an integer/],
    [{ topK: 0 }, /topK/],
    [{ clock: 5 }, /clock must be a function/],
    [{ dedupe: { capacity: -1 } }, /capacity/],
    [{ dedupe: { size: 1 } }, /unknown option 'size'/],
  ])('Trending options %o are refused', (options, message) => {
    expect(() => new Trending(client, { name: 't', ...(options as object) })).toThrow(message);
  });

  it('Trending call options are checked', async () => {
    await expect(trending.record('a', 1, { at: new Date('nope') })).rejects.toThrow(/valid Date/);
    await expect(
      trending.record('a', 1, { at: new Date(Date.now() + 2 * 3_600_000) }),
    ).rejects.toThrow(/future/);
    await expect(trending.record('a', 1, { when: new Date() } as never)).rejects.toThrow(
      /unknown option 'when'/,
    );
    await expect(trending.top(0)).rejects.toThrow(/n must be an integer in \[1, 100\]/);
    await expect(trending.top(101)).rejects.toThrow(RangeError);
    await expect(trending.top(5, { window: { days: 4 } })).rejects.toThrow(
      /at most the configured window/,
    );
    await expect(trending.top(5, { window: { minutes: 90 } })).rejects.toThrow(
      /whole number of buckets/,
    );
    await expect(trending.recordMany('a' as never)).rejects.toThrow(/must be an array/);
    expect(() => trending.buffered({ flushMs: 0 })).toThrow(/flushMs/);
    expect(() => trending.buffered({ maxItems: -1 })).toThrow(/maxItems/);
    expect(() => trending.buffered({ onError: 'x' as never })).toThrow(/onError/);
  });

  it('merge checks its key list', async () => {
    await expect(cms.merge('other' as never)).rejects.toThrow(/must be an array/);
    await expect(cms.merge(['a{'])).rejects.toThrow(/unbalanced/);
  });
});
