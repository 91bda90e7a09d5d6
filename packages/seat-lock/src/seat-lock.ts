import { randomBytes } from 'node:crypto';
import {
  check,
  isCluster,
  keyPart,
  keyPrefix,
  luaScript,
  type RedisClient,
  sleep,
} from '@boxoffice/internal';
import { Batcher } from './batcher.js';
import { CallGuard } from './call-guard.js';
import { DeferredJoins } from './deferred-joins.js';
import { LockLostError, LockTimeoutError, SeatLockRedisError } from './errors.js';
import { LEASE_KEYS, Lease, type LeaseOwner, MAX_TTL_MS } from './lease.js';
import extendLua from './lua/extend.lua';
import leaveLua from './lua/leave.lua';
import opsLua from './lua/ops.lua';
import { checkResources, type ResourceKeys, resourceKeys, slotGroups } from './resources.js';
import { Waker } from './waker.js';

// Acquire and release, batched per tick (see Batcher).
const opsScript = luaScript('seatlock', 'ops', opsLua, __PACKAGE_VERSION__);
const leaveScript = luaScript('seatlock', 'leave', leaveLua, __PACKAGE_VERSION__);
const extendScript = luaScript('seatlock', 'extend', extendLua, __PACKAGE_VERSION__);

/** How `acquire` waits: bounded exponential backoff with full jitter, plus wake-up on release. */
export interface RetryOptions {
  /** How long `acquire` waits before `LockTimeoutError`. @defaultValue 10_000 */
  waitMs?: number;
  /** First backoff ceiling; attempt k sleeps random(0, min(maxDelayMs, baseDelayMs·2^k)). @defaultValue 10 */
  baseDelayMs?: number;
  /** Largest backoff ceiling. @defaultValue 500 */
  maxDelayMs?: number;
}

/** Options of {@link SeatLock}. */
export interface SeatLockOptions {
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Default lease TTL in ms. @defaultValue 30_000 */
  ttlMs?: number;
  /** Waiting policy of `acquire`/`using`. @defaultValue `{ waitMs: 10_000, baseDelayMs: 10, maxDelayMs: 500 }` */
  retry?: RetryOptions;
  /** Deadline of each Redis call; past it the call fails with `SeatLockRedisError`. @defaultValue 2_000 */
  commandTimeoutMs?: number;
  /** Redlock clock-drift allowance, as a fraction of the TTL (plus 2 ms). @defaultValue 0.01 */
  driftFactor?: number;
  /** Use the waiter list and pub/sub wake-up (single-Redis mode); false = backoff only. @defaultValue true */
  wakeUp?: boolean;
}

/** Options of one acquisition. */
export interface AcquireOptions {
  /** Lease TTL in ms. @defaultValue the SeatLock's `ttlMs` */
  ttlMs?: number;
  /** How long to wait (acquire/using only). @defaultValue the SeatLock's `retry.waitMs` */
  waitMs?: number;
  /** Abort the wait (acquire) or the work (using). */
  signal?: AbortSignal;
}

const DEFAULTS: Readonly<Required<Omit<SeatLockOptions, 'retry'>> & { retry: RetryOptions }> =
  Object.freeze({
    prefix: 'bo',
    ttlMs: 30_000,
    retry: Object.freeze({}),
    commandTimeoutMs: 2_000,
    driftFactor: 0.01,
    wakeUp: true,
  });
const RETRY_DEFAULTS: Readonly<Required<RetryOptions>> = Object.freeze({
  waitMs: 10_000,
  baseDelayMs: 10,
  maxDelayMs: 500,
});

type Attempt =
  | { ok: true; fences: Map<string, bigint> }
  | { ok: false; resource: string; holder: string | null; pttl: number };
type Failed = Attempt & { ok: false };
const QUEUED_POLL_MAX_FACTOR = 4;
/** How long a one-seat waiter of a SeatLock that holds the seat may wait before it joins the Redis line. */
const JOIN_BATCH_MS = 20;
type Outcome = Failed | { ok: true; fences: Map<string, bigint>; validityMs: number };

