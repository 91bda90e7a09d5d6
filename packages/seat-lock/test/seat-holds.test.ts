import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, inject, it } from 'vitest';
import { until } from '../../internal/test/package-tests.js';
import { type Hold, HoldNotFoundError, SeatHolds } from '../src/holds.js';
import { SeatLock } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pkgDir = join(import.meta.dirname, '..');

function spawnWorker(spec: object, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'fixtures', 'holds-worker.mjs')],
    {
      cwd: pkgDir,
      env: { ...process.env, HOLDS_TARGET: JSON.stringify(spec), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

function stopWorker(c: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  });
}

describe.each(redisTargets())('SeatHolds on $name', (target) => {
  const redis = useRedis(target);
  const workerSpec = () => {
    const provided = inject('boxofficeRedis');
    return target.name === 'standalone'
      ? { url: provided.standaloneUrl, prefix: redis.prefix }
      : { nodes: provided.clusterNodes, prefix: redis.prefix };
  };
  const make = (options: ConstructorParameters<typeof SeatHolds>[1] = {}) =>
    new SeatHolds(redis.client, { prefix: redis.prefix, ...options });

  it('places, confirms once, and frees the seat lock for the DB', async () => {
    const holds = make();
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    try {
      const placed = await holds.place(['{c1}:A1', '{c1}:A2'], {
        ttlMs: 60_000,
        data: { order: 7 },
      });
      expect(placed).not.toBeNull();
      const p = placed as NonNullable<typeof placed>;
      expect(p.deadline - p.expiresAt).toBe(10_000);
      expect(await locks.owner('{c1}:A1')).toBe(p.lease.token);
      expect(await holds.place(['{c1}:A2'])).toBeNull();
      const hold = (await holds.get(p.holdId)) as Hold;
      expect(hold.state).toBe('held');
      expect(hold.data).toEqual({ order: 7 });
      expect(await holds.confirm(p.holdId)).toEqual({ ok: true, state: 'confirmed' });
      expect(await holds.confirm(p.holdId)).toEqual({ ok: false, state: 'confirmed' });
      expect(await holds.cancel(p.holdId)).toEqual({ ok: false, state: 'confirmed' });
      expect(await locks.owner('{c1}:A1')).toBeNull();
      await expect(holds.confirm('no-such-hold')).rejects.toBeInstanceOf(HoldNotFoundError);
    } finally {
      await holds.close();
    }
  });

  it('cancels: frees the seats and never calls onExpire', async () => {
    const holds = make({ sweepIntervalMs: 100 });
    const expired: string[] = [];
    holds.onExpire((h) => {
      expired.push(h.holdId);
    });
    try {
      const p = await holds.place(['A1'], { ttlMs: 200, graceMs: 0 });
      expect(await holds.cancel(p?.holdId as string)).toEqual({ ok: true, state: 'cancelled' });
      await sleep(800);
      expect(expired).toEqual([]);
      expect((await holds.get(p?.holdId as string))?.state).toBe('cancelled');
      expect(await holds.place(['A1'])).not.toBeNull();
    } finally {
      await holds.close();
    }
  });

  it('expires through the delayed job, once, and then refuses confirm', async () => {
    const holds = make({ sweepIntervalMs: 60_000 });
    const locks = new SeatLock(redis.client, { prefix: redis.prefix });
    const calls: Hold[] = [];
    holds.onExpire(async (h) => {
      calls.push(h);
    });
    try {
      const p = await holds.place(['A1'], { ttlMs: 300, graceMs: 200, data: 'x' });
      await until(() => calls.length === 1);
      expect(calls[0]?.holdId).toBe(p?.holdId);
      expect(calls[0]?.data).toBe('x');
      expect(calls[0]?.state).toBe('expiring');
      await until(async () => (await holds.get(p?.holdId as string))?.state === 'expired');
      expect(await holds.confirm(p?.holdId as string)).toEqual({ ok: false, state: 'expired' });
      expect(await locks.owner('A1')).toBeNull();
      await sleep(500);
      expect(calls).toHaveLength(1);
    } finally {
      await holds.close();
    }
  });

  it('has exactly one winner when confirm races expiry (1,000 trials)', async () => {
    const holds = make({ sweepIntervalMs: 50 });
    const expiredIds = new Map<string, number>();
    holds.onExpire((h) => {
      expiredIds.set(h.holdId, (expiredIds.get(h.holdId) ?? 0) + 1);
    });
    const confirmed = new Set<string>();
    try {
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const p = await holds.place([`R${batch}-${i}`], { ttlMs: 15, graceMs: 0 });
            if (!p) throw new Error('seat unexpectedly taken');
            const racer = async () => {
              for (;;) {
                const outcome = await holds.expire(p.holdId);
                if (outcome !== 'not-due') return;
                await sleep(1);
              }
            };
            const confirmer = async () => {
              await sleep(Math.random() * 30);
              const d = await holds.confirm(p.holdId);
              if (d.ok) confirmed.add(p.holdId);
            };
            await Promise.all([racer(), confirmer()]);
            const state = (await holds.get(p.holdId))?.state;
            expect(state === 'confirmed' || state === 'expired' || state === 'expiring').toBe(true);
          }),
        );
      }
      await holds.close();
      for (const id of confirmed) expect(expiredIds.has(id)).toBe(false);
      for (const n of expiredIds.values()) expect(n).toBe(1);
      expect(confirmed.size + expiredIds.size).toBe(1_000);
      expect(confirmed.size).toBeGreaterThan(0);
      expect(expiredIds.size).toBeGreaterThan(0);
    } finally {
      await holds.close();
    }
  }, 90_000);

  it('expires holds that ended while no process ran, including one whose job was lost', async () => {
    const placer = make();
    const a = await placer.place(['A1'], { ttlMs: 100, graceMs: 0, data: 'a' });
    // b's deadline falls in a later window (1 s), so it has a wake-up job of its own.
    const b = await placer.place(['B1'], { ttlMs: 1_500, graceMs: 0, data: 'b' });
    await placer.close();
    // Lose b's wake-up job, as if Redis had lost it or it was never added.
    const { Queue } = await import('bullmq');
    const queue = new Queue('seat-holds', {
      connection: redis.connect() as never,
      prefix: `${redis.prefix}:{holds}`,
    });
    const windowEnd = Math.ceil((b?.deadline as number) / 1_000) * 1_000;
    expect(await queue.remove(`due-${windowEnd}`)).toBe(1);
    await queue.close();
    await until(() => Date.now() > (b?.deadline as number) + 100);

    const worker = make({ sweepIntervalMs: 200 });
    const calls: string[] = [];
    worker.onExpire((h) => {
      calls.push(h.data as string);
    });
    try {
      await until(() => calls.length === 2);
      await sleep(600);
      expect(calls.sort()).toEqual(['a', 'b']);
      expect((await worker.get(a?.holdId as string))?.runs).toBe(1);
      expect((await worker.get(b?.holdId as string))?.state).toBe('expired');
    } finally {
      await worker.close();
    }
  });

  it('wakes the holds of a window with one job, which a confirm leaves in place for the others', async () => {
    const holds = make({ sweepIntervalMs: 60_000, wakeupWindowMs: 5_000 });
    const { Queue } = await import('bullmq');
    const queue = new Queue('seat-holds', {
      connection: redis.connect() as never,
      prefix: `${redis.prefix}:{holds}`,
    });
    const expired: string[] = [];
    holds.onExpire((h) => {
      expired.push(h.holdId);
    });
    try {
      const placed = await Promise.all(
        Array.from({ length: 20 }, (_, i) => holds.place([`J${i}`], { ttlMs: 300, graceMs: 0 })),
      );
      const ids = placed.map((p) => p?.holdId as string);
      const windows = new Set(placed.map((p) => Math.ceil((p?.deadline as number) / 5_000)));
      const jobs = await queue.getJobs(['delayed', 'waiting', 'active']);
      expect(jobs.map((j) => j.name)).toEqual(jobs.map(() => 'expire-due'));
      expect(jobs).toHaveLength(windows.size); // 1, or 2 when the holds straddle a window's end
      expect(await holds.confirm(ids[0] as string)).toEqual({ ok: true, state: 'confirmed' });
      expect(await queue.getJobs(['delayed', 'waiting', 'active'])).toHaveLength(windows.size);
      await until(() => expired.length === 19, 15_000);
      expect(expired.sort()).toEqual(ids.slice(1).sort());
    } finally {
      await queue.close();
      await holds.close();
    }
  }, 30_000);

  it('still runs a per-hold expiry job left by an earlier version', async () => {
    const holds = make({ sweepIntervalMs: 60_000 });
    const { Queue } = await import('bullmq');
    const queue = new Queue('seat-holds', {
      connection: redis.connect() as never,
      prefix: `${redis.prefix}:{holds}`,
    });
    const expired: string[] = [];
    try {
      const p = await holds.place(['L1'], { ttlMs: 1_000, graceMs: 0 });
      const holdId = p?.holdId as string;
      await queue.obliterate({ force: true }); // its wake-up job gone: only the old-style one left
      await queue.add('expire', { holdId }, { jobId: holdId, removeOnComplete: true });
      holds.onExpire((h) => {
        expired.push(h.holdId);
      });
      await until(() => expired.length === 1);
      expect(expired).toEqual([holdId]);
    } finally {
      await queue.close();
      await holds.close();
    }
  });

  it('retries a failed onExpire and records one success', async () => {
    const errors: unknown[] = [];
    const holds = make({ sweepIntervalMs: 60_000, onError: (e) => errors.push(e) });
    let calls = 0;
    holds.onExpire(() => {
      calls++;
      if (calls === 1) throw new Error('db down');
    });
    try {
      const p = await holds.place(['A1'], { ttlMs: 50, graceMs: 0 });
      await until(async () => (await holds.get(p?.holdId as string))?.state === 'expired');
      const hold = (await holds.get(p?.holdId as string)) as Hold;
      expect(hold.runs).toBe(2);
      expect(calls).toBe(2);
      expect(String(errors[0])).toContain('db down');
      expect(await holds.expire(p?.holdId as string)).toBe('done');
    } finally {
      await holds.close();
    }
  });

  it('expires each hold exactly once across 3 competing worker processes', async () => {
    expect(existsSync(join(pkgDir, 'dist', 'index.js')), 'build first: npx tsup').toBe(true);
    const children: ChildProcess[] = [];
    const placer = make();
    try {
      for (let i = 0; i < 3; i++) children.push(await spawnWorker(workerSpec()));
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const p = await placer.place([`W${i}`], { ttlMs: 200 + (i % 5) * 100, graceMs: 0 });
        ids.push(p?.holdId as string);
      }
      const key = `${redis.prefix}:t:expired`;
      await until(async () => (await redis.client.llen(key)) >= 30, 40_000);
      await sleep(1_000);
      const entries = await redis.client.lrange(key, 0, -1);
      const expired = entries.map((e) => e.split(' ')[0]);
      expect(expired.sort()).toEqual([...ids].sort());
      const pids = new Set(children.map((c) => String(c.pid)));
      for (const e of entries) expect(pids.has(e.split(' ')[1] as string)).toBe(true);
    } finally {
      await placer.close();
      await Promise.all(children.map(stopWorker));
    }
  }, 60_000);

  it('lets another process take over an expiry whose worker crashed inside onExpire', async () => {
    expect(existsSync(join(pkgDir, 'dist', 'index.js')), 'build first: npx tsup').toBe(true);
    const placer = make();
    let crashing: ChildProcess | undefined;
    let healthy: ChildProcess | undefined;
    try {
      crashing = await spawnWorker(workerSpec(), { HOLDS_HANG: '1', HOLDS_CLAIM_MS: '1000' });
      const p = await placer.place(['A1'], { ttlMs: 100, graceMs: 0 });
      await until(async () => (await redis.client.llen(`${redis.prefix}:t:started`)) === 1);
      crashing.kill('SIGKILL');
      expect((await placer.get(p?.holdId as string))?.state).toBe('expiring');
      healthy = await spawnWorker(workerSpec());
      await until(async () => (await placer.get(p?.holdId as string))?.state === 'expired');
      const done = await redis.client.lrange(`${redis.prefix}:t:expired`, 0, -1);
      expect(done).toEqual([`${p?.holdId} ${healthy.pid}`]);
      expect((await placer.get(p?.holdId as string))?.runs).toBe(2);
    } finally {
      await placer.close();
      if (crashing) await stopWorker(crashing);
      if (healthy) await stopWorker(healthy);
    }
  }, 60_000);

  it('keeps the claim of a live onExpire that runs longer than claimMs: nobody else runs it', async () => {
    const started: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const a = make({ claimMs: 300, sweepIntervalMs: 60_000 });
    const b = make({ claimMs: 300, sweepIntervalMs: 60_000 });
    for (const [name, holds] of [
      ['a', a],
      ['b', b],
    ] as const) {
      holds.onExpire(async () => {
        started.push(name);
        if (started.length === 1) await gate; // the first run is slow; a second would not be
      });
    }
    try {
      const p = await a.place(['S1'], { ttlMs: 50, graceMs: 0 });
      const holdId = p?.holdId as string;
      await until(() => started.length === 1);
      await sleep(1_000); // over 3 × claimMs
      const other = started[0] === 'a' ? b : a;
      expect(await other.expire(holdId)).toBe('running');
      release();
      await until(async () => (await a.get(holdId))?.state === 'expired');
      expect(started).toHaveLength(1);
      expect((await a.get(holdId))?.runs).toBe(1);
    } finally {
      release();
      await a.close();
      await b.close();
    }
  });

  it('takes over the expiry of a process that died inside onExpire within the default claimMs (10 s)', async () => {
    expect(existsSync(join(pkgDir, 'dist', 'index.js')), 'build first: npx tsup').toBe(true);
    const placer = make(); // no worker: the crashing process takes the job
    let holds: SeatHolds | undefined;
    let crashing: ChildProcess | undefined;
    try {
      crashing = await spawnWorker(workerSpec(), { HOLDS_HANG: '1' });
      const holdId = (await placer.place(['K1'], { ttlMs: 100, graceMs: 0 }))?.holdId as string;
      await until(async () => (await redis.client.llen(`${redis.prefix}:t:started`)) === 1);
      const killedAt = Date.now();
      crashing.kill('SIGKILL');
      const expired: string[] = [];
      holds = make({ sweepIntervalMs: 60_000 });
      holds.onExpire((hold) => {
        expired.push(hold.holdId);
      });
      const h = holds;
      await until(async () => (await h.expire(holdId)) === 'expired', 12_000);
      expect(Date.now() - killedAt).toBeLessThan(11_000);
      expect(expired).toEqual([holdId]);
      expect((await placer.get(holdId))?.runs).toBe(2);
    } finally {
      await placer.close();
      await holds?.close();
      if (crashing) await stopWorker(crashing);
    }
  }, 30_000);
});
