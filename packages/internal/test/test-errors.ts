import type { RedisFailureKind } from '../src/index.js';

/** A package's Redis-failure error, as the tests of the Redis-call layer need one. */
export class TestRedisError extends Error {
  override name = 'TestRedisError';
  constructor(
    readonly operation: string,
    readonly kind: RedisFailureKind,
    message: string,
    cause?: unknown,
  ) {
    super(`${operation}: ${message}`, cause === undefined ? {} : { cause });
  }
}
