import { bracesBalanced } from '@boxoffice/internal';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SeatHolds } from '../src/holds.js';
import { SeatLock } from '../src/index.js';

// A client that never connects (lazyConnect): validation must throw before any command is sent.
const client = new Redis({ port: 1, lazyConnect: true });
const locks = new SeatLock(client);
afterAll(() => client.disconnect());

const isMisuse = (e: unknown) => e instanceof TypeError || e instanceof RangeError;

async function rejection(p: () => Promise<unknown>): Promise<unknown> {
  try {
    await p();
  } catch (e) {
    return e;
  }
  return undefined;
}

const goodName = fc
  .string({ minLength: 1, maxLength: 40, unit: 'grapheme' })
  .filter((s) => bracesBalanced(s) && Buffer.byteLength(s) <= 512);
const badName = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 513, maxLength: 600 }),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !bracesBalanced(s)),
  fc.string({ minLength: 1, maxLength: 10 }).map((s) => `${s}{`),
  fc.integer(),
  fc.constant(null),
);

describe('input validation (no Redis call)', () => {
  it('refuses any resource list with a bad name, with a TypeError or RangeError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(goodName, { maxLength: 5 }),
        badName,
        fc.nat(5),
        async (good, bad, at) => {
          const list: unknown[] = [...good];
          list.splice(at % (good.length + 1), 0, bad);
          for (const call of [
            () => locks.tryAcquire(list as string[]),
            () => locks.acquire(list as string[]),
            () => locks.using(list as string[], {}, async () => 0),
          ]) {
            expect(isMisuse(await rejection(call))).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(client.status).toBe('wait');
  });

  it('refuses empty and duplicate lists (also "A1" vs "{A1}", the same key)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(goodName, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        async (names, i) => {
          const dup = names[i % names.length] as string;
          const e = await rejection(() => locks.tryAcquire([...names, dup]));
          expect(e).toBeInstanceOf(RangeError);
        },
      ),
      { numRuns: 100 },
    );
    expect(await rejection(() => locks.tryAcquire([]))).toBeInstanceOf(RangeError);
    expect(await rejection(() => locks.tryAcquire(['A1', '{A1}']))).toBeInstanceOf(RangeError);
    expect(await rejection(() => locks.tryAcquire('A1' as never))).toBeInstanceOf(TypeError);
    expect(client.status).toBe('wait');
  });

  it('refuses bad ttlMs and waitMs with a clear message', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ max: 0 }), fc.double({ noInteger: true }), fc.constant(Number.NaN)),
        async (ttlMs) => {
          const e = await rejection(() => locks.tryAcquire(['A1'], { ttlMs }));
          expect(isMisuse(e)).toBe(true);
          expect(String(e)).toContain('ttlMs');
        },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ max: -1 }), async (waitMs) => {
        const e = await rejection(() => locks.acquire(['A1'], { waitMs }));
        expect(e).toBeInstanceOf(RangeError);
        expect(String(e)).toContain('waitMs');
      }),
    );
    expect(await rejection(() => locks.tryAcquire(['A1'], { tllMs: 5 } as never))).toBeInstanceOf(
      TypeError,
    );
    expect(await rejection(() => locks.acquire(['A1'], { signal: 'x' as never }))).toBeInstanceOf(
      TypeError,
    );
    expect(await rejection(() => locks.owner('a{'))).toBeInstanceOf(TypeError);
    expect(client.status).toBe('wait');
  });

  it('refuses bad constructor options', () => {
    expect(() => new SeatLock(client, { ttlMs: -5 })).toThrow(RangeError);
    expect(() => new SeatLock(client, { ttlMs: -5 })).toThrow(
      'ttlMs must be an integer in [1, 2147483647], got -5',
    );
    expect(() => new SeatLock(client, { prefix: 'a{b}' })).toThrow(TypeError);
    expect(() => new SeatLock(client, { retry: { baseDelayMs: 100, maxDelayMs: 10 } })).toThrow(
      RangeError,
    );
    expect(() => new SeatLock(client, { retry: { wait: 1 } as never })).toThrow(TypeError);
    expect(() => new SeatLock([], {})).toThrow(RangeError);
    expect(() => new SeatLock([client, client])).toThrow(RangeError);
    expect(() => new SeatLock({} as never)).toThrow(TypeError);
    expect(() => new SeatHolds(client, { graceMs: -1 })).toThrow(RangeError);
    expect(() => new SeatHolds(client, { locks: {} as never })).toThrow(TypeError);
  });

  it('refuses bad hold input before any Redis call', async () => {
    const holds = new SeatHolds(client);
    expect(await rejection(() => holds.place([]))).toBeInstanceOf(RangeError);
    expect(await rejection(() => holds.place(['A1'], { ttlMs: 0 }))).toBeInstanceOf(RangeError);
    expect(await rejection(() => holds.place(['A1'], { data: 1n }))).toBeInstanceOf(TypeError);
    expect(await rejection(() => holds.confirm(''))).toBeInstanceOf(RangeError);
    expect(() => holds.onExpire('x' as never)).toThrow(TypeError);
    expect(client.status).toBe('wait');
    await holds.close();
  });
});
