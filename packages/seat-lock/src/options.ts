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

/** Defaults of {@link SeatLockOptions}. */
export const DEFAULTS: Readonly<
  Required<Omit<SeatLockOptions, 'retry'>> & { retry: RetryOptions }
> = Object.freeze({
  prefix: 'bo',
  ttlMs: 30_000,
  retry: Object.freeze({}),
  commandTimeoutMs: 2_000,
  driftFactor: 0.01,
  wakeUp: true,
});
/** Defaults of {@link RetryOptions}. */
export const RETRY_DEFAULTS: Readonly<Required<RetryOptions>> = Object.freeze({
  waitMs: 10_000,
  baseDelayMs: 10,
  maxDelayMs: 500,
});

const CALL_OPTION_KEYS = new Set(['ttlMs', 'waitMs', 'signal']);

/**
 * The hot-path shortcut of `check.mergeOptions` for per-call options: true for undefined or a plain
 * object with known keys only; anything else goes through mergeOptions (which throws).
 */
export function isCallOptions(value: unknown): value is AcquireOptions | undefined {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(value)) if (!CALL_OPTION_KEYS.has(key)) return false;
  return true;
}
