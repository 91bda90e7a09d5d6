/** Base class of every error this package throws on purpose (besides TypeError/RangeError for bad input). */
export class SketchError extends Error {
  /** A stable, machine-readable code. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SketchError';
    this.code = code;
  }
}

/**
 * The data in Redis was written with another layout (width, depth, hash version, bucket size, Bloom
 * size): mixing them would give wrong answers, so the operation is refused before anything is written.
 */
export class SketchLayoutError extends SketchError {
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
    this.name = 'SketchLayoutError';
    this.key = key;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A buffered flush failed; the counts it carried are back in the buffer and will be retried. */
export class FlushError extends SketchError {
  /** Number of (item, bucket) entries that were put back into the buffer. */
  readonly pending: number;
  constructor(pending: number, cause: unknown) {
    super(
      'SKETCH_FLUSH_FAILED',
      `flushing ${pending} buffered entries failed (kept for retry): ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'FlushError';
    this.pending = pending;
  }
}
