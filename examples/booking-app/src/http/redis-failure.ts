import { IdempotencyStoreUnavailableError } from '@boxoffice/idempotency';
import { isRedisOutage, type RedisFailureKind, redisFailureKind } from '@boxoffice/internal';
import { QueueRedisError } from '@boxoffice/queue';
import { SeatLockRedisError } from '@boxoffice/seat-lock';
import { SketchRedisError } from '@boxoffice/sketch';
import { RedisUnavailableError } from '../errors.js';

/**
 * What failed and why, for an error a package threw because Redis failed (each package's typed
 * Redis-failure error carries a `kind`), or for a raw ioredis error from the app's own Redis calls
 * (its clients, BullMQ), classified by the one shared classifier. Undefined for anything else.
 */
function redisFailure(error: unknown): { what: string; kind: RedisFailureKind } | undefined {
  if (error instanceof SeatLockRedisError) return { what: 'seat locks', kind: error.kind };
  if (error instanceof QueueRedisError) return { what: 'waiting room', kind: error.kind };
  if (error instanceof IdempotencyStoreUnavailableError) {
    return { what: 'idempotency', kind: error.kind };
  }
  if (error instanceof SketchRedisError) return { what: 'trending', kind: error.kind };
  const kind = redisFailureKind(error);
  return kind === undefined ? undefined : { what: 'app', kind };
}

/**
 * The {@link RedisUnavailableError} (503, `Retry-After`) for an error that means "Redis cannot serve
 * now": a package's typed Redis failure or an ioredis error of kind `unavailable`, `timeout` or
 * `quorum`; else null. An error reply (`script`) is a bug, not an outage, and stays a 500.
 */
export function redisUnavailable(error: unknown): RedisUnavailableError | null {
  if (error instanceof RedisUnavailableError) return error;
  const failure = redisFailure(error);
  if (!failure || !isRedisOutage(failure.kind)) return null;
  return new RedisUnavailableError(`Redis (${failure.what}): ${(error as Error).message}`, {
    cause: error,
  });
}
