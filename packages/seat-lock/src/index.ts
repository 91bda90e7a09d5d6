/** The version of @boxoffice/seat-lock this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;

// Holds (SeatHolds, on BullMQ) are in `@boxoffice/seat-lock/holds`: nothing reachable from here may
// import bullmq, an optional peer dependency that users of locks alone do not install.
export {
  LockLostError,
  LockTimeoutError,
  type RedisFailureKind,
  SeatLockError,
  SeatLockRedisError,
} from './errors.js';
// An internal contract that SeatLock implements: exported only so that the API reference
// (TypeDoc, `excludeInternal`) leaves it out knowingly instead of reporting a reference to it.
export type { LeaseOwner } from './lease.js';
export { Lease, MAX_TTL_MS } from './lease.js';
export type { AcquireOptions, RetryOptions, SeatLockOptions } from './options.js';
export { SeatLock } from './seat-lock.js';
