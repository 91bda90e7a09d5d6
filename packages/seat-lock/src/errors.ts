import { type CallErrors, callErrors, type RedisFailureKind } from '@boxoffice/internal';

export type { RedisFailureKind } from '@boxoffice/internal';

/** Base class of every error this package throws on purpose (besides TypeError/RangeError for misuse). */
export class SeatLockError extends Error {
  override name = 'SeatLockError';
  /** A stable machine-readable code. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Contention: the resources stayed taken for the whole wait. Not an infrastructure failure. */
export class LockTimeoutError extends SeatLockError {
  override name = 'LockTimeoutError';
  /** The resources asked for. */
  readonly resources: readonly string[];
  /** The resource found taken on the last attempt. */
  readonly resource: string | undefined;
  /** The token of the lease (or of the waiter it was reserved for) holding it, when known. */
  readonly holder: string | null;
  /** How long we waited, in ms. */
  readonly waitedMs: number;
  constructor(
    resources: readonly string[],
    resource: string | undefined,
    holder: string | null,
    waitedMs: number,
  ) {
    super(
      'LOCK_TIMEOUT',
      `could not lock ${resource ?? resources.join(', ')} within ${waitedMs} ms` +
        (holder ? ` (held by ${holder})` : ''),
    );
    this.resources = resources;
    this.resource = resource;
    this.holder = holder;
    this.waitedMs = waitedMs;
  }
}

/** The lease no longer owns every one of its resources (it expired, or was released). */
export class LockLostError extends SeatLockError {
  override name = 'LockLostError';
  readonly resources: readonly string[];
  readonly token: string;
  constructor(resources: readonly string[], token: string, detail = 'no longer owned') {
    super('LOCK_LOST', `lease ${token} on ${resources.join(', ')} is lost: ${detail}`);
    this.resources = resources;
    this.token = token;
  }
}

/**
 * Infrastructure failure (Redis unreachable, too slow, a script failed, no Redlock quorum of
 * answering masters): distinct from contention ({@link LockTimeoutError}) and from
 * {@link LockLostError}. `cause` holds the ioredis error when there is one.
 */
export class SeatLockRedisError extends SeatLockError {
  override name = 'SeatLockRedisError';
  readonly kind: RedisFailureKind;
  /** The operation that failed, e.g. `acquire`. */
  readonly operation: string;
  constructor(operation: string, kind: RedisFailureKind, message: string, cause?: unknown) {
    super('REDIS_FAILURE', `${operation}: ${message}`, cause === undefined ? {} : { cause });
    this.kind = kind;
    this.operation = operation;
  }
}

/** A hold id that does not exist (never placed, or its record was removed after it ended). */
export class HoldNotFoundError extends SeatLockError {
  override name = 'HoldNotFoundError';
  readonly holdId: string;
  constructor(holdId: string) {
    super('HOLD_NOT_FOUND', `hold ${holdId} does not exist`);
    this.holdId = holdId;
  }
}

/** How the shared CallGuard words seat-lock's failures: {@link SeatLockRedisError}s. @internal */
export const seatLockCallErrors: CallErrors<SeatLockRedisError> = callErrors(SeatLockRedisError);

/** Map an ioredis failure to {@link SeatLockRedisError}, its kind from the shared classifier. @internal */
export function redisError(operation: string, error: unknown): SeatLockRedisError {
  return seatLockCallErrors.failed(operation, error);
}
