// Typed errors of @boxoffice/idempotency. Each has a stable `code` and structured fields. Expected
// outcomes of the protocol (a replay, a busy key) are results; these errors are what callers of
// `run`/`dedupe` get when a result cannot be produced, and what the middleware maps to HTTP statuses.

import { CodedError, callFailureKind, type RedisFailureKind } from '@boxoffice/internal';

export type { RedisFailureKind } from '@boxoffice/internal';

/** Base class of every error this package throws on purpose (besides TypeError/RangeError for misuse). */
export class IdempotencyError extends CodedError {
  override name = 'IdempotencyError';
}

/** The same key was used with a different request fingerprint (HTTP 422). */
export class IdempotencyKeyReuseError extends IdempotencyError {
  override readonly name = 'IdempotencyKeyReuseError';
  declare readonly code: 'IDEMPOTENCY_KEY_REUSED';
  readonly status = 422;
  constructor(
    readonly key: string,
    readonly scope: string,
  ) {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      `idempotency key ${JSON.stringify(key)} was already used with a different payload`,
    );
  }
}

/** Another request holds a live claim on the key (HTTP 409 with `Retry-After`). */
export class IdempotencyInFlightError extends IdempotencyError {
  override readonly name = 'IdempotencyInFlightError';
  declare readonly code: 'IDEMPOTENCY_IN_FLIGHT';
  readonly status = 409;
  constructor(
    readonly key: string,
    readonly scope: string,
    /** How long until the current owner's lease lapses if it is not renewed. */
    readonly retryAfterMs: number,
  ) {
    super(
      'IDEMPOTENCY_IN_FLIGHT',
      `a request with idempotency key ${JSON.stringify(key)} is still in flight; retry in ${retryAfterMs} ms`,
    );
  }
}

/** Why an `Idempotency-Key` header was refused. */
export type KeyProblem = 'missing' | 'malformed' | 'too_long';

/** The `Idempotency-Key` header is missing (when required) or malformed (HTTP 400). */
export class IdempotencyKeyInvalidError extends IdempotencyError {
  override readonly name = 'IdempotencyKeyInvalidError';
  declare readonly code: 'IDEMPOTENCY_KEY_INVALID';
  readonly status = 400;
  constructor(
    readonly reason: KeyProblem,
    message: string,
  ) {
    super('IDEMPOTENCY_KEY_INVALID', message);
  }
}

/**
 * The package's Redis-failure error: Redis failed or did not answer in time (HTTP 503 with
 * `Retry-After`). `kind` says why: `unavailable` (not reachable), `timeout` (no answer within
 * `commandTimeoutMs`), `script` (an error reply: a bug, not an outage), `other` (an unusable reply).
 */
export class IdempotencyStoreUnavailableError extends IdempotencyError {
  override readonly name = 'IdempotencyStoreUnavailableError';
  declare readonly code: 'IDEMPOTENCY_STORE_UNAVAILABLE';
  readonly status = 503;
  /** Why Redis failed; by default classified from `cause` (the ioredis error). */
  readonly kind: RedisFailureKind;
  constructor(
    /** The store operation that failed: `claim`, `complete`, `renew`, `release` or `get`. */
    readonly operation: string,
    options?: { cause?: unknown; kind?: RedisFailureKind },
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'IDEMPOTENCY_STORE_UNAVAILABLE',
      `idempotency store unavailable during ${operation}${cause}`,
      options?.cause === undefined ? {} : { cause: options.cause },
    );
    this.kind = options?.kind ?? callFailureKind(options?.cause);
  }
}