const CALL_OPTION_KEYS = new Set(['ttlMs', 'waitMs', 'signal']);

/**
 * The hot-path shortcut of `check.mergeOptions` for per-call options: true for undefined or a plain
 * object with known keys only; anything else goes through mergeOptions (which throws).
 */
function isCallOptions(value: unknown): value is AcquireOptions | undefined {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(value)) if (!CALL_OPTION_KEYS.has(key)) return false;
  return true;
}

function looksLikeClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RedisClient).defineCommand === 'function' &&
    typeof (value as RedisClient).duplicate === 'function'
  );
}

/**
 * Seat locks on one Redis (standalone, Sentinel or Cluster) or, given an array of independent
 * masters, in Redlock mode (quorum N/2+1). Multi-seat acquisitions are all-or-nothing; every
 * acquisition gets a fencing token per resource; waiters are woken one at a time on release.
 */
export class SeatLock implements LeaseOwner {
  readonly #clients: readonly RedisClient[];
  readonly #redlock: boolean;
  readonly #quorum: number;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #retry: Readonly<Required<RetryOptions>>;
  readonly #timeoutMs: number;
  readonly #drift: number;
  readonly #wakeUp: boolean;
  readonly #channel: string;
  readonly #waker: Waker | undefined;
  readonly #batchers = new Map<RedisClient, Batcher>();
  readonly #cluster = new Map<RedisClient, boolean>();
  readonly #guard: CallGuard;
  // Lock keys this instance last found taken: its next one-seat acquire joins the line first.
  readonly #hot = new Set<string>();
  // Leases made by restore(): their fences come from the caller, so a release must not extend them.
  readonly #restored = new WeakSet<Lease>();
  readonly #oneSeat = new Map<string, ResourceKeys>();
  // Lock key -> expiresAt of the one-seat lease this instance holds on it (waiters then join in batches).
  readonly #held = new Map<string, number>();
  readonly #deferred: DeferredJoins;
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
      if (!looksLikeClient(c)) {
        throw new TypeError(
          `redis${Array.isArray(redis) ? `[${i}]` : ''} must be an ioredis client`,
        );
      }
    });
    if (new Set(list).size !== list.length) {
      throw new RangeError('redis must not list the same client twice');
    }
    this.#clients = Object.freeze([...list]);
    this.#redlock = Array.isArray(redis);
    this.#quorum = Math.floor(list.length / 2) + 1;
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
    const first = this.#clients[0] as RedisClient;
    this.#waker = this.#wakeUp ? new Waker(first, this.#channel, this.#timeoutMs) : undefined;
    this.#guard = new CallGuard(this.#timeoutMs);
    const head = [this.#channel, this.#waker ? this.#tokenBase : ''];
    for (const c of this.#clients) {
      this.#batchers.set(c, new Batcher(c, opsScript, head, this.#guard));
      this.#cluster.set(c, isCluster(c));
    }
    this.#deferred = new DeferredJoins((wait, entries, ttlMs) => {
      const client = this.#clients[0] as RedisClient;
      return this.#guard
        .run(client, 'acquire', () =>
          this.#batch(client).send(() => client.rpush(wait, ...entries)),
        )
        .then(async (n) => {
          // A new list: give it its TTL (garbage collection for entries of waiters that died).
          if (n === entries.length) {
            await this.#guard.run(client, 'acquire', () => client.pexpire(wait, ttlMs));
          }
        });
    }, JOIN_BATCH_MS);
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
    return this.#acquire(keys, ttlMs, waitMs, signal);
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
      if (waker) await this.#leave(keys, token, direct, ttlMs).catch(() => {});
      throw error;
    } finally {
      waker?.unregister(token);
    }
    if (waker) {
      // A lock handed to us at the last moment is passed on, not left to expire.
      await this.#leave(keys, token, direct, ttlMs).catch(() => {});
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
    const read = (c: RedisClient) =>
      this.#guard.run(c, 'owner', () => this.#batch(c).send(() => c.get(key)));
    if (!this.#redlock) return await read(this.#clients[0] as RedisClient);
    const answers = await Promise.allSettled(this.#clients.map(read));
    const counts = new Map<string, number>();
    let answered = 0;
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      answered++;
      const v = a.value;
      if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    if (answered < this.#quorum) {
      throw new SeatLockRedisError(
        'owner',
        'quorum',
        `${answered}/${this.#clients.length} masters answered`,
      );
    }
    for (const [v, n] of counts) if (n >= this.#quorum) return v;
    return null;
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
    this.#deferred.clear();
    await this.#waker?.close();
  }

  // --- LeaseOwner ---------------------------------------------------------------------------

  /** @internal */
  async extendLease(lease: Lease, ttlMs: number): Promise<number> {
    const keys = this.#keysFor(lease);
    const start = Date.now();
    const extendOn = async (client: RedisClient) => {
      for (const group of slotGroups(keys, this.#isCluster(client))) {
        const ok = await this.#guard.run(client, 'extend', () =>
          this.#batch(client).send(() =>
            extendScript.run(
              client,
              group.map((k) => k.lock),
              [lease.token, ttlMs],
            ),
          ),
        );
        if (ok !== 1) return false;
      }
      return true;
    };
    if (!this.#redlock) {
      if (!(await extendOn(this.#clients[0] as RedisClient))) {
        throw new LockLostError(lease.resources, lease.token);
      }
      return start + ttlMs;
    }
    const results = await Promise.allSettled(this.#clients.map(extendOn));
    const answered = results.filter((r) => r.status === 'fulfilled').length;
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value).length;
    const validity = ttlMs - (Date.now() - start) - this.#driftMs(ttlMs);
    if (ok >= this.#quorum && validity > 0) return start + validity;
    if (answered < this.#quorum) {
      throw new SeatLockRedisError(
        'extend',
        'quorum',
        `${answered}/${this.#clients.length} masters answered`,
      );
    }
    throw new LockLostError(
      lease.resources,
      lease.token,
      `extended on ${ok}/${this.#clients.length} masters`,
    );
  }

  /** @internal */
  async releaseLease(lease: Lease): Promise<boolean> {
    const keys = this.#keysFor(lease);
    const n = keys.length;
    if (!this.#redlock) {
      const client = this.#clients[0] as RedisClient;
      if (n === 1) this.#held.delete((keys[0] as ResourceKeys).lock);
      return (
        (await this.#releaseGroups(
          client,
          slotGroups(keys, this.#isCluster(client)),
          lease.token,
          this.#restored.has(lease) ? undefined : lease.fences,
          true,
        )) === n
      );
    }
    const results = await Promise.allSettled(
      this.#clients.map((c) =>
        this.#releaseGroups(c, slotGroups(keys, this.#isCluster(c)), lease.token),
      ),
    );
    const answered = results.filter((r) => r.status === 'fulfilled').length;
    if (answered < this.#quorum) {
      throw new SeatLockRedisError(
        'release',
        'quorum',
        `${answered}/${this.#clients.length} masters answered`,
      );
    }
    return results.filter((r) => r.status === 'fulfilled' && r.value === n).length >= this.#quorum;
  }

  // --- internals ----------------------------------------------------------------------------

  #driftMs(ttlMs: number): number {
    return Math.round(ttlMs * this.#drift) + 2;
  }

  #lease(
    keys: ResourceKeys[],
    token: string,
    fences: Map<string, bigint>,
    expiresAt: number,
  ): Lease {
    if (keys.length === 1 && this.#waker) {
      if (this.#held.size >= 10_000) this.#held.clear();
      this.#held.set((keys[0] as ResourceKeys).lock, expiresAt);
    }
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
      const client = this.#clients[0] as RedisClient;
      const r = await this.#attemptOn(
        client,
        slotGroups(keys, this.#isCluster(client)),
        token,
        ttlMs,
        queueTtl,
        queued,
        direct,
      );
      return r.ok ? { ok: true, fences: r.fences, validityMs: ttlMs } : r;
    }
    const start = Date.now();
    const results = await Promise.allSettled(
      this.#clients.map((c) =>
        this.#attemptOn(c, slotGroups(keys, this.#isCluster(c)), token, ttlMs, 0, new Set()),
      ),
    );
    const validity = ttlMs - (Date.now() - start) - this.#driftMs(ttlMs);
    const won = results.flatMap((r) => (r.status === 'fulfilled' && r.value.ok ? [r.value] : []));
    if (won.length >= this.#quorum && validity > 0) {
      const fences = new Map<string, bigint>();
      for (const w of won) {
        for (const [res, f] of w.fences) {
          const prev = fences.get(res);
          if (prev === undefined || f > prev) fences.set(res, f);
        }
      }
      return { ok: true, fences, validityMs: validity };
    }
    await Promise.allSettled(
      this.#clients.map((c) => this.#releaseGroups(c, slotGroups(keys, this.#isCluster(c)), token)),
    );
    const answered = results.filter((r) => r.status === 'fulfilled').length;
    if (answered < this.#quorum) {
      const failure = results.find((r) => r.status === 'rejected');
      throw new SeatLockRedisError(
        'acquire',
        'quorum',
        `${answered}/${this.#clients.length} masters answered (quorum ${this.#quorum})`,
        failure?.status === 'rejected' ? failure.reason : undefined,
      );
    }
    const lost = results.find((r) => r.status === 'fulfilled' && !r.value.ok);
    if (lost?.status === 'fulfilled' && !lost.value.ok) return lost.value;
    return { ok: false, resource: keys[0]?.resource ?? '', holder: null, pttl: -1 };
  }

  async #attemptOn(
    client: RedisClient,
    groups: ResourceKeys[][],
    token: string,
    ttlMs: number,
    queueTtl: number,
    queued: Set<string>,
    direct = false,
  ): Promise<Attempt> {
    const fences = new Map<string, bigint>();
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as ResourceKeys[];
      let mode = '0';
      const only = group[0] as ResourceKeys;
      // Still waiting in this instance's batch of joins: leave it, and try (or join) ourselves.
      if (direct && this.#deferred.take(only.lock, token)) queued.delete(only.lock);
      if (direct && queueTtl > 0 && !queued.has(only.lock) && this.#hot.has(only.lock)) {
        // Seen contended lately: join the line with one plain command; only a caller alone in it
        // needs the script (the seat may be free). Those in line before us are served first anyway.
        const entry = `${token}/${ttlMs}`;
        const heldUntil = this.#held.get(only.lock) ?? 0;
        const now = Date.now();
        if (heldUntil > now) {
          // This instance holds the seat: join with the next batch (one RPUSH for all of them,
          // JOIN_BATCH_MS later at most); our own release hands the seat to us if the line is empty.
          this.#deferred.add(only.lock, only.wait, token, entry, now + queueTtl);
          queued.add(only.lock);
          return { ok: false, resource: only.resource, holder: null, pttl: heldUntil - now };
        }
        const n = await this.#guard.run(client, 'acquire', () =>
          this.#batch(client).send(() => client.rpush(only.wait, entry)),
        );
        queued.add(only.lock);
        if (n > 1) return { ok: false, resource: only.resource, holder: null, pttl: -1 };
        mode = '3';
      }
      const keys: string[] = [];
      let flags = '';
      for (const k of group) {
        keys.push(k.lock, k.fence, k.wait);
        flags += mode === '3' ? mode : queued.has(k.lock) ? '1' : '0';
      }
      const spec = `A:${group.length}:${ttlMs}:${queueTtl}:${direct ? '1' : '0'}:${flags}`;
      let reply: unknown[];
      try {
        reply = (await this.#batch(client).op(
          keys,
          [spec, token],
          'acquire',
          // The script may still run after we gave up on it: undo it then.
          () => void this.#releaseGroups(client, [group], token).catch(() => {}),
        )) as unknown[];
      } catch (error) {
        if (g > 0) await this.#releaseGroups(client, groups.slice(0, g), token).catch(() => {});
        throw error;
      }
      if (reply[0] === 1) {
        for (let i = 0; i < group.length; i++) {
          const k = group[i] as ResourceKeys;
          fences.set(k.resource, BigInt(reply[i + 1] as string));
          queued.delete(k.lock);
          if (direct) this.#hot.delete(k.lock);
        }
        continue;
      }
      const blocked = group[(reply[1] as number) - 1] as ResourceKeys;
      if (direct && queueTtl > 0) {
        if (this.#hot.size >= 10_000) this.#hot.clear();
        this.#hot.add(blocked.lock);
      }
      if (reply[3] === 1) queued.add(blocked.lock);
      else queued.delete(blocked.lock);
      // Roll back the groups already locked, so no partial hold is left behind.
      if (g > 0) await this.#releaseGroups(client, groups.slice(0, g), token);
      return {
        ok: false,
        resource: blocked.resource,
        holder: (reply[2] as string) ?? null,
        pttl: Number(reply[4] ?? -1),
      };
    }
    return { ok: true, fences };
  }

  /** `fences`: the fences this SeatLock handed out for the lease (lets a handoff skip a counter bump). */
  async #releaseGroups(
    client: RedisClient,
    groups: ResourceKeys[][],
    token: string,
    fences?: ReadonlyMap<string, bigint>,
    offer = false,
  ): Promise<number> {
    let released = 0;
    for (const group of groups) {
      const keys: string[] = [];
      // One seat: our first waiter not yet in the Redis line gets it if the line is empty.
      const lock = (group[0] as ResourceKeys).lock;
      const offered =
        offer && this.#waker && group.length === 1 ? this.#deferred.offer(lock) : undefined;
      let spec = `R:${group.length}:${offered === undefined ? '0' : '1'}`;
      for (const k of group) {
        keys.push(k.lock, k.fence, k.wait);
        const f = fences?.get(k.resource);
        spec += f === undefined ? ':0' : `:${f}`;
      }
      const args = offered === undefined ? [spec, token] : [spec, token, offered];
      let reply: unknown[];
      try {
        reply = (await this.#batch(client).op(keys, args, 'release')) as unknown[];
      } catch (error) {
        if (offered !== undefined) this.#deferred.settle(lock, offered, undefined);
        throw error;
      }
      released += reply[0] as number;
      let consumed = false;
      for (let i = 1; i + 2 < reply.length; i += 3) {
        const woken = reply[i] as string;
        if (offered?.startsWith(`${woken}/`)) consumed = true;
        this.#waker?.deliver(woken, reply[i + 1] as string, reply[i + 2] as string);
      }
      if (offered !== undefined) this.#deferred.settle(lock, offered, consumed);
    }
    return released;
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

  #isCluster(client: RedisClient): boolean {
    return this.#cluster.get(client) ?? isCluster(client);
  }

  #keysFor(lease: Lease): ResourceKeys[] {
    // A lease only ever calls back into the SeatLock that created it, so its keys fit this prefix.
    const keys = lease[LEASE_KEYS] as ResourceKeys[] | undefined;
    return keys ?? lease.resources.map((r) => resourceKeys(this.#prefix, r));
  }

  #batch(client: RedisClient): Batcher {
    return this.#batchers.get(client) as Batcher;
  }

  async #leave(keys: ResourceKeys[], token: string, direct: boolean, ttlMs: number): Promise<void> {
    const entry = direct ? `${token}/${ttlMs}` : token;
    const client = this.#clients[0] as RedisClient;
    if (direct) this.#deferred.take((keys[0] as ResourceKeys).lock, token);
    for (const group of slotGroups(keys, this.#isCluster(client))) {
      await this.#guard.run(client, 'leave', () =>
        this.#batch(client).send(() =>
          leaveScript.run(
            client,
            group.flatMap((k) => [k.lock, k.fence, k.wait]),
            [token, this.#channel, entry],
          ),
        ),
      );
    }
  }
}
