import { randomBytes } from 'node:crypto';
import { deleteByPrefix, redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { IdempotencyStore, IdempotencyStoreUnavailableError, type Lease } from '../src/index.js';
import { until } from './helpers.js';

function claimed(result: Awaited<ReturnType<IdempotencyStore['claim']>>): Lease {
  if (result.outcome !== 'claimed') throw new Error(`expected claimed, got ${result.outcome}`);
  return result.lease;
}

/** The store with its `SET … NX GET` claim turned off, as on Redis < 7 (every claim runs the script). */
function scriptOnly(store: IdempotencyStore): IdempotencyStore {
  (store as unknown as { fastClaim: boolean }).fastClaim = false;
  return store;
}

describe.each(redisTargets())('idempotency records on $name', (target) => {
  const redis = useRedis(target);
  const store = (options: ConstructorParameters<typeof IdempotencyStore>[1] = {}) =>
    new IdempotencyStore(redis.client, { prefix: redis.prefix, ...options });

  describe.each([
    ['SET … NX GET claims', (s: IdempotencyStore) => s],
    ['script-only claims (Redis < 7)', scriptOnly],
  ])('%s', (_name, mode) => {
    it('claim → busy → done → mismatch, then a takeover after a lapsed lease', async () => {
      const s = mode(store({ leaseMs: 150 }));
      const lease = claimed(await s.claim('k', { fingerprint: 'f' }));
      expect(lease.attempt).toBe(1);
      const busy = await s.claim('k', { fingerprint: 'f' });
      expect(busy.outcome).toBe('busy');
      expect((await s.claim('k', { fingerprint: 'g' })).outcome).toBe('mismatch');
      const expiresAt = await lease.complete({ status: 201, body: Buffer.from('ok') });
      const done = await s.claim('k', { fingerprint: 'f' });
      expect(done.outcome === 'done' && done.result).toMatchObject({ status: 201, expiresAt });
      expect(await s.claim('k', { fingerprint: 'g' })).toEqual({ outcome: 'mismatch', expiresAt });

      const first = claimed(await s.claim('lapsing', { fingerprint: 'f' }));
      let next: Awaited<ReturnType<IdempotencyStore['claim']>> | undefined;
      await until(async () => {
        next = await s.claim('lapsing', { fingerprint: 'f' });
        return next.outcome === 'claimed';
      });
      const second = claimed(next as never);
      expect(second.attempt).toBe(2);
      // The record remembers when the key was first claimed, across the takeover.
      expect(second.createdAt).toBe(first.createdAt);
      expect(await s.get('lapsing')).toMatchObject({ state: 'in_flight', attempt: 2 });
    });
  });

  it('keeps fingerprints with newlines and non-ASCII text intact', async () => {
    const s = store();
    const fingerprint = 'line one\nline two: héllo ✓\n';
    const lease = claimed(await s.claim('k', { fingerprint }));
    expect((await s.claim('k', { fingerprint: 'line one\nline two' })).outcome).toBe('mismatch');
    expect((await s.get('k'))?.fingerprint).toBe(fingerprint);
    await lease.complete({ status: 200, headers: { etag: '"x\\ny"' }, body: Buffer.from('\n\n') });
    const done = await s.claim('k', { fingerprint });
    expect(done.outcome === 'done' && done.result.headers).toEqual({ etag: '"x\\ny"' });
    expect(done.outcome === 'done' && done.result.body.toString()).toBe('\n\n');
    expect((await s.get('k'))?.fingerprint).toBe(fingerprint);
    expect((await s.claim('k', { fingerprint: `${fingerprint}x` })).outcome).toBe('mismatch');
  });

  it('uses the record TTL as the lease clock: a claim and each renewal set it to retention + lease', async () => {
    const s = store({ leaseMs: 2_000, retentionSec: 60 });
    const lease = claimed(await s.claim('k'));
    const key = s.redisKey('k');
    const ttl = await redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(62_000);
    await new Promise((r) => setTimeout(r, 300));
    const before = await redis.client.pttl(key);
    expect(before).toBeLessThan(ttl);
    expect(await lease.renew()).toBe(true);
    expect(await redis.client.pttl(key)).toBeGreaterThan(before);
    const record = await s.get('k');
    expect(record?.leaseUntil).toBeGreaterThan(Date.now() + 1_000);
    expect(record?.leaseUntil).toBeLessThanOrEqual(Date.now() + 2_100);
    // Once stored, the record lives retentionSec from the completion.
    const expiresAt = (await lease.complete({ status: 200 })) as number;
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(60_000);
    expect((await s.get('k'))?.expiresAt).toBe(expiresAt);
  });

  it('answers a key holding something else with IdempotencyStoreUnavailableError and leaves it', async () => {
    const s = store();
    await redis.client.set(s.redisKey('text'), 'not a record');
    await redis.client.hset(s.redisKey('hash'), 'state', 'done');
    for (const k of ['text', 'hash']) {
      await expect(s.claim(k)).rejects.toBeInstanceOf(IdempotencyStoreUnavailableError);
      await expect(scriptOnly(store()).claim(k)).rejects.toBeInstanceOf(
        IdempotencyStoreUnavailableError,
      );
      await expect(s.get(k)).rejects.toBeInstanceOf(IdempotencyStoreUnavailableError);
    }
    expect(await redis.client.get(s.redisKey('text'))).toBe('not a record');
    expect(await redis.client.hget(s.redisKey('hash'), 'state')).toBe('done');
  });
});

// Operation counts, watched with MONITOR on a standalone Redis: what each path costs Redis.
describe('idempotency commands per request', () => {
  const prefix = `t${randomBytes(6).toString('hex')}`;
  const url = inject('boxofficeRedis').standaloneUrl;
  afterAll(async () => {
    const cleaner = new Redis(url);
    await deleteByPrefix(cleaner, prefix);
    cleaner.disconnect();
  });

  /** The commands sent for `key` while `fn` runs, as [name, fromLua]. */
  async function commandsFor(key: string, fn: () => Promise<unknown>): Promise<string[]> {
    const watcher = new Redis(url);
    const poke = new Redis(url);
    const monitor = await watcher.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.includes(key))
        seen.push(`${source === 'lua' ? 'lua:' : ''}${args[0]?.toLowerCase()}`);
    });
    try {
      await fn();
      // MONITOR output trails the replies: wait for a marker sent after the work.
      const marker = `${prefix}:marker:${Math.random()}`;
      const marked = new Promise<void>((resolve) => {
        monitor.on('monitor', (_t: string, args: string[]) => {
          if (args.includes(marker)) resolve();
        });
      });
      await poke.get(marker);
      await marked;
    } finally {
      monitor.disconnect();
      watcher.disconnect();
      poke.disconnect();
    }
    return seen;
  }

  it('a new key is one plain SET and one script; a replay is one plain SET', async () => {
    const client = new Redis(url);
    try {
      const s = new IdempotencyStore(client, { prefix });
      // Steady state: ioredis sends a script's first call as EVAL, later ones as EVALSHA.
      await claimed(await s.claim('warm-up')).complete({ status: 200 });
      const key = s.redisKey('k');
      const first = await commandsFor(key, async () => {
        const lease = claimed(await s.claim('k'));
        await lease.complete({ status: 200, body: Buffer.from('{}') });
      });
      expect(first).toEqual(['set', 'evalsha', 'lua:getrange', 'lua:set']);
      const replay = await commandsFor(key, async () => {
        expect((await s.claim('k')).outcome).toBe('done');
      });
      expect(replay).toEqual(['set']);
    } finally {
      client.disconnect();
    }
  });
});
