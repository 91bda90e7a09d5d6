/** Thrown by {@link withTimeout} when the promise did not settle in time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'timeout';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not answer within ${ms} ms`);
  }
}

/**
 * `promise`, or a {@link TimeoutError} after `ms`. The underlying operation is not cancelled; use it
 * where an answer that never comes (a client queueing commands for a dead Redis) must become an
 * error the caller can map, e.g. to 503.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
