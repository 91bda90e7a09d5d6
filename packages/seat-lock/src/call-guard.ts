import { type RedisClient, redisCallError } from '@boxoffice/internal';
import { SeatLockRedisError } from './errors.js';

// Statuses in which a command would sit in ioredis' offline queue instead of failing: refuse at
// once so a Redis outage is reported quickly rather than as a hang.
const DOWN = new Set(['end', 'close', 'reconnecting', 'disconnecting']);

/** One call in flight, linked into its guard's list (oldest first). */
export interface Pending {
  deadline: number;
  operation: string;
  settled: boolean;
  /** Called once with the timeout error when no answer came in time. */
  reject: (error: SeatLockRedisError) => void;
  prev: Pending | null;
  next: Pending | null;
}

/** Map an ioredis failure to {@link SeatLockRedisError}, its kind from the shared classifier. */
export function redisError(operation: string, error: unknown): SeatLockRedisError {
  return redisCallError(SeatLockRedisError, operation, error);
}

/**
 * Bounds Redis calls: fails fast when the client is down and rejects any call still unanswered
 * after `timeoutMs` (checked by one shared timer, not one timer per call, which matters on the hot
 * path). Calls in flight sit in an intrusive doubly linked list in deadline order: O(1) to add and
 * remove, and the check stops at the first call not yet due. (A `Set` of pending calls made the
 * scavenger promote most per-call objects: the guard alone doubled the CPU cost of an
 * acquire/release pair, most of it garbage collection.) Generic: candidate for @boxoffice/internal.
 */
export class CallGuard {
  readonly #timeoutMs: number;
  #head: Pending | null = null;
  #tail: Pending | null = null;
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
    const down = this.refuse(client, operation);
    if (down) return Promise.reject(down);
    return new Promise<T>((resolve, reject) => {
      const p = this.watch(operation, reject);
      call().then(
        (value) => {
          if (p.settled) {
            onLateResult?.();
            return;
          }
          this.#unlink(p);
          resolve(value);
        },
        (error: unknown) => {
          if (p.settled) return;
          this.#unlink(p);
          reject(redisError(operation, error));
        },
      );
    });
  }

  /** The error for a call on a client that is down (the call would wait in ioredis' queue), or undefined. */
  refuse(client: RedisClient, operation: string): SeatLockRedisError | undefined {
    return DOWN.has(client.status)
      ? new SeatLockRedisError(operation, 'unavailable', `Redis client is ${client.status}`)
      : undefined;
  }

  /**
   * Watch a call made elsewhere: `reject` runs with the timeout error unless {@link settle} is
   * called first.
   */
  watch(operation: string, reject: (error: SeatLockRedisError) => void): Pending {
    const p: Pending = {
      deadline: Date.now() + this.#timeoutMs,
      operation,
      settled: false,
      reject,
      prev: this.#tail,
      next: null,
    };
    if (this.#tail) this.#tail.next = p;
    else this.#head = p;
    this.#tail = p;
    if (!this.#timer) this.#arm();
    return p;
  }

  /** The answer to a watched call came: true when in time, false when it was already rejected. */
  settle(p: Pending): boolean {
    if (p.settled) return false;
    this.#unlink(p);
    return true;
  }

  #unlink(p: Pending): void {
    p.settled = true;
    if (p.prev) p.prev.next = p.next;
    else this.#head = p.next;
    if (p.next) p.next.prev = p.prev;
    else this.#tail = p.prev;
    p.prev = null;
    p.next = null;
  }

  #arm(): void {
    const every = Math.max(5, Math.min(100, Math.floor(this.#timeoutMs / 4)));
    this.#timer = setInterval(() => this.#check(), every);
    this.#timer.unref();
  }

  #check(): void {
    const now = Date.now();
    // Every call has the same timeout, so the list is in deadline order.
    while (this.#head && this.#head.deadline <= now) {
      const p = this.#head;
      this.#unlink(p);
      p.reject(
        new SeatLockRedisError(
          p.operation,
          'timeout',
          `no answer from Redis within ${this.#timeoutMs} ms`,
        ),
      );
    }
    if (!this.#head) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
