import type { RedisFailureKind } from '@boxoffice/internal';
import { CodedError, callErrors, redisFailureError } from '@boxoffice/internal';

export type { RedisFailureKind } from '@boxoffice/internal';

/** Base class of every error this package throws on purpose (besides TypeError/RangeError for misuse). */
export class SeatLockError extends CodedError {
  override name = 'SeatLockError';
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
export class SeatLockRedisError extends redisFailureError(SeatLockError) {
  override name = 'SeatLockRedisError';
  /** Why Redis failed. */
  declare readonly kind: RedisFailureKind;
  /** The operation that failed, e.g. `acquire`. */
  declare readonly operation: string;
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
export const seatLockCallErrors = callErrors(SeatLockRedisError);
