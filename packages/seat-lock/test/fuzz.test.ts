import * as fuzz from '@boxoffice/internal/fuzz';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeatHolds } from '../src/holds.js';
import { type Lease, LockLostError, SeatLock, SeatLockError } from '../src/index.js';

// Fuzzing the public API against a real Redis: random, oversized and malformed input either works
// (valid input) or is refused with a TypeError/RangeError before anything is written — never a
// SeatLockRedisError or a plain Error from Redis (a Lua script fed a bad argument).

const RUNS = 150;

const nastyString = fuzz.nastyString();
const hostile = fuzz.hostile(nastyString);

/** A (maybe) valid seat name, or a hostile value in its place. */
const seatName = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Z][0-9]{1,3}$/) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: hostile },
);

const isMisuse = (e: unknown) =>
  (e instanceof TypeError || e instanceof RangeError) && !(e instanceof SeatLockError);

/** Run `fn` (sync throw or rejection alike) and report how it ended. */
async function settle<T>(fn: () => T | Promise<T>) {
  try {
    return { ok: true as const, value: await fn() };
  } catch (error) {
    return { ok: false as const, error };
  }
}

// Generous: every run is a few Redis round trips, on a machine other suites keep busy.
describe.each(redisTargets())('seat-lock fuzz on $name', { timeout: 120_000 }, (target) => {
  const redis = useRedis(target);
  let refusals = 0;
  const keys = async () => (await scanKeys(redis.client, `${redis.prefix}*`)).sort();

  /** Assert a refused call was a typed misuse error and wrote nothing. */
  async function refusedCleanly(before: string[], error: unknown) {
    refusals++;
    if (!isMisuse(error)) throw new Error(`expected a TypeError/RangeError, got ${error}`);
    expect(await keys()).toEqual(before);
  }

  it('tryAcquire / acquire / owner / restore: typed refusal or a working lock', async () => {
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    let tried = 0;
    refusals = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.array(seatName, { maxLength: 6 }), hostile),
          fc.oneof(fc.constant(undefined), fc.record({ ttlMs: hostile }), hostile),
          fc.constantFrom('tryAcquire', 'acquire', 'owner', 'restore') as fc.Arbitrary<string>,
          async (resources, options, method) => {
            tried++;
            const before = await keys();
            const r = await settle<unknown>(() => {
              const list = resources as string[];
              switch (method) {
                case 'tryAcquire':
                  return locks.tryAcquire(list, options as never);
                case 'acquire':
                  return locks.acquire(list, { ...(options as object), waitMs: 0 } as never);
                case 'owner':
                  return locks.owner((Array.isArray(list) ? list[0] : list) as string);
                default:
                  return locks.restore(list, options as never);
              }
            });
            if (!r.ok) return refusedCleanly(before, r.error);
            const lease = r.value as Lease | null | string;
            if (lease && typeof lease === 'object') {
              // Every name it says it locked is locked by it, under its own key — while the lease
              // lasts: a ttlMs as short as 1 may run out before the check is answered, and then the
              // name may be free (`expiresAt` is counted from before the acquire was sent, so an
              // answer before it comes from a live lock).
              for (const name of lease.resources) {
                const owner = await locks.owner(name);
                if (owner === null && Date.now() >= lease.expiresAt) continue;
                expect(owner).toBe(method === 'restore' ? null : lease.token);
              }
              await lease.release();
            }
          },
        ),
        { numRuns: RUNS },
      );
    } finally {
      console.log(
        `seat-lock fuzz (${target.name}): ${tried} inputs to tryAcquire/acquire/owner/restore, ${refusals} refused`,
      );
      await locks.close();
    }
  });

  it('two different accepted names are two different locks', async () => {
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    let tried = 0;
    let bothAccepted = 0;
    try {
      await fc.assert(
        fc.asyncProperty(nastyString, nastyString, async (a, b) => {
          fc.pre(a !== b);
          tried++;
          const first = await settle(() => locks.tryAcquire([a], { ttlMs: 60_000 }));
          if (!first.ok) {
            expect(isMisuse(first.error)).toBe(true);
            return;
          }
          const second = await settle(() => locks.tryAcquire([b], { ttlMs: 60_000 }));
          await first.value?.release();
          if (!second.ok) {
            expect(isMisuse(second.error)).toBe(true);
            return;
          }
          await second.value?.release();
          // Both names were accepted: the second must not have found the first's lock.
          bothAccepted++;
          expect(second.value).not.toBeNull();
        }),
        {
          numRuns: RUNS,
          examples: [
            ['A\ud800', 'A\udc00'],
            ['\ud800', '\ufffd'],
          ],
        },
      );
    } finally {
      console.log(
        `seat-lock fuzz (${target.name}): ${tried} pairs of distinct names, ${bothAccepted} accepted both`,
      );
      await locks.close();
    }
  });

  it('lease.extend refuses any TTL Redis would refuse, and a refused extend changes nothing', async () => {
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    const acquire = async () => {
      const fresh = await locks.tryAcquire(['{fuzz}:A1'], { ttlMs: 60_000 });
      if (!fresh) throw new Error('the seat must be free');
      return fresh;
    };
    let lease = await acquire();
    const lockKey = `${redis.prefix}:lock:{fuzz}:A1`;
    let tried = 0;
    refusals = 0;
    try {
      await fc.assert(
        fc.asyncProperty(hostile, async (ttlMs) => {
          tried++;
          const before = await redis.client.pttl(lockKey);
          const sent = Date.now();
          const r = await settle(() => lease.extend(ttlMs as number));
          if (!r.ok) {
            refusals++;
            if (!isMisuse(r.error))
              throw new Error(`expected a TypeError/RangeError, got ${r.error}`);
            // A refused extend leaves the TTL as it was (it can only have run down).
            expect(await redis.client.pttl(lockKey)).toBeLessThanOrEqual(before);
            expect(await locks.owner('{fuzz}:A1')).toBe(lease.token);
          } else {
            // An accepted TTL of a few ms can run out before the next round trip (a CI run drew
            // one): the lock may then be gone, but only once that TTL has passed.
            const owner = await locks.owner('{fuzz}:A1');
            const ranOut = () => expect(ttlMs as number).toBeLessThanOrEqual(Date.now() - sent + 2);
            if (owner === null) ranOut();
            else expect(owner).toBe(lease.token);
            const rearmed = await settle(() => lease.extend(60_000));
            if (!rearmed.ok) {
              expect(rearmed.error).toBeInstanceOf(LockLostError);
              ranOut();
              lease = await acquire();
            }
          }
        }),
        { numRuns: RUNS, examples: [[2 ** 53 - 1], [2 ** 31 * 2 ** 10], [1], [3]] },
      );
    } finally {
      console.log(
        `seat-lock fuzz (${target.name}): ${tried} TTLs to lease.extend, ${refusals} refused`,
      );
      await lease.release();
      await locks.close();
    }
  });

  it('SeatHolds: place / confirm / cancel / get refuse bad input without writing', async () => {
    const holds = new SeatHolds(redis.client, { prefix: redis.prefix });
    let tried = 0;
    refusals = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.array(seatName, { minLength: 1, maxLength: 3 }), hostile),
          fc.oneof(
            fc.constant(undefined),
            fc.record(
              { ttlMs: hostile, graceMs: hostile, data: fc.oneof(hostile, fc.jsonValue()) },
              { requiredKeys: [] },
            ),
            hostile,
          ),
          hostile,
          async (resources, options, holdId) => {
            tried++;
            const before = await keys();
            const placed = await settle(() => holds.place(resources as string[], options as never));
            if (!placed.ok) await refusedCleanly(before, placed.error);
            else if (placed.value) expect((await holds.cancel(placed.value.holdId)).ok).toBe(true);
            const after = await keys();
            for (const call of [
              () => holds.confirm(holdId as string),
              () => holds.cancel(holdId as string),
              () => holds.get(holdId as string),
            ]) {
              const r = await settle<unknown>(call);
              // A well-formed id of no hold: HoldNotFoundError / null, also without writing.
              if (!r.ok && (r.error as { code?: string }).code !== 'HOLD_NOT_FOUND') {
                await refusedCleanly(after, r.error);
              }
              expect(await keys()).toEqual(after);
            }
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      console.log(
        `seat-lock fuzz (${target.name}): ${tried} inputs to SeatHolds, ${refusals} refused`,
      );
      await holds.close();
    }
  });
});
