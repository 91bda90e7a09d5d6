import { clusterSlot, masters } from '@boxoffice/internal';
import { redisTargets, scanKeys, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  type Lease,
  LockLostError,
  LockTimeoutError,
  SeatLock,
  SeatLockRedisError,
} from '../src/index.js';

async function until(cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(redisTargets())('SeatLock on $name', (target) => {
  const redis = useRedis(target);
  const make = (options: ConstructorParameters<typeof SeatLock>[1] = {}) =>
    new SeatLock(redis.client, { prefix: redis.prefix, ...options });

  it('locks, reports the owner, and releases', async () => {
    const locks = make();
    const lease = await locks.tryAcquire(['concert-1:A1'], { ttlMs: 10_000 });
    expect(lease).not.toBeNull();
    expect(lease?.resources).toEqual(['concert-1:A1']);
    expect(typeof lease?.fence).toBe('bigint');
    expect(lease?.expiresAt).toBeGreaterThan(Date.now());
    expect(await locks.owner('concert-1:A1')).toBe(lease?.token);
    expect(await locks.tryAcquire(['concert-1:A1'])).toBeNull();
    expect(await lease?.release()).toBe(true);
    expect(await locks.owner('concert-1:A1')).toBeNull();
    expect(await lease?.release()).toBe(false);
    const keys = await scanKeys(redis.client, `${redis.prefix}:lock:*`);
    expect(keys).toEqual([]);
  });

  it('subscribes for wake-ups also through a lazy client without an offline queue', async () => {
    // How the booking app makes its client: fail fast while Redis is down.
    const lazy = redis.connect({ lazyConnect: true, enableOfflineQueue: false } as never);
    await lazy.connect();
    const holder = await make().tryAcquire(['W1'], { ttlMs: 10_000 });
    const waiting = new SeatLock(lazy, { prefix: redis.prefix }).acquire(['W1'], {
      waitMs: 10_000,
    });
    const channel = `${redis.prefix}:lock:wake`;
    const subscribers = async () => {
      let n = 0;
      for (const node of masters(redis.client)) {
        const reply = (await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
        n += Number(reply[1]);
      }
      return n;
    };
    await expect.poll(subscribers, { timeout: 5_000 }).toBe(1);
    expect(await holder?.release()).toBe(true);
    const lease = await waiting;
    expect(await lease.release()).toBe(true);
  });

  it('runs calls made in one tick independently: one failing does not fail the others', async () => {
    const locks = make();
    // Not a string: SET on it fails inside Redis (WRONGTYPE).
    await redis.client.rpush(`${redis.prefix}:lock:{B1}`, 'x');
    const [bad, a1, a2] = await Promise.allSettled([
      locks.tryAcquire(['B1']),
      locks.tryAcquire(['A1']),
      locks.tryAcquire(['A2']),
    ]);
    expect(bad.status).toBe('rejected');
    const error = (bad as PromiseRejectedResult).reason as SeatLockRedisError;
    expect(error).toBeInstanceOf(SeatLockRedisError);
    expect(error.kind).toBe('script');
    const leases = [a1, a2].map((r) => (r as PromiseFulfilledResult<Lease | null>).value);
    expect(await locks.owner('A1')).toBe(leases[0]?.token);
    expect(await locks.owner('A2')).toBe(leases[1]?.token);
    // Released in one tick too, each with its own answer.
    expect(await Promise.all([leases[0]?.release(), leases[1]?.release()])).toEqual([true, true]);
    expect(await Promise.all([leases[0]?.release(), locks.owner('A2')])).toEqual([false, null]);
  });

  it('keeps a balanced {tag} as the hash tag and wraps other names', async () => {
    const locks = make();
    const a = await locks.tryAcquire(['{concert-9}:A1', 'B7']);
    expect(a).not.toBeNull();
    const keys = (await scanKeys(redis.client, `${redis.prefix}:lock:*`)).sort();
    expect(keys).toEqual([`${redis.prefix}:lock:{B7}`, `${redis.prefix}:lock:{concert-9}:A1`]);
    await a?.release();
  });

  it('refuses release and extend by a lease that no longer owns the seat', async () => {
    const locks = make();
    const first = (await locks.tryAcquire(['A1'], { ttlMs: 100 })) as Lease;
    await until(async () => (await locks.owner('A1')) === null);
    const second = (await locks.tryAcquire(['A1'], { ttlMs: 10_000 })) as Lease;
    expect(second).not.toBeNull();
    expect(await first.release()).toBe(false);
    await expect(first.extend(10_000)).rejects.toBeInstanceOf(LockLostError);
    expect(await locks.owner('A1')).toBe(second.token);
    await second.extend(20_000);
    expect(await redis.client.pttl(`${redis.prefix}:lock:{A1}`)).toBeGreaterThan(10_000);
    expect(await second.release()).toBe(true);
  });

  it('frees the seat when the lease expires', async () => {
    const locks = make();
    const lease = await locks.tryAcquire(['A1'], { ttlMs: 150 });
    expect(lease).not.toBeNull();
    await until(async () => (await locks.tryAcquire(['A1'])) !== null);
    expect(await lease?.release()).toBe(false);
  });

  it('gives strictly increasing fences per resource, also across expiry', async () => {
    const locks = make();
    const fences: bigint[] = [];
    for (let i = 0; i < 20; i++) {
      const lease = (await locks.acquire(['A1'], { ttlMs: i % 5 === 0 ? 50 : 10_000 })) as Lease;
      fences.push(lease.fence);
      if (i % 5 !== 0) await lease.release();
    }
    for (let i = 1; i < fences.length; i++)
      expect(fences[i]).toBeGreaterThan(fences[i - 1] as bigint);
  });

  it('keeps mutual exclusion under 500 concurrent acquirers, with increasing fences', async () => {
    const locks = make({ retry: { waitMs: 60_000, baseDelayMs: 5, maxDelayMs: 200 } });
    let inside = 0;
    let maxInside = 0;
    const order: bigint[] = [];
    await Promise.all(
      Array.from({ length: 500 }, async () => {
        const lease = await locks.acquire(['hot'], { ttlMs: 30_000 });
        inside++;
        maxInside = Math.max(maxInside, inside);
        order.push(lease.fence);
        await new Promise((r) => setImmediate(r));
        inside--;
        expect(await lease.release()).toBe(true);
      }),
    );
    await locks.close();
    expect(maxInside).toBe(1);
    expect(order).toHaveLength(500);
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThan(order[i - 1] as bigint);
  }, 90_000);

  it('locks many seats all or nothing, across slots, and leaves nothing behind on failure', async () => {
    const locks = make();
    const seats = Array.from({ length: 12 }, (_, i) => `S${i}`);
    if (target.name === 'cluster') {
      expect(
        new Set(seats.map((s) => clusterSlot(`${redis.prefix}:lock:{${s}}`))).size,
      ).toBeGreaterThan(3);
    }
    // Block the seat locked last (highest slot on a Cluster, last key on one server), so the
    // groups locked before it must be rolled back.
    const slotOf = (s: string) =>
      target.name === 'cluster' ? clusterSlot(`${redis.prefix}:lock:{${s}}`) : 0;
    const last = [...seats]
      .sort((a, b) => slotOf(a) - slotOf(b) || (a < b ? -1 : 1))
      .at(-1) as string;
    const blocker = (await locks.tryAcquire([last])) as Lease;
    expect(await locks.tryAcquire(seats)).toBeNull();
    for (const s of seats) {
      expect(await locks.owner(s)).toBe(s === last ? blocker.token : null);
    }
    await blocker.release();
    const all = (await locks.tryAcquire(seats)) as Lease;
    expect(all).not.toBeNull();
    expect([...all.fences.keys()].sort()).toEqual([...seats].sort());
    for (const s of seats) expect(await locks.owner(s)).toBe(all.token);
    await all.extend(20_000);
    expect(await all.release()).toBe(true);
    for (const s of seats) expect(await locks.owner(s)).toBeNull();
  });

  it('never deadlocks or double-books with overlapping concurrent multi-seat acquisitions', async () => {
    const locks = make({ retry: { waitMs: 60_000, baseDelayMs: 2, maxDelayMs: 50 } });
    const seats = ['M0', 'M1', 'M2', 'M3', 'M4', 'M5'];
    const busy = new Set<string>();
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const want = seats.filter((_, j) => (i + j) % 3 !== 0).reverse();
        const lease = await locks.acquire(want, { ttlMs: 30_000 });
        for (const s of want) if (busy.has(s)) conflicts++;
        for (const s of want) busy.add(s);
        await new Promise((r) => setTimeout(r, 1));
        for (const s of want) busy.delete(s);
        await lease.release();
      }),
    );
    await locks.close();
    expect(conflicts).toBe(0);
    for (const s of seats) expect(await locks.owner(s)).toBeNull();
  }, 60_000);

  it('hands a released seat to the longest waiter, one at a time, not back to the releaser', async () => {
    // Backoff too slow to explain the handoffs: only the wake-up can.
    const slow = { waitMs: 25_000, baseDelayMs: 20_000, maxDelayMs: 20_000 };
    const locks = make({ retry: slow });
    const holder = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
    const waitKey = `${redis.prefix}:wait:{A1}`;
    const got: string[] = [];
    const waiters: Promise<Lease>[] = [];
    for (const name of ['b', 'c', 'd']) {
      const p = locks.acquire(['A1'], { ttlMs: 60_000 });
      waiters.push(
        p.then((l) => {
          got.push(name);
          return l;
        }),
      );
      const n = waiters.length;
      await until(async () => (await redis.client.llen(waitKey)) === n);
    }
    expect(await holder.release()).toBe(true);
    // Reserved for the head waiter: the releaser cannot take it back.
    expect(await locks.tryAcquire(['A1'])).toBeNull();
    const b = await (waiters[0] as Promise<Lease>);
    expect(got).toEqual(['b']);
    expect(await locks.owner('A1')).toBe(b.token);
    await b.release();
    const c = await (waiters[1] as Promise<Lease>);
    expect(got).toEqual(['b', 'c']);
    await c.release();
    const d = await (waiters[2] as Promise<Lease>);
    expect(got).toEqual(['b', 'c', 'd']);
    expect(d.fence).toBeGreaterThan(c.fence);
    expect(c.fence).toBeGreaterThan(b.fence);
    await d.release();
    expect(await redis.client.exists(waitKey)).toBe(0);
    await locks.close();
  }, 60_000);

  it('lets waiters of the holding instance join the line in one batch, first come first served', async () => {
    const slow = { waitMs: 25_000, baseDelayMs: 20_000, maxDelayMs: 20_000 };
    const waitKey = `${redis.prefix}:wait:{A1}`;
    // Its own client, recording the RPUSH calls to the line (and sending them on unchanged).
    const client = redis.connect();
    const pushes: string[][] = [];
    const rpush = client.rpush.bind(client) as (...args: string[]) => Promise<number>;
    (client as unknown as { rpush: typeof rpush }).rpush = (...args) => {
      if (args[0] === waitKey) pushes.push(args.slice(1));
      return rpush(...args);
    };
    const locks = new SeatLock(client, { prefix: redis.prefix, retry: slow });
    const first = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
    // Contention seen once: later one-seat acquires of A1 by this instance join the line directly.
    const gaveUp = new AbortController();
    const early = locks.acquire(['A1'], { signal: gaveUp.signal });
    await until(async () => (await redis.client.llen(waitKey)) === 1);
    gaveUp.abort(new Error('gave up'));
    await expect(early).rejects.toThrow('gave up');
    try {
      const order: string[] = [];
      const waiters = ['b', 'c', 'd'].map((name) =>
        locks.acquire(['A1'], { ttlMs: 60_000 }).then((l) => {
          order.push(name);
          return l;
        }),
      );
      // Released before the waiters reached Redis: the first of them gets the seat at once.
      expect(await first.release()).toBe(true);
      const b = await (waiters[0] as Promise<Lease>);
      expect(order).toEqual(['b']);
      expect(await locks.owner('A1')).toBe(b.token);
      // The other two join together, in order.
      await until(async () => (await redis.client.llen(waitKey)) === 2);
      expect(await b.release()).toBe(true);
      const c = await (waiters[1] as Promise<Lease>);
      expect(await c.release()).toBe(true);
      const d = await (waiters[2] as Promise<Lease>);
      expect(order).toEqual(['b', 'c', 'd']);
      expect(c.fence).toBeGreaterThan(b.fence);
      expect(d.fence).toBeGreaterThan(c.fence);
      expect(await d.release()).toBe(true);
      expect(await redis.client.exists(waitKey)).toBe(0);
      expect(pushes).toEqual([[`${c.token}/60000`, `${d.token}/60000`]]);
    } finally {
      await locks.close();
    }
  }, 60_000);

  it('drops a batched waiter that gives up, and gives a line it starts a TTL', async () => {
    const slow = { waitMs: 25_000, baseDelayMs: 20_000, maxDelayMs: 20_000 };
    const locks = make({ retry: slow });
    const waitKey = `${redis.prefix}:wait:{A1}`;
    const first = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
    const gaveUp = new AbortController();
    const early = locks.acquire(['A1'], { signal: gaveUp.signal });
    await until(async () => (await redis.client.llen(waitKey)) === 1);
    gaveUp.abort(new Error('gave up'));
    await expect(early).rejects.toThrow('gave up');
    try {
      // Both wait in this instance's batch (it holds A1); the first leaves before or after it is sent.
      const leaving = new AbortController();
      const left = locks.acquire(['A1'], { signal: leaving.signal });
      const stays = locks.acquire(['A1'], { ttlMs: 60_000 });
      leaving.abort(new Error('left'));
      await expect(left).rejects.toThrow('left');
      await until(async () => (await redis.client.llen(waitKey)) === 1);
      expect(await redis.client.pttl(waitKey)).toBeGreaterThan(0);
      expect(await first.release()).toBe(true);
      const lease = await stays;
      expect(await locks.owner('A1')).toBe(lease.token);
      expect(await redis.client.exists(waitKey)).toBe(0);
      expect(await lease.release()).toBe(true);
      expect(await locks.owner('A1')).toBeNull();
    } finally {
      await locks.close();
    }
  }, 60_000);

  it('times out with who holds it and how long it waited, leaving the waiter list', async () => {
    const locks = make();
    const holder = (await locks.tryAcquire(['A1'])) as Lease;
    const error = await locks.acquire(['A1'], { waitMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    const e = error as LockTimeoutError;
    expect(e.code).toBe('LOCK_TIMEOUT');
    expect(e.holder).toBe(holder.token);
    expect(e.resource).toBe('A1');
    expect(e.resources).toEqual(['A1']);
    expect(e.waitedMs).toBeGreaterThanOrEqual(200);
    expect(await redis.client.llen(`${redis.prefix}:wait:{A1}`)).toBe(0);
    // A release after the waiter left does not reserve the seat for it.
    await holder.release();
    expect(await locks.tryAcquire(['A1'])).not.toBeNull();
    await locks.close();
  });

  it('stops waiting on abort with the signal reason and passes on its place', async () => {
    const locks = make();
    const holder = (await locks.tryAcquire(['A1'])) as Lease;
    const controller = new AbortController();
    const waiting = locks.acquire(['A1'], { waitMs: 20_000, signal: controller.signal });
    await until(async () => (await redis.client.llen(`${redis.prefix}:wait:{A1}`)) === 1);
    controller.abort(new Error('user left'));
    await expect(waiting).rejects.toThrow('user left');
    expect(await redis.client.llen(`${redis.prefix}:wait:{A1}`)).toBe(0);
    await holder.release();
    expect(await locks.owner('A1')).toBeNull();
    await locks.close();
  });

  // Wake-up messages published on this test's channel, from a subscriber of our own.
  async function listen(): Promise<{ messages: string[]; close(): Promise<void> }> {
    const sub = redis.connect();
    const messages: string[] = [];
    sub.on('message', (_channel: string, message: string) => messages.push(message));
    await sub.subscribe(`${redis.prefix}:lock:wake`);
    return { messages, close: async () => void (await sub.quit().catch(() => sub.disconnect())) };
  }

  it("hands a seat to another SeatLock's waiter through pub/sub, and to its own waiter without", async () => {
    const slow = { waitMs: 25_000, baseDelayMs: 20_000, maxDelayMs: 20_000 };
    const a = make({ retry: slow });
    const b = make({ retry: slow });
    const waitKey = `${redis.prefix}:wait:{A1}`;
    const wire = await listen();
    try {
      // Another instance's waiter: only a published wake-up can explain a prompt handoff.
      const held = (await a.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
      const remote = b.acquire(['A1'], { ttlMs: 60_000 });
      await until(async () => (await redis.client.llen(waitKey)) === 1);
      expect(await held.release()).toBe(true);
      const got = await remote;
      expect(await b.owner('A1')).toBe(got.token);
      expect(got.fence).toBeGreaterThan(held.fence);
      await until(() => wire.messages.length === 1);
      expect(wire.messages[0]?.startsWith(`${got.token} `)).toBe(true);
      // Its own waiter: woken from the release's reply, nothing published.
      const local = b.acquire(['A1'], { ttlMs: 60_000 });
      await until(async () => (await redis.client.llen(waitKey)) === 1);
      expect(await got.release()).toBe(true);
      const mine = await local;
      expect(await b.owner('A1')).toBe(mine.token);
      expect(mine.fence).toBeGreaterThan(got.fence);
      await mine.release();
      // A later published message would arrive before this round trip's reply.
      await wire.close();
      expect(wire.messages).toHaveLength(1);
    } finally {
      await wire.close();
      await a.close();
      await b.close();
    }
  }, 60_000);

  it('keeps fences strictly increasing across handoffs, restored leases and expiry', async () => {
    const locks = make({ retry: { waitMs: 20_000, baseDelayMs: 5, maxDelayMs: 50 } });
    const waitKey = `${redis.prefix}:wait:{A1}`;
    const fences: bigint[] = [];
    let lease = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
    fences.push(lease.fence);
    for (let round = 0; round < 6; round++) {
      const next = locks.acquire(['A1'], { ttlMs: round === 5 ? 100 : 60_000 });
      await until(async () => (await redis.client.llen(waitKey)) === 1);
      if (round % 2 === 1) {
        // Released through a restored handle: its fences are the caller's word, not trusted.
        expect(await locks.restore(['A1'], lease.token, new Map([['A1', 1n]])).release()).toBe(
          true,
        );
      } else {
        expect(await lease.release()).toBe(true);
      }
      lease = await next;
      fences.push(lease.fence);
    }
    // The last one expires unreleased; the next holder starts after it.
    let after: Lease | null = null;
    await until(async () => {
      after = await locks.tryAcquire(['A1']);
      return after !== null;
    });
    fences.push((after as unknown as Lease).fence);
    for (let i = 1; i < fences.length; i++) {
      expect(fences[i]).toBeGreaterThan(fences[i - 1] as bigint);
    }
    await locks.close();
  }, 60_000);

  it('after contention, joins the line first yet takes a free seat and reports the holder', async () => {
    const locks = make({ retry: { waitMs: 20_000, baseDelayMs: 5, maxDelayMs: 50 } });
    const waitKey = `${redis.prefix}:wait:{A1}`;
    const first = (await locks.tryAcquire(['A1'], { ttlMs: 60_000 })) as Lease;
    const second = locks.acquire(['A1'], { ttlMs: 60_000 });
    await until(async () => (await redis.client.llen(waitKey)) === 1);
    await first.release();
    const held = await second;
    // This instance now knows A1 is contended: a timed-out waiter still names the holder.
    const error = await locks.acquire(['A1'], { waitMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).holder).toBe(held.token);
    expect(await redis.client.llen(waitKey)).toBe(0);
    await held.release();
    // The seat is free: joining the line first still gets it at once, and leaves no line behind.
    const free = await locks.acquire(['A1'], { waitMs: 0 });
    expect(await locks.owner('A1')).toBe(free.token);
    expect(free.fence).toBeGreaterThan(held.fence);
    expect(await redis.client.exists(waitKey)).toBe(0);
    await free.release();
    await locks.close();
  }, 60_000);

  it('using() extends the lease while the work runs and releases it after', async () => {
    const locks = make();
    const result = await locks.using(['A1'], { ttlMs: 300 }, async (signal, lease) => {
      await new Promise((r) => setTimeout(r, 1_200));
      expect(signal.aborted).toBe(false);
      expect(await locks.owner('A1')).toBe(lease.token);
      return 42;
    });
    expect(result).toBe(42);
    expect(await locks.owner('A1')).toBeNull();
    await locks.close();
  });

  it('using() aborts the work with LockLostError when the lease is lost', async () => {
    const locks = make();
    const run = locks.using(['A1'], { ttlMs: 300 }, async (signal) => {
      await redis.client.del(`${redis.prefix}:lock:{A1}`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      expect(signal.reason).toBeInstanceOf(LockLostError);
      return 'done';
    });
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    await locks.close();
  });

  it('using() passes an outer abort to the work and still releases', async () => {
    const locks = make();
    const controller = new AbortController();
    const run = locks.using(['A1'], { signal: controller.signal }, async (signal) => {
      setTimeout(() => controller.abort(new Error('stop')), 50);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      throw signal.reason;
    });
    await expect(run).rejects.toThrow('stop');
    expect(await locks.owner('A1')).toBeNull();
    await locks.close();
  });
});
