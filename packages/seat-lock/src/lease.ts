import { check } from '@boxoffice/internal';

/**
 * Longest lease TTL, in ms (2^31 − 1, about 24.8 days), for `acquire`, `tryAcquire`, `using` and
 * `lease.extend` alike; more is a `RangeError`. It is also the longest delay Node timers support,
 * which the wait and keep-alive loops rely on.
 */
export const MAX_TTL_MS = 2 ** 31 - 1;

/** Where the SeatLock that created a lease keeps its computed keys (not part of the public API). */
export const LEASE_KEYS: unique symbol = Symbol('seat-lock lease keys');

/** What a lease needs from the SeatLock that created it. @internal */
export interface LeaseOwner {
  extendLease(lease: Lease, ttlMs: number): Promise<number>;
  releaseLease(lease: Lease): Promise<boolean>;
}

/**
 * Proof of holding every resource of one acquisition, until `expiresAt`. Obtained from
 * `SeatLock.tryAcquire`/`acquire`; end it with `release()`.
 */
export class Lease {
  /** The resources, in the order they were asked for. */
  readonly resources: readonly string[];
  /** The random owner token stored in each lock key. */
  readonly token: string;
  /** The fencing token of each resource; strictly increasing per resource (single-Redis mode). */
  readonly fences: ReadonlyMap<string, bigint>;
  readonly #owner: LeaseOwner;
  #expiresAt: number;
  /** @internal */
  [LEASE_KEYS]: unknown;

  /** @internal */
  constructor(
    owner: LeaseOwner,
    resources: readonly string[],
    token: string,
    fences: ReadonlyMap<string, bigint>,
    expiresAt: number,
    keys?: unknown,
  ) {
    this.#owner = owner;
    this.resources = Object.freeze([...resources]);
    this.token = token;
    this.fences = fences;
    this.#expiresAt = expiresAt;
    this[LEASE_KEYS] = keys;
  }

  /** The fencing token of the first resource (for a one-seat lease: its fence). */
  get fence(): bigint {
    return this.fences.get(this.resources[0] as string) as bigint;
  }

  /**
   * When the lease ends unless extended (ms since epoch, local clock; conservative: measured from
   * before the acquire command was sent, minus the clock-drift allowance in Redlock mode).
   */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /**
   * Extend every resource to `ttlMs` (1..{@link MAX_TTL_MS}) from now, only if still owned. Throws
   * `LockLostError` when any resource is no longer ours (nothing is extended then on single Redis).
   */
  async extend(ttlMs: number): Promise<void> {
    check.integer('ttlMs', ttlMs, { min: 1, max: MAX_TTL_MS });
    this.#expiresAt = await this.#owner.extendLease(this, ttlMs);
  }

  /**
   * Release every resource still owned by this lease. Returns true when all were still ours, false
   * when some had expired or been taken meanwhile. Never deletes another owner's lock.
   */
  release(): Promise<boolean> {
    return this.#owner.releaseLease(this);
  }
}
