import type { RedisFailureKind } from '@boxoffice/internal';
import { CodedError, callErrors, redisFailureError } from '@boxoffice/internal';

export type { RedisFailureKind } from '@boxoffice/internal';

/** Base class of every error this package throws on purpose (besides TypeError/RangeError for bad input). */
export class SketchError extends CodedError {
  override name = 'SketchError';
}

/**
 * The data in Redis was written with another layout (width, depth, hash version, bucket size, Bloom
 * size): mixing them would give wrong answers, so the operation is refused before anything is written.
 */
export class SketchLayoutError extends SketchError {
  override name = 'SketchLayoutError';
  /** The Redis key of the metadata hash that holds the stored layout. */
  readonly key: string;
  /** The layout this instance computes from its options. */
  readonly expected: string;
  /** The layout found in Redis. */
  readonly actual: string;
  constructor(key: string, expected: string, actual: string) {
    super(
      'SKETCH_LAYOUT_MISMATCH',
      `${key} holds layout ${JSON.stringify(actual)}, this instance uses ${JSON.stringify(expected)}; ` +
        'use the same sizing options (or another key) for every writer and reader',
    );
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Redis failed during a sketch operation: not reachable (`kind: 'unavailable'`), no answer in time
 * (`'timeout'`: nothing within the object's `commandTimeoutMs`, or ioredis' own `commandTimeout`), an error reply (`'script'`: a bug, not an outage).
 * `cause` holds the ioredis error. Distinct from {@link SketchLayoutError} (the data is incompatible).
 */
export class SketchRedisError extends redisFailureError(SketchError) {
  override name = 'SketchRedisError';
  /** Why Redis failed. */
  declare readonly kind: RedisFailureKind;
  /** The operation that failed, e.g. `add`, `estimate`, `record`, `top`, `merge`. */
  declare readonly operation: string;
}

/** How the shared CallGuard words the package's failures: {@link SketchRedisError}s. @internal */
export const sketchCallErrors = callErrors(SketchRedisError, SketchError);

/**
 * A buffered flush failed; the counts it carried are back in the buffer and will be retried.
 * `cause` is the first failure, a {@link SketchRedisError} when Redis failed.
 */
export class FlushError extends SketchError {
  override name = 'FlushError';
  /** Number of (item, bucket) entries that were put back into the buffer. */
  readonly pending: number;
  constructor(pending: number, cause: unknown) {
    super(
      'SKETCH_FLUSH_FAILED',
      `flushing ${pending} buffered entries failed (kept for retry): ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.pending = pending;
  }
}
