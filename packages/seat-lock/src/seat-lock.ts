import { randomBytes } from 'node:crypto';
import {
  CallGuard,
  check,
  ioredisClient,
  keyPart,
  keyPrefix,
  type RedisClient,
  sleep,
} from '@boxoffice/internal';
import { LockLostError, LockTimeoutError, seatLockCallErrors } from './errors.js';
import { LEASE_KEYS, Lease, type LeaseOwner, MAX_TTL_MS } from './lease.js';
import { type Attempt, LockOps } from './ops-protocol.js';
import {
  type AcquireOptions,
  DEFAULTS,
  isCallOptions,
  RETRY_DEFAULTS,
  type RetryOptions,
  type SeatLockOptions,
} from './options.js';
import { countFulfilled, highestFences, Quorum } from './quorum.js';
import { checkResources, type ResourceKeys, resourceKeys } from './resources.js';
import { tracedAcquire, tracedHandoff, tracing } from './tracing.js';
import { Waker } from './waker.js';

type Failed = Attempt & { ok: false };
const QUEUED_POLL_MAX_FACTOR = 4;
type Outcome = Failed | { ok: true; fences: Map<string, bigint>; validityMs: number };

/**
 * Seat locks on one Redis (standalone, Sentinel or Cluster) or, given an array of independent
 * masters, in Redlock mode (quorum N/2+1). Multi-seat acquisitions are all-or-nothing; every
 * acquisition gets a fencing token per resource; waiters are woken one at a time on release.
 */
export class SeatLock implements LeaseOwner {
  // One per master; the first is the only one in single-Redis mode.
  readonly #masters: readonly LockOps[];
  readonly #redlock: boolean;
  readonly #quorum: Quorum;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #retry: Readonly<Required<RetryOptions>>;
  readonly #timeoutMs: number;
  readonly #drift: number;
  readonly #wakeUp: boolean;
  readonly #channel: string;
  readonly #waker: Waker | undefined;
  // Leases made by restore(): their fences come from the caller, so a release must not extend them.
  readonly #restored = new WeakSet<Lease>();
  readonly #oneSeat = new Map<string, ResourceKeys>();
  // Tokens only need to be unique: a random per-instance part and a counter (cheaper than 16 random bytes per call).
  readonly #tokenBase = randomBytes(12).toString('base64url');
  #tokenCount = 0;

