/** The version of @boxoffice/idempotency this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;

// An internal contract that Lease implements: exported only so that the API reference (TypeDoc,
// `excludeInternal`) leaves it out knowingly instead of reporting a reference to it.
export type { Renewal } from '@boxoffice/internal';
export {
  IdempotencyError,
  IdempotencyInFlightError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyReuseError,
  IdempotencyStoreUnavailableError,
  type KeyProblem,
  type RedisFailureKind,
} from './errors.js';
export { canonicalJson, defaultFingerprint, type FingerprintedRequest } from './fingerprint.js';
export { DEFAULT_REPLAY_HEADERS, type HttpIdempotencyOptions } from './guard.js';
export { checkIdempotencyKey, HEADERS, MAX_KEY_LENGTH, parseIdempotencyKey } from './header.js';
export { type KeepAliveOptions, Lease, type ResultToStore } from './lease.js';
export { type IdempotencyOptions, idempotency } from './middleware.js';
export {
  defaultProblemBody,
  type IdempotencyProblem,
  PROBLEM_TYPES,
  type ProblemBody,
  type ProblemCode,
} from './problem.js';
export {
  type ClaimResult,
  type DedupeResult,
  type IdempotencyRecord,
  IdempotencyStore,
  type RunContext,
  type RunResult,
  type StoredResult,
} from './store.js';
export type {
  ClaimOptions,
  DedupeOptions,
  IdempotencyStoreOptions,
  KeyOptions,
  RunOptions,
} from './store-options.js';
