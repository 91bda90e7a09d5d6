import { SeatLockRedisError } from './errors.js';

/** Redlock counting over independent masters: a quorum is N/2+1 of them. */
export class Quorum {
  /** How many masters there are. */
  readonly masters: number;
  /** How many of them make a quorum. */
  readonly size: number;

  constructor(masters: number) {
    this.masters = masters;
    this.size = Math.floor(masters / 2) + 1;
  }

  /** True when `n` masters are a quorum. */
  reached(n: number): boolean {
    return n >= this.size;
  }

  /**
   * Throws `SeatLockRedisError` (kind `quorum`) when fewer than a quorum of the calls answered:
   * too few masters to decide anything, which callers must not mistake for contention.
   */
  requireAnswers(operation: string, results: readonly PromiseSettledResult<unknown>[]): void {
    const answered = countFulfilled(results);
    if (this.reached(answered)) return;
    const failure = results.find((r) => r.status === 'rejected');
    throw new SeatLockRedisError(
      operation,
      'quorum',
      `${answered}/${this.masters} masters answered (quorum ${this.size})`,
      failure?.status === 'rejected' ? failure.reason : undefined,
    );
  }

  /** The value a quorum of the masters answered (null answers never count), else null. */
  agreed(results: readonly PromiseSettledResult<string | null>[]): string | null {
    const counts = new Map<string, number>();
    for (const r of results) {
      if (r.status === 'fulfilled' && r.value !== null) {
        counts.set(r.value, (counts.get(r.value) ?? 0) + 1);
      }
    }
    for (const [value, n] of counts) if (this.reached(n)) return value;
    return null;
  }
}

/** How many calls answered, with a value `accept` takes when given. */
export function countFulfilled<T>(
  results: readonly PromiseSettledResult<T>[],
  accept?: (value: T) => boolean,
): number {
  let n = 0;
  for (const r of results) if (r.status === 'fulfilled' && (!accept || accept(r.value))) n++;
  return n;
}

/**
 * The fence of each resource across the masters that granted a lease: the highest one, so the
 * lease orders after every lease any of them granted before.
 */
export function highestFences(granted: Iterable<ReadonlyMap<string, bigint>>): Map<string, bigint> {
  const fences = new Map<string, bigint>();
  for (const one of granted) {
    for (const [resource, fence] of one) {
      const prev = fences.get(resource);
      if (prev === undefined || fence > prev) fences.set(resource, fence);
    }
  }
  return fences;
}
