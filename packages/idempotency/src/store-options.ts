import { check, DEFAULT_COMMAND_TIMEOUT_MS } from '@boxoffice/internal';

/** Options of {@link IdempotencyStore}. */
export interface IdempotencyStoreOptions {
  /** First part of every Redis key. @defaultValue 'bo' */
  prefix?: string;
  /** How long a stored result is kept (and replayed), counted from when it is stored. @defaultValue 86_400 */
  retentionSec?: number;
  /**
   * How long a claim stays valid without renewal. A crashed owner blocks its key for at most this
   * long; then the next caller takes it over. @defaultValue 10_000
   */
  leaseMs?: number;
  /**
   * Longest wait for one Redis call (the same option in every boxoffice package); past it the
   * operation fails with {@link IdempotencyStoreUnavailableError} of kind `timeout` (the middleware
   * answers 503), and at once with kind `unavailable` while the client is disconnected. Checked by
   * one shared timer, so a call fails at most `min(100, commandTimeoutMs / 4)` ms later.
   * @defaultValue 2_000
   */
  commandTimeoutMs?: number;
  /**
   * @deprecated Renamed {@link IdempotencyStoreOptions.commandTimeoutMs}; still accepted (give one
   * or the other). In the store's `options` it always equals `commandTimeoutMs`.
   */
  timeoutMs?: number;
}

/** Defaults of {@link IdempotencyStoreOptions}. */
export const DEFAULTS: Readonly<Required<IdempotencyStoreOptions>> = Object.freeze({
  prefix: 'bo',
  retentionSec: 86_400,
  leaseMs: 10_000,
  commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
  timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
});

/** Which key, for whom, with which payload. */
export interface KeyOptions {
  /** Namespace of the key, e.g. the caller's user id: the same key in two scopes is two records. @defaultValue '' */
  scope?: string;
  /** Digest of the payload; a replay with a different one is refused. @defaultValue '' */
  fingerprint?: string;
}

/** Options of {@link IdempotencyStore.claim}. */
export interface ClaimOptions extends KeyOptions {
  /** While another owner's lease is live, poll (with backoff) up to this long. 0: answer at once. @defaultValue 0 */
  waitMs?: number;
  /** Stops waiting early (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Options of {@link IdempotencyStore.run}. */
export interface RunOptions extends KeyOptions {
  /** While another caller runs the same key: wait for its result, or throw at once. @defaultValue 'wait' */
  inFlight?: 'reject' | 'wait';
  /** Longest wait in `'wait'` mode before {@link IdempotencyInFlightError}. @defaultValue 5_000 */
  waitMs?: number;
  signal?: AbortSignal;
}

/** Options of {@link IdempotencyStore.dedupe}. */
export interface DedupeOptions {
  /** Namespace, e.g. the consumer's name: each consumer dedupes on its own. @defaultValue '' */
  scope?: string;
  /** Longest wait while another delivery of the same event is being processed. @defaultValue 5_000 */
  waitMs?: number;
  signal?: AbortSignal;
}

/** Defaults of {@link RunOptions}. */
export const RUN_DEFAULTS = Object.freeze({
  scope: '',
  fingerprint: '',
  inFlight: 'wait' as 'reject' | 'wait',
  waitMs: 5_000,
  signal: undefined as AbortSignal | undefined,
});

/** Defaults of {@link DedupeOptions}. */
export const DEDUPE_DEFAULTS = Object.freeze({
  scope: '',
  waitMs: 5_000,
  signal: undefined as AbortSignal | undefined,
});

/** A scope or fingerprint: a string of at most 1024 bytes. */
export function optionalString(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string, got ${check.show(value)}`);
  }
  const bytes = check.byteLength(value);
  if (bytes > 1024) throw new RangeError(`${name} must be at most 1024 bytes, got ${bytes}`);
  return value;
}
