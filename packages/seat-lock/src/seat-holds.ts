import { randomBytes, randomUUID } from 'node:crypto';
import {
  CallGuard,
  check,
  clientKeyPrefix,
  duplicateClient,
  ioredisClient,
  keyPrefix,
  luaScript,
  type RedisClient,
  redisNowMsLua,
  sleep,
  whileRenewing,
} from '@boxoffice/internal';
import { type Job, Worker } from 'bullmq';
import { HoldNotFoundError, SeatLockRedisError, seatLockCallErrors } from './errors.js';
import { ExpiryWakeups, WAKEUP_JOB, type WakeupData } from './expiry-wakeups.js';
import claimLua from './lua/hold-claim.lua';
import decideLua from './lua/hold-decide.lua';
import finishLua from './lua/hold-finish.lua';
import placeLua from './lua/hold-place.lua';
import renewLua from './lua/hold-renew.lua';
import {
  DEFAULTS,
  type Decision,
  type ExpireOutcome,
  type Hold,
  type HoldState,
  MAX_MS,
  type PlacedHold,
  type PlaceOptions,
  type SeatHoldsOptions,
  toHold,
} from './seat-holds-options.js';
import { SeatLock } from './seat-lock.js';
import { tracedConfirm, tracedExpire, tracedPlace, tracing } from './tracing.js';

const timed = { includes: [redisNowMsLua] };
const placeScript = luaScript('seatlock', 'hold_place', placeLua, __PACKAGE_VERSION__, timed);
const decideScript = luaScript('seatlock', 'hold_decide', decideLua, __PACKAGE_VERSION__, timed);
const claimScript = luaScript('seatlock', 'hold_claim', claimLua, __PACKAGE_VERSION__, timed);
const finishScript = luaScript('seatlock', 'hold_finish', finishLua, __PACKAGE_VERSION__);
const renewScript = luaScript('seatlock', 'hold_renew', renewLua, __PACKAGE_VERSION__, timed);

export type {
  Decision,
  ExpireOutcome,
  Hold,
  HoldState,
  PlacedHold,
  PlaceOptions,
  SeatHoldsOptions,
} from './seat-holds-options.js';

/** The worker's connection: BullMQ's blocking commands must never be given up on by ioredis. */
const workerConnection = (client: RedisClient): RedisClient =>
  duplicateClient(client, { maxRetriesPerRequest: null });

type Claim =
  | { kind: 'claimed'; hold: Hold; token: string; fences: Map<string, bigint> }
  | { kind: 'not-due' | 'running'; ms: number }
  | { kind: 'done'; state: string };

/**
 * Seat holds that always expire: `place` locks the seats and makes sure a BullMQ delayed job wakes
 * at the end of the deadline's window (one job per `wakeupWindowMs`, not per
 * hold); `confirm` and expiry race on one hold record and exactly one wins (decided in one Lua
 * script); a sweep finds holds whose job was lost. Opens its own
 * connections for BullMQ, derived from `redis` with `duplicate()`; `close()` ends them.
 */
export class SeatHolds {
  readonly #redis: RedisClient;
  readonly #locks: SeatLock;
  readonly #ownLocks: boolean;
  readonly #o: Readonly<Omit<typeof DEFAULTS, 'locks'>>;
  readonly #recPrefix: string;
  readonly #dueKey: string;
  readonly #bullPrefix: string;
  readonly #claimer = `${randomBytes(6).toString('hex')}`;
  readonly #wakeups: ExpiryWakeups;
  #worker: Worker | undefined;
  #workerConn: RedisClient | undefined;
  #handler: ((hold: Hold) => Promise<void> | void) | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #guard: CallGuard<SeatLockRedisError>;

