import * as fuzz from '@boxoffice/internal/fuzz';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BloomFilter, CountMinSketch, SketchError, Trending } from '../src/index.js';

// Fuzzing the public API against a real Redis: malformed items, increments, windows and sizes are
// refused with a TypeError/RangeError before any Redis call (never a Redis ERR, never a key
// written), and accepted items that differ are counted apart.

const RUNS = 150;

const nastyString = fuzz.nastyString();
const hostile = fuzz.hostile(nastyString);

const { maybe } = fuzz;

const item = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^sku-[0-9]{1,4}$/) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: hostile },
);

const isMisuse = (e: unknown) =>
  (e instanceof TypeError || e instanceof RangeError) && !(e instanceof SketchError);

async function settle<T>(fn: () => T | Promise<T>) {
  try {
    return { ok: true as const, value: await fn() };
  } catch (error) {
    return { ok: false as const, error };
  }
}

/** The item as the package counts it (numbers count as their decimal string). */
const asCounted = (v: unknown) => (typeof v === 'number' ? String(v) : v);

// Generous: every run is a few Redis round trips, on a machine other suites keep busy.
describe.each(redisTargets())('sketch fuzz on $name', { timeout: 120_000 }, (target) => {
  const redis = useRedis(target);
  const keys = async () => (await scanKeys(redis.client, `${redis.prefix}*`)).sort();
  let refused = 0;
  async function refusedCleanly(before: string[], error: unknown) {
    refused++;
    if (!isMisuse(error)) throw error;
    expect(await keys()).toEqual(before);
  }

  it('CountMinSketch and BloomFilter: a typed refusal that writes nothing, or a counted item', async () => {
    const cms = new CountMinSketch(redis.client, { key: 'fz', prefix: redis.prefix });
    const bloom = new BloomFilter(redis.client, {
      key: 'fz',
      prefix: redis.prefix,
      capacity: 1000,
    });
    let tried = 0;
    refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(item, fc.array(item, { maxLength: 4 })),
        maybe(hostile),
        fc.constantFrom('add', 'addMany', 'estimate', 'estimateMany', 'merge', 'bf.add', 'bf.has'),
        async (value, n, method) => {
          tried++;
          const before = await keys();
          const v = value as string;
          const r = await settle<unknown>(() => {
            switch (method) {
              case 'add':
                return cms.add(v, n as number);
              case 'addMany':
                return cms.addMany((Array.isArray(value) ? value : [[value, n]]) as never);
              case 'estimate':
                return cms.estimate(v);
              case 'estimateMany':
                return cms.estimateMany(value as never);
              case 'merge':
                return cms.merge(value as never);
              case 'bf.add':
                return bloom.add(v);
              default:
                return bloom.has(v);
            }
          });
          if (!r.ok) return refusedCleanly(before, r.error);
          if (method === 'add')
            expect(await cms.estimate(v)).toBeGreaterThanOrEqual((n as number) ?? 1);
          if (method === 'bf.add') expect(await bloom.has(v)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`sketch fuzz (${target.name}): ${tried} CMS/Bloom calls, ${refused} refused`);
  });

  it('two different accepted items are counted apart', async () => {
    // 2^20 counters in 4 rows: two items share every row's counter with probability ~1e-18.
    const cms = new CountMinSketch(redis.client, {
      key: 'apart',
      prefix: redis.prefix,
      width: 2 ** 18,
      depth: 4,
    });
    let tried = 0;
    let both = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(nastyString, item), fc.oneof(nastyString, item), async (a, b) => {
        fc.pre(asCounted(a) !== asCounted(b));
        tried++;
        const before = await settle(() => cms.estimate(b as string));
        const added = await settle(() => cms.add(a as string, 1000));
        if (!before.ok || !added.ok) {
          for (const r of [before, added]) if (!r.ok && !isMisuse(r.error)) throw r.error;
          return;
        }
        both++;
        // Adding a must not move b's estimate (items repeat across runs: compare with before).
        expect(await cms.estimate(b as string)).toBe(before.value);
      }),
      {
        numRuns: RUNS,
        examples: [
          ['A\ud800', 'A\udc00'],
          ['\udfff', '\ufffd'],
        ],
      },
    );
    console.log(`sketch fuzz (${target.name}): ${tried} pairs of distinct items, ${both} accepted`);
  });

  it('Trending: record / recordMany / top / estimate / total refuse bad input without writing', async () => {
    const now = Date.now();
    const trending = new Trending(redis.client, {
      name: 'fz',
      prefix: redis.prefix,
      topK: 10,
      width: 1024,
      depth: 3,
      clock: () => now,
    });
    let tried = 0;
    refused = 0;
    await fc.assert(
      fc.asyncProperty(
        item,
        maybe(hostile),
        maybe(
          fc.oneof(
            fc.record(
              {
                at: maybe(
                  fc.oneof(
                    fc.integer({ min: now - 5 * 86_400_000, max: now + 7_200_000 }),
                    hostile,
                  ),
                ),
                dedupeBy: maybe(fc.oneof(fc.stringMatching(/^u[0-9]{1,3}$/), hostile)),
                window: maybe(hostile),
              },
              { requiredKeys: [] },
            ),
            hostile,
          ),
        ),
        fc.constantFrom('record', 'recordMany', 'top', 'estimate', 'total'),
        async (value, n, options, method) => {
          tried++;
          const before = await keys();
          const { window, ...recordOptions } = (
            options && typeof options === 'object' ? options : {}
          ) as Record<string, unknown>;
          const o = (options && typeof options === 'object' ? recordOptions : options) as never;
          const q = (options && typeof options === 'object' ? { window } : options) as never;
          const r = await settle<unknown>(() => {
            switch (method) {
              case 'record':
                return trending.record(value as string, n as number, o);
              case 'recordMany':
                return trending.recordMany([[value as string, n as number, o]]);
              case 'top':
                return trending.top(n as number, q);
              case 'estimate':
                return trending.estimate(value as string, q);
              default:
                return trending.total(q);
            }
          });
          if (!r.ok) return refusedCleanly(before, r.error);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`sketch fuzz (${target.name}): ${tried} Trending calls, ${refused} refused`);
  });
});
