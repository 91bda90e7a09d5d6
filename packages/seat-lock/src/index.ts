/** The version of @boxoffice/seat-lock this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;

export {
  HoldNotFoundError,
  LockLostError,
  LockTimeoutError,
  type RedisFailureKind,
  SeatLockError,
  SeatLockRedisError,
} from './errors.js';
export { Lease, MAX_TTL_MS } from './lease.js';
export type { AcquireOptions, RetryOptions, SeatLockOptions } from './options.js';
export {
  type Decision,
  type ExpireOutcome,
  type Hold,
  type HoldState,
  type PlacedHold,
  type PlaceOptions,
  SeatHolds,
  type SeatHoldsOptions,
} from './seat-holds.js';
export { SeatLock } from './seat-lock.js';