  constructor(redis: RedisClient, options?: SeatHoldsOptions) {
    ioredisClient('redis', redis);
    const clientPrefix = clientKeyPrefix(redis);
    if (clientPrefix) {
      throw new TypeError(
        `redis has the ioredis keyPrefix ${JSON.stringify(clientPrefix)}, which BullMQ cannot use: ` +
          'give SeatHolds a client without keyPrefix and set its `prefix` option instead',
      );
    }
    const o = check.mergeOptions('SeatHolds options', DEFAULTS, options);
    const prefix = keyPrefix('prefix', o.prefix);
    check.integer('ttlMs', o.ttlMs, { min: 1, max: MAX_MS });
    check.integer('graceMs', o.graceMs, { min: 0, max: MAX_MS });
    check.integer('lockMarginMs', o.lockMarginMs, { min: 0, max: MAX_MS });
    keyPrefix('queueName', o.queueName);
    check.integer('concurrency', o.concurrency, { min: 1, max: 1000 });
    check.integer('wakeupWindowMs', o.wakeupWindowMs, { min: 1, max: 3_600_000 });
    check.integer('sweepIntervalMs', o.sweepIntervalMs, { min: 1, max: MAX_MS });
    check.integer('claimMs', o.claimMs, { min: 1, max: MAX_MS });
    check.integer('keepMs', o.keepMs, { min: 1, max: MAX_MS });
    check.integer('commandTimeoutMs', o.commandTimeoutMs, { min: 1, max: MAX_MS });
    check.func('onError', o.onError);
    if (o.locks !== undefined && !(o.locks instanceof SeatLock)) {
      throw new TypeError('locks must be a SeatLock');
    }
    this.#redis = redis;
    this.#ownLocks = o.locks === undefined;
    this.#locks = o.locks ?? new SeatLock(redis, { prefix, commandTimeoutMs: o.commandTimeoutMs });
    this.#o = o;
    this.#guard = new CallGuard(o.commandTimeoutMs, seatLockCallErrors);
    // Every key of the holds shares the {holds} hash tag: records, index and BullMQ's keys.
    this.#bullPrefix = `${prefix}:{holds}`;
    this.#recPrefix = `${prefix}:{holds}:h:`;
    this.#dueKey = `${prefix}:{holds}:due`;
    this.#wakeups = new ExpiryWakeups(redis, this.#bullPrefix, o.queueName, o.wakeupWindowMs, (e) =>
      this.#o.onError(e),
    );
  }

  /**
   * Lock `resources` and start a hold: returns null when a seat is taken. The seats stay locked
   * until `deadline` (= expiresAt + graceMs) plus `lockMarginMs`, unless confirmed or cancelled.
   */
  place(resources: readonly string[], options?: PlaceOptions): Promise<PlacedHold | null> {
    if (!tracing.on) return this.#place(resources, options);
    return tracedPlace(resources, () => this.#place(resources, options));
  }

  async #place(resources: readonly string[], options?: PlaceOptions): Promise<PlacedHold | null> {
    this.#open();
    const o = check.mergeOptions(
      'options',
      { ttlMs: this.#o.ttlMs, graceMs: this.#o.graceMs, data: undefined as unknown },
      options,
    );
    const ttlMs = check.integer('ttlMs', o.ttlMs, { min: 1, max: MAX_MS });
    const graceMs = check.integer('graceMs', o.graceMs, { min: 0, max: MAX_MS });
    const data = JSON.stringify(o.data ?? null);
    if (data === undefined) throw new TypeError('data must be JSON-serialisable');
    if (Buffer.byteLength(data) > 65_536)
      throw new RangeError('data must be at most 64 KiB as JSON');
    const lockTtl = ttlMs + graceMs + this.#o.lockMarginMs;
    if (lockTtl > MAX_MS)
      throw new RangeError(`ttlMs + graceMs + lockMarginMs must be <= ${MAX_MS}`);
    const lease = await this.#locks.tryAcquire(resources, { ttlMs: lockTtl });
    if (!lease) return null;
    const holdId = randomUUID();
    const fences = JSON.stringify(
      Object.fromEntries([...lease.fences].map(([k, v]) => [k, String(v)])),
    );
    let times: number[];
    try {
      times = (await this.#call('place', () =>
        placeScript.run(
          this.#redis,
          [this.#recKey(holdId), this.#dueKey],
          [holdId, ttlMs, graceMs, JSON.stringify(lease.resources), lease.token, fences, data],
        ),
      )) as number[];
    } catch (error) {
      await lease.release().catch(() => false);
      throw error;
    }
    const [, expiresAt = 0, deadline = 0] = times;
    try {
      await this.#wakeups.schedule(deadline, (call) => this.#call('place', call));
    } catch {
      // The record is indexed by deadline: the sweep expires it even without a job.
    }
    return { holdId, lease, expiresAt, deadline };
  }

  /**
   * Make the hold final before its deadline: cancels expiry and releases the seat locks (the seats
   * now belong to the caller's DB). `ok: false` when expiry (or a cancel) won; throws
   * `HoldNotFoundError` for an unknown id.
   */
  confirm(holdId: string): Promise<Decision> {
    if (!tracing.on) return this.#decide(holdId, 'confirmed');
    return tracedConfirm(holdId, () => this.#decide(holdId, 'confirmed'));
  }

  /** End the hold early and free its seats; onExpire is not called (the caller undoes its own work). */
  cancel(holdId: string): Promise<Decision> {
    return this.#decide(holdId, 'cancelled');
  }

  /** The hold, or null when unknown (or its record was dropped `keepMs` after it ended). */
  async get(holdId: string): Promise<Hold | null> {
    check.text('holdId', holdId, { maxBytes: 128, printable: true });
    this.#open();
    const flat = (await this.#call('get', () =>
      this.#redis.hgetall(this.#recKey(holdId)),
    )) as Record<string, string>;
    if (!flat.state) return null;
    return toHold(holdId, flat);
  }

  /**
   * Register the expiry callback (once) and start this process's BullMQ worker and sweep. The
   * callback runs exactly once per expired hold when it succeeds (see README: at-least-once runs,
   * one recorded success), even for holds that expired while every process was down.
   */
  onExpire(handler: (hold: Hold) => Promise<void> | void): void {
    check.func('handler', handler);
    this.#open();
    if (this.#handler) throw new Error('onExpire handler is already registered');
    this.#handler = handler;
    this.#workerConn = workerConnection(this.#redis);
    this.#worker = new Worker(
      this.#o.queueName,
      async (job: Job<{ holdId: string } | WakeupData>) => {
        // Jobs named 'expire' (one per hold, jobId = holdId) come from versions before the windows.
        if (job.name === WAKEUP_JOB) await this.#expireDue((job.data as WakeupData).until, true);
        else await this.#runJob((job.data as { holdId: string }).holdId);
      },
      {
        connection: this.#workerConn as never,
        prefix: this.#bullPrefix,
        concurrency: this.#o.concurrency,
      },
    );
    this.#worker.on('error', (e) => this.#o.onError(e));
    this.#worker.on('failed', (_job, e) => {
      if (!this.#closed) this.#o.onError(e);
    });
    const sweep = () => {
      this.sweep().catch((e) => this.#o.onError(e));
    };
    sweep();
    this.#sweepTimer = setInterval(sweep, this.#o.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /**
   * Expire `holdId` now if its deadline has passed, running onExpire (what the worker and the sweep
   * do). `expired`: this call ran it; `not-due`; `running`: another process claimed it; `done`:
   * nothing to do (confirmed, cancelled, already expired, or unknown).
   */
  async expire(holdId: string): Promise<ExpireOutcome> {
    check.text('holdId', holdId, { maxBytes: 128, printable: true });
    if (!this.#handler) throw new Error('expire needs an onExpire handler registered first');
    const claim = await this.#claim(holdId);
    if (claim.kind !== 'claimed') return claim.kind;
    return this.#expireClaimed(holdId, claim);
  }

  /** Expire every hold past its deadline (up to 1000 per call); returns how many this call expired. */
  sweep(): Promise<number> {
    if (!this.#handler) throw new Error('sweep needs an onExpire handler registered first');
    return this.#expireDue(Date.now(), false);
  }

  /**
   * Stop the worker and the sweep and close the connections this instance opened, in bounded time
   * whatever Redis does: each step waits at most `commandTimeoutMs` (a running `onExpire` too), then
   * what did not close is cut, BullMQ's own connections (the worker's blocking one) included.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    const worker = this.#worker;
    const stopWorker = async () => {
      if (!worker) return;
      await this.#guard
        .within('close', worker.close())
        .catch(() => this.#guard.within('close', worker.disconnect()))
        .catch(() => {});
      if (this.#workerConn) await this.#guard.quit(this.#workerConn);
    };
    await Promise.all([stopWorker(), this.#wakeups.close(this.#guard)]);
    if (this.#ownLocks) await this.#locks.close();
  }

  // --- internals ----------------------------------------------------------------------------

  #open(): void {
    if (this.#closed) throw new Error('SeatHolds is closed');
  }

  #recKey(holdId: string): string {
    return `${this.#recPrefix}${holdId}`;
  }

  #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#guard.run(this.#redis, operation, fn);
  }

  async #decide(holdId: string, to: 'confirmed' | 'cancelled'): Promise<Decision> {
    check.text('holdId', holdId, { maxBytes: 128, printable: true });
    this.#open();
    const rec = this.#recKey(holdId);
    const [won, state, token, resources] = (await this.#call(
      to === 'confirmed' ? 'confirm' : 'cancel',
      () => decideScript.run(this.#redis, [rec, this.#dueKey], [holdId, to, this.#o.keepMs]),
    )) as [number, string, string | null, string | null];
    if (state === 'missing') throw new HoldNotFoundError(holdId);
    if (won !== 1) return { ok: false, state: state === 'due' ? 'expiring' : (state as HoldState) };
    // The decision is made; releasing the seats is cleanup that the lock TTLs would also do. The
    // window's wake-up job stays: it serves the other holds due then, and finds this one decided.
    if (token && resources) {
      await this.#locks
        .restore(JSON.parse(resources) as string[], token)
        .release()
        .catch(() => false);
    }
    return { ok: true, state: to };
  }

  async #claim(holdId: string): Promise<Claim> {
    const reply = (await this.#call('expire', () =>
      claimScript.run(this.#redis, [this.#recKey(holdId)], [this.#claimer, this.#o.claimMs]),
    )) as [number, unknown];
    const [code, value] = reply;
    if (code === 2) return { kind: 'not-due', ms: value as number };
    if (code === 3) return { kind: 'running', ms: value as number };
    if (code !== 1) return { kind: 'done', state: String(value) };
    const list = value as string[];
    const flat: Record<string, string> = {};
    for (let i = 0; i + 1 < list.length; i += 2) flat[list[i] as string] = list[i + 1] as string;
    const fences = new Map<string, bigint>(
      Object.entries(JSON.parse(flat.fences ?? '{}') as Record<string, string>).map(([k, v]) => [
        k,
        BigInt(v),
      ]),
    );
    return { kind: 'claimed', hold: toHold(holdId, flat), token: flat.token ?? '', fences };
  }

  #expireClaimed(holdId: string, claim: Claim & { kind: 'claimed' }): Promise<ExpireOutcome> {
    if (!tracing.on) return this.#runClaimed(holdId, claim);
    return tracedExpire(claim.hold, () => this.#runClaimed(holdId, claim));
  }

  async #runClaimed(holdId: string, claim: Claim & { kind: 'claimed' }): Promise<'expired'> {
    const handler = this.#handler as (hold: Hold) => Promise<void> | void;
    const finish = (ok: boolean) =>
      this.#call('expire', () =>
        finishScript.run(
          this.#redis,
          [this.#recKey(holdId), this.#dueKey],
          [holdId, this.#claimer, ok ? '1' : '0', this.#o.keepMs],
        ),
      );
    // The claim is renewed while onExpire runs: a fixed claim long enough for a slow onExpire
    // would also leave a dead process's hold unexpired that long.
    const renew = () =>
      this.#call('expire', () =>
        renewScript.run(this.#redis, [this.#recKey(holdId)], [this.#claimer, this.#o.claimMs]),
      );
    const everyMs = Math.max(1, Math.floor(this.#o.claimMs / 3));
    try {
      await whileRenewing(everyMs, renew, this.#o.onError, async () => handler(claim.hold));
    } catch (error) {
      await finish(false).catch(() => 0);
      throw error;
    }
    await finish(true);
    // Free the seats after the rollback, so nobody books a seat the DB still shows as held.
    await this.#locks
      .restore(claim.hold.resources, claim.token, claim.fences)
      .release()
      .catch(() => false);
    return 'expired';
  }

  /**
   * Expire the holds due by `until`, a page of up to 1000 at a time, `concurrency` at once. `wait`
   * (a wake-up job): a hold not yet due by the Redis clock is waited for, and the first failure is
   * thrown once the page is done, so BullMQ retries the job; otherwise (the sweep) such a hold is
   * left for later and failures go to onError. Returns how many this call expired.
   */
  async #expireDue(until: number, wait: boolean): Promise<number> {
    const seen = new Set<string>();
    let expired = 0;
    for (;;) {
      const page = (await this.#call('sweep', () =>
        this.#redis.zrangebyscore(this.#dueKey, '-inf', until, 'LIMIT', 0, 1_000),
      )) as string[];
      // A hold another process is expiring stays in the index: stop when a page brings nothing new.
      const fresh = page.filter((id) => !seen.has(id));
      if (fresh.length === 0) return expired;
      const failures: unknown[] = [];
      let next = 0;
      const lane = async () => {
        while (next < fresh.length && !this.#closed) {
          const holdId = fresh[next++] as string;
          seen.add(holdId);
          try {
            const outcome = wait ? await this.#runJob(holdId) : await this.expire(holdId);
            if (outcome === 'expired') expired++;
          } catch (error) {
            failures.push(error);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, fresh.length) }, lane));
      if (wait && failures.length > 0) throw failures[0];
      for (const error of failures) this.#o.onError(error);
      if (page.length < 1_000 || this.#closed) return expired;
    }
  }

  async #runJob(holdId: string): Promise<ExpireOutcome> {
    for (;;) {
      if (this.#closed) throw new SeatLockRedisError('expire', 'other', 'SeatHolds closed');
      const claim = await this.#claim(holdId);
      // A job may fire a little early (client and server clocks differ): wait for the deadline.
      if (claim.kind === 'not-due') {
        await sleep(Math.min(claim.ms, 60_000));
        continue;
      }
      if (claim.kind !== 'claimed') return claim.kind;
      return this.#expireClaimed(holdId, claim);
    }
  }
}
