import type { RedisClient } from '@boxoffice/internal';
import { SeatLockRedisError } from './errors.js';

// Statuses in which a command would sit in ioredis' offline queue instead of failing: refuse at
// once so a Redis outage is reported quickly rather than as a hang.
const DOWN = new Set(['end', 'close', 'reconnecting', 'disconnecting']);

interface Pending {
  deadline: number;
  expire(): void;
}

/** Map an ioredis failure to {@link SeatLockRedisError}. */
export function redisError(operation: string, error: unknown): SeatLockRedisError {
  if (error instanceof SeatLockRedisError) return error;
  const err = error as Error;
  const kind = err?.name === 'ReplyError' ? 'script' : 'unavailable';
  return new SeatLockRedisError(operation, kind, err?.message ?? String(error), error);
}

/**
 * Bounds Redis calls: fails fast when the client is down and rejects any call still unanswered
 * after `timeoutMs` (checked by one shared timer, not one timer per call, which matters on the hot
 * path). Generic: candidate for @boxoffice/internal.
 */
export class CallGuard {
  readonly #timeoutMs: number;
  readonly #pending = new Set<Pending>();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Run `call`; `onLateResult` runs if it succeeds after we gave up on it (to undo its effect).
   */
  run<T>(
    client: RedisClient,
    operation: string,
    call: () => Promise<T>,
    onLateResult?: () => void,
  ): Promise<T> {
    if (DOWN.has(client.status)) {
      return Promise.reject(
        new SeatLockRedisError(operation, 'unavailable', `Redis client is ${client.status}`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const pending: Pending = {
        deadline: Date.now() + this.#timeoutMs,
        expire: () => {
          settled = true;
          reject(
            new SeatLockRedisError(
              operation,
              'timeout',
              `no answer from Redis within ${this.#timeoutMs} ms`,
            ),
          );
        },
      };
      this.#pending.add(pending);
      this.#arm();
      call().then(
        (value) => {
          if (settled) {
            onLateResult?.();
            return;
          }
          settled = true;
          this.#pending.delete(pending);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          this.#pending.delete(pending);
          reject(redisError(operation, error));
        },
      );
    });
  }

  #arm(): void {
    if (this.#timer) return;
    const every = Math.max(5, Math.min(100, Math.floor(this.#timeoutMs / 4)));
    this.#timer = setInterval(() => this.#check(), every);
    this.#timer.unref();
  }

  #check(): void {
    const now = Date.now();
    for (const p of this.#pending) {
      if (p.deadline <= now) {
        this.#pending.delete(p);
        p.expire();
      }
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
