// Typed errors of @boxoffice/idempotency. Each has a stable `code` and structured fields. Expected
// outcomes of the protocol (a replay, a busy key) are results; these errors are what callers of
// `run`/`dedupe` get when a result cannot be produced, and what the middleware maps to HTTP statuses.

/** The same key was used with a different request fingerprint (HTTP 422). */
export class IdempotencyKeyReuseError extends Error {
  override readonly name = 'IdempotencyKeyReuseError';
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  readonly status = 422;
  constructor(
    readonly key: string,
    readonly scope: string,
  ) {
    super(`idempotency key ${JSON.stringify(key)} was already used with a different payload`);
  }
}

/** Another request holds a live claim on the key (HTTP 409 with `Retry-After`). */
export class IdempotencyInFlightError extends Error {
  override readonly name = 'IdempotencyInFlightError';
  readonly code = 'IDEMPOTENCY_IN_FLIGHT';
  readonly status = 409;
  constructor(
    readonly key: string,
    readonly scope: string,
    /** How long until the current owner's lease lapses if it is not renewed. */
    readonly retryAfterMs: number,
  ) {
    super(
      `a request with idempotency key ${JSON.stringify(key)} is still in flight; retry in ${retryAfterMs} ms`,
    );
  }
}

/** Why an `Idempotency-Key` header was refused. */
export type KeyProblem = 'missing' | 'malformed' | 'too_long';

/** The `Idempotency-Key` header is missing (when required) or malformed (HTTP 400). */
export class IdempotencyKeyInvalidError extends Error {
  override readonly name = 'IdempotencyKeyInvalidError';
  readonly code = 'IDEMPOTENCY_KEY_INVALID';
  readonly status = 400;
  constructor(
    readonly reason: KeyProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Redis failed or did not answer in time (HTTP 503 with `Retry-After`). */
export class IdempotencyStoreUnavailableError extends Error {
  override readonly name = 'IdempotencyStoreUnavailableError';
  readonly code = 'IDEMPOTENCY_STORE_UNAVAILABLE';
  readonly status = 503;
  constructor(
    /** The store operation that failed: `claim`, `complete`, `renew`, `release` or `get`. */
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`idempotency store unavailable during ${operation}${cause}`, options);
  }
}