  /**
   * @param redis an ioredis `Redis` or `Cluster`, or an array of independent masters (Redlock mode)
   */
  constructor(redis: RedisClient | readonly RedisClient[], options?: SeatLockOptions) {
    const list = Array.isArray(redis) ? redis : [redis];
    if (list.length === 0) throw new RangeError('redis must not be an empty array');
    list.forEach((c, i) => {
      ioredisClient(Array.isArray(redis) ? `redis[${i}]` : 'redis', c);
    });
    if (new Set(list).size !== list.length) {
      throw new RangeError('redis must not list the same client twice');
    }
    this.#redlock = Array.isArray(redis);
    this.#quorum = new Quorum(list.length);
    const o = check.mergeOptions('SeatLock options', DEFAULTS, options);
    this.#prefix = keyPrefix('prefix', o.prefix);
    this.#ttlMs = check.integer('ttlMs', o.ttlMs, { min: 1, max: MAX_TTL_MS });
    const r = check.mergeOptions('retry', RETRY_DEFAULTS, o.retry);
    this.#retry = Object.freeze({
      waitMs: check.integer('retry.waitMs', r.waitMs, { min: 0, max: MAX_TTL_MS }),
      baseDelayMs: check.integer('retry.baseDelayMs', r.baseDelayMs, { min: 1, max: MAX_TTL_MS }),
      maxDelayMs: check.integer('retry.maxDelayMs', r.maxDelayMs, { min: 1, max: MAX_TTL_MS }),
    });
    if (this.#retry.maxDelayMs < this.#retry.baseDelayMs) {
      throw new RangeError(
        `retry.maxDelayMs must be >= retry.baseDelayMs (${this.#retry.baseDelayMs}), got ${this.#retry.maxDelayMs}`,
      );
    }
    this.#timeoutMs = check.integer('commandTimeoutMs', o.commandTimeoutMs, {
      min: 1,
      max: MAX_TTL_MS,
    });
    this.#drift = check.openInterval('driftFactor', o.driftFactor, 0, 0.5);
    this.#wakeUp = check.boolean('wakeUp', o.wakeUp) && !this.#redlock;
    this.#channel = `${this.#prefix}:lock:wake`;
    const first = list[0] as RedisClient;
    const guard = new CallGuard(this.#timeoutMs, seatLockCallErrors);
    this.#waker = this.#wakeUp ? new Waker(first, this.#channel, guard) : undefined;
    this.#masters = Object.freeze(
      list.map((c) => new LockOps(c, guard, this.#channel, this.#waker, this.#tokenBase)),
    );
  }

  /** True when constructed with an array of masters. */
  get redlock(): boolean {
    return this.#redlock;
  }

  /** One attempt, all or nothing: a Lease, or null when any resource is taken. */
  async tryAcquire(
    resources: readonly string[],
    options?: Omit<AcquireOptions, 'waitMs' | 'signal'>,
  ): Promise<Lease | null> {
    const keys = this.#check(resources);
    const ttlMs =
      options === undefined
        ? this.#ttlMs
        : check.integer(
            'ttlMs',
            check.mergeOptions('options', { ttlMs: this.#ttlMs }, options).ttlMs,
            { min: 1, max: MAX_TTL_MS },
          );
    if (!tracing.on) return this.#tryAcquire(keys, ttlMs);
    const extra = { 'boxoffice.ttl_ms': ttlMs };
    return tracedAcquire('tryAcquire', resources, extra, () => this.#tryAcquire(keys, ttlMs));
  }

  async #tryAcquire(keys: ResourceKeys[], ttlMs: number): Promise<Lease | null> {
    const token = this.#newToken();
    const start = Date.now();
    const result = await this.#attempt(keys, token, ttlMs, 0, new Set());
    return result.ok ? this.#lease(keys, token, result.fences, start + result.validityMs) : null;
  }

  /**
   * Wait for every resource (backoff with full jitter, woken early when a release hands a resource
   * to us). Throws `LockTimeoutError` after `waitMs`, the signal's reason on abort, and
   * `SeatLockRedisError` when Redis fails.
   */
  async acquire(resources: readonly string[], options?: AcquireOptions): Promise<Lease> {
    const keys = this.#check(resources);
    const o = isCallOptions(options)
      ? options
      : check.mergeOptions(
          'options',
          {
            ttlMs: this.#ttlMs,
            waitMs: this.#retry.waitMs,
            signal: undefined as AbortSignal | undefined,
          },
          options,
        );
    const ttlMs = check.integer('ttlMs', o?.ttlMs === undefined ? this.#ttlMs : o.ttlMs, {
      min: 1,
      max: MAX_TTL_MS,
    });
    const waitMs = check.integer(
      'waitMs',
      o?.waitMs === undefined ? this.#retry.waitMs : o.waitMs,
      { min: 0, max: MAX_TTL_MS },
    );
    const signal = check.optionalSignal('signal', o?.signal);
    signal?.throwIfAborted();
    if (!tracing.on) return this.#acquire(keys, ttlMs, waitMs, signal);
    const extra = { 'boxoffice.ttl_ms': ttlMs, 'boxoffice.wait_ms': waitMs };
    return tracedAcquire('acquire', resources, extra, () =>
      this.#acquire(keys, ttlMs, waitMs, signal),
    );
  }

  async #acquire(
    keys: ResourceKeys[],
    ttlMs: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Lease> {
    const token = this.#newToken();
    const began = Date.now();
    const deadline = began + waitMs;
    const waker = waitMs > 0 ? this.#waker : undefined;
    const queued = new Set<string>();
    // One resource: a release may hand the lock straight to us (no second round trip).
    const direct = keys.length === 1;
    if (waker) {
      if (!waker.live) {
        try {
          await waker.ready();
        } catch {
          // No wake-ups for now: plain backoff still works.
        }
      }
      waker.register(token);
    }
    let last: Outcome | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const start = Date.now();
        const remaining = deadline - start;
        const queueTtl = waker && remaining > 0 ? remaining + 5_000 : 0;
        const outcome = await this.#attempt(keys, token, ttlMs, queueTtl, queued, direct);
        if (outcome.ok) return this.#lease(keys, token, outcome.fences, start + outcome.validityMs);
        last = outcome;
        const left = deadline - Date.now();
        if (left <= 0) break;
        const ceiling = Math.min(
          this.#retry.maxDelayMs,
          this.#retry.baseDelayMs * 2 ** Math.min(attempt, 30),
        );
        let delay = Math.max(1, Math.floor(Math.random() * ceiling));
        if (waker?.live && queued.size > 0) {
          // In line and listening: the release wakes us, so poll only for what it cannot signal
          // (the holder's lease running out, a lost message), not on a short backoff.
          const slow = QUEUED_POLL_MAX_FACTOR * this.#retry.maxDelayMs;
          const jitter = Math.floor(Math.random() * this.#retry.baseDelayMs);
          delay = outcome.pttl > 0 ? Math.min(outcome.pttl + 1 + jitter, slow) : slow;
        }
        delay = Math.min(left, delay);
        if (waker) {
          const woken = await waker.wait(token, delay, signal);
          if (woken) {
            queued.delete(woken.lockKey);
            const only = keys[0] as ResourceKeys;
            if (direct && woken.fence !== null && woken.lockKey === only.lock) {
              // Handed over by the releaser: we hold it already, with this fence. Its TTL started
              // when the release ran, just before the message was sent.
              tracedHandoff(only.resource, woken.fence, woken.at);
              return this.#lease(
                keys,
                token,
                new Map([[only.resource, woken.fence]]),
                woken.at + ttlMs - this.#driftMs(ttlMs),
              );
            }
          }
        } else {
          await sleep(delay, signal);
        }
      }
    } catch (error) {
      if (waker) await this.#single.leave(keys, token, direct, ttlMs).catch(() => {});
      throw error;
    } finally {
      waker?.unregister(token);
    }
    if (waker) {
      // A lock handed to us at the last moment is passed on, not left to expire.
      await this.#single.leave(keys, token, direct, ttlMs).catch(() => {});
    }
    const failed = last && !last.ok ? last : undefined;
    let holder = failed?.holder ?? null;
    if (failed && holder === null && !this.#redlock) {
      // A waiter that joined the line without trying the lock did not read the holder.
      holder = await this.owner(failed.resource).catch(() => null);
    }
    throw new LockTimeoutError(
      keys.map((k) => k.resource),
      failed?.resource,
      holder,
      Date.now() - began,
    );
  }

  /**
   * Acquire, run `fn`, release. The lease is extended every ttlMs/3 while `fn` runs; if it is lost,
   * the signal given to `fn` aborts with `LockLostError` and `using` rejects with it.
   */
  async using<T>(
    resources: readonly string[],
    options: AcquireOptions | undefined,
    fn: (signal: AbortSignal, lease: Lease) => Promise<T>,
  ): Promise<T> {
    check.func('fn', fn);
    const o = check.mergeOptions(
      'options',
      {
        ttlMs: this.#ttlMs,
        waitMs: this.#retry.waitMs,
        signal: undefined as AbortSignal | undefined,
      },
      options,
    );
    const ttlMs = check.integer('ttlMs', o.ttlMs, { min: 1, max: MAX_TTL_MS });
    const lease = await this.acquire(resources, o);
    const outer = o.signal;
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    let lost: Error | undefined;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const every = Math.max(1, Math.floor(ttlMs / 3));
    const tick = async () => {
      try {
        await lease.extend(ttlMs);
      } catch (error) {
        if (stopped) return;
        if (error instanceof LockLostError || Date.now() >= lease.expiresAt) {
          lost =
            error instanceof LockLostError
              ? error
              : new LockLostError(lease.resources, lease.token, 'could not extend before expiry');
          controller.abort(lost);
          return;
        }
      }
      if (!stopped) timer = setTimeout(tick, every);
    };
    timer = setTimeout(tick, every);
    try {
      const result = await fn(controller.signal, lease);
      if (lost) throw lost;
      return result;
    } finally {
      stopped = true;
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
      await lease.release().catch(() => false);
    }
  }

  /**
   * The token of the lease holding `resource`, or null when it is free.
   * In Redlock mode: the token found on a quorum of masters, else null.
   */
  async owner(resource: string): Promise<string | null> {
    const key = resourceKeys(this.#prefix, keyPart('resource', resource)).lock;
    const read = (m: LockOps) => m.send('owner', (c) => c.get(key));
    if (!this.#redlock) return await read(this.#single);
    const answers = await Promise.allSettled(this.#masters.map(read));
    this.#quorum.requireAnswers('owner', answers);
    return this.#quorum.agreed(answers);
  }

  /**
   * A handle to an existing lease from its token (e.g. one stored in a hold record), to extend or
   * release it. `fences` and `expiresAt` are informational (as recorded when it was acquired).
   */
  restore(
    resources: readonly string[],
    token: string,
    fences: ReadonlyMap<string, bigint> = new Map(),
    expiresAt = 0,
  ): Lease {
    const keys = checkResources(this.#prefix, resources);
    check.text('token', token, { maxBytes: 128, printable: true });
    const lease = new Lease(
      this,
      keys.map((k) => k.resource),
      token,
      new Map(fences),
      expiresAt,
      keys,
    );
    this.#restored.add(lease);
    return lease;
  }

  /** Close the wake-up subscriber connection, if one was opened. The injected clients stay open. */
  async close(): Promise<void> {
    this.#single.line?.clear();
    await this.#waker?.close();
  }

  // --- LeaseOwner ---------------------------------------------------------------------------

  /** @internal */
  async extendLease(lease: Lease, ttlMs: number): Promise<number> {
    const keys = this.#keysFor(lease);
    const start = Date.now();
    if (!this.#redlock) {
      if (!(await this.#single.extend(keys, lease.token, ttlMs))) {
        throw new LockLostError(lease.resources, lease.token);
      }
      return start + ttlMs;
    }
    const results = await Promise.allSettled(
      this.#masters.map((m) => m.extend(keys, lease.token, ttlMs)),
    );
    const ok = countFulfilled(results, (extended) => extended);
    const validity = ttlMs - (Date.now() - start) - this.#driftMs(ttlMs);
    if (this.#quorum.reached(ok) && validity > 0) return start + validity;
    this.#quorum.requireAnswers('extend', results);
    throw new LockLostError(
      lease.resources,
      lease.token,
      `extended on ${ok}/${this.#masters.length} masters`,
    );
  }

  /** @internal */
  async releaseLease(lease: Lease): Promise<boolean> {
    const keys = this.#keysFor(lease);
    const n = keys.length;
    if (!this.#redlock) {
      const single = this.#single;
      if (n === 1) single.line?.released((keys[0] as ResourceKeys).lock);
      const fences = this.#restored.has(lease) ? undefined : lease.fences;
      return (await single.release(keys, lease.token, fences, true)) === n;
    }
    const results = await Promise.allSettled(
      this.#masters.map((m) => m.release(keys, lease.token)),
    );
    this.#quorum.requireAnswers('release', results);
    return this.#quorum.reached(countFulfilled(results, (released) => released === n));
  }

  // --- internals ----------------------------------------------------------------------------

  /** The one master of single-Redis mode (the first of Redlock mode). */
  get #single(): LockOps {
    return this.#masters[0] as LockOps;
  }

  #driftMs(ttlMs: number): number {
    return Math.round(ttlMs * this.#drift) + 2;
  }

  #lease(
    keys: ResourceKeys[],
    token: string,
    fences: Map<string, bigint>,
    expiresAt: number,
  ): Lease {
    if (keys.length === 1) this.#single.line?.held((keys[0] as ResourceKeys).lock, expiresAt);
    return new Lease(
      this,
      keys.map((k) => k.resource),
      token,
      fences,
      expiresAt,
      keys,
    );
  }

  /** One attempt on every master; validityMs is how long the lease is safe from `start`. */
  async #attempt(
    keys: ResourceKeys[],
    token: string,
    ttlMs: number,
    queueTtl: number,
    queued: Set<string>,
    direct = false,
  ): Promise<Outcome> {
    if (!this.#redlock) {
      const r = await this.#single.attempt(keys, token, ttlMs, queueTtl, queued, direct);
      return r.ok ? { ok: true, fences: r.fences, validityMs: ttlMs } : r;
    }
    const start = Date.now();
    const results = await Promise.allSettled(
      this.#masters.map((m) => m.attempt(keys, token, ttlMs, 0, new Set())),
    );
    const validity = ttlMs - (Date.now() - start) - this.#driftMs(ttlMs);
    const won = results.flatMap((r) => (r.status === 'fulfilled' && r.value.ok ? [r.value] : []));
    if (this.#quorum.reached(won.length) && validity > 0) {
      return { ok: true, fences: highestFences(won.map((w) => w.fences)), validityMs: validity };
    }
    await Promise.allSettled(this.#masters.map((m) => m.release(keys, token)));
    this.#quorum.requireAnswers('acquire', results);
    const lost = results.find((r) => r.status === 'fulfilled' && !r.value.ok);
    if (lost?.status === 'fulfilled' && !lost.value.ok) return lost.value;
    return { ok: false, resource: keys[0]?.resource ?? '', holder: null, pttl: -1 };
  }

  /** checkResources, with the keys of one-seat lists remembered (the hot path validates a name once). */
  #check(resources: readonly string[]): ResourceKeys[] {
    if (Array.isArray(resources) && resources.length === 1) {
      const known = this.#oneSeat.get(resources[0] as string);
      if (known) return [known];
      const keys = checkResources(this.#prefix, resources);
      if (this.#oneSeat.size >= 10_000) this.#oneSeat.clear();
      this.#oneSeat.set(resources[0] as string, keys[0] as ResourceKeys);
      return keys;
    }
    return checkResources(this.#prefix, resources);
  }

  #newToken(): string {
    this.#tokenCount = (this.#tokenCount + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.#tokenBase}${this.#tokenCount.toString(36)}`;
  }

  #keysFor(lease: Lease): ResourceKeys[] {
    // A lease only ever calls back into the SeatLock that created it, so its keys fit this prefix.
    const keys = lease[LEASE_KEYS] as ResourceKeys[] | undefined;
    return keys ?? lease.resources.map((r) => resourceKeys(this.#prefix, r));
  }
}
